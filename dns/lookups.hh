// The per-shard DNS record cache in front of the channel: answers are kept for their TTL (capped),
// negative answers for a short configurable time, a lookup already in flight for the same name and
// type is joined rather than repeated, and a CNAME the server did not chase is asked for again.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/ares_channel.hh"

namespace ringrelay::dns {

using DnsClock = std::chrono::steady_clock;

struct CacheLimits {
  std::chrono::seconds ttl_limit{3600};    // dns_cache_ttl_limit
  std::chrono::seconds negative_time{30};  // dns_negative_cache_time
  std::size_t entry_limit = 100000;        // dns_cache_size_limit
};

struct LookupResult {
  LookupStatus status = LookupStatus::failed;
  std::vector<Record> records;
  std::string reason;  // Postfix's words for a failure (see QueryOutcome)
  // DNSSEC (with ChannelOptions::dnssec): the answer, and every alias on the way, validated.
  bool secure = false;
  std::string canonical_name;  // where the CNAME chain from the asked name ended
  DnsClock::time_point expires{};
  bool from_cache = false;
};

struct LookupStats {
  std::size_t queries = 0;  // sent to a server
  std::size_t hits = 0;     // answered from the cache
  std::size_t joined = 0;   // joined a query already in flight
};

class Lookups {
 public:
  Lookups(Channel& channel, CacheLimits limits) : channel_(channel), limits_(limits) {}

  using Callback = std::function<void(const LookupResult&)>;
  // `done` may run before lookup() returns (a cache hit).
  void lookup(const std::string& name, RecordType type, Callback done);
  void set_limits(CacheLimits limits) { limits_ = limits; }
  const CacheLimits& limits() const { return limits_; }
  const LookupStats& stats() const { return stats_; }

 private:
  void ask(const std::string& key, const std::string& name, RecordType type, int cname_hops,
           std::uint32_t chain_ttl, bool chain_secure);
  void finish(const std::string& key, LookupResult result);
  void make_room();

  Channel& channel_;
  CacheLimits limits_;
  std::unordered_map<std::string, LookupResult> cache_;
  std::unordered_map<std::string, std::vector<Callback>> in_flight_;
  LookupStats stats_;
};

}  // namespace ringrelay::dns
