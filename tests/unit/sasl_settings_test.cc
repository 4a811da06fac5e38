// The SASL settings as an operator writes them: Postfix's lookup order for credentials (sender,
// @domain, server host, next hop), table formats (texthash, inline, static), errors and warnings
// at start, secrets masked in `ringrelay config`, and sender-dependent relay hosts.
#include "engine/config/sasl_settings.hh"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "engine/config/engine_settings.hh"
#include "engine/delivery/router.hh"

namespace ringrelay::engine {
namespace {

const HostFacts kHost{"relay1.example.net"};

SaslSettings read(const std::string& text, std::vector<std::string>* notices = nullptr) {
  std::vector<std::string> warnings, scratch;
  Config c = Config::parse(text, "main.cf", kHost, warnings);
  return sasl_settings(c, false, notices ? *notices : scratch);
}

std::string error_of(const std::string& text) {
  try {
    read(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::string table_file(const std::string& text, mode_t mode = 0600) {
  char path[] = "/tmp/ringrelay-sasl-table-XXXXXX";
  int fd = ::mkstemp(path);
  ::close(fd);
  std::ofstream(path) << text;
  ::chmod(path, mode);
  return path;
}

std::string user_for(const SaslSettings& s, const std::string& sender, const std::string& host,
                     const std::string& hop) {
  auto c = s.credentials_for(sender, host, hop);
  return c ? c->user + ":" + c->password + " (" + c->source + ")" : "none";
}

TEST(SaslSettings, OffByDefaultAndNeedsAPasswordTableWhenOn) {
  EXPECT_FALSE(read("").enable);
  EXPECT_EQ(user_for(read(""), "s@example.org", "mx", "example.com"), "none");
  EXPECT_EQ(error_of("smtp_sasl_auth_enable = yes\n"),
            "specify a password table via the `smtp_sasl_password_maps' configuration parameter");
}

TEST(SaslSettings, PostfixLookupOrder) {
  std::string path = table_file(
      "# the per-host entries\n"
      "[smtp.isp.example]:587  hopuser:hop:pw\n"
      "smtp.isp.example        hostuser:hostpw\n"
      "alice@one.example       alice:apw\n"
      "@two.example            bob:bpw\n");
  SaslSettings s =
      read("smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = texthash:" + path + "\n");
  // The server's host name comes before the next hop as written; the password may hold ':'.
  EXPECT_EQ(user_for(s, "alice@one.example", "smtp.isp.example", "[smtp.isp.example]:587"),
            "hostuser:hostpw (smtp.isp.example)");
  EXPECT_EQ(user_for(s, "x@y", "other.example", "[smtp.isp.example]:587"),
            "hopuser:hop:pw ([smtp.isp.example]:587)");
  EXPECT_EQ(user_for(s, "x@y", "other.example", "example.com"), "none");
  // Sender keys only with smtp_sender_dependent_authentication; full address, then @domain.
  SaslSettings by_sender = read(
      "smtp_sasl_auth_enable = yes\nsmtp_sender_dependent_authentication"
      " = yes\nsmtp_sasl_password_maps = texthash:" +
      path + "\n");
  EXPECT_EQ(user_for(by_sender, "Alice@One.Example", "smtp.isp.example", "x"),
            "alice:apw (alice@one.example)");
  EXPECT_EQ(user_for(by_sender, "carol@two.example", "smtp.isp.example", "x"),
            "bob:bpw (@two.example)");
  EXPECT_EQ(user_for(by_sender, "", "smtp.isp.example", "x"), "hostuser:hostpw (smtp.isp.example)");
  ::unlink(path.c_str());
}

TEST(SaslSettings, InlineAndStaticTablesAndTheDelimiter) {
  SaslSettings s = read(
      "smtp_sasl_auth_enable = yes\n"
      "smtp_sasl_password_maps = inline:{ [relay.example]=u1:p1, { relay2.example = u2 : p 2 } "
      "}\n");
  EXPECT_EQ(user_for(s, "", "relay.example", "[relay.example]"), "u1:p1 ([relay.example])");
  EXPECT_EQ(user_for(s, "", "relay2.example", "x"), "u2 : p 2 (relay2.example)");
  EXPECT_EQ(user_for(s, "", "elsewhere.example", "x"), "none");
  // static: answers every key, so it is tried with the first one (the server's host name).
  SaslSettings fallback = read(
      "smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = static:user|pass:word\n"
      "smtp_sasl_password_result_delimiter = |\n");
  EXPECT_EQ(user_for(fallback, "", "any.example", "x"), "user:pass:word (any.example)");
}

TEST(SaslSettings, StartUpChecksAndWarnings) {
  std::string open_table = table_file("relay.example u:p\n", 0644);
  std::vector<std::string> notices;
  read("smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = hash:" + open_table +
           "\nsmtp_sasl_auth_cache_name = proxy:btree:/var/lib/postfix/sasl_auth_cache\n",
       &notices);
  auto has = [&](const std::string& part) {
    return std::any_of(notices.begin(), notices.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
  };
  EXPECT_TRUE(has("readable by others than its owner (mode 0644)")) << notices.size();
  {  // said once for the whole configuration, by engine_settings
    std::vector<std::string> warnings;
    EngineSettings e = engine_settings(Config::parse(
        "smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = hash:" + open_table + "\n",
        "main.cf", kHost, warnings));
    EXPECT_TRUE(std::any_of(e.notices.begin(), e.notices.end(), [&](const std::string& n) {
      return n.find("smtp_sasl_password_maps: hash:" + open_table + ": ringrelay reads the " +
                    "source text " + open_table) != std::string::npos;
    }));
  }
  EXPECT_TRUE(has("ringrelay keeps failed logins in memory"));
  EXPECT_EQ(error_of("smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = /nonexistent/t\n"),
            "smtp_sasl_password_maps: /nonexistent/t: cannot open lookup table");
  EXPECT_EQ(error_of("smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = pcre:/x\n"),
            "smtp_sasl_password_maps: /x: cannot open lookup table");
  EXPECT_EQ(error_of("smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = mysql:/x\n"),
            "smtp_sasl_password_maps: mysql:/x: unsupported lookup table type \"mysql\" "
            "(ringrelay reads texthash:, hash:, btree:, dbm:, lmdb:, cdb:, inline:, static:, "
            "regexp:, pcre: and cidr: tables)");
  EXPECT_NE(error_of("smtp_sasl_auth_enable = yes\nsmtp_sasl_password_maps = " + open_table +
                     "\nsmtp_sasl_mechanism_filter = /etc/postfix/mechs\n")
                .find("lookup tables are not supported in the mechanism filter"),
            std::string::npos);
  EXPECT_NE(error_of("smtp_sasl_type = dovecot\n").find("smtp_sasl_type"), std::string::npos);
  ::unlink(open_table.c_str());
}

TEST(SaslSettings, SecretsAreMaskedForConfigOutput) {
  EXPECT_EQ(masked_value("smtp_sasl_password_maps",
                         "texthash:/etc/x, inline:{ a=u:secret }, static:u:secret"),
            "texthash:/etc/x, inline:{(secrets not shown)}, static:(secret not shown)");
  EXPECT_EQ(masked_value("lmtp_sasl_password_maps", "static:u:p"), "static:(secret not shown)");
  EXPECT_EQ(masked_value("relayhost", "static:x"), "static:x");
}

TEST(SenderDependentRelayhost, SenderThenDomainThenRelayhost) {
  std::string path = table_file(
      "alice@one.example [a.relay]:587\n@two.example [b.relay]\n"
      "<> [bounce.relay]\n");
  Router router("[default.relay]", {}, {"texthash:" + path}, "<>");
  std::string error;
  EXPECT_EQ(router.route("r@example.com", error, "alice@one.example")->key(), "[a.relay]:587");
  EXPECT_EQ(router.route("r@example.com", error, "carol@two.example")->key(), "[b.relay]");
  EXPECT_EQ(router.route("r@example.com", error, "")->key(), "[bounce.relay]");
  EXPECT_EQ(router.route("r@example.com", error, "dave@three.example")->key(), "[default.relay]");
  ::unlink(path.c_str());
}

}  // namespace
}  // namespace ringrelay::engine
