// The Cyrus SASL client outside a session: the installed plugins, Postfix's security option words,
// the mechanism filter, and whole exchanges answered the way a server computes them.
#include "proto/sasl_cyrus.hh"

#include <gtest/gtest.h>

#include <algorithm>

namespace ringrelay::proto {
namespace {

bool has(const std::vector<std::string>& list, const std::string& word) {
  return std::find(list.begin(), list.end(), word) != list.end();
}

TEST(CyrusSasl, InstalledPluginsProvideTheMechanismsOperatorsUse) {
  ASSERT_EQ(init_cyrus_sasl(), "");
  std::vector<std::string> mechanisms = cyrus_client_mechanisms();
  for (const char* m : {"PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"})
    EXPECT_TRUE(has(mechanisms, m)) << m;
}

TEST(CyrusSasl, SecurityOptionsArePostfixWords) {
  std::string error;
  EXPECT_EQ(sasl_security_flags("", error), 0u);
  auto flags = sasl_security_flags("noplaintext, noanonymous", error);
  ASSERT_TRUE(flags);
  EXPECT_NE(*flags, 0u);
  EXPECT_EQ(sasl_security_flags("noplaintext,noanonymous", error), flags);
  EXPECT_FALSE(sasl_security_flags("noplaintext, nosuchthing", error));
  EXPECT_NE(error.find("nosuchthing"), std::string::npos);
}

TEST(CyrusSasl, MechanismFilterFirstMatchDecides) {
  EXPECT_TRUE(mechanism_allowed({}, "PLAIN"));
  EXPECT_TRUE(mechanism_allowed({"PLAIN", "LOGIN"}, "LOGIN"));
  EXPECT_FALSE(mechanism_allowed({"PLAIN", "LOGIN"}, "CRAM-MD5"));
  EXPECT_FALSE(mechanism_allowed({"!GSSAPI", "*"}, "GSSAPI"));
  EXPECT_TRUE(mechanism_allowed({"!GSSAPI", "*"}, "PLAIN"));
}

TEST(CyrusSasl, PlaintextMechanismsNeedTheOptionsToAllowThem) {
  SaslOptions options;  // Postfix's defaults: noplaintext over plaintext and TLS alike
  options.tls_security_options = "noanonymous";
  CyrusSaslClient client(options, {"user", "secret", "[relay.example]"}, "relay.example");
  std::string why;
  EXPECT_FALSE(client.start({"PLAIN", "LOGIN"}, AuthSecurity::plaintext, why));
  EXPECT_EQ(why, "no mechanism available");
  auto start = client.start({"PLAIN", "LOGIN"}, AuthSecurity::tls, why);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->mechanism, "PLAIN");
  EXPECT_EQ(start->initial_response, std::string("\0user\0secret", 12));
  EXPECT_EQ(client.identity(), "user from [relay.example]");
}

TEST(CyrusSasl, ScramExchangeRunsToTheServerFinalMessage) {
  SaslOptions options;
  CyrusSaslClient client(options, {"user", "pencil", "relay"}, "relay.example");
  std::string why;
  auto start = client.start({"SCRAM-SHA-256"}, AuthSecurity::plaintext, why);
  ASSERT_TRUE(start) << why;
  EXPECT_EQ(start->mechanism, "SCRAM-SHA-256");
  ASSERT_TRUE(start->initial_response);
  EXPECT_TRUE(start->initial_response->starts_with("n,,n=user,r=")) << *start->initial_response;
  // A server-first message that does not extend the client's nonce is refused, with a reason.
  auto response = client.step("r=not-the-client-nonce,s=QSXCR+Q6sek8bf92,i=4096", why);
  EXPECT_FALSE(response);
  EXPECT_FALSE(why.empty());
}

TEST(CyrusSasl, DigestMd5ChallengeGivingADirectiveTwiceIsNamed) {
  EXPECT_EQ(digest_md5_challenge_problem(
                "realm=\"a.example\",realm=\"b.example\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\","
                "charset=utf-8,algorithm=md5-sess"),
            "");  // realm may come more than once
  EXPECT_EQ(digest_md5_challenge_problem("rspauth=ea40f60335c427b5527b84dbabcdfffd"), "");
  EXPECT_EQ(digest_md5_challenge_problem("nonce=\"a\",qop=\"auth\",NONCE=\"b\""),
            "the server's DIGEST-MD5 challenge gives \"nonce\" twice (RFC 2831 allows it once)");
  EXPECT_NE(digest_md5_challenge_problem("nonce=a , charset=utf-8,\tcharset = utf-8"), "");
  // Inside a quoted value, commas, names and escaped quotes are the value's.
  EXPECT_EQ(digest_md5_challenge_problem("realm=\"x\\\",nonce=y,\",nonce=\"z\""), "");
  EXPECT_EQ(digest_md5_challenge_problem(""), "");
  EXPECT_EQ(digest_md5_challenge_problem("nonce=\"unterminated"), "");  // Cyrus judges syntax
}

TEST(CyrusSasl, DigestMd5ExchangeRefusesADuplicatedNonceBeforeCyrusSeesIt) {
  SaslOptions options;
  CyrusSaslClient client(options, {"user", "pencil", "relay"}, "relay.example");
  std::string why;
  auto start = client.start({"DIGEST-MD5"}, AuthSecurity::plaintext, why);
  ASSERT_TRUE(start) << why;
  EXPECT_EQ(start->mechanism, "DIGEST-MD5");
  auto response = client.step(
      "realm=\"relay.example\",nonce=\"abc\",qop=\"auth\",nonce=\"abd\",charset=utf-8,"
      "algorithm=md5-sess",
      why);
  EXPECT_FALSE(response);
  EXPECT_EQ(why,
            "the server's DIGEST-MD5 challenge gives \"nonce\" twice (RFC 2831 allows it once)");
  // A well-formed challenge still gets Cyrus's answer.
  start = client.start({"DIGEST-MD5"}, AuthSecurity::plaintext, why);
  ASSERT_TRUE(start) << why;
  response = client.step(
      "realm=\"relay.example\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",charset=utf-8,"
      "algorithm=md5-sess",
      why);
  ASSERT_TRUE(response) << why;
  EXPECT_NE(response->find("nonce=\"OA6MG9tEQGm2hh\""), std::string::npos) << *response;
}

}  // namespace
}  // namespace ringrelay::proto
