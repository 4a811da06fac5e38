// Judging a TLS peer against a policy, as Postfix does after the handshake: "Anonymous",
// "Untrusted", "Trusted" or "Verified", and whether the level lets the session go on. Pure logic
// over facts the channel gathered (chain result, names, digests): no wolfSSL here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tls/policy.hh"

namespace ringrelay::tls {

// What the handshake showed of the server's certificate.
struct PeerCertificate {
  bool present = false;
  bool chain_trusted = false;          // chained to a trusted CA within the verify depth
  std::string chain_error;             // why not: "certificate has expired (depth 0)"
  std::vector<std::string> dns_names;  // subjectAltName DNS names, or the CN when there are none
  std::string subject_cn, issuer_cn;
  std::string cert_digest, pkey_digest;  // "AB:CD:...", with smtp_tls_fingerprint_digest
  // The chain as sent, DER, the server's own certificate first, for DANE and trust anchors (empty
  // after a resumed handshake: those levels never resume).
  std::vector<std::string> chain;
};

enum class Trust { anonymous, untrusted, trusted, verified };
std::string_view trust_word(Trust trust);  // "Anonymous", "Untrusted", "Trusted", "Verified"

// The names a policy's match list stands for at one server: "hostname" is the server's name
// (from MX), "nexthop" the next-hop domain, "dot-nexthop" its subdomains (".example.com").
struct PeerNames {
  std::string nexthop;
  std::string hostname;
};
std::vector<std::string> match_patterns(const Policy& policy, const PeerNames& names);

// True when a certificate name ("mx.example.com", "*.example.com") matches a pattern: a host
// name, or ".domain" for any name below domain. A wildcard stands for exactly one left-most label.
bool name_matches(std::string_view certificate_name, std::string_view pattern);

struct Judgement {
  Trust trust = Trust::anonymous;
  bool acceptable = true;  // false: the level requires what the peer did not show
  std::string failure;     // Postfix's words: "Server certificate not trusted", ...
  std::string detail;      // for the log: the chain error, the names that did not match
  std::string matched;     // DANE and trust anchors: what matched ("depth=0 matched DANE-EE ...")
};

// How `certificate` fares under `policy` at the server `names`.
Judgement judge(const Policy& policy, const PeerCertificate& certificate, const PeerNames& names);

// How a server that `judgement` accepted was authenticated, for result records: "dane",
// "trust-anchor", "ca", "fingerprint", or "none" (encryption only, or a level that checks nothing).
std::string_view authentication_name(const Policy& policy, const Judgement& judgement);

// What a connection was opened under and what it showed, kept while it is cached.
struct Established {
  Policy policy;             // the policy it was opened under
  bool tls = false;          // STARTTLS succeeded
  std::string protocol;      // "TLSv1.3"
  std::string cipher_suite;  // wolfSSL's name, as in cipher lists
  PeerCertificate certificate;
};

// True when a connection established as `established` may carry a request whose policy is
// `requested` at the server `names`: the request's own rules are applied again to what the
// connection showed, so a connection serves equal or weaker policies only.
bool serves(const Established& established, const Policy& requested, const PeerNames& names);

}  // namespace ringrelay::tls
