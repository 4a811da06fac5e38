// A bounded single-producer/single-consumer mailbox between two shards, woken with
// IORING_OP_MSG_RING: the producer pushes, and rings the consumer's ring only when the doorbell was
// not already ringing, so a burst costs one wake-up. No mutex; a full mailbox says so (the producer
// pushes back) instead of growing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/runtime/ring.hh"

namespace ringrelay::engine {

template <typename T>
class SpscQueue {
 public:
  explicit SpscQueue(std::size_t capacity) : slots_(round_up(capacity)), mask_(slots_.size() - 1) {}

  // Producer only. False when full.
  bool try_push(T&& value) {
    std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_.load(std::memory_order_acquire) == slots_.size()) return false;
    slots_[tail & mask_] = std::move(value);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer only. nullopt when empty.
  std::optional<T> try_pop() {
    std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_.load(std::memory_order_acquire)) return std::nullopt;
    std::optional<T> value(std::move(slots_[head & mask_]));
    slots_[head & mask_] = T{};
    head_.store(head + 1, std::memory_order_release);
    return value;
  }

  std::size_t capacity() const { return slots_.size(); }

 private:
  static std::size_t round_up(std::size_t n) {
    std::size_t p = 1;
    while (p < n) p <<= 1;
    return p;
  }
  std::vector<T> slots_;
  std::size_t mask_;
  alignas(64) std::atomic<std::size_t> head_{0};
  alignas(64) std::atomic<std::size_t> tail_{0};
};

// The consumer side's wake-up: a completion its ring receives when a producer rings.
struct Doorbell : Completion {
  std::atomic<bool> ringing{false};
  int ring_fd = -1;  // the consumer's ring
};

// Tells the consumer to look at its mailbox. Called by the producer, on the producer's ring.
inline void ring_doorbell(Ring& producer_ring, Doorbell& bell) {
  if (bell.ringing.exchange(true, std::memory_order_acq_rel)) return;  // already on its way
  io_uring_sqe* sqe = producer_ring.prepare_untracked();
  io_uring_prep_msg_ring(sqe, bell.ring_fd, 0, reinterpret_cast<std::uint64_t>(&bell), 0);
}

// The consumer, before draining: later pushes must ring again.
inline void answer_doorbell(Doorbell& bell) {
  bell.ringing.store(false, std::memory_order_release);
}

}  // namespace ringrelay::engine
