// Policy parsing: protocol ranges, cipher grades, policy table entries, canonical keys.
#include "tls/policy.hh"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace ringrelay::tls {
namespace {

constexpr std::array<std::pair<TlsVersion, std::string_view>, 4> kVersions{{
    {TlsVersion::tls1, "TLSv1"},
    {TlsVersion::tls1_1, "TLSv1.1"},
    {TlsVersion::tls1_2, "TLSv1.2"},
    {TlsVersion::tls1_3, "TLSv1.3"},
}};

// Ciphers by strength, in our order of preference. TLS 1.3 suites first: wolfSSL takes one list
// for both. Everything here is at least 128-bit AES or ChaCha20 except 3DES (medium and below).
constexpr std::string_view kHighCiphers[] = {
    "TLS13-AES128-GCM-SHA256",
    "TLS13-AES256-GCM-SHA384",
    "TLS13-CHACHA20-POLY1305-SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "DHE-RSA-AES128-SHA256",
    "DHE-RSA-AES256-SHA256",
    "DHE-RSA-AES128-SHA",
    "DHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA256",
    "AES256-SHA256",
    "AES128-SHA",
    "AES256-SHA",
};
constexpr std::string_view kMediumExtraCiphers[] = {"ECDHE-RSA-DES-CBC3-SHA", "DES-CBC3-SHA"};

std::vector<std::string_view> split(std::string_view text, std::string_view separators) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find_first_of(separators, start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool excluded(std::string_view cipher, const std::vector<std::string>& exclude) {
  // As in OpenSSL, exclusions shape the TLS 1.2 and older list; TLS 1.3 suites are all AEAD.
  if (cipher.starts_with("TLS13-")) return false;
  for (std::string_view token : exclude) {
    if (iequal(token, cipher)) return true;
    std::string_view component = iequal(token, "3DES") ? "CBC3" : token;
    for (std::string_view part : split(cipher, "-")) {
      if (iequal(part, component)) return true;
    }
  }
  return false;
}

std::string join(const std::vector<std::string>& items, char separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

void fill_ciphers(Policy& p, const std::string& what) {
  std::string error;
  p.cipher_list = cipher_list(p.ciphers, p.exclude, error);
  if (p.cipher_list.empty()) throw std::invalid_argument(what + ": " + error);
}

}  // namespace

std::string_view version_name(TlsVersion version) {
  for (const auto& [v, name] : kVersions)
    if (v == version) return name;
  return "TLS";
}

std::optional<TlsVersion> version_from_name(std::string_view name) {
  for (const auto& [v, n] : kVersions)
    if (iequal(n, name)) return v;
  return std::nullopt;
}

std::optional<ProtocolRange> parse_protocols(std::string_view text, std::string& error) {
  ProtocolRange range;
  std::vector<TlsVersion> excluded_versions;
  for (std::string_view token : split(text, " \t,:")) {
    std::string_view name = token;
    enum { at_least, at_most, exclude, only } kind = only;
    if (token.starts_with(">=")) {
      kind = at_least;
      name = token.substr(2);
    } else if (token.starts_with("<=")) {
      kind = at_most;
      name = token.substr(2);
    } else if (token.starts_with("!")) {
      kind = exclude;
      name = token.substr(1);
    }
    // SSLv2 and SSLv3 are never offered: excluding them changes nothing.
    if (iequal(name, "SSLv2") || iequal(name, "SSLv3")) {
      if (kind == exclude) continue;
      if (kind == at_most) {
        error = "no protocol is left: " + std::string(token);
        return std::nullopt;
      }
      continue;
    }
    std::optional<TlsVersion> version = version_from_name(name);
    if (!version) {
      error = "unknown TLS protocol \"" + std::string(name) + "\"";
      return std::nullopt;
    }
    switch (kind) {
      case at_least:
        range.min = std::max(range.min, *version);
        break;
      case at_most:
        range.max = std::min(range.max, *version);
        break;
      case exclude:
        excluded_versions.push_back(*version);
        break;
      case only:
        error = "a protocol must be written >=" + std::string(name) + ", <=" + std::string(name) +
                " or !" + std::string(name);
        return std::nullopt;
    }
  }
  // Exclusions trim the range from either end; a hole in the middle cannot be expressed.
  std::sort(excluded_versions.begin(), excluded_versions.end());
  for (bool changed = true; changed;) {
    changed = false;
    for (TlsVersion v : excluded_versions) {
      if (v == range.min && range.min < range.max) {
        range.min = static_cast<TlsVersion>(static_cast<int>(v) + 1);
        changed = true;
      } else if (v == range.max && range.max > range.min) {
        range.max = static_cast<TlsVersion>(static_cast<int>(v) - 1);
        changed = true;
      } else if (v == range.min && v == range.max) {
        error = "no protocol is left";
        return std::nullopt;
      }
    }
  }
  for (TlsVersion v : excluded_versions) {
    if (range.contains(v)) {
      error = "excluding " + std::string(version_name(v)) +
              " while allowing protocols on both sides of it is not supported";
      return std::nullopt;
    }
  }
  if (range.min > range.max) {
    error = "no protocol is left";
    return std::nullopt;
  }
  return range;
}

std::string cipher_list(std::string_view grade, const std::vector<std::string>& exclude,
                        std::string& error) {
  bool medium = iequal(grade, "medium") || iequal(grade, "low") || iequal(grade, "export");
  if (!medium && !iequal(grade, "high")) {
    error = "cipher grade \"" + std::string(grade) +
            "\" is not supported (use high, medium, low or export)";
    return {};
  }
  std::string list;
  auto add = [&](std::string_view cipher) {
    if (excluded(cipher, exclude)) return;
    if (!list.empty()) list += ':';
    list += cipher;
  };
  for (std::string_view c : kHighCiphers) add(c);
  if (medium)
    for (std::string_view c : kMediumExtraCiphers) add(c);
  if (list.empty()) error = "the exclusions leave no cipher";
  return list;
}

Policy default_policy(SecurityLevel level, const PolicyDefaults& defaults) {
  Policy p;
  p.level = level;
  bool mandatory = p.mandatory();
  p.protocols_text = mandatory ? defaults.mandatory_protocols : defaults.protocols;
  p.ciphers = mandatory ? defaults.mandatory_ciphers : defaults.ciphers;
  p.exclude = mandatory ? defaults.mandatory_exclude_ciphers : defaults.exclude_ciphers;
  if (level == SecurityLevel::fingerprint) p.match = defaults.fingerprint_match;
  if (level == SecurityLevel::verify) p.match = defaults.verify_match;
  if (level == SecurityLevel::secure) p.match = defaults.secure_match;
  p.servername = defaults.servername;
  std::string error;
  auto range = parse_protocols(p.protocols_text, error);
  if (!range) {
    throw std::invalid_argument(
        std::string(mandatory ? "smtp_tls_mandatory_protocols" : "smtp_tls_protocols") + " = " +
        p.protocols_text + ": " + error);
  }
  p.protocols = *range;
  fill_ciphers(p, mandatory ? "smtp_tls_mandatory_ciphers" : "smtp_tls_ciphers");
  return p;
}

std::optional<Policy> parse_policy_entry(std::string_view text, const PolicyDefaults& defaults,
                                         std::string& error) {
  std::vector<std::string_view> words = split(text, " \t");
  if (words.empty()) {
    error = "empty policy";
    return std::nullopt;
  }
  std::optional<SecurityLevel> level = parse_security_level(words[0]);
  if (!level) {
    error = "unknown security level \"" + std::string(words[0]) + "\"";
    return std::nullopt;
  }
  Policy p;
  try {
    p = default_policy(*level, defaults);
  } catch (const std::invalid_argument& e) {
    error = e.what();
    return std::nullopt;
  }
  bool match_given = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    std::string_view word = words[i];
    std::size_t eq = word.find('=');
    if (eq == std::string_view::npos) {
      error = "expected name=value, not \"" + std::string(word) + "\"";
      return std::nullopt;
    }
    std::string_view name = word.substr(0, eq), value = word.substr(eq + 1);
    if (name == "match") {
      if (!match_given) p.match.clear();
      match_given = true;
      // Fingerprints are separated by "|" (they contain colons); names by colons.
      auto items = split(value, *level == SecurityLevel::fingerprint ? "|" : ":");
      for (std::string_view item : items) p.match.emplace_back(item);
    } else if (name == "protocols") {
      auto range = parse_protocols(value, error);
      if (!range) return std::nullopt;
      p.protocols_text = std::string(value);
      p.protocols = *range;
    } else if (name == "ciphers") {
      p.ciphers = std::string(value);
    } else if (name == "exclude") {
      p.exclude.clear();
      for (std::string_view item : split(value, ":, ")) p.exclude.emplace_back(item);
    } else if (name == "servername") {
      p.servername = std::string(value);
    } else if (name == "tafile") {
      if (*level != SecurityLevel::verify && *level != SecurityLevel::secure) {
        error = "attribute \"tafile\" invalid at security level \"" + std::string(words[0]) + "\"";
        return std::nullopt;
      }
      for (std::string_view item : split(value, ",")) p.trust_anchor_files.emplace_back(item);
    } else if (name == "connection_reuse") {
      error = "attribute \"" + std::string(name) + "\" is not supported";
      return std::nullopt;
    } else {
      error = "unknown attribute \"" + std::string(name) + "\"";
      return std::nullopt;
    }
  }
  p.cipher_list = cipher_list(p.ciphers, p.exclude, error);
  if (p.cipher_list.empty()) return std::nullopt;
  if ((*level == SecurityLevel::fingerprint) && p.match.empty()) {
    error = "fingerprint level without match=... fingerprints";
    return std::nullopt;
  }
  return p;
}

std::string Policy::key() const {
  std::string out(name_of(level));
  if (!match.empty())
    out += " match=" + join(match, level == SecurityLevel::fingerprint ? '|' : ':');
  if (level == SecurityLevel::none) return out;
  out += " protocols=" + std::string(version_name(protocols.min)) + "-" +
         std::string(version_name(protocols.max));
  out += " ciphers=" + ciphers;
  if (!exclude.empty()) out += " exclude=" + join(exclude, ':');
  if (!servername.empty()) out += " servername=" + servername;
  if (!trust_anchor_files.empty()) out += " tafile=" + join(trust_anchor_files, ',');
  if (tlsa) {
    out += " tlsa=";
    for (const TlsaRecord& r : *tlsa) out += tlsa_text(r) + ";";
    out += " dane-names=" + join(dane_names, ':');
    if (dane_insecure_mx) out += " insecure-mx";
  }
  return out;
}

}  // namespace ringrelay::tls
