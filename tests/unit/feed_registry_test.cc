// The feed servers' shared registry: one shard holds a client name at a time, request ids are
// unique across shards, record numbers only grow — also with shards claiming at once.
#include "engine/feed/feed_registry.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace ringrelay::engine {
namespace {

TEST(FeedRegistry, TheFirstShardToClaimANameHoldsItUntilItLetsGo) {
  FeedRegistry registry;
  EXPECT_EQ(registry.claim("qm", 2), 2u);
  EXPECT_EQ(registry.claim("qm", 0), 2u);  // a connection on shard 0 moves to shard 2
  registry.release("qm", 0);               // not shard 0's to let go
  EXPECT_EQ(registry.claim("qm", 1), 2u);
  registry.release("qm", 2);
  EXPECT_EQ(registry.claim("qm", 1), 1u);
  EXPECT_EQ(registry.holder_count(), 1u);
}

TEST(FeedRegistry, RequestIdsAreUniqueAcrossShardsAndCounted) {
  FeedRegistry registry;
  EXPECT_TRUE(registry.add_request("r1"));
  EXPECT_FALSE(registry.add_request("r1"));
  EXPECT_TRUE(registry.add_request("r2"));
  EXPECT_EQ(registry.requests_in_flight(), 2u);
  registry.remove_request("r1");
  EXPECT_EQ(registry.requests_in_flight(), 1u);
  EXPECT_TRUE(registry.add_request("r1"));  // finished: the id may come again
}

TEST(FeedRegistry, RecordNumbersStartFromTheClockAndOnlyGrow) {
  FeedRegistry registry;
  std::uint64_t first = registry.next_seq();
  EXPECT_GT(first, 1'700'000'000'000'000u);  // microseconds since 1970, after 2023
  EXPECT_EQ(registry.next_seq(), first + 1);
  registry.raise_seq(first + 1000);
  EXPECT_EQ(registry.next_seq(), first + 1000);
  registry.raise_seq(5);  // a journal of long ago: no step back
  EXPECT_EQ(registry.next_seq(), first + 1001);
}

TEST(FeedRegistry, ShardsClaimingAtOnceAgreeOnOneHolderPerName) {
  FeedRegistry registry;
  constexpr std::size_t kShards = 4, kNames = 200;
  std::vector<std::vector<std::size_t>> seen(kShards, std::vector<std::size_t>(kNames));
  std::vector<std::thread> shards;
  std::atomic<std::uint64_t> seqs_taken{0};
  std::vector<std::set<std::uint64_t>> seqs(kShards);
  for (std::size_t shard = 0; shard < kShards; ++shard) {
    shards.emplace_back([&, shard] {
      for (std::size_t n = 0; n < kNames; ++n) {
        seen[shard][n] = *registry.claim("client-" + std::to_string(n), shard);
        seqs[shard].insert(registry.next_seq());
        seqs_taken.fetch_add(1);
      }
    });
  }
  for (auto& t : shards) t.join();
  for (std::size_t n = 0; n < kNames; ++n) {
    for (std::size_t shard = 1; shard < kShards; ++shard) EXPECT_EQ(seen[shard][n], seen[0][n]);
  }
  std::set<std::uint64_t> all;
  for (const auto& s : seqs) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), seqs_taken.load());  // no number handed out twice
}

// Shards adding the same ids at once (the ids land in different stripes): each id is taken by
// exactly one of them, and the count of requests in flight follows adds and removes.
TEST(FeedRegistry, ShardsAddingTheSameIdsAtOnceTakeEachOnce) {
  FeedRegistry registry;
  constexpr std::size_t kShards = 4, kIds = 2000;
  std::vector<std::vector<std::size_t>> taken(kShards);
  std::vector<std::thread> shards;
  for (std::size_t shard = 0; shard < kShards; ++shard) {
    shards.emplace_back([&, shard] {
      for (std::size_t i = 0; i < kIds; ++i) {
        if (registry.add_request("id-" + std::to_string(i))) taken[shard].push_back(i);
      }
    });
  }
  for (auto& t : shards) t.join();
  std::vector<int> owners(kIds, 0);
  for (const auto& ids : taken) {
    for (std::size_t i : ids) ++owners[i];
  }
  for (std::size_t i = 0; i < kIds; ++i) EXPECT_EQ(owners[i], 1) << "id-" << i;
  EXPECT_EQ(registry.requests_in_flight(), kIds);
  shards.clear();
  for (std::size_t shard = 0; shard < kShards; ++shard) {  // each finishes what it took
    shards.emplace_back([&, shard] {
      for (std::size_t i : taken[shard]) registry.remove_request("id-" + std::to_string(i));
    });
  }
  for (auto& t : shards) t.join();
  EXPECT_EQ(registry.requests_in_flight(), 0u);
  EXPECT_TRUE(registry.add_request("id-0"));
}

}  // namespace
}  // namespace ringrelay::engine
