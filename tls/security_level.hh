// TLS security levels as Postfix names them (smtp_tls_security_level). Which cached connection may
// serve which request is decided by tls::serves (peer_check.hh), not by the level alone.
#pragma once

#include <optional>
#include <string_view>

namespace ringrelay::tls {

enum class SecurityLevel { none, may, encrypt, dane, dane_only, fingerprint, verify, secure };

std::optional<SecurityLevel> parse_security_level(std::string_view text);
std::string_view name_of(SecurityLevel level);

}  // namespace ringrelay::tls
