// The feed's shared registry: named clients to shards, request ids in flight, record numbers.
#include "engine/feed/feed_registry.hh"

#include <chrono>

#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {

FeedRegistry::FeedRegistry()
    : seq_(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count())) {}

std::optional<std::size_t> FeedRegistry::claim(const std::string& name, std::size_t here) {
  std::lock_guard lock(mutex_);
  auto found = holders_.find(name);
  if (found != holders_.end()) return found->second;
  if (holders_.size() >= kMaxClients) return std::nullopt;
  holders_.emplace(name, here);
  return here;
}

void FeedRegistry::release(const std::string& name, std::size_t here) {
  std::lock_guard lock(mutex_);
  auto found = holders_.find(name);
  if (found != holders_.end() && found->second == here) holders_.erase(found);
}

std::size_t FeedRegistry::holder_count() const {
  std::lock_guard lock(mutex_);
  return holders_.size();
}

bool FeedRegistry::add_request(const std::string& id) {
  RequestStripe& stripe = stripe_of(id);
  std::lock_guard lock(stripe.mutex);
  if (!stripe.ids.insert(id).second) return false;
  in_flight_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void FeedRegistry::remove_request(const std::string& id) {
  RequestStripe& stripe = stripe_of(id);
  std::lock_guard lock(stripe.mutex);
  bool removed = stripe.ids.erase(id) == 1;
  RINGRELAY_CHECK(removed, "a request leaves the registry once");
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

void FeedRegistry::raise_seq(std::uint64_t seq) {
  std::uint64_t now = seq_.load(std::memory_order_relaxed);
  while (now < seq && !seq_.compare_exchange_weak(now, seq, std::memory_order_relaxed)) {
  }
}

}  // namespace ringrelay::engine
