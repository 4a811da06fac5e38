// Finding the servers of a next hop the way Postfix's smtp_addr.c and smtp_connect.c do: MX lookup
// for a domain (implicit MX when it has none, null MX, NXDOMAIN, lookup errors and their status
// codes and words), A/AAAA for [host], nothing for [address]; loop detection against this host's
// addresses; then the smtp_fallback_relay next hops, each a "site" after the destination's own.
#pragma once

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dns/lookups.hh"
#include "dns/mx_plan.hh"
#include "dns/nexthop.hh"

namespace ringrelay::dns {

// The system's resolver (getaddrinfo: /etc/hosts, NSS), run off the shard by engine/.
struct NativeResult {
  int error = 0;                       // an EAI_* code, 0 on success
  std::string error_text;              // gai_strerror's words
  std::vector<std::string> addresses;  // printable, in the order returned
};
class NativeLookup {
 public:
  virtual ~NativeLookup() = default;
  // `done` runs later, on the caller's shard.
  virtual void lookup(const std::string& host, std::function<void(NativeResult)> done) = 0;
};

struct ResolverOptions {
  bool ipv4 = true, ipv6 = true;  // inet_protocols
  bool mx_lookups = true;         // not disable_dns_lookups, not smtp_dns_support_level=disabled
  bool host_dns = true;           // smtp_host_lookup has dns
  bool host_native = false;       // smtp_host_lookup has native (always, when DNS is off)
  bool ignore_mx_lookup_error = false;
  bool defer_if_no_mx_address = false;  // smtp_defer_if_no_mx_address_found
  PlanOptions plan;
  std::vector<std::string> self_addresses;    // inet_interfaces and proxy_interfaces, printable
  std::vector<Nexthop> fallback_relays;       // smtp_fallback_relay (for SMTP next hops)
  std::vector<Nexthop> lmtp_fallback_relays;  // lmtp_fallback_relay (for LMTP next hops)
  std::string relayhost_key;                  // the relayhost's Nexthop::key(), "" for none
  std::chrono::seconds native_ttl{60};        // how long a native answer is used
  // smtp_tls_force_insecure_host_tlsa_lookup: TLSA lookups for hosts whose addresses are insecure.
  bool force_insecure_host_tlsa = false;
};

struct Plan {
  std::vector<Target> targets;  // in the order to try; sites one after the other
  // When there is no target: deferred (soft) or bounced (hard), with Postfix's status and words.
  bool hard = false;
  std::string dsn;
  std::string text;
  DnsClock::time_point expires{};  // when this plan should be looked up again
};

class Resolver {
 public:
  // `native` may be null when host lookups never use the system's resolver.
  Resolver(Lookups& lookups, NativeLookup* native, ResolverOptions options);
  ~Resolver();

  // Calls `done` exactly once, possibly before returning. With `dane`, every target carries what
  // DNSSEC said of its host and the host's TLSA records (the channel must ask for DNSSEC).
  void resolve(const Nexthop& hop, std::function<void(Plan)> done, bool dane = false);
  void set_options(ResolverOptions options) { options_ = std::move(options); }
  const ResolverOptions& options() const { return options_; }

 private:
  struct Site;
  struct Resolution;
  struct HostLookup;
  struct HostQueries;
  void resolve_site(const std::shared_ptr<Site>& site);
  void resolve_domain(const std::shared_ptr<Site>& site);
  void resolve_host(const std::shared_ptr<Site>& site);
  void plan_exchangers(const std::shared_ptr<Site>& site);
  void lookup_host(const std::string& name, unsigned preference, bool dane,
                   std::function<void(HostLookup)> done);
  void lookup_tlsa(const std::shared_ptr<Site>& site);
  void tlsa_for(const std::string& host, std::uint16_t port, const std::shared_ptr<DaneDns>& facts,
                bool alias_tried, std::function<void()> done);
  void finish_host(HostQueries& queries);
  void lookup_native(const std::string& name, unsigned preference,
                     std::function<void(HostLookup)> done);
  void finish_site(const std::shared_ptr<Site>& site);
  void combine(Resolution& r);

  Lookups& lookups_;
  NativeLookup* native_;
  ResolverOptions options_;
  std::mt19937 random_;
};

}  // namespace ringrelay::dns
