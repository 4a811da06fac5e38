// The concurrency window of one site with Postfix's qmgr feedback: it starts at the initial
// concurrency, grows by positive feedback while it is within reach of what is really busy, shrinks
// by negative feedback, and after enough failed pseudo-cohorts the site is dead (throttled) for a
// while. Pure arithmetic on virtual or real time: no I/O, no logging (the caller says what
// changed).
#pragma once

#include <cstddef>
#include <string>

#include "engine/config/config_values.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

struct WindowSettings {
  std::size_t initial = 5;  // initial_destination_concurrency
  std::size_t limit = 20;   // smtp_destination_concurrency_limit (or the site's override)
  Feedback positive{.per_concurrency = true, .amount = 0};
  Feedback negative{.per_concurrency = true, .amount = 0};
  std::size_t failed_cohort_limit = 1;  // 0: never dead
  Clock::duration dead_time = std::chrono::seconds(300);
};

class SiteWindow {
 public:
  explicit SiteWindow(std::size_t initial) : window_(static_cast<double>(initial)) {}

  // How many connections may be busy now (at least 1, at most `limit`).
  std::size_t allowed(std::size_t limit) const;
  double window() const { return window_; }
  double failed_cohorts() const { return failed_cohorts_; }

  // A transaction delivered something, with `active` connections busy: the failed count resets
  // and the window grows by the positive step while below the limit and below active + initial.
  void delivered(const WindowSettings& s, std::size_t active);
  // Trouble that is the server's (a refused connection, 421, a timeout). Returns true when this
  // made the site dead. Each failure counts 1/window, measured before the window shrinks.
  bool throttled(const WindowSettings& s, Clock::time_point now);

  bool dead(Clock::time_point now) const { return dead_ && now < dead_until_; }
  // The dead time is over: back with the connections still busy, or the initial concurrency.
  // Returns true when it was dead (a revival happened).
  bool revive_if_due(const WindowSettings& s, Clock::time_point now, std::size_t active);
  bool ever_dead() const { return dead_; }
  Clock::time_point dead_until() const { return dead_until_; }

 private:
  double step(const Feedback& f) const;

  double window_;
  double failed_cohorts_ = 0;
  bool dead_ = false;
  Clock::time_point dead_until_{};
};

}  // namespace ringrelay::engine
