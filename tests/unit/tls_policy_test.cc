// TLS policies without a handshake: protocol ranges, cipher grades, policy table entries, name
// patterns, and which established connection serves which request.
#include <gtest/gtest.h>

#include "tls/peer_check.hh"
#include "tls/policy.hh"

namespace ringrelay::tls {
namespace {

TEST(TlsPolicy, ProtocolRangesInPostfixSyntax) {
  std::string error;
  auto r = parse_protocols(">=TLSv1.2", error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->min, TlsVersion::tls1_2);
  EXPECT_EQ(r->max, TlsVersion::tls1_3);
  r = parse_protocols("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->min, TlsVersion::tls1_2);
  r = parse_protocols("!SSLv2:!SSLv3:!TLSv1.3", error);
  ASSERT_TRUE(r) << error;
  EXPECT_EQ(r->max, TlsVersion::tls1_2);
  EXPECT_FALSE(parse_protocols(">=TLSv9", error));
  EXPECT_NE(error.find("TLSv9"), std::string::npos);
  EXPECT_FALSE(parse_protocols("!TLSv1.2", error));  // a hole in the middle
  EXPECT_FALSE(parse_protocols(">=TLSv1.3 <=TLSv1.2", error));
}

TEST(TlsPolicy, CipherGradesAndExclusions) {
  std::string error;
  std::string high = cipher_list("high", {}, error);
  EXPECT_EQ(high.find("DES-CBC3"), std::string::npos);
  EXPECT_NE(cipher_list("medium", {}, error).find("DES-CBC3-SHA"), std::string::npos);
  EXPECT_EQ(cipher_list("medium", {"3DES"}, error).find("DES-CBC3"), std::string::npos);
  std::string no_cbc = cipher_list("high", {"SHA", "SHA256", "SHA384"}, error);
  EXPECT_EQ(no_cbc.find("AES128-SHA:"), std::string::npos);
  EXPECT_NE(no_cbc.find("TLS13-AES128-GCM-SHA256"), std::string::npos);
  EXPECT_TRUE(cipher_list("null", {}, error).empty());
  EXPECT_NE(error.find("null"), std::string::npos);
}

TEST(TlsPolicy, PolicyTableEntries) {
  PolicyDefaults defaults;
  std::string error;
  auto p = parse_policy_entry("verify match=hostname:nexthop protocols=>=TLSv1.2 ciphers=high",
                              defaults, error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->level, SecurityLevel::verify);
  EXPECT_EQ(p->match, (std::vector<std::string>{"hostname", "nexthop"}));
  EXPECT_EQ(p->protocols.min, TlsVersion::tls1_2);
  EXPECT_EQ(p->ciphers, "high");
  p = parse_policy_entry("fingerprint match=AB:CD|EF:01 match=23:45", defaults, error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->match, (std::vector<std::string>{"AB:CD", "EF:01", "23:45"}));
  p = parse_policy_entry("secure", defaults, error);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->match, (std::vector<std::string>{"nexthop", "dot-nexthop"}));
  EXPECT_FALSE(parse_policy_entry("paranoid", defaults, error));
  EXPECT_FALSE(parse_policy_entry("verify colour=blue", defaults, error));
  EXPECT_NE(error.find("colour"), std::string::npos);
  EXPECT_FALSE(parse_policy_entry("fingerprint", defaults, error));
  // Equal policies have equal keys; a different attribute changes the key.
  EXPECT_EQ(parse_policy_entry("encrypt", defaults, error)->key(),
            default_policy(SecurityLevel::encrypt, defaults).key());
  EXPECT_NE(parse_policy_entry("encrypt ciphers=high", defaults, error)->key(),
            default_policy(SecurityLevel::encrypt, defaults).key());
}

TEST(TlsPolicy, NamePatterns) {
  EXPECT_TRUE(name_matches("MX.Example.COM", "mx.example.com"));
  EXPECT_TRUE(name_matches("mx.example.com.", "mx.example.com"));
  EXPECT_FALSE(name_matches("mx.example.com", "example.com"));
  EXPECT_TRUE(name_matches("mx.example.com", ".example.com"));
  EXPECT_FALSE(name_matches("example.com", ".example.com"));
  EXPECT_FALSE(name_matches("mx.badexample.com", ".example.com"));
  EXPECT_TRUE(name_matches("*.example.com", "mx.example.com"));
  EXPECT_FALSE(name_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(name_matches("*.example.com", "example.com"));
  EXPECT_TRUE(name_matches("*.example.com", ".example.com"));
  EXPECT_TRUE(name_matches("*.mx.example.com", ".example.com"));
  Policy p = default_policy(SecurityLevel::secure, PolicyDefaults{});
  EXPECT_EQ(match_patterns(p, {"Example.com", "mx.example.net"}),
            (std::vector<std::string>{"example.com", ".example.com"}));
}

Established verified_tls() {
  Established e;
  e.policy = default_policy(SecurityLevel::verify, PolicyDefaults{});
  e.tls = true;
  e.protocol = "TLSv1.3";
  e.cipher_suite = "TLS13-AES128-GCM-SHA256";
  e.certificate.present = true;
  e.certificate.chain_trusted = true;
  e.certificate.dns_names = {"mx.example.com"};
  return e;
}

TEST(TlsPolicy, ConnectionsServeEqualOrWeakerPoliciesOnly) {
  PolicyDefaults d;
  PeerNames names{"example.com", "mx.example.com"};
  Established tls = verified_tls();
  EXPECT_TRUE(serves(tls, default_policy(SecurityLevel::none, d), names));
  EXPECT_TRUE(serves(tls, default_policy(SecurityLevel::may, d), names));
  EXPECT_TRUE(serves(tls, default_policy(SecurityLevel::encrypt, d), names));
  EXPECT_TRUE(serves(tls, default_policy(SecurityLevel::verify, d), names));
  EXPECT_TRUE(serves(tls, default_policy(SecurityLevel::secure, d), names));
  // The same connection for a next hop whose names it does not carry.
  EXPECT_FALSE(
      serves(tls, default_policy(SecurityLevel::verify, d), {"example.net", "mx.example.net"}));
  Policy fingerprint = default_policy(SecurityLevel::fingerprint, d);
  fingerprint.match = {"AA:BB"};
  EXPECT_FALSE(serves(tls, fingerprint, names));
  Policy tls12_only = default_policy(SecurityLevel::encrypt, d);
  tls12_only.protocols.max = TlsVersion::tls1_2;
  EXPECT_FALSE(serves(tls, tls12_only, names));

  Established untrusted = tls;
  untrusted.policy = default_policy(SecurityLevel::may, d);
  untrusted.certificate.chain_trusted = false;
  EXPECT_TRUE(serves(untrusted, default_policy(SecurityLevel::encrypt, d), names));
  EXPECT_FALSE(serves(untrusted, default_policy(SecurityLevel::verify, d), names));

  Established plain;
  plain.policy = default_policy(SecurityLevel::may, d);  // STARTTLS was not offered
  EXPECT_TRUE(serves(plain, default_policy(SecurityLevel::may, d), names));
  EXPECT_FALSE(serves(plain, default_policy(SecurityLevel::encrypt, d), names));
  plain.policy = default_policy(SecurityLevel::none, d);
  EXPECT_TRUE(serves(plain, default_policy(SecurityLevel::none, d), names));
  EXPECT_FALSE(serves(plain, default_policy(SecurityLevel::may, d), names));
}

}  // namespace
}  // namespace ringrelay::tls
