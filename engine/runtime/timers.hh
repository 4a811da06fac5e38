// Per-shard timers on the monotonic clock, kept in one ordered map: arming and cancelling are
// O(log n), and the loop sleeps exactly until the earliest deadline. Timer objects are owned by
// whatever they time (a connection, a cache entry) and cancel themselves when destroyed. The clock
// is the monotonic one, read once per turn of the shard's loop (start_turn), or a virtual one that
// the deterministic simulator moves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>

namespace ringrelay::engine {

using Clock = std::chrono::steady_clock;

class Timers;

class Timer {
 public:
  Timer() = default;
  ~Timer() { cancel(); }
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Replaces any earlier deadline. `fire` runs in the shard's loop.
  void arm(Timers& timers, Clock::duration after, std::function<void()> fire);
  void cancel();
  bool armed() const { return timers_ != nullptr; }
  // When it fires; only while armed().
  Clock::time_point deadline() const { return position_->first; }

 private:
  friend class Timers;
  Timers* timers_ = nullptr;
  std::multimap<Clock::time_point, Timer*>::iterator position_;
  std::function<void()> fire_;
};

class Timers {
 public:
  Timers() = default;
  // Virtual time (the simulator): `now()` is whatever `*clock` says, and only it moves time.
  explicit Timers(const Clock::time_point* clock) : virtual_now_(clock) {}
  Clock::time_point now() const {
    if (virtual_now_) return *virtual_now_;
    return turn_now_ ? *turn_now_ : Clock::now();
  }
  // The loop woke up: until the next call, now() is this moment, not a fresh clock read (the
  // per-message path asked for it about six times); every deadline and delay is then as exact as
  // the turn is short. Without any call, now() reads the clock each time (tests, one-off tools).
  void start_turn() {
    if (!virtual_now_) turn_now_ = Clock::now();
  }
  // The earliest deadline, if any (the simulator jumps to it).
  std::optional<Clock::time_point> next_deadline() const {
    if (deadlines_.empty()) return std::nullopt;
    return deadlines_.begin()->first;
  }
  // How long until the earliest deadline (capped by `longest`).
  Clock::duration until_next(Clock::duration longest) const;
  // Fires every timer whose deadline has passed. Returns how many fired.
  std::size_t fire_due();
  std::size_t size() const { return deadlines_.size(); }

 private:
  friend class Timer;
  std::multimap<Clock::time_point, Timer*> deadlines_;
  const Clock::time_point* virtual_now_ = nullptr;
  std::optional<Clock::time_point> turn_now_;  // set by start_turn
};

}  // namespace ringrelay::engine
