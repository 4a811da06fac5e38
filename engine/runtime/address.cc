// Socket addresses for the connector and their Postfix-style names.
#include "engine/runtime/address.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>

namespace ringrelay::engine {

std::string ServerAddress::name_address() const {
  if (family() == AF_UNIX) return address;
  return (hostname.empty() ? address : hostname) + "[" + address + "]";
}

std::string ServerAddress::name_address_port() const {
  if (family() == AF_UNIX) return address;
  return name_address() + ":" + std::to_string(port);
}

std::optional<ServerAddress> numeric_address(const std::string& text, std::uint16_t port) {
  ServerAddress a;
  a.address = text;
  a.hostname = text;
  a.port = port;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.length = sizeof(sockaddr_in);
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.length = sizeof(sockaddr_in6);
    return a;
  }
  return std::nullopt;
}

ServerAddress unix_address(const std::string& path) {
  ServerAddress a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  un->sun_family = AF_UNIX;
  std::strncpy(un->sun_path, path.c_str(), sizeof(un->sun_path) - 1);
  a.length = sizeof(sockaddr_un);
  a.address = path;
  a.hostname = path;
  return a;
}

}  // namespace ringrelay::engine
