// What the feed servers of all shards share: which shard serves each named (protocol-2) client,
// which request ids are in flight, how many requests are in flight, and the sequence numbers of
// result records. A named client's stream lives on exactly one shard at a time; a connection that
// arrives elsewhere is handed to it. Request ids are kept in 64 stripes, each with its own mutex,
// so shards accepting and finishing requests at once rarely wait for each other; the named
// clients have one mutex, taken once per hello. Nothing is locked on a result's path (sequence
// numbers are one atomic add).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

namespace ringrelay::engine {

class FeedRegistry {
 public:
  // Named clients held at once, at most (a hello beyond is refused). Request ids are bounded by
  // feed_request_limit, which stops reading.
  static constexpr std::size_t kMaxClients = 1 << 20;

  // Record numbers start from the clock (microseconds): unique across restarts even without a
  // journal, whose recorded numbers raise them further (raise_seq).
  FeedRegistry();

  // The shard that serves client `name`: the one that holds it, else `here`, which holds it from
  // now on. Holding ends with release(). Null when kMaxClients are held.
  std::optional<std::size_t> claim(const std::string& name, std::size_t here);
  // `here` no longer holds `name` (no connection, no records, no request of it left there).
  void release(const std::string& name, std::size_t here);
  std::size_t holder_count() const;

  // False when a request with this id is in flight already (on any shard).
  bool add_request(const std::string& id);
  void remove_request(const std::string& id);
  std::size_t requests_in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  // Result records are numbered across shards: a client whose stream moves to another shard
  // still sees increasing numbers.
  std::uint64_t next_seq() { return seq_.fetch_add(1, std::memory_order_relaxed); }
  // At least `seq` from now on (what a journal recorded).
  void raise_seq(std::uint64_t seq);
  std::uint64_t peek_seq() const { return seq_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;  // holders_
  std::unordered_map<std::string, std::size_t> holders_;
  struct alignas(64) RequestStripe {
    std::mutex mutex;
    std::unordered_set<std::string> ids;
  };
  static constexpr std::size_t kRequestStripes = 64;
  RequestStripe& stripe_of(const std::string& id) {
    return request_stripes_[std::hash<std::string>{}(id) % kRequestStripes];
  }
  std::array<RequestStripe, kRequestStripes> request_stripes_;
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> seq_;
};

}  // namespace ringrelay::engine
