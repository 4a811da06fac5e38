// The system resolver: getaddrinfo for host names and domains, no lookup for literals and sockets.
#include "engine/resolver.hh"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

namespace ringrelay::engine {

void SystemResolver::resolve(const dns::Nexthop& hop, std::function<void(ResolveAnswer)> done) {
  ResolveAnswer answer;
  if (hop.kind == dns::Nexthop::Kind::unix_socket) {
    answer.addresses.push_back(unix_address(hop.host));
    done(std::move(answer));
    return;
  }
  if (auto literal = numeric_address(hop.host, hop.port)) {
    answer.addresses.push_back(*literal);
    done(std::move(answer));
    return;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = ipv4_ && ipv6_ ? AF_UNSPEC : (ipv6_ ? AF_INET6 : AF_INET);
  addrinfo* list = nullptr;
  int rc = ::getaddrinfo(hop.host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    bool not_found = rc == EAI_NONAME
#ifdef EAI_NODATA
                     || rc == EAI_NODATA
#endif
        ;
    answer.hard_failure = not_found;
    answer.dsn = not_found ? "5.4.4" : "4.4.3";
    answer.text = not_found
                      ? "Host or domain name not found. Name service error for name=" + hop.host +
                            " type=A: Host not found"
                      : "Host or domain name not found. Name service error for name=" + hop.host +
                            " type=A: " + gai_strerror(rc);
    done(std::move(answer));
    return;
  }
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        ai->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr);
    if (inet_ntop(ai->ai_family, raw, text, sizeof text) == nullptr) continue;
    auto address = numeric_address(text, hop.port);
    if (!address) continue;
    address->hostname = hop.host;
    bool duplicate = false;
    for (const auto& a : answer.addresses) duplicate |= a.address == address->address;
    if (!duplicate) answer.addresses.push_back(*address);
    if (address_limit_ > 0 && answer.addresses.size() == address_limit_) break;
  }
  ::freeaddrinfo(list);
  if (answer.addresses.empty()) {
    answer.dsn = "4.4.3";
    answer.text = "Host or domain name not found. Name service error for name=" + hop.host +
                  " type=A: no usable address";
  }
  done(std::move(answer));
}

}  // namespace ringrelay::engine
