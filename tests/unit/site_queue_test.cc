// A site's queue by priority: FIFO within a level, 2^p turns per turn of level 0 between levels
// that both wait, no credit for a level that was idle, retries first in their level, and the
// selection that skips jobs whose destination is at its own limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/delivery/site_queue.hh"

namespace ringrelay::engine {
namespace {

struct Item {
  int priority;
  int number;
};

std::vector<int> drain_priorities(SiteQueue<Item>& q, std::size_t n) {
  std::vector<int> out;
  for (std::size_t i = 0; i < n && !q.empty(); ++i) out.push_back(q.pop_front().priority);
  return out;
}

TEST(SiteQueue, FifoWithinALevel) {
  SiteQueue<Item> q;
  for (int i = 0; i < 5; ++i) q.push_back({5, i}, 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.pop_front().number, i);
  EXPECT_TRUE(q.empty());
}

TEST(SiteQueue, LevelsShareTurnsByPowersOfTwo) {
  SiteQueue<Item> q;
  for (int i = 0; i < 1000; ++i) q.push_back({9, i}, 9);
  for (int i = 0; i < 1000; ++i) q.push_back({6, i}, 6);
  auto order = drain_priorities(q, 900);
  // 9 against 6: 8 to 1, so 100 of the first 900.
  auto sixes = std::count(order.begin(), order.end(), 6);
  EXPECT_GE(sixes, 99);
  EXPECT_LE(sixes, 101);
  // The higher level goes first on a tie.
  SiteQueue<Item> tie;
  tie.push_back({0, 0}, 0);
  tie.push_back({9, 0}, 9);
  EXPECT_EQ(tie.pop_front().priority, 9);
  EXPECT_EQ(tie.pop_front().priority, 0);
}

TEST(SiteQueue, AnIdleLevelEarnsNoCredit) {
  SiteQueue<Item> q;
  for (int i = 0; i < 600; ++i) q.push_back({9, i}, 9);
  drain_priorities(q, 500);  // level 0 had no work meanwhile
  for (int i = 0; i < 10; ++i) q.push_back({0, i}, 0);
  auto order = drain_priorities(q, 100);
  // Level 0 gets its one turn, not the 500 / 512 it would have "saved".
  EXPECT_LE(std::count(order.begin(), order.end(), 0), 1);
}

TEST(SiteQueue, RetriesGoFirstInTheirLevelAndOutOfRangeIsClamped) {
  SiteQueue<Item> q;
  q.push_back({5, 1}, 5);
  q.push_back({5, 2}, 5);
  q.push_front({5, 0}, 5);
  EXPECT_EQ(q.pop_front().number, 0);
  q.push_back({9, 7}, 42);  // above the highest: the highest
  q.push_back({0, 8}, -3);  // below the lowest: the lowest
  EXPECT_EQ(q.pop_front().number, 7);
  auto all = q.take_all();  // highest level first
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].number, 1);
  EXPECT_EQ(all[2].number, 8);
  EXPECT_TRUE(q.empty());
}

TEST(SiteQueue, SelectSkipsIneligibleJobsInTurnOrder) {
  SiteQueue<Item> q;
  q.push_back({9, 1}, 9);
  q.push_back({9, 2}, 9);
  q.push_back({3, 3}, 3);
  auto not_one = [](const Item& item) { return item.number != 1; };
  // Without scanning only the front is looked at.
  EXPECT_EQ(q.select(not_one, false), nullptr);
  Item* chosen = q.select(not_one, true);
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(chosen->number, 2);
  EXPECT_EQ(q.pop_front().number, 2);
  EXPECT_EQ(q.select([](const Item&) { return false; }, true), nullptr);
  EXPECT_EQ(q.size(), 2u);
}

}  // namespace
}  // namespace ringrelay::engine
