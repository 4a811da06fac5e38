// Timers and the ordered map of deadlines they live in.
#include "engine/runtime/timers.hh"

#include <utility>

namespace ringrelay::engine {

void Timer::arm(Timers& timers, Clock::duration after, std::function<void()> fire) {
  cancel();
  timers_ = &timers;
  fire_ = std::move(fire);
  position_ = timers.deadlines_.emplace(timers.now() + after, this);
}

void Timer::cancel() {
  if (timers_ == nullptr) return;
  timers_->deadlines_.erase(position_);
  timers_ = nullptr;
}

Clock::duration Timers::until_next(Clock::duration longest) const {
  if (deadlines_.empty()) return longest;
  auto wait = deadlines_.begin()->first - now();
  if (wait < Clock::duration::zero()) return Clock::duration::zero();
  return wait < longest ? wait : longest;
}

std::size_t Timers::fire_due() {
  std::size_t fired = 0;
  auto now = this->now();
  // Bounded by the timers due now: a handler that re-arms lands after `now`, or, within a turn
  // (start_turn), at `now` itself, which only a later turn fires.
  auto due = [&](Clock::time_point deadline) {
    return turn_now_ ? deadline < now : deadline <= now;  // never set under virtual time
  };
  while (!deadlines_.empty() && due(deadlines_.begin()->first)) {
    Timer* timer = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    timer->timers_ = nullptr;
    auto fire = std::move(timer->fire_);
    fire();  // may destroy or re-arm `timer`
    ++fired;
  }
  return fired;
}

}  // namespace ringrelay::engine
