// What the dane and dane-only levels become at one server once DNS has spoken (Postfix's
// dane_init, RFC 7672 2.2): DANE authentication with the usable TLSA records, or a fall back to
// "may" or "encrypt" with the reason, or a refusal that defers the mail without connecting.
#pragma once

#include <string>
#include <vector>

#include "tls/dane.hh"
#include "tls/policy.hh"

namespace ringrelay::tls {

// What DNSSEC said of one server (engine/ copies it from dns/'s answer).
struct DaneFacts {
  bool mx_insecure = false;  // reached through an MX RRset that was not validated
  enum class Tlsa { none, found, failed } tlsa = Tlsa::none;
  std::vector<TlsaRecord> records;  // validated, as found (all usages)
  std::vector<std::string> names;   // RFC 7672 3.2.2: TLSA base name, MX name, CNAME expansion
  std::string failure;              // "TLSA lookup error for mx.example.com:25"
};

// smtp_tls_dane_insecure_mx_policy.
enum class InsecureMxPolicy { may, encrypt, dane };

struct DaneDecision {
  // Not empty: defer with 4.7.5 and these words, without connecting (dane-only without DANE, a
  // TLSA lookup that failed, a configuration that cannot do DANE at dane-only).
  std::string refusal;
  // Not empty: the level fell back from DANE authentication, and why ("no TLSA records found").
  std::string downgrade;
  bool config_problem = false;  // the downgrade is the administrator's to fix: log a warning
};

// Rewrites a dane or dane-only `policy` for one server (other levels are left alone). `facts` is
// null when no DNSSEC lookup was made for it (an IP literal, native lookups). `config_problem`
// not empty: DANE cannot work with this configuration ("dnssec lookups disabled").
DaneDecision apply_dane(Policy& policy, const DaneFacts* facts, InsecureMxPolicy insecure_mx,
                        const std::string& config_problem);

}  // namespace ringrelay::tls
