// tls::Channel with two channels wired together in memory (no sockets): handshake, data both ways,
// the chain and name checks against a throw-away PKI (tests/tls/make-test-pki.sh), fingerprints,
// resumption and failures.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "tests/tls/test_pki.hh"
#include "tls/channel.hh"
#include "tls/context.hh"
#include "tls/peer_check.hh"
#include "tls/policy.hh"
#include "tls/session_store.hh"

namespace ringrelay::tls {
namespace {

std::string pki_dir() {
  return ringrelay::testing::test_pki_dir();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

std::unique_ptr<Context> server_context(const std::string& name) {
  ContextSettings s;
  s.cert_file = pki_dir() + "/" + name + ".pem";
  s.key_file = pki_dir() + "/" + name + ".key";
  return std::make_unique<Context>(Role::server, s);
}

std::unique_ptr<Context> client_context() {
  ContextSettings s;
  s.ca_file = pki_dir() + "/ca.pem";
  return std::make_unique<Context>(Role::client, s);
}

Policy policy(SecurityLevel level) {
  return default_policy(level, PolicyDefaults{});
}

void pump(Channel& a, Channel& b) {
  if (a.has_output()) b.receive(a.take_output());
  if (b.has_output()) a.receive(b.take_output());
}

bool connect(Channel& client, Channel& server) {
  for (int round = 0; round < 20; ++round) {
    auto c = client.handshake();
    auto s = server.handshake();
    pump(client, server);
    if (client.handshake_done() && server.handshake_done()) return true;
    if (c == Channel::Status::failed || s == Channel::Status::failed) return false;
  }
  return false;
}

std::string read_all(Channel& channel) {
  std::string out;
  char buffer[4096];
  std::size_t n = 0;
  while (channel.read(buffer, sizeof buffer, n) == Channel::Status::ok) out.append(buffer, n);
  return out;
}

PeerNames mx_names() {
  return PeerNames{"test.example", "mx.test.example"};
}

// The certificate the client saw from a server presenting `name` (good, expired, ...).
PeerCertificate certificate_of(const std::string& name) {
  auto server_ctx = server_context(name);
  auto client_ctx = client_context();
  Channel client(*client_ctx), server(*server_ctx);
  EXPECT_TRUE(client.configure(policy(SecurityLevel::verify), "mx.test.example"));
  EXPECT_TRUE(connect(client, server)) << name << ": " << client.error();
  return client.peer_certificate("sha256");
}

TEST(TlsChannel, HandshakeAndDataBothWays) {
  auto server_ctx = server_context("good");
  auto client_ctx = client_context();
  Channel client(*client_ctx), server(*server_ctx);
  ASSERT_TRUE(client.configure(policy(SecurityLevel::may), "mx.test.example")) << client.error();
  ASSERT_TRUE(connect(client, server)) << client.error() << " / " << server.error();
  EXPECT_EQ(client.protocol(), "TLSv1.3");
  EXPECT_FALSE(client.cipher().empty());
  EXPECT_GE(client.cipher_bits(), 128);
  EXPECT_FALSE(client.resumed());

  std::string big(100000, 'x');
  ASSERT_EQ(client.write("EHLO client\r\n" + big), Channel::Status::ok);
  pump(client, server);
  EXPECT_EQ(read_all(server), "EHLO client\r\n" + big);
  ASSERT_EQ(server.write("250 ok\r\n"), Channel::Status::ok);
  pump(client, server);
  EXPECT_EQ(read_all(client), "250 ok\r\n");
}

TEST(TlsChannel, VerifiedOnlyWhenChainAndNameMatch) {
  PeerCertificate cert = certificate_of("good");
  ASSERT_TRUE(cert.present);
  EXPECT_TRUE(cert.chain_trusted) << cert.chain_error;
  EXPECT_EQ(judge(policy(SecurityLevel::verify), cert, mx_names()).trust, Trust::verified);
  EXPECT_EQ(judge(policy(SecurityLevel::may), cert, mx_names()).trust, Trust::trusted);
  // The hostname trap: a good chain with the wrong name must not pass.
  Judgement wrong =
      judge(policy(SecurityLevel::verify), cert, {"other.example", "mx.other.example"});
  EXPECT_FALSE(wrong.acceptable);
  EXPECT_EQ(wrong.failure, "Server certificate not verified");
  // secure: nexthop or its subdomains (mx.test.example is below test.example).
  EXPECT_TRUE(judge(policy(SecurityLevel::secure), cert, mx_names()).acceptable);
  EXPECT_FALSE(judge(policy(SecurityLevel::secure), cert, {"mx.test", "x"}).acceptable);
}

TEST(TlsChannel, UnknownCaAndExpiredCertificateAreNotTrusted) {
  for (const char* name : {"unknown", "expired"}) {
    PeerCertificate cert = certificate_of(name);
    ASSERT_TRUE(cert.present) << name;
    EXPECT_FALSE(cert.chain_trusted) << name;
    EXPECT_FALSE(cert.chain_error.empty()) << name;
    if (std::string(name) == "expired") {
      EXPECT_NE(cert.chain_error.find("certificate has expired"), std::string::npos)
          << cert.chain_error;
    }
    Judgement j = judge(policy(SecurityLevel::verify), cert, mx_names());
    EXPECT_FALSE(j.acceptable) << name;
    EXPECT_EQ(j.failure, "Server certificate not trusted") << name;
    // Opportunistic TLS only logs it.
    Judgement may = judge(policy(SecurityLevel::may), cert, mx_names());
    EXPECT_TRUE(may.acceptable);
    EXPECT_EQ(may.trust, Trust::untrusted);
  }
}

TEST(TlsChannel, WildcardCertificate) {
  PeerCertificate cert = certificate_of("wildcard");
  Policy verify = policy(SecurityLevel::verify);
  EXPECT_TRUE(judge(verify, cert, {"wild.test.example", "mx1.wild.test.example"}).acceptable);
  EXPECT_FALSE(judge(verify, cert, {"wild.test.example", "wild.test.example"}).acceptable);
  EXPECT_FALSE(judge(verify, cert, {"wild.test.example", "a.b.wild.test.example"}).acceptable);
}

TEST(TlsChannel, FingerprintsOfCertificateAndPublicKey) {
  PeerCertificate cert = certificate_of("good");
  EXPECT_EQ(cert.cert_digest, read_text(pki_dir() + "/good.cert-sha256"));
  EXPECT_EQ(cert.pkey_digest, read_text(pki_dir() + "/good.pkey-sha256"));
  Policy by_cert = policy(SecurityLevel::fingerprint);
  by_cert.match = {cert.cert_digest};
  EXPECT_EQ(judge(by_cert, cert, {}).trust, Trust::verified);
  Policy by_key = policy(SecurityLevel::fingerprint);
  by_key.match = {cert.pkey_digest};
  EXPECT_TRUE(judge(by_key, cert, {}).acceptable);
  Policy other = policy(SecurityLevel::fingerprint);
  other.match = {"00:11:22"};
  EXPECT_FALSE(judge(other, cert, {}).acceptable);
}

// A full handshake at "may" and one reply read: TLS 1.3 tickets follow the handshake, so the
// session is complete only after the first read.
ResumableSession first_session(const Context& client_ctx, const Context& server_ctx) {
  Channel client(client_ctx), server(server_ctx);
  EXPECT_TRUE(client.configure(policy(SecurityLevel::may), ""));
  EXPECT_TRUE(connect(client, server));
  EXPECT_EQ(server.write("220 ready\r\n"), Channel::Status::ok);
  pump(client, server);
  EXPECT_EQ(read_all(client), "220 ready\r\n");
  return client.resumable();
}

TEST(TlsChannel, SecondConnectionResumesTheSession) {
  auto server_ctx = server_context("good");
  auto client_ctx = client_context();
  SessionStore store(std::chrono::seconds(3600), 100);
  auto now = SessionStore::Clock::now();
  std::string key = session_key("192.0.2.1:25", "", policy(SecurityLevel::may));
  store.put(key, first_session(*client_ctx, *server_ctx), now);
  ASSERT_NE(store.find(key, now).session, nullptr);
  Channel client(*client_ctx), server(*server_ctx);
  ASSERT_TRUE(client.configure(policy(SecurityLevel::may), ""));
  client.resume(store.find(key, now));
  ASSERT_TRUE(connect(client, server));
  EXPECT_TRUE(client.resumed());
  // Expired sessions are not offered.
  EXPECT_EQ(store.find(key, now + std::chrono::seconds(3601)).session, nullptr);
}

// A resumed handshake shows no chain to check: an untrusted peer must stay untrusted, so that a
// cached connection to it can never pass for verified.
TEST(TlsChannel, ResumedSessionKeepsTheChainResultOfItsFullHandshake) {
  auto server_ctx = server_context("unknown");
  auto client_ctx = client_context();
  ResumableSession stored = first_session(*client_ctx, *server_ctx);
  EXPECT_FALSE(stored.chain_trusted);
  Channel client(*client_ctx), server(*server_ctx);
  ASSERT_TRUE(client.configure(policy(SecurityLevel::may), ""));
  client.resume(stored);
  ASSERT_TRUE(connect(client, server));
  ASSERT_TRUE(client.resumed());
  PeerCertificate cert = client.peer_certificate("sha256");
  EXPECT_FALSE(cert.chain_trusted);
  EXPECT_EQ(cert.chain_error, stored.chain_error);
  EXPECT_FALSE(judge(policy(SecurityLevel::verify), cert, mx_names()).acceptable);
}

TEST(TlsChannel, ProtocolMismatchFailsTheHandshake) {
  auto server_ctx = server_context("good");
  auto client_ctx = client_context();
  Channel client(*client_ctx), server(*server_ctx);
  Policy modern = policy(SecurityLevel::encrypt);
  std::string error;
  modern.protocols = *parse_protocols(">=TLSv1.3", error);
  Policy old = policy(SecurityLevel::encrypt);
  old.protocols = *parse_protocols("<=TLSv1.2", error);
  ASSERT_TRUE(client.configure(modern, ""));
  ASSERT_TRUE(server.configure(old, ""));
  EXPECT_FALSE(connect(client, server));
  EXPECT_FALSE(client.handshake_done());
  EXPECT_FALSE(client.error().empty());
}

TEST(TlsChannel, PeerThatHangsUpMidHandshakeIsClosed) {
  auto client_ctx = client_context();
  Channel client(*client_ctx);
  ASSERT_TRUE(client.configure(policy(SecurityLevel::may), ""));
  EXPECT_EQ(client.handshake(), Channel::Status::want_read);
  EXPECT_TRUE(client.has_output());  // the ClientHello
  client.end_of_input();
  EXPECT_EQ(client.handshake(), Channel::Status::closed);
}

}  // namespace
}  // namespace ringrelay::tls
