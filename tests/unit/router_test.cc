// Routing without a next hop in the request: transport map (domain, .parent, *), relayhost, domain.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/config/config.hh"
#include "engine/delivery/router.hh"

namespace ringrelay::engine {
namespace {

std::string write_map(const std::string& text) {
  std::string path = ::testing::TempDir() + "/transport_map";
  std::ofstream(path) << text;
  return path;
}

std::string key(const Router& router, const std::string& rcpt) {
  std::string error;
  auto hop = router.route(rcpt, error);
  return hop ? hop->key() : "error: " + error;
}

TEST(Router, TransportMapThenRelayhostThenDomain) {
  std::string map = write_map(
      "# comment\n"
      "example.com   smtp:[127.0.0.1]:2525\n"
      ".example.net  smtp:[10.0.0.1]\n"
      "local.test    lmtp:unix:/run/dovecot/lmtp\n"
      "bare.test     smtp:\n");
  Router with_relay("[smart.example]:587", {"texthash:" + map});
  EXPECT_EQ(key(with_relay, "a@example.com"), "[127.0.0.1]:2525");
  EXPECT_EQ(key(with_relay, "a@EXAMPLE.com"), "[127.0.0.1]:2525");
  EXPECT_EQ(key(with_relay, "a@sub.example.net"), "[10.0.0.1]");
  EXPECT_EQ(key(with_relay, "a@example.net"),
            "[smart.example]:587");  // ".example.net": subdomains only
  EXPECT_EQ(key(with_relay, "a@local.test"), "lmtp:unix:/run/dovecot/lmtp");
  EXPECT_EQ(key(with_relay, "a@bare.test"), "bare.test");  // empty next hop: the domain itself
  EXPECT_EQ(key(with_relay, "a@other.org"), "[smart.example]:587");
  Router direct("", {map});
  EXPECT_EQ(key(direct, "a@other.org"), "other.org");
  EXPECT_EQ(key(direct, "postmaster"),
            "error: recipient postmaster has no domain and no relayhost or transport is set");
  Router wildcard("", {write_map("* smtp:[127.0.0.1]:25\n")});
  EXPECT_EQ(key(wildcard, "a@anything.test"), "[127.0.0.1]");
}

TEST(Router, MalformedMapNamesFileAndLine) {
  std::string map = write_map("example.com smtp:[127.0.0.1]:2525\nbroken.test smtp:[unclosed\n");
  try {
    Router r("", {map});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), map + ", line 2: smtp:[unclosed: missing ']' in next hop");
  }
  EXPECT_THROW(Router("", {"/nonexistent/transport"}), ConfigError);
}

}  // namespace
}  // namespace ringrelay::engine
