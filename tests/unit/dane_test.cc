// tls/dane and tls/dane_policy: which TLSA records an SMTP client uses (usages, digest agility),
// DANE-EE and DANE-TA matching against certificate chains from the test PKI (names, dates,
// anchors in and out of the chain), trust anchor files, and Postfix's dane/dane-only decisions.
#include "tls/dane.hh"

#include <gtest/gtest.h>

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha512.h>
// clang-format on

#include <fstream>
#include <sstream>

#include "tests/tls/test_pki.hh"
#include "tls/dane_policy.hh"
#include "tls/peer_check.hh"

namespace ringrelay::tls {
namespace {

std::string pki(const std::string& file) {
  return ringrelay::testing::test_pki_dir() + "/" + file;
}

// "AB:CD:..." (the PKI's fingerprint files) as bytes.
std::string unhex(const std::string& text) {
  std::string out;
  int high = -1;
  for (char c : text) {
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) continue;
    if (high < 0) {
      high = v;
    } else {
      out += static_cast<char>(high << 4 | v);
      high = -1;
    }
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A PEM file's certificates as DER, in file order (a chain file gives the chain).
std::vector<std::string> chain_of(const std::string& file) {
  std::vector<std::string> chain;
  for (const TlsaRecord& r : load_trust_anchors({pki(file)})) chain.push_back(r.data);
  return chain;
}

std::string sha512(const std::string& bytes) {
  unsigned char out[WC_SHA512_DIGEST_SIZE];
  wc_Sha512Hash(reinterpret_cast<const unsigned char*>(bytes.data()),
                static_cast<word32>(bytes.size()), out);
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

TlsaRecord record(std::uint8_t usage, std::uint8_t selector, std::uint8_t mtype, std::string data) {
  return TlsaRecord{usage, selector, mtype, std::move(data)};
}

TEST(DaneRecords, OnlyDaneUsagesWithKnownSelectorsAndWellFormedDigestsAreUsable) {
  std::string d256(32, 'a'), d512(64, 'b');
  auto usable = usable_tlsa({record(0, 0, 1, d256), record(1, 1, 1, d256), record(3, 1, 1, d256),
                             record(2, 0, 1, d256), record(3, 2, 1, d256), record(3, 1, 3, d256),
                             record(3, 1, 1, "short"), record(3, 0, 0, "")});
  ASSERT_EQ(usable.size(), 2u);
  EXPECT_EQ(usable[0], record(3, 1, 1, d256));
  EXPECT_EQ(usable[1], record(2, 0, 1, d256));
}

TEST(DaneRecords, AStrongerDigestForTheSameUsageAndSelectorSetsTheWeakerAside) {
  std::string d256(32, 'a'), d512(64, 'b');
  auto usable = usable_tlsa(
      {record(3, 1, 1, d256), record(3, 1, 2, d512), record(3, 0, 1, d256), record(3, 1, 1, d256)});
  ASSERT_EQ(usable.size(), 2u);
  EXPECT_EQ(usable[0], record(3, 1, 2, d512));
  EXPECT_EQ(usable[1], record(3, 0, 1, d256));  // another selector keeps its SHA2-256
}

TEST(DaneMatch, DaneEeMatchesTheKeyOrTheCertificateWithoutNameOrDateChecks) {
  std::vector<std::string> good = chain_of("good.pem");
  std::string key = unhex(read_text(pki("good.pkey-sha256")));
  std::string cert = unhex(read_text(pki("good.cert-sha256")));
  EXPECT_TRUE(dane_match({record(3, 1, 1, key)}, good, {"nowhere.example"}).matched);
  EXPECT_TRUE(dane_match({record(3, 0, 1, cert)}, good, {}).matched);
  EXPECT_TRUE(dane_match({record(3, 0, 2, sha512(good[0]))}, good, {}).matched);
  EXPECT_TRUE(dane_match({record(3, 0, 0, good[0])}, good, {}).matched);
  // An expired certificate still matches its DANE-EE record (RFC 7672 3.1.1).
  std::vector<std::string> expired = chain_of("expired.pem");
  DaneMatch m = dane_match({record(3, 0, 0, expired[0])}, expired, {});
  EXPECT_TRUE(m.matched);
  EXPECT_EQ(m.detail.rfind("depth=0 matched DANE-EE 3 0 0 ", 0), 0u) << m.detail;
  DaneMatch none = dane_match({record(3, 1, 1, std::string(32, '\0'))}, good, {});
  EXPECT_FALSE(none.matched);
  EXPECT_NE(none.detail.find("no TLSA record matches"), std::string::npos) << none.detail;
}

TEST(DaneMatch, DaneTaChecksTheChainBelowTheAnchorAndTheServerName) {
  std::vector<std::string> ca = chain_of("ca.pem");
  std::vector<std::string> chain = chain_of("dane-chain.pem");  // dane.pem, then ca.pem
  ASSERT_EQ(chain.size(), 2u);
  TlsaRecord anchor = record(2, 0, 0, ca[0]);
  DaneMatch m = dane_match({anchor}, chain, {"mx-ta.dane.test"});
  EXPECT_TRUE(m.matched) << m.detail;
  EXPECT_NE(m.detail.find("depth=1 matched DANE-TA 2 0 0"), std::string::npos) << m.detail;
  // A wildcard-free name that the certificate does not carry.
  DaneMatch wrong = dane_match({anchor}, chain, {"mx-wrongname.dane.test"});
  EXPECT_FALSE(wrong.matched);
  EXPECT_NE(wrong.detail.find("match none of mx-wrongname.dane.test"), std::string::npos)
      << wrong.detail;
  // The anchor need not be sent: it signed the top of the chain.
  EXPECT_TRUE(dane_match({anchor}, chain_of("dane.pem"), {"mx-ta.dane.test"}).matched);
  // Below the anchor, dates count, and so do signatures.
  EXPECT_FALSE(dane_match({anchor}, chain_of("expired.pem"), {"mx.test.example"}).matched);
  EXPECT_FALSE(dane_match({anchor}, chain_of("unknown.pem"), {"mx.test.example"}).matched);
}

TEST(DaneMatch, TrustAnchorFilesBecomeDaneTaRecords) {
  std::vector<TlsaRecord> anchors = load_trust_anchors({pki("ca.pem")});
  ASSERT_EQ(anchors.size(), 1u);
  EXPECT_EQ(anchors[0].usage, 2);
  EXPECT_EQ(anchors[0].selector, 0);
  EXPECT_EQ(anchors[0].mtype, 0);
  EXPECT_THROW(load_trust_anchors({pki("no-such-file.pem")}), std::runtime_error);
  EXPECT_THROW(load_trust_anchors({pki("good.key")}), std::runtime_error);
  // At verify, the anchors replace the CA files: a chain they do not anchor is not trusted.
  Policy verify;
  verify.level = SecurityLevel::verify;
  verify.match = {"hostname"};
  verify.trust_anchors = std::make_shared<const std::vector<TlsaRecord>>(anchors);
  PeerCertificate certificate;
  certificate.present = true;
  certificate.chain_trusted = true;  // what the CA file said: not what counts here
  certificate.chain = chain_of("unknown.pem");
  Judgement j = judge(verify, certificate, PeerNames{"test.example", "mx.test.example"});
  EXPECT_FALSE(j.acceptable);
  certificate.chain = chain_of("good.pem");
  j = judge(verify, certificate, PeerNames{"test.example", "mx.test.example"});
  EXPECT_TRUE(j.acceptable) << j.detail;
  EXPECT_EQ(j.trust, Trust::verified);
}

// Postfix's dane_init, case by case.
struct Case {
  SecurityLevel level;
  DaneFacts facts;
  InsecureMxPolicy insecure_mx;
  SecurityLevel want_level;
  std::string want_refusal, want_downgrade;
  bool want_dane;
};

DaneFacts facts(DaneFacts::Tlsa tlsa, std::vector<TlsaRecord> records, bool mx_insecure = false) {
  DaneFacts f;
  f.tlsa = tlsa;
  f.records = std::move(records);
  f.mx_insecure = mx_insecure;
  f.names = {"mx.example.test"};
  f.failure = "TLSA lookup error for mx.example.test:25";
  return f;
}

TEST(DanePolicy, TheLevelsAsPostfixDecidesThem) {
  using T = DaneFacts::Tlsa;
  using L = SecurityLevel;
  std::string digest(32, 'x');
  auto usable = std::vector<TlsaRecord>{record(3, 1, 1, digest)};
  auto unusable = std::vector<TlsaRecord>{record(1, 1, 1, digest)};
  const InsecureMxPolicy dane = InsecureMxPolicy::dane;
  std::vector<Case> cases = {
      {L::dane, facts(T::found, usable), dane, L::dane, "", "", true},
      {L::dane_only, facts(T::found, usable), dane, L::dane_only, "", "", true},
      {L::dane, facts(T::none, {}), dane, L::may, "", "no TLSA records found", false},
      {L::dane_only, facts(T::none, {}), dane, L::dane_only, "no TLSA records found", "", false},
      {L::dane, facts(T::failed, {}), dane, L::dane, "TLSA lookup error for mx.example.test:25", "",
       false},
      {L::dane, facts(T::found, unusable), dane, L::encrypt, "", "TLSA records unusable", false},
      {L::dane_only, facts(T::found, unusable), dane, L::dane_only, "TLSA records unusable", "",
       false},
      {L::dane, facts(T::found, usable, true), InsecureMxPolicy::may, L::may, "",
       "non DNSSEC destination", false},
      {L::dane, facts(T::found, usable, true), InsecureMxPolicy::encrypt, L::encrypt, "",
       "Verification not possible, MX RRset is insecure", false},
      {L::dane, facts(T::found, usable, true), dane, L::dane, "", "", true},
      {L::dane_only, facts(T::found, usable, true), dane, L::dane_only, "non DNSSEC destination",
       "", false},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    Policy p;
    p.level = c.level;
    DaneDecision d = apply_dane(p, &c.facts, c.insecure_mx, "");
    EXPECT_EQ(p.level, c.want_level) << i;
    EXPECT_EQ(d.refusal, c.want_refusal) << i;
    EXPECT_EQ(d.downgrade, c.want_downgrade) << i;
    EXPECT_EQ(p.dane_authenticated(), c.want_dane) << i;
    if (c.want_refusal.empty()) {
      EXPECT_EQ(p.mandatory(), c.want_level != L::may) << i;
    }
  }
  // No DNSSEC facts at all (an IP literal), and DANE impossible by configuration.
  Policy p;
  p.level = L::dane;
  EXPECT_EQ(apply_dane(p, nullptr, dane, "").downgrade, "non DNSSEC destination");
  EXPECT_EQ(p.level, L::may);
  p.level = L::dane_only;
  DaneDecision d = apply_dane(p, nullptr, dane, "x: dane-only configured with dnssec lookups");
  EXPECT_EQ(d.refusal, "client TLS configuration problem");
  EXPECT_TRUE(d.config_problem);
  // Other levels are left alone.
  p.level = L::verify;
  EXPECT_TRUE(apply_dane(p, nullptr, dane, "").downgrade.empty());
  EXPECT_EQ(p.level, L::verify);
}

}  // namespace
}  // namespace ringrelay::tls
