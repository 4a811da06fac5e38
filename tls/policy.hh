// A TLS policy: the security level and what goes with it (names or fingerprints to match, protocol
// range, cipher grade and exclusions), from main.cf defaults or an smtp_tls_policy_maps entry
// ("verify match=hostname:nexthop protocols=>=TLSv1.2 ciphers=high"). Parsing and wording only.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tls/dane.hh"
#include "tls/security_level.hh"

namespace ringrelay::tls {

enum class TlsVersion { tls1 = 1, tls1_1, tls1_2, tls1_3 };

struct ProtocolRange {
  TlsVersion min = TlsVersion::tls1;
  TlsVersion max = TlsVersion::tls1_3;
  bool contains(TlsVersion v) const { return v >= min && v <= max; }
};

// Postfix's protocol syntax: ">=TLSv1.2", "<=TLSv1.2", "!SSLv2, !SSLv3, !TLSv1" (separated by
// blanks, commas or colons). Excluding versions in the middle of the range is not expressible
// with wolfSSL's min/max and is refused. Empty text: all of TLSv1 to TLSv1.3.
std::optional<ProtocolRange> parse_protocols(std::string_view text, std::string& error);
std::string_view version_name(TlsVersion version);                   // "TLSv1.2"
std::optional<TlsVersion> version_from_name(std::string_view name);  // "TLSv1.3" → tls1_3

// The wolfSSL cipher list for a Postfix cipher grade ("high", "medium", "low", "export") less the
// exclusions (cipher names, or components such as "3DES", "SHA1", "CBC"). Empty with `error` set
// for a grade we cannot provide ("null").
std::string cipher_list(std::string_view grade, const std::vector<std::string>& exclude,
                        std::string& error);

struct Policy {
  SecurityLevel level = SecurityLevel::may;
  // verify/secure: "hostname", "nexthop", "dot-nexthop" or names (".domain" matches subdomains);
  // fingerprint: certificate or public-key digests ("AB:CD:...").
  std::vector<std::string> match;
  std::string protocols_text;  // as configured
  ProtocolRange protocols;
  std::string ciphers = "medium";
  std::vector<std::string> exclude;
  std::string cipher_list;  // what wolfSSL is given
  std::string servername;   // SNI: "", "hostname", "nexthop" or a literal name
  // verify/secure with smtp_tls_trust_anchor_file or tafile=: the files, and their anchors as
  // DANE-TA records; then only these anchors are trusted, not the CA files.
  std::vector<std::string> trust_anchor_files;
  std::shared_ptr<const std::vector<TlsaRecord>> trust_anchors;
  // dane/dane-only once the server's DNS facts are in (TlsPlanner): the usable TLSA records the
  // server must match and the names DANE-TA checks; "Trusted", not "Verified", when its MX RRset
  // was insecure. Without records the planner has changed the level to what applies instead.
  std::shared_ptr<const std::vector<TlsaRecord>> tlsa;
  std::vector<std::string> dane_names;
  bool dane_insecure_mx = false;

  bool uses_tls() const { return level != SecurityLevel::none; }
  bool dane_authenticated() const {
    return (level == SecurityLevel::dane || level == SecurityLevel::dane_only) && tlsa &&
           !tlsa->empty();
  }
  bool anchored() const { return trust_anchors && !trust_anchors->empty(); }
  // Levels at which a failed handshake or an unverified peer defers the mail: all but none, may,
  // and "dane" without usable TLSA records (opportunistic, as in Postfix).
  bool mandatory() const {
    return level != SecurityLevel::none && level != SecurityLevel::may &&
           (level != SecurityLevel::dane || dane_authenticated());
  }
  // A canonical text: equal texts mean equal policies (cache and session keys, logs).
  std::string key() const;
};

// main.cf's TLS parameters, from which every policy starts.
struct PolicyDefaults {
  SecurityLevel level = SecurityLevel::may;  // smtp_tls_security_level
  std::string protocols = ">=TLSv1";         // smtp_tls_protocols (may)
  std::string mandatory_protocols = ">=TLSv1";
  std::string ciphers = "medium";  // smtp_tls_ciphers (may)
  std::string mandatory_ciphers = "medium";
  std::vector<std::string> exclude_ciphers, mandatory_exclude_ciphers;
  std::vector<std::string> fingerprint_match;  // smtp_tls_fingerprint_cert_match
  std::vector<std::string> verify_match{"hostname"};
  std::vector<std::string> secure_match{"nexthop", "dot-nexthop"};
  std::string servername;  // smtp_tls_servername
};

// The policy of `level` with main.cf's settings for it. Throws std::invalid_argument naming the
// parameter for a malformed protocol list or cipher grade.
Policy default_policy(SecurityLevel level, const PolicyDefaults& defaults);

// Parses a policy table value ("encrypt protocols=>=TLSv1.2"); nullopt with `error` set.
std::optional<Policy> parse_policy_entry(std::string_view text, const PolicyDefaults& defaults,
                                         std::string& error);

}  // namespace ringrelay::tls
