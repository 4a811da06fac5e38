// Binding a listening TCP socket to an IP literal and port.
#include "engine/runtime/tcp_socket.hh"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace ringrelay::engine {

std::optional<ServerAddress> listen_address(const std::string& spec) {
  auto colon = spec.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const char* first = spec.data() + colon + 1;
  const char* last = spec.data() + spec.size();
  auto [end, ec] = std::from_chars(first, last, port);
  if (ec != std::errc() || end != last || port == 0 || port > 65535) return std::nullopt;
  return numeric_address(host, static_cast<std::uint16_t>(port));
}

int listen_tcp_socket(const std::string& spec, const std::string& parameter) {
  auto address = listen_address(spec);
  if (!address) {
    throw std::runtime_error(parameter + " " + spec + ": not an IP address and port");
  }
  int fd = ::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address->storage), address->length) != 0 ||
      ::listen(fd, 128) != 0) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(parameter + " " + spec + ": " + std::strerror(e));
  }
  return fd;
}

}  // namespace ringrelay::engine
