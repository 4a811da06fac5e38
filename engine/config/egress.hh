// Egress sources and pools (egress_source_maps, egress_pool_maps, default_egress_pool): the local
// addresses connections leave from, each with its own EHLO name, grouped in weighted pools that a
// request names (feed field "pool"). Read and checked once at start and on reload.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.hh"
#include "engine/runtime/address.hh"

namespace ringrelay::engine {

struct EgressSource {
  std::string name;
  std::optional<ServerAddress> address;   // IPv4; without it the source reaches no IPv4 server
  std::optional<ServerAddress> address6;  // IPv6; likewise
  std::string helo;                       // its EHLO/HELO name; empty: smtp_helo_name
  bool reaches(int family) const {
    return family == AF_INET6 ? address6.has_value() : address.has_value();
  }
};

struct EgressPool {
  struct Member {
    std::size_t source = 0;  // index into EgressSettings::sources
    unsigned weight = 1;
  };
  std::vector<Member> members;
};

struct EgressSettings {
  std::vector<EgressSource> sources;
  // By name; every source is also a pool of its own name unless a pool has that name.
  std::map<std::string, EgressPool, std::less<>> pools;
  std::string default_pool;             // default_egress_pool; empty: requests without a pool bind
                                        // smtp_bind_address as before
  std::chrono::seconds retry_time{60};  // egress_source_retry_time: after a failed bind

  const EgressSource* source(std::string_view name) const;
  const EgressPool* pool(std::string_view name) const;
};

// The longest source or pool name, and the most of each: bounds on what a table may define.
inline constexpr std::size_t kEgressNameLimit = 64;
inline constexpr std::size_t kEgressSourceLimit = 4096;
inline constexpr unsigned kEgressWeightLimit = 1000;

// Reads the tables; throws ConfigError naming the file and line of anything malformed (an address
// that is not numeric or of the wrong family, an unknown member, a pool without members, a
// default pool that does not exist).
EgressSettings egress_settings(const Config& c);

// "address=192.0.2.10 address6=2001:db8::10 helo=mta1.example.com": a source's table value.
// Nothing, and why, when it does not parse.
std::optional<EgressSource> parse_egress_source(std::string name, std::string_view value,
                                                std::string& error);

}  // namespace ringrelay::engine
