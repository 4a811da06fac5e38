// The shard's timers on a virtual clock: deadlines fire in order and once, re-arming moves a
// deadline (one entry per timer), cancelling and destroying take it out, and a handler may re-arm
// or destroy its own timer. On the monotonic clock, a loop turn reads the clock once.
#include <gtest/gtest.h>

#include <thread>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/runtime/timers.hh"

namespace ringrelay::engine {
namespace {

using std::chrono::seconds;

TEST(Timers, FireInDeadlineOrderOnceEach) {
  Clock::time_point now{};
  Timers timers(&now);
  Timer a, b, c;
  std::vector<std::string> fired;
  a.arm(timers, seconds(3), [&] { fired.push_back("a"); });
  b.arm(timers, seconds(1), [&] { fired.push_back("b"); });
  c.arm(timers, seconds(2), [&] { fired.push_back("c"); });
  now += seconds(2);
  EXPECT_EQ(timers.fire_due(), 2u);
  now += seconds(5);
  EXPECT_EQ(timers.fire_due(), 1u);
  EXPECT_EQ(timers.fire_due(), 0u);
  EXPECT_EQ(fired, (std::vector<std::string>{"b", "c", "a"}));
  EXPECT_FALSE(a.armed());
  EXPECT_EQ(timers.size(), 0u);
}

TEST(Timers, RearmingMovesTheDeadlineAndKeepsOneEntry) {
  Clock::time_point now{};
  Timers timers(&now);
  Timer t;
  int fired = 0;
  for (int i = 1; i <= 1000; ++i) {  // a connection re-arming at every command
    t.arm(timers, seconds(10), [&] { ++fired; });
    now += seconds(1);
    EXPECT_EQ(timers.size(), 1u);
    EXPECT_EQ(timers.fire_due(), 0u);
  }
  EXPECT_EQ(t.deadline(), now + seconds(9));
  t.cancel();
  EXPECT_EQ(timers.size(), 0u);
  now += seconds(60);
  EXPECT_EQ(timers.fire_due(), 0u);
  t.arm(timers, seconds(1), [&] { ++fired; });  // armed again after a cancel
  now += seconds(1);
  EXPECT_EQ(timers.fire_due(), 1u);
  EXPECT_EQ(fired, 1);
  t.arm(timers, seconds(1), [&] { ++fired; });  // and after it fired
  EXPECT_EQ(timers.next_deadline(), now + seconds(1));
  EXPECT_EQ(timers.size(), 1u);
}

TEST(Timers, AHandlerMayRearmOrDestroyItsOwnTimer) {
  Clock::time_point now{};
  Timers timers(&now);
  Timer repeating;
  int ticks = 0;
  std::function<void()> tick = [&] {
    if (++ticks < 3) repeating.arm(timers, seconds(1), tick);
  };
  repeating.arm(timers, seconds(1), tick);
  auto owned = std::make_unique<Timer>();
  bool destroyed = false;
  owned->arm(timers, seconds(1), [&] {
    owned.reset();  // the handler runs from a moved-out copy: destroying the timer is allowed
    destroyed = true;
  });
  for (int i = 0; i < 5; ++i) {
    now += seconds(1);
    timers.fire_due();
  }
  EXPECT_EQ(ticks, 3);
  EXPECT_TRUE(destroyed);
  EXPECT_EQ(timers.size(), 0u);
}

TEST(Timers, ATimerDestroyedWhileArmedLeavesNothingBehind) {
  Clock::time_point now{};
  Timers timers(&now);
  int fired = 0;
  {
    Timer t;
    t.arm(timers, seconds(1), [&] { ++fired; });
    t.arm(timers, seconds(2), [&] { ++fired; });
  }
  EXPECT_EQ(timers.size(), 0u);
  now += seconds(5);
  EXPECT_EQ(timers.fire_due(), 0u);
  EXPECT_EQ(fired, 0);
}

// The real clock, read once per turn: within a turn now() stands still; a zero-delay re-arm from a
// handler waits for the next turn instead of firing again in the same fire_due.
TEST(Timers, ATurnReadsTheClockOnce) {
  Timers timers;
  timers.start_turn();
  Clock::time_point turn = timers.now();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(timers.now(), turn);
  Timer t;
  int fired = 0;
  std::function<void()> again = [&] {
    ++fired;
    t.arm(timers, Clock::duration::zero(), again);
  };
  t.arm(timers, Clock::duration::zero(), again);
  EXPECT_EQ(timers.fire_due(), 0u);  // armed at the turn's own moment: the next turn fires it
  EXPECT_EQ(timers.until_next(seconds(1)), Clock::duration::zero());
  timers.start_turn();
  EXPECT_GT(timers.now(), turn);
  EXPECT_EQ(timers.fire_due(), 1u);  // and its re-arm waits for the turn after
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(t.deadline(), timers.now());
  Timer later;
  later.arm(timers, std::chrono::milliseconds(1), [&] { ++fired; });
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  timers.start_turn();
  EXPECT_EQ(timers.fire_due(), 2u);
  EXPECT_EQ(fired, 3);
}

}  // namespace
}  // namespace ringrelay::engine
