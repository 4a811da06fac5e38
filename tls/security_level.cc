// Postfix's TLS security levels by name.
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

}  // namespace ringrelay::tls
