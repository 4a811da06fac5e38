// The DANE matcher: records filtered for SMTP, each certificate of the chain compared by selector
// and matching type (wolfSSL parses; wolfCrypt hashes), and for DANE-TA a wolfSSL certificate
// manager that trusts only the matched anchor and checks the chain below it, then the names.
#include "tls/dane.hh"

// clang-format off
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>
// clang-format on

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tls/peer_check.hh"

namespace ringrelay::tls {
namespace {

constexpr std::uint8_t kDaneTa = 2, kDaneEe = 3;
constexpr std::uint8_t kFull = 0, kSha256 = 1, kSha512 = 2;

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

struct X509Free {
  void operator()(WOLFSSL_X509* x) const { wolfSSL_X509_free(x); }
};
using X509Ptr = std::unique_ptr<WOLFSSL_X509, X509Free>;

X509Ptr parse(const std::string& der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  return X509Ptr(wolfSSL_X509_d2i(nullptr, in, static_cast<int>(der.size())));
}

// The SubjectPublicKeyInfo DER (not PKCS#1: wolfSSL_i2d_PUBKEY gives that for RSA keys).
std::string spki_of(WOLFSSL_X509* x509) {
  int length = 0;
  if (wolfSSL_X509_get_pubkey_buffer(x509, nullptr, &length) != WOLFSSL_SUCCESS || length <= 0)
    return {};
  std::string out(static_cast<std::size_t>(length), '\0');
  if (wolfSSL_X509_get_pubkey_buffer(x509, reinterpret_cast<unsigned char*>(out.data()), &length) !=
      WOLFSSL_SUCCESS) {
    return {};
  }
  out.resize(static_cast<std::size_t>(length));
  return out;
}

std::string digest(std::uint8_t mtype, const std::string& data) {
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  auto n = static_cast<word32>(data.size());
  if (mtype == kSha256) {
    unsigned char out[WC_SHA256_DIGEST_SIZE];
    if (wc_Sha256Hash(in, n, out) != 0) return {};
    return std::string(reinterpret_cast<char*>(out), sizeof out);
  }
  unsigned char out[WC_SHA512_DIGEST_SIZE];
  if (wc_Sha512Hash(in, n, out) != 0) return {};
  return std::string(reinterpret_cast<char*>(out), sizeof out);
}

// One certificate as the records see it: its DER and its public key, digested on demand.
class Subject {
 public:
  explicit Subject(const std::string& der) : der_(der), x509_(parse(der)) {
    if (x509_) spki_ = spki_of(x509_.get());
  }
  bool valid() const { return x509_ != nullptr; }
  WOLFSSL_X509* x509() const { return x509_.get(); }
  bool matches(const TlsaRecord& r) {
    const std::string& bytes = r.selector == kFull ? der_ : spki_;
    if (bytes.empty()) return false;
    if (r.mtype == kFull) return r.data == bytes;
    std::string& cached = digests_[r.selector][r.mtype];
    if (cached.empty()) cached = digest(r.mtype, bytes);
    return !cached.empty() && r.data == cached;
  }

