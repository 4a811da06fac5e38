// A server address to connect to: the socket address plus the names Postfix puts in logs
// ("mx.example.com[192.0.2.1]:25"). Also parses and prints IP literals for source addresses.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tls/dane_policy.hh"

namespace ringrelay::engine {

struct ServerAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string hostname;  // the name it was found under (or the address itself)
  std::string address;   // printable IP address, or the UNIX socket path
  std::uint16_t port = 0;
  // Which next hop of the request's list it serves: 0 the destination itself, 1, 2, ... the
  // smtp_fallback_relay entries (tried once the destination's own servers are used up).
  unsigned site = 0;
  // What DNSSEC said of the server, when its next hop was resolved for DANE; null otherwise.
  std::shared_ptr<const tls::DaneFacts> dane;

  int family() const { return storage.ss_family; }
  // "host[address]" and "host[address]:port", as Postfix logs a peer.
  std::string name_address() const;
  std::string name_address_port() const;
  // "address:port": one server, whatever name led to it (for per-server memories).
  std::string address_port() const { return address + ":" + std::to_string(port); }
};

// An IPv4 or IPv6 literal with a port; nullopt when `text` is not one.
std::optional<ServerAddress> numeric_address(const std::string& text, std::uint16_t port);
// A UNIX stream socket path.
ServerAddress unix_address(const std::string& path);

}  // namespace ringrelay::engine
