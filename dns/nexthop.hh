// The next hop of a delivery request, in Postfix's notation: what the destination key is and how
// its addresses are found (MX lookup for a domain, A/AAAA only for [host], none for an address).
// Parsing only; the lookups themselves belong to the resolver.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringrelay::dns {

enum class Protocol { smtp, lmtp };

struct Nexthop {
  enum class Kind {
    domain,       // example.com[:port]: MX lookup, implicit MX when there is none
    host,         // [mx.example.com][:port]: A/AAAA of that host, no MX lookup
    address,      // [192.0.2.1][:port] or [ipv6:2001:db8::1][:port]: no lookup at all
    unix_socket,  // lmtp:unix:/path
  };
  Protocol protocol = Protocol::smtp;
  Kind kind = Kind::domain;
  std::string host;  // domain, host name, address (without brackets or "ipv6:"), or socket path
  std::uint16_t port = 25;

  // The canonical destination key: equal for equal next hops, usable as a map key and in logs.
  std::string key() const;
};

// Parses "example.com", "example.com:2525", "[mx.example.com]", "[192.0.2.1]:587",
// "[ipv6:2001:db8::1]:25", "smtp:[host]:port", "lmtp:unix:/path", "lmtp:inet:host:port",
// "lmtp:[host]". Returns nullopt and sets `error` (when given) on malformed input.
std::optional<Nexthop> parse_nexthop(std::string_view text, std::string* error = nullptr);

}  // namespace ringrelay::dns
