// Token buckets and the graded backoff of one site: when the next delivery or connection may start.
#include "engine/delivery/site_pace.hh"

#include <algorithm>
#include <cmath>

namespace ringrelay::engine {
namespace {

constexpr Clock::duration kMinute = std::chrono::seconds(60);

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// A wait of `s` seconds, rounded up to the clock's tick so that the token is really there then.
Clock::duration after(double s) {
  auto d = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  return d + Clock::duration(1);
}

}  // namespace

void TokenBucket::refill(double per_second, Clock::time_point now) {
  double capacity = std::max(1.0, per_second);
  if (tokens_ < 0) {
    tokens_ = capacity;
  } else if (now > updated_) {
    tokens_ = std::min(capacity, tokens_ + seconds(now - updated_) * per_second);
  }
  tokens_ = std::min(tokens_, capacity);  // a lower rate than before holds less
  updated_ = std::max(updated_, now);
}

Clock::duration TokenBucket::wait(double per_second, Clock::time_point now) {
  refill(per_second, now);
  if (tokens_ >= 1) return Clock::duration::zero();
  return after((1 - tokens_) / per_second);
}

void TokenBucket::take(double per_second, Clock::time_point now) {
  refill(per_second, now);
  tokens_ = std::max(0.0, tokens_ - 1);
}

Clock::time_point SitePace::message_allowed_at(const PaceSettings& s, Clock::time_point now,
                                               std::size_t active) {
  Clock::time_point at = now;
  if (s.rate_delay > Clock::duration::zero()) {
    if (active > 0) return kNever;  // one delivery at a time
    at = std::max(at, next_start_);
  }
  if (double rate = message_rate(s); rate > 0) at = std::max(at, now + messages_.wait(rate, now));
  return at;
}

Clock::time_point SitePace::connection_allowed_at(const PaceSettings& s, Clock::time_point now) {
  if (s.connection_rate <= 0) return now;
  double rate = s.connection_rate * std::pow(s.backoff_factor, static_cast<double>(step_));
  return now + connections_.wait(rate, now);
}

void SitePace::message_started(const PaceSettings& s, Clock::time_point now) {
  roll_meter(now);
  ++this_minute_;
  if (double rate = message_rate(s); rate > 0) messages_.take(rate, now);
}

void SitePace::connection_opened(const PaceSettings& s, Clock::time_point now) {
  if (s.connection_rate <= 0) return;
  connections_.take(s.connection_rate * std::pow(s.backoff_factor, static_cast<double>(step_)),
                    now);
}

void SitePace::delivery_ended(const PaceSettings& s, Clock::time_point now) {
  if (s.rate_delay > Clock::duration::zero()) next_start_ = now + s.rate_delay;
}

double SitePace::message_rate(const PaceSettings& s) const {
  double kept = std::pow(s.backoff_factor, static_cast<double>(step_));
  if (s.message_rate > 0) return s.message_rate * kept;
  return step_ > 0 ? base_rate_ * kept : 0;
}

std::size_t SitePace::connection_cap(const PaceSettings& s, std::size_t limit) const {
  if (step_ == 0) return limit;
  double kept = std::pow(s.backoff_factor, static_cast<double>(step_));
  return std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(limit) * kept));
}

bool SitePace::back_off(const PaceSettings& s, std::size_t steps, Clock::time_point now) {
  last_complaint_ = now;
  if (steps == 0 || step_ >= s.backoff_steps) return false;
  if (step_ > 0 && now - last_step_down_ < kStepSpacing) return false;
  if (step_ == 0) base_rate_ = measured_rate(now);
  step_ = std::min(s.backoff_steps, step_ + steps);
  last_step_down_ = last_change_ = now;
  return true;
}

Clock::time_point SitePace::next_recovery(const PaceSettings& s) const {
  return std::max(last_change_, last_complaint_) + s.recovery_time;
}

bool SitePace::recover_if_due(const PaceSettings& s, Clock::time_point now) {
  if (step_ == 0 || now < next_recovery(s)) return false;
  --step_;
  last_change_ = now;
  if (step_ == 0) base_rate_ = 0;
  return true;
}

void SitePace::suspend(Clock::duration span, std::string reason, Clock::time_point now) {
  if (now + span <= suspended_until_) return;  // an earlier, longer spell stands
  suspended_until_ = now + span;
  suspend_reason_ = std::move(reason);
}

void SitePace::stop_reuse(Clock::duration span, Clock::time_point now) {
  no_reuse_until_ = std::max(no_reuse_until_, now + span);
}

bool SitePace::at_rest(Clock::time_point now) const {
  return step_ == 0 && !suspended(now) && reuse_allowed(now);
}

void SitePace::roll_meter(Clock::time_point now) {
  if (minute_start_ == Clock::time_point{} || now - minute_start_ >= 2 * kMinute) {
    last_minute_ = this_minute_ = 0;
    meter_start_ = minute_start_ = now;
  } else if (now - minute_start_ >= kMinute) {
    last_minute_ = this_minute_;
    this_minute_ = 0;
    minute_start_ += kMinute;
  }
}

double SitePace::measured_rate(Clock::time_point now) const {
  if (minute_start_ == Clock::time_point{}) return 0;
  Clock::duration into = now - minute_start_;
  if (into >= 2 * kMinute) return 0;
  if (into >= kMinute) return static_cast<double>(this_minute_) / 60.0;
  if (meter_start_ == minute_start_) {
    // A meter younger than a minute: what it counted over the time it has run (a second at least).
    return static_cast<double>(this_minute_) / std::max(1.0, seconds(into));
  }
  double share_of_last = 1.0 - seconds(into) / 60.0;
  return (static_cast<double>(last_minute_) * share_of_last + static_cast<double>(this_minute_)) /
         60.0;
}

}  // namespace ringrelay::engine
