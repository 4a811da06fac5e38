// Peer judgement: name patterns, wildcard matching, fingerprints, and the level's verdict.
#include "tls/peer_check.hh"

#include <algorithm>
#include <cctype>
#include <optional>

namespace ringrelay::tls {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  while (!out.empty() && out.back() == '.') out.pop_back();  // "example.com." is example.com
  return out;
}

// Fingerprints compare without case and without the colons some people leave out.
std::string bare_hex(std::string_view digest) {
  std::string out;
  for (char c : digest)
    if (c != ':') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool any_name_matches(const PeerCertificate& certificate,
                      const std::vector<std::string>& patterns) {
  for (const std::string& name : certificate.dns_names)
    for (const std::string& pattern : patterns)
      if (name_matches(name, pattern)) return true;
  return false;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

std::string_view trust_word(Trust trust) {
  switch (trust) {
    case Trust::anonymous:
      return "Anonymous";
    case Trust::untrusted:
      return "Untrusted";
    case Trust::trusted:
      return "Trusted";
    case Trust::verified:
      return "Verified";
  }
  return "Anonymous";
}

std::vector<std::string> match_patterns(const Policy& policy, const PeerNames& names) {
  std::vector<std::string> patterns;
  for (const std::string& item : policy.match) {
    if (item == "hostname") {
      if (!names.hostname.empty()) patterns.push_back(lower(names.hostname));
    } else if (item == "nexthop") {
      if (!names.nexthop.empty()) patterns.push_back(lower(names.nexthop));
    } else if (item == "dot-nexthop") {
      if (!names.nexthop.empty()) {
        std::string pattern = lower(names.nexthop);
        pattern.insert(pattern.begin(), '.');
        patterns.push_back(std::move(pattern));
      }
    } else {
      patterns.push_back(lower(item));
    }
  }
  return patterns;
}

bool name_matches(std::string_view certificate_name, std::string_view pattern_text) {
  std::string name = lower(certificate_name);
  std::string pattern = lower(pattern_text);
  if (name.empty() || pattern.empty()) return false;
  bool wildcard = name.starts_with("*.");
  if (pattern.front() == '.') {
    // Names below the domain; "*.example.com" stands only for such names, so it matches too.
    if (wildcard) return std::string_view(name).substr(1).ends_with(pattern);
    return name.size() > pattern.size() && name.ends_with(pattern);
  }
  if (!wildcard) return name == pattern;
  // "*.example.com" matches "mx.example.com", not "example.com" nor "a.b.example.com".
  std::size_t dot = pattern.find('.');
  if (dot == std::string::npos || dot == 0) return false;
  return std::string_view(pattern).substr(dot) == std::string_view(name).substr(1);
}

Judgement judge(const Policy& policy, const PeerCertificate& certificate, const PeerNames& names) {
  Judgement j;
  if (!certificate.present) {
    j.trust = Trust::anonymous;
  } else if (!certificate.chain_trusted) {
    j.trust = Trust::untrusted;
  } else {
    j.trust = Trust::trusted;
  }
  if (policy.dane_authenticated()) {
    DaneMatch m = dane_match(*policy.tlsa, certificate.chain, policy.dane_names);
    if (m.matched) {
      j.trust = policy.dane_insecure_mx ? Trust::trusted : Trust::verified;
      j.matched = m.detail;
    } else {
      j.acceptable = false;
      j.failure = "Server certificate not verified";
      j.detail = "DANE: " + m.detail;
    }
    return j;
  }
  switch (policy.level) {
    case SecurityLevel::none:
    case SecurityLevel::may:
    case SecurityLevel::encrypt:
    case SecurityLevel::dane:
      return j;  // encryption only: the certificate is logged, never checked
    case SecurityLevel::fingerprint: {
      std::string cert = bare_hex(certificate.cert_digest);
      std::string pkey = bare_hex(certificate.pkey_digest);
      bool matched = certificate.present &&
                     std::any_of(policy.match.begin(), policy.match.end(), [&](const auto& m) {
                       std::string want = bare_hex(m);
                       return want == cert || want == pkey;
                     });
      if (matched) {
        j.trust = Trust::verified;
        return j;
      }
      j.acceptable = false;
      j.failure = "Server certificate not verified";
      j.detail = certificate.present ? "fingerprint " + certificate.cert_digest + " (public key " +
                                           certificate.pkey_digest +
                                           ") matches no smtp_tls_fingerprint_cert_match entry"
                                     : "no certificate";
      return j;
    }
    case SecurityLevel::dane_only:
      // Without usable TLSA records the planner defers before connecting; nothing to trust.
      j.acceptable = false;
      j.failure = "Server certificate not verified";
      j.detail = "no usable TLSA records";
      return j;
    case SecurityLevel::verify:
    case SecurityLevel::secure: {
      if (policy.anchored()) {
        // Only the configured trust anchors count (Postfix's tafile): chain and names at once.
        DaneMatch m =
            dane_match(*policy.trust_anchors, certificate.chain, match_patterns(policy, names));
        j.trust = m.matched ? Trust::verified : Trust::untrusted;
        if (m.matched) {
          j.matched = m.detail;
        } else {
          j.acceptable = false;
          j.failure = "Server certificate not verified";
          j.detail = "trust anchors: " + m.detail;
        }
        return j;
      }
      if (!certificate.present || !certificate.chain_trusted) {
        j.acceptable = false;
        j.failure = "Server certificate not trusted";
        j.detail = certificate.present ? certificate.chain_error : "no certificate";
        return j;
      }
      std::vector<std::string> patterns = match_patterns(policy, names);
      if (any_name_matches(certificate, patterns)) {
        j.trust = Trust::verified;
        return j;
      }
      j.acceptable = false;
      j.failure = "Server certificate not verified";
      j.detail = "certificate names (" + joined(certificate.dns_names) + ") match none of " +
                 (patterns.empty() ? std::string("(no names)") : joined(patterns));
      return j;
    }
  }
  return j;
}

std::string_view authentication_name(const Policy& policy, const Judgement& judgement) {
  if (!judgement.acceptable ||
      (judgement.trust != Trust::verified && judgement.trust != Trust::trusted)) {
    return "none";
  }
  if (policy.dane_authenticated()) return "dane";
  switch (policy.level) {
    case SecurityLevel::fingerprint:
      return "fingerprint";
    case SecurityLevel::verify:
    case SecurityLevel::secure:
      return policy.anchored() ? "trust-anchor" : "ca";
    default:
      return "none";  // the chain was trusted, but this level does not require it
  }
}

bool serves(const Established& established, const Policy& requested, const PeerNames& names) {
  switch (requested.level) {
    case SecurityLevel::none:
      return true;  // no TLS asked for: any working connection will do
    case SecurityLevel::may:
      // Plaintext only where TLS was tried (not offered, or a peer remembered as broken).
      return established.tls || established.policy.level != SecurityLevel::none;
    case SecurityLevel::dane:
      if (requested.dane_authenticated()) break;
      return established.tls || established.policy.level != SecurityLevel::none;
    default:
      break;
  }
  if (!established.tls) return false;
  std::optional<TlsVersion> version = version_from_name(established.protocol);
  if (!version || !requested.protocols.contains(*version)) return false;
  bool cipher_allowed = false;
  std::string_view list = requested.cipher_list;
  for (std::size_t start = 0; start <= list.size() && !cipher_allowed;) {
    std::size_t end = list.find(':', start);
    if (end == std::string_view::npos) end = list.size();
    cipher_allowed = list.substr(start, end - start) == established.cipher_suite;
    start = end + 1;
  }
  if (!cipher_allowed) return false;
  return judge(requested, established.certificate, names).acceptable;
}

}  // namespace ringrelay::tls
