// TLS security levels as Postfix names them (smtp_tls_security_level), and the order between them
// that decides whether a cached TLS connection may serve a request with a given policy.
#pragma once

#include <optional>
#include <string_view>

namespace ringrelay::tls {

enum class SecurityLevel { none, may, encrypt, dane, dane_only, fingerprint, verify, secure };

std::optional<SecurityLevel> parse_security_level(std::string_view text);
std::string_view name_of(SecurityLevel level);

// True when a connection established under `established` is good enough for `requested`:
// never hand a connection to a request whose policy it does not satisfy.
bool satisfies(SecurityLevel established, SecurityLevel requested);

}  // namespace ringrelay::tls
