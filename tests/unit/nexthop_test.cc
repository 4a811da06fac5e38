// Postfix's next-hop notation: which forms mean an MX lookup, a host lookup or none, and the key.
#include <gtest/gtest.h>

#include "dns/nexthop.hh"

namespace ringrelay::dns {
namespace {

Nexthop parsed(std::string_view text) {
  std::string error;
  auto hop = parse_nexthop(text, &error);
  EXPECT_TRUE(hop.has_value()) << text << ": " << error;
  return hop.value_or(Nexthop{});
}

std::string error_of(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parse_nexthop(text, &error).has_value()) << text;
  return error;
}

TEST(Nexthop, Forms) {
  Nexthop d = parsed("Example.COM.");
  EXPECT_EQ(d.kind, Nexthop::Kind::domain);
  EXPECT_EQ(d.host, "example.com");
  EXPECT_EQ(d.port, 25);
  EXPECT_EQ(d.key(), "example.com");

  Nexthop h = parsed("[mx.example.com]:2525");
  EXPECT_EQ(h.kind, Nexthop::Kind::host);
  EXPECT_EQ(h.port, 2525);
  EXPECT_EQ(h.key(), "[mx.example.com]:2525");

  Nexthop a = parsed("smtp:[192.0.2.1]");
  EXPECT_EQ(a.kind, Nexthop::Kind::address);
  EXPECT_EQ(a.key(), "[192.0.2.1]");

  Nexthop v6 = parsed("[IPv6:2001:DB8::1]:587");
  EXPECT_EQ(v6.kind, Nexthop::Kind::address);
  EXPECT_EQ(v6.host, "2001:db8::1");
  EXPECT_EQ(v6.key(), "[ipv6:2001:db8::1]:587");
  EXPECT_EQ(parsed("[::1]").key(), "[ipv6:::1]");

  Nexthop unix_lmtp = parsed("lmtp:unix:/run/dovecot/lmtp");
  EXPECT_EQ(unix_lmtp.protocol, Protocol::lmtp);
  EXPECT_EQ(unix_lmtp.kind, Nexthop::Kind::unix_socket);
  EXPECT_EQ(unix_lmtp.key(), "lmtp:unix:/run/dovecot/lmtp");

  Nexthop inet_lmtp = parsed("lmtp:inet:[127.0.0.1]:2424");
  EXPECT_EQ(inet_lmtp.protocol, Protocol::lmtp);
  EXPECT_EQ(inet_lmtp.key(), "lmtp:[127.0.0.1]:2424");
  EXPECT_EQ(parsed("lmtp:[127.0.0.1]").port, 24);
  EXPECT_EQ(parsed("example.com:submission").port, 587);
}

TEST(Nexthop, Errors) {
  EXPECT_EQ(error_of(""), "empty next hop");
  EXPECT_EQ(error_of("[mx.example.com"), "missing ']' in next hop");
  EXPECT_EQ(error_of("[mx.example.com]x"), "unexpected text after ']' in next hop");
  EXPECT_EQ(error_of("[mx.example.com]:"), "empty port after ':' in next hop");
  EXPECT_EQ(error_of("[mx.example.com]:70000"), "bad port \"70000\" in next hop");
  EXPECT_EQ(error_of("[ipv6:192.0.2.1]"), "bad IPv6 address \"192.0.2.1\" in next hop");
  EXPECT_EQ(error_of("exa mple.com"), "bad domain \"exa mple.com\" in next hop");
  EXPECT_EQ(error_of("lmtp:unix:relative"), "lmtp:unix: needs an absolute socket path");
}

}  // namespace
}  // namespace ringrelay::dns
