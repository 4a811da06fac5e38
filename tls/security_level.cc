// Postfix's TLS security levels and which established level satisfies which request.
#include "tls/security_level.hh"

#include <array>
#include <utility>

namespace ringrelay::tls {
namespace {

constexpr std::array<std::pair<SecurityLevel, std::string_view>, 8> kNames{{
    {SecurityLevel::none, "none"},
    {SecurityLevel::may, "may"},
    {SecurityLevel::encrypt, "encrypt"},
    {SecurityLevel::dane, "dane"},
    {SecurityLevel::dane_only, "dane-only"},
    {SecurityLevel::fingerprint, "fingerprint"},
    {SecurityLevel::verify, "verify"},
    {SecurityLevel::secure, "secure"},
}};

}  // namespace

std::optional<SecurityLevel> parse_security_level(std::string_view text) {
  for (const auto& [level, name] : kNames) {
    if (name == text) return level;
  }
  return std::nullopt;
}

std::string_view name_of(SecurityLevel level) {
  for (const auto& [l, name] : kNames) {
    if (l == level) return name;
  }
  return "unknown";
}

bool satisfies(SecurityLevel established, SecurityLevel requested) {
  if (established == requested) return true;
  switch (requested) {
    case SecurityLevel::none:
      // A request that asked for no TLS is served by a plaintext connection only: an operator
      // who set "none" for a destination may do so because its TLS is broken.
      return false;
    case SecurityLevel::may:
    case SecurityLevel::encrypt:
    case SecurityLevel::dane:
      // Any encrypted connection satisfies these ("dane" without usable TLSA records is "may").
      return established != SecurityLevel::none && established != SecurityLevel::may;
    case SecurityLevel::dane_only:
    case SecurityLevel::fingerprint:
    case SecurityLevel::verify:
    case SecurityLevel::secure:
      // Authenticated levels match by name only: each checks the peer a different way.
      return false;
  }
  return false;
}

}  // namespace ringrelay::tls
