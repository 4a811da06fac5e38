// The connection cache container: idle connections waiting for reuse, found by next hop (any
// server of that destination will do) or by endpoint (this very server, whatever next hop led to
// it). A container only: no sockets, no clocks. The engine arms the idle timers and checks the
// reuse limits; each shard has its own cache, and no lock is needed (see docs/configuration.md).
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/endpoint_key.hh"

namespace ringrelay::cache {

template <typename Handle>
class IdleConnections {
 public:
  // Adds an idle connection. A handle is in the cache at most once.
  void put(Handle handle, const std::string& nexthop, const EndpointKey& endpoint) {
    remove(handle);
    entries_.emplace(handle, Entry{nexthop, endpoint});
    by_nexthop_[nexthop].push_back(handle);
    by_endpoint_[endpoint].push_back(handle);
  }

  // The most recently cached connection for `nexthop` (the warmest) that `accept` takes (its TLS
  // satisfies the request's policy), removed from the cache.
  template <typename Accept>
  std::optional<Handle> take_by_nexthop(const std::string& nexthop, Accept accept) {
    return take(by_nexthop_, nexthop, accept);
  }
  template <typename Accept>
  std::optional<Handle> take_by_endpoint(const EndpointKey& endpoint, Accept accept) {
    return take(by_endpoint_, endpoint, accept);
  }
  std::optional<Handle> take_by_nexthop(const std::string& nexthop) {
    return take(by_nexthop_, nexthop, [](Handle) { return true; });
  }
  std::optional<Handle> take_by_endpoint(const EndpointKey& endpoint) {
    return take(by_endpoint_, endpoint, [](Handle) { return true; });
  }

  // Forgets `handle` (taken, expired, or closed by the server). False if it was not cached.
  bool remove(Handle handle) {
    auto it = entries_.find(handle);
    if (it == entries_.end()) return false;
    erase_from(by_nexthop_, it->second.nexthop, handle);
    erase_from(by_endpoint_, it->second.endpoint, handle);
    entries_.erase(it);
    return true;
  }

  bool contains(Handle handle) const { return entries_.contains(handle); }
  std::size_t size() const { return entries_.size(); }
  std::size_t count_for(const std::string& nexthop) const {
    auto it = by_nexthop_.find(nexthop);
    return it == by_nexthop_.end() ? 0 : it->second.size();
  }

 private:
  struct Entry {
    std::string nexthop;
    EndpointKey endpoint;
  };

  template <typename Map, typename Key, typename Accept>
  std::optional<Handle> take(Map& map, const Key& key, const Accept& accept) {
    auto it = map.find(key);
    if (it == map.end()) return std::nullopt;
    const auto& list = it->second;
    for (auto h = list.rbegin(); h != list.rend(); ++h) {
      if (!accept(*h)) continue;
      Handle handle = *h;
      remove(handle);
      return handle;
    }
    return std::nullopt;
  }

  template <typename Map, typename Key>
  static void erase_from(Map& map, const Key& key, Handle handle) {
    auto it = map.find(key);
    if (it == map.end()) return;
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), handle), list.end());
    if (list.empty()) map.erase(it);
  }

  std::unordered_map<Handle, Entry> entries_;  // each cached connection once, found in O(1)
  std::unordered_map<std::string, std::vector<Handle>> by_nexthop_;
  std::unordered_map<EndpointKey, std::vector<Handle>, EndpointKeyHash> by_endpoint_;
};

}  // namespace ringrelay::cache
