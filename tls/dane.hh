// DANE for SMTP (RFC 7672, RFC 7671): TLSA records, which of them a client may use, and whether a
// server's certificate chain matches them — DANE-EE(3) by digest of the certificate or its public
// key, DANE-TA(2) by a trust anchor in the chain, the chain below it and the server's name checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::tls {

struct TlsaRecord {
  std::uint8_t usage = 0;     // 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE
  std::uint8_t selector = 0;  // 0 full certificate, 1 SubjectPublicKeyInfo
  std::uint8_t mtype = 0;     // 0 exact bytes, 1 SHA2-256, 2 SHA2-512
  std::string data;           // the certificate association data (binary)

  bool operator==(const TlsaRecord&) const = default;
};

// "3 1 1 ABCD..." as dig and Postfix print a record (whole certificates and keys shortened).
std::string tlsa_text(const TlsaRecord& record);

// The records an SMTP client may authenticate with (RFC 7672 2.2, RFC 7671 9): usages 2 and 3,
// selectors 0 and 1, matching types 0, 1 and 2 with data of the right length; of SHA2-256 and
// SHA2-512 records for the same usage and selector, only those of the stronger digest present
// (digest algorithm agility). The rest are "unusable": only encryption is then required.
std::vector<TlsaRecord> usable_tlsa(const std::vector<TlsaRecord>& records);

struct DaneMatch {
  bool matched = false;
  std::string detail;  // what matched ("depth=0 matched DANE-EE 3 1 1 ...") or why nothing did
};

// Whether `chain` (the server's certificates as DER, its own first, as sent) satisfies `records`
// (usable ones) for a server known by `names` (RFC 7672 3.2.2 reference identifiers). DANE-EE:
// the server's own certificate or key matches; no name or date checks. DANE-TA: a certificate of
// the chain (or the trust anchor key given whole) matches, every certificate below it is signed
// by the one above and in date, and the server's certificate carries one of `names`.
DaneMatch dane_match(const std::vector<TlsaRecord>& records, const std::vector<std::string>& chain,
                     const std::vector<std::string>& names);

// Trust anchors from PEM files (smtp_tls_trust_anchor_file, tafile=): each certificate becomes a
// "2 0 0" record, each public key a "2 1 0" one, as Postfix turns them into DANE-TA records.
// Throws std::runtime_error naming a file that cannot be read or holds neither.
std::vector<TlsaRecord> load_trust_anchors(const std::vector<std::string>& files);

}  // namespace ringrelay::tls
