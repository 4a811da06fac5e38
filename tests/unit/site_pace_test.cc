// SitePace: token buckets, the rate delay, and the reply rules' backoff steps with their recovery,
// step by step in virtual time.
#include "engine/delivery/site_pace.hh"

#include <gtest/gtest.h>

namespace ringrelay::engine {
namespace {

using namespace std::chrono_literals;
const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

TEST(TokenBucket, SpreadsASlowRateAndAllowsASecondsWorthOfAFastOne) {
  TokenBucket slow;  // 60/min: one a second, no burst beyond one
  EXPECT_EQ(slow.wait(1, t0), Clock::duration::zero());
  slow.take(1, t0);
  EXPECT_GT(slow.wait(1, t0), 999ms);
  EXPECT_LE(slow.wait(1, t0), 1001ms);
  EXPECT_EQ(slow.wait(1, t0 + 1s), Clock::duration::zero());
  slow.take(1, t0 + 1s);
  // Idle for an hour: still one token, not 3,600.
  slow.take(1, t0 + 1h);
  EXPECT_GT(slow.wait(1, t0 + 1h), 999ms);

  TokenBucket fast;  // 10/s: ten at once, then one every 100 ms
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(fast.wait(10, t0), Clock::duration::zero()) << i;
    fast.take(10, t0);
  }
  EXPECT_GT(fast.wait(10, t0), 99ms);
  EXPECT_LE(fast.wait(10, t0), 101ms);
}

TEST(SitePace, RateDelayMeansOneAtATimeThisFarApart) {
  PaceSettings s;
  s.rate_delay = 2s;
  SitePace pace;
  EXPECT_EQ(pace.message_allowed_at(s, t0, 0), t0);
  pace.message_started(s, t0);
  EXPECT_EQ(pace.message_allowed_at(s, t0 + 1s, 1), SitePace::kNever);  // one is running
  pace.delivery_ended(s, t0 + 1s);
  EXPECT_EQ(pace.message_allowed_at(s, t0 + 1s, 0), t0 + 3s);
}

TEST(SitePace, BackoffCutsConnectionsAndTheConfiguredRateAStepAtATime) {
  PaceSettings s;
  s.message_rate = 10;
  s.backoff_steps = 3;
  SitePace pace;
  EXPECT_EQ(pace.connection_cap(s, 20), 20u);
  EXPECT_TRUE(pace.back_off(s, 1, t0));
  EXPECT_EQ(pace.step(), 1u);
  EXPECT_EQ(pace.connection_cap(s, 20), 10u);
  EXPECT_DOUBLE_EQ(pace.message_rate(s), 5);
  // The rest of the burst (within a minute) adds nothing.
  EXPECT_FALSE(pace.back_off(s, 1, t0 + 30s));
  EXPECT_TRUE(pace.back_off(s, 5, t0 + 61s));  // asked for five, bounded by backoff_steps
  EXPECT_EQ(pace.step(), 3u);
  EXPECT_EQ(pace.connection_cap(s, 20), 2u);
  EXPECT_EQ(pace.connection_cap(s, 1), 1u);      // never below one
  EXPECT_FALSE(pace.back_off(s, 1, t0 + 200s));  // at the deepest step
  EXPECT_FALSE(pace.at_rest(t0 + 200s));
}

TEST(SitePace, RecoveryClimbsOneStepPerQuietPeriodAndComplaintsRestartIt) {
  PaceSettings s;
  s.recovery_time = 300s;
  SitePace pace;
  pace.back_off(s, 2, t0);
  EXPECT_EQ(pace.next_recovery(s), t0 + 300s);
  EXPECT_FALSE(pace.recover_if_due(s, t0 + 299s));
  // A complaint that does not step (within the spacing) still restarts the quiet period.
  pace.back_off(s, 1, t0 + 50s);
  EXPECT_EQ(pace.step(), 2u);
  EXPECT_FALSE(pace.recover_if_due(s, t0 + 300s));
  EXPECT_TRUE(pace.recover_if_due(s, t0 + 350s));
  EXPECT_EQ(pace.step(), 1u);
  EXPECT_FALSE(pace.recover_if_due(s, t0 + 500s));  // each step needs a quiet period of its own
  EXPECT_TRUE(pace.recover_if_due(s, t0 + 650s));
  EXPECT_EQ(pace.step(), 0u);
  EXPECT_TRUE(pace.at_rest(t0 + 650s));
  EXPECT_FALSE(pace.recover_if_due(s, t0 + 2h));
}

TEST(SitePace, WithoutAConfiguredRateBackoffCutsTheMeasuredOne) {
  PaceSettings s;
  SitePace pace;
  for (int i = 0; i < 120; ++i) pace.message_started(s, t0 + i * 500ms);  // 2/s for a minute
  EXPECT_NEAR(pace.measured_rate(t0 + 60s), 2, 0.05);
  EXPECT_DOUBLE_EQ(pace.message_rate(s), 0);  // no backoff: no rate
  pace.back_off(s, 1, t0 + 60s);
  EXPECT_NEAR(pace.message_rate(s), 1, 0.03);
  pace.recover_if_due(s, t0 + 60s + s.recovery_time);
  EXPECT_DOUBLE_EQ(pace.message_rate(s), 0);  // back at rest: the measured base is forgotten
}

TEST(SitePace, MeasuredRateFollowsTheLastMinuteAndFades) {
  PaceSettings s;
  SitePace pace;
  for (int i = 0; i < 10; ++i) pace.message_started(s, t0 + i * 1s);
  EXPECT_NEAR(pace.measured_rate(t0 + 10s), 1, 0.01);  // a young meter: ten in ten seconds
  EXPECT_NEAR(pace.measured_rate(t0 + 90s), 10.0 / 60, 0.01);
  EXPECT_DOUBLE_EQ(pace.measured_rate(t0 + 3min), 0);
}

TEST(SitePace, SuspensionAndNoReuseSpellsEnd) {
  SitePace pace;
  pace.suspend(10min, "554 5.7.1 blocked", t0);
  pace.suspend(1min, "shorter", t0 + 1s);  // an earlier, longer spell stands
  EXPECT_TRUE(pace.suspended(t0 + 9min));
  EXPECT_EQ(pace.suspend_reason(), "554 5.7.1 blocked");
  EXPECT_FALSE(pace.suspended(t0 + 10min));
  pace.stop_reuse(30s, t0);
  EXPECT_FALSE(pace.reuse_allowed(t0 + 29s));
  EXPECT_TRUE(pace.reuse_allowed(t0 + 30s));
  EXPECT_TRUE(pace.at_rest(t0 + 10min));
}

}  // namespace
}  // namespace ringrelay::engine
