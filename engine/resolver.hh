// Finding the addresses of a next hop. The interface is what the scheduler sees; the DNS issue adds
// a c-ares implementation on the shard's ring (MX with Postfix semantics). The one here uses the
// system's resolver (getaddrinfo: /etc/hosts, then A/AAAA) and treats a domain as its own mail
// exchanger (implicit MX) — enough for relayhost, transport maps and literal addresses.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dns/nexthop.hh"
#include "engine/address.hh"

namespace ringrelay::engine {

struct ResolveAnswer {
  std::vector<ServerAddress> addresses;  // in the order to try them
  // When there is no address: soft (deferred) or hard (bounced), with Postfix's words.
  bool hard_failure = false;
  std::string dsn;
  std::string text;
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Calls `done` exactly once, possibly before returning.
  virtual void resolve(const dns::Nexthop& hop, std::function<void(ResolveAnswer)> done) = 0;
};

class SystemResolver : public Resolver {
 public:
  // `address_limit`: smtp_mx_address_limit (0: no limit). `families`: AF_INET, AF_INET6 or both.
  SystemResolver(std::size_t address_limit, bool ipv4, bool ipv6)
      : address_limit_(address_limit), ipv4_(ipv4), ipv6_(ipv6) {}
  void resolve(const dns::Nexthop& hop, std::function<void(ResolveAnswer)> done) override;

 private:
  std::size_t address_limit_;
  bool ipv4_, ipv6_;
};

}  // namespace ringrelay::engine
