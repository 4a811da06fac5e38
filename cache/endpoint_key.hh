// The keys of the connection cache. A cached connection is found again by its next hop (any
// server of that destination will do) or by its endpoint (this very server); both carry everything
// that makes two connections interchangeable, so that a session is never reused for the wrong
// sender. TLS is not part of the key: whether a cached connection's TLS satisfies a request's
// policy is decided when it is taken (see IdleConnections::take_by_*), since a connection serves
// equal or weaker policies, not only its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace ringrelay::cache {

struct EndpointKey {
  std::string address;  // the server's IP address, or a UNIX socket path
  std::uint16_t port = 0;
  std::string source_address;  // smtp_bind_address(6), empty for the kernel's choice
  std::string helo_name;
  std::string sasl_identity;  // empty when not authenticated

  bool operator==(const EndpointKey&) const = default;
  // A printable form for logs: "192.0.2.1:25 helo=mx.example".
  std::string to_string() const;
};

struct EndpointKeyHash {
  std::size_t operator()(const EndpointKey& key) const noexcept;
};

}  // namespace ringrelay::cache