 private:
  const std::string& der_;
  X509Ptr x509_;
  std::string spki_;
  std::string digests_[2][3];
};

struct CertManagerFree {
  void operator()(WOLFSSL_CERT_MANAGER* cm) const { wolfSSL_CertManagerFree(cm); }
};

const unsigned char* bytes_of(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Checks chain[top-1] .. chain[0], each signed by the one above and in date, with `anchor` (a DER
// certificate) trusted. `anchor_signs_top`: the anchor is not chain[top] but its issuer, so
// chain[top] is checked too. Empty when the chain holds; otherwise what broke, at which depth.
std::string check_below(const std::string& anchor, const std::vector<std::string>& chain,
                        std::size_t top, bool anchor_signs_top) {
  std::unique_ptr<WOLFSSL_CERT_MANAGER, CertManagerFree> cm(wolfSSL_CertManagerNew());
  if (!cm) return "out of memory";
  if (wolfSSL_CertManagerLoadCABuffer(cm.get(), bytes_of(anchor), static_cast<long>(anchor.size()),
                                      WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
    return "the trust anchor cannot be used as a CA certificate";
  }
  std::size_t depth = anchor_signs_top ? top + 1 : top;
  while (depth-- > 0) {
    const std::string& der = chain[depth];
    int verdict = wolfSSL_CertManagerVerifyBuffer(
        cm.get(), bytes_of(der), static_cast<long>(der.size()), WOLFSSL_FILETYPE_ASN1);
    if (verdict != WOLFSSL_SUCCESS) {
      return std::string(wolfSSL_ERR_reason_error_string(static_cast<unsigned long>(verdict))) +
             " (depth " + std::to_string(depth) + ")";
    }
    if (depth > 0 &&
        wolfSSL_CertManagerLoadCABuffer(cm.get(), bytes_of(der), static_cast<long>(der.size()),
                                        WOLFSSL_FILETYPE_ASN1) != WOLFSSL_SUCCESS) {
      return "certificate at depth " + std::to_string(depth) + " cannot be used as a CA";
    }
  }
  return {};
}

// The server certificate's DNS names (subjectAltName, or the CN when it has none).
std::vector<std::string> names_of(WOLFSSL_X509* x509) {
  std::vector<std::string> names;
  for (char* name = wolfSSL_X509_get_next_altname(x509); name != nullptr;
       name = wolfSSL_X509_get_next_altname(x509)) {
    names.emplace_back(name);
  }
  if (names.empty()) {
    char text[256];
    int length = wolfSSL_X509_NAME_get_text_by_NID(wolfSSL_X509_get_subject_name(x509),
                                                   NID_commonName, text, sizeof text);
    if (length > 0) names.emplace_back(text, static_cast<std::size_t>(length));
  }
  return names;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

std::string tlsa_text(const TlsaRecord& r) {
  // Whole certificates and keys (matching type 0) are shortened: a log line is not a PEM file.
  constexpr std::size_t kShown = 16;
  std::string data = r.mtype == 0 && r.data.size() > 2 * kShown
                         ? hex(std::string_view(r.data).substr(0, kShown)) + "...(" +
                               std::to_string(r.data.size()) + " bytes)"
                         : hex(r.data);
  return std::to_string(r.usage) + " " + std::to_string(r.selector) + " " +
         std::to_string(r.mtype) + " " + data;
}

std::vector<TlsaRecord> usable_tlsa(const std::vector<TlsaRecord>& records) {
  // The strongest digest present for each usage and selector (agility, RFC 7671 9).
  bool sha512_present[4][2] = {};
  auto fits = [](const TlsaRecord& r) {
    if (r.usage != kDaneTa && r.usage != kDaneEe) return false;
    if (r.selector > 1) return false;
    switch (r.mtype) {
      case kFull:
        return !r.data.empty();
      case kSha256:
        return r.data.size() == WC_SHA256_DIGEST_SIZE;
      case kSha512:
        return r.data.size() == WC_SHA512_DIGEST_SIZE;
      default:
        return false;
    }
  };
  for (const TlsaRecord& r : records) {
    if (fits(r) && r.mtype == kSha512) sha512_present[r.usage][r.selector] = true;
  }
  std::vector<TlsaRecord> usable;
  for (const TlsaRecord& r : records) {
    if (!fits(r)) continue;
    if (r.mtype == kSha256 && sha512_present[r.usage][r.selector]) continue;
    if (std::find(usable.begin(), usable.end(), r) == usable.end()) usable.push_back(r);
  }
  return usable;
}

DaneMatch dane_match(const std::vector<TlsaRecord>& records, const std::vector<std::string>& chain,
                     const std::vector<std::string>& names) {
  DaneMatch m;
  if (chain.empty()) {
    m.detail = "the server sent no certificate";
    return m;
  }
  std::vector<Subject> subjects;
  subjects.reserve(chain.size());
  for (const std::string& der : chain) subjects.emplace_back(der);
  if (!subjects[0].valid()) {
    m.detail = "the server's certificate cannot be parsed";
    return m;
  }
  // DANE-EE: the server's own certificate or key; no name, date or chain checks (RFC 7672 3.1.1).
  for (const TlsaRecord& r : records) {
    if (r.usage == kDaneEe && subjects[0].matches(r)) {
      m.matched = true;
      m.detail = "depth=0 matched DANE-EE " + tlsa_text(r);
      return m;
    }
  }
  // DANE-TA: an anchor in the chain (the lowest one that matches wins), else an anchor given
  // whole that signed the top of the chain.
  std::string broken;
  auto try_anchor = [&](const std::string& anchor, std::size_t top, bool signs_top,
                        const TlsaRecord& r) {
    std::string why = check_below(anchor, chain, top, signs_top);
    if (!why.empty()) {
      broken = "chain below the DANE-TA " + tlsa_text(r) + " anchor: " + why;
      return false;
    }
    std::vector<std::string> found = names_of(subjects[0].x509());
    for (const std::string& name : found) {
      for (const std::string& reference : names) {
        if (name_matches(name, reference)) {
          m.matched = true;
          m.detail = "depth=" + std::to_string(signs_top ? top + 1 : top) + " matched DANE-TA " +
                     tlsa_text(r) + ", name " + name;
          return true;
        }
      }
    }
    broken = "certificate names (" + joined(found) + ") match none of " + joined(names);
    return false;
  };
  for (std::size_t depth = 0; depth < chain.size(); ++depth) {
    if (!subjects[depth].valid()) continue;
    for (const TlsaRecord& r : records) {
      if (r.usage == kDaneTa && subjects[depth].matches(r) &&
          try_anchor(chain[depth], depth, false, r)) {
        return m;
      }
    }
  }
  for (const TlsaRecord& r : records) {
    if (r.usage != kDaneTa || r.selector != kFull || r.mtype != kFull) continue;
    for (std::size_t top = chain.size(); top-- > 0;) {
      if (chain[top] == r.data) continue;  // tried above
      if (try_anchor(r.data, top, true, r)) return m;
    }
  }
  m.detail = broken.empty() ? "no TLSA record matches the certificate chain (" +
                                  std::to_string(chain.size()) + " certificates)"
                            : broken;
  return m;
}

std::vector<TlsaRecord> load_trust_anchors(const std::vector<std::string>& files) {
  std::vector<TlsaRecord> anchors;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read trust anchor file " + file);
    std::stringstream text;
    text << in.rdbuf();
    std::string pem = text.str();
    std::size_t before = anchors.size();
    for (std::size_t at = 0;;) {
      std::size_t begin = pem.find("-----BEGIN ", at);
      if (begin == std::string::npos) break;
      std::size_t end_marker = pem.find("-----END ", begin);
      if (end_marker == std::string::npos) break;
      std::size_t end = pem.find('\n', end_marker);
      end = end == std::string::npos ? pem.size() : end + 1;
      std::string block = pem.substr(begin, end - begin);
      at = end;
      bool certificate = block.rfind("-----BEGIN CERTIFICATE-----", 0) == 0;
      bool key = block.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0;
      if (!certificate && !key) continue;  // Postfix ignores other PEM objects too
      std::string der(block.size(), '\0');
      int length = 0;
      if (certificate) {
        length = wc_CertPemToDer(bytes_of(block), static_cast<int>(block.size()),
                                 reinterpret_cast<unsigned char*>(der.data()),
                                 static_cast<int>(der.size()), CERT_TYPE);
      } else {
        length = wc_PubKeyPemToDer(bytes_of(block), static_cast<int>(block.size()),
                                   reinterpret_cast<unsigned char*>(der.data()),
                                   static_cast<int>(der.size()));
      }
      if (length <= 0)
        throw std::runtime_error("malformed PEM object in trust anchor file " + file);
      der.resize(static_cast<std::size_t>(length));
      anchors.push_back(TlsaRecord{kDaneTa, certificate ? kFull : std::uint8_t{1}, kFull, der});
    }
    if (anchors.size() == before)
      throw std::runtime_error("no certificate or public key in trust anchor file " + file);
  }
  return anchors;
}

}  // namespace ringrelay::tls
