// What makes next hops one MX site: after resolution, domains whose MX host sets are equal share a
// site (KumoMTA's site name), so 5,000 domains hosted by one provider are one window, one throttle,
// one set of cached connections and one owner shard. A bracketed host, an address, a UNIX socket,
// or a domain that resolved to nothing usable is its own site.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "dns/nexthop.hh"
#include "engine/delivery/shard_resolver.hh"

namespace ringrelay::engine {

// "mx1.example.net,mx2.example.net" (sorted, distinct MX hosts of the destination itself, not its
// fallback relays), with ":port" when not 25 and "lmtp:" for LMTP; else the next hop's key.
std::string site_name(const dns::Nexthop& hop, const ResolveAnswer& answer);

// The names an operator may give a site by, in order: its name, then each of its MX hosts
// (without "lmtp:" or ":port"). Views into `site`. Rate maps, reply-rule maps and holds use them.
std::vector<std::string_view> site_aliases(std::string_view site);

// Whether `name` is one of the site's aliases.
bool site_answers_to(std::string_view site, std::string_view name);

// The entry of `map` (keyed by site names or MX hosts) for `site`: by its name, else by the first
// of its MX hosts that has one; end() when none.
template <class Map>
auto find_for_site(const Map& map, std::string_view site) {
  for (std::string_view alias : site_aliases(site)) {
    auto it = map.find(alias);
    if (it != map.end()) return it;
  }
  return map.end();
}

// The shard that owns a site (or a next hop before its site is known).
std::size_t owner_shard(const std::string& key, std::size_t shards);

}  // namespace ringrelay::engine
