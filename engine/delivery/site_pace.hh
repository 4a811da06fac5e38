// How fast one site may be sent to, beside its concurrency window: smtp_destination_rate_delay,
// message and connection rates held as token buckets, and the reply rules' graded backoff that
// cuts connections and rate a step at a time and climbs back by itself after a quiet period, with
// suspension and no-reuse spells. Pure arithmetic on virtual or real time: no I/O, no logging.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

struct PaceSettings {
  Clock::duration rate_delay{};   // smtp_destination_rate_delay: one at a time, this far apart
  double message_rate = 0;        // deliveries per second; 0: none
  double connection_rate = 0;     // new connections per second; 0: none
  double backoff_factor = 0.5;    // reply_backoff_factor: what one step keeps
  std::size_t backoff_steps = 5;  // reply_backoff_steps: the deepest step
  Clock::duration recovery_time = std::chrono::seconds(300);  // reply_backoff_recovery_time
};

// Tokens accrue at `per_second` up to one second's worth (at least one), so a rate is spread
// evenly ("60/min" is one a second) while a fast rate may start a second's worth at once.
class TokenBucket {
 public:
  // How long until a token is there (zero: now).
  Clock::duration wait(double per_second, Clock::time_point now);
  void take(double per_second, Clock::time_point now);

 private:
  void refill(double per_second, Clock::time_point now);
  double tokens_ = -1;  // negative: never used (full)
  Clock::time_point updated_{};
};

class SitePace {
 public:
  // Complaints that come within this long of a step down belong to the burst that caused it: the
  // site's other connections answer alike, and receivers count rates per minute or longer, so
  // they go on refusing until their window turns. They do not step the site down again.
  static constexpr Clock::duration kStepSpacing = std::chrono::seconds(60);
  // Never: the next start waits for a running delivery to end, not for a time.
  static constexpr Clock::time_point kNever = Clock::time_point::max();

  // When the next delivery may start with `active` connections busy: `now` or later, or kNever.
  Clock::time_point message_allowed_at(const PaceSettings& s, Clock::time_point now,
                                       std::size_t active);
  // When a new connection may be opened: `now` or later.
  Clock::time_point connection_allowed_at(const PaceSettings& s, Clock::time_point now);
  void message_started(const PaceSettings& s, Clock::time_point now);
  void connection_opened(const PaceSettings& s, Clock::time_point now);
  void delivery_ended(const PaceSettings& s, Clock::time_point now);

  // The message rate in force: the configured one cut by the backoff step, or, with none
  // configured, the rate measured when the backoff began cut likewise; 0: none.
  double message_rate(const PaceSettings& s) const;
  // The most connections the backoff step leaves of `limit` (at least one).
  std::size_t connection_cap(const PaceSettings& s, std::size_t limit) const;

  std::size_t step() const { return step_; }
  // A throttling reply asking for `steps` down: returns true when the step went deeper (not
  // within kStepSpacing of the last step down, and not already at the deepest).
  bool back_off(const PaceSettings& s, std::size_t steps, Clock::time_point now);
  // One step back up once recovery_time has passed without complaint since the last change;
  // returns true when it climbed.
  bool recover_if_due(const PaceSettings& s, Clock::time_point now);
  // When recover_if_due may next climb (meaningful while step() > 0).
  Clock::time_point next_recovery(const PaceSettings& s) const;

  void suspend(Clock::duration span, std::string reason, Clock::time_point now);
  bool suspended(Clock::time_point now) const { return now < suspended_until_; }
  const std::string& suspend_reason() const { return suspend_reason_; }
  void stop_reuse(Clock::duration span, Clock::time_point now);
  bool reuse_allowed(Clock::time_point now) const { return now >= no_reuse_until_; }
  // Nothing to remember: no step, no spell (the site may be freed when idle).
  bool at_rest(Clock::time_point now) const;

  // Deliveries started per second over about the last minute.
  double measured_rate(Clock::time_point now) const;

 private:
  void roll_meter(Clock::time_point now);

  Clock::time_point next_start_{};  // rate delay: the next delivery starts no earlier
  TokenBucket messages_, connections_;
  std::size_t step_ = 0;
  double base_rate_ = 0;  // measured when the backoff began (no configured rate)
  Clock::time_point last_step_down_{}, last_change_{}, last_complaint_{};
  Clock::time_point suspended_until_{}, no_reuse_until_{};
  std::string suspend_reason_;
  // Deliveries started in the current minute and in the one before it (none: the meter started
  // this minute).
  Clock::time_point meter_start_{}, minute_start_{};
  std::size_t this_minute_ = 0, last_minute_ = 0;
};

}  // namespace ringrelay::engine
