// SiteWindow: Postfix's qmgr_feedback arithmetic, step by step.
#include "engine/delivery/site_window.hh"

#include <gtest/gtest.h>

namespace ringrelay::engine {
namespace {

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

TEST(SiteWindow, GrowsByOneOverWindowWhileWithinReachOfTheBusyCount) {
  WindowSettings s;
  SiteWindow w(s.initial);
  EXPECT_EQ(w.allowed(s.limit), 5u);
  for (int i = 0; i < 5; ++i) w.delivered(s, 5);
  EXPECT_NEAR(w.window(), 5.9307, 0.001);  // 5 + 1/5 + 1/5.2 + 1/5.39 + 1/5.58 + 1/5.76
  // With one connection busy, growth stops at busy + initial = 6.
  for (int i = 0; i < 50; ++i) w.delivered(s, 1);
  EXPECT_LT(w.window(), 6.2);
  for (int i = 0; i < 1000; ++i) w.delivered(s, 20);
  EXPECT_EQ(w.allowed(s.limit), 20u);  // never past the limit
}

TEST(SiteWindow, FailedCohortCountsOneOverTheWindowBeforeShrinking) {
  WindowSettings s;
  SiteWindow w(6);
  // 6 → failures add 1/6, 1/(6-1/6)... : with a limit of 1 cohort it takes six or more in a row.
  int failures = 0;
  while (!w.throttled(s, t0)) ++failures;
  EXPECT_GE(failures, 5);
  EXPECT_TRUE(w.dead(t0));
  EXPECT_FALSE(w.dead(t0 + s.dead_time));
}

TEST(SiteWindow, ADeliveryResetsTheFailedCohorts) {
  WindowSettings s;
  SiteWindow w(3);
  for (int round = 0; round < 100; ++round) {
    EXPECT_FALSE(w.throttled(s, t0));  // one 421 ...
    w.delivered(s, 3);                 // ... then three sessions deliver again
  }
  EXPECT_FALSE(w.dead(t0));
  EXPECT_GE(w.allowed(s.limit), 2u);
}

TEST(SiteWindow, RevivalStartsAtTheBusyCountOrTheInitialConcurrency) {
  WindowSettings s;
  SiteWindow w(5);
  while (!w.throttled(s, t0)) {
  }
  EXPECT_FALSE(w.revive_if_due(s, t0 + std::chrono::seconds(10), 0));
  EXPECT_TRUE(w.revive_if_due(s, t0 + s.dead_time, 2));
  EXPECT_EQ(w.allowed(s.limit), 2u);
  EXPECT_FALSE(w.dead(t0 + s.dead_time));
  EXPECT_EQ(w.failed_cohorts(), 0.0);
}

TEST(SiteWindow, FixedStepsAndNoDeathWithoutACohortLimit) {
  WindowSettings s;
  s.negative = Feedback{.per_concurrency = false, .amount = 1.0};
  s.failed_cohort_limit = 0;
  SiteWindow w(5);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(w.throttled(s, t0));
  EXPECT_EQ(w.allowed(s.limit), 1u);
  EXPECT_FALSE(w.dead(t0));
}

}  // namespace
}  // namespace ringrelay::engine
