// A site's queue of jobs by priority (the feed's "priority", 0 lowest to 9 highest): each level a
// FIFO, and the levels shared by stride scheduling, so that a higher level goes first without
// starving a lower one: while both have work, level p starts 2^p jobs for each one of level 0
// (level 9 against level 5: 16 to 1). A level that had no work starts at the current virtual time,
// so idleness earns no credit for a later burst. Deterministic; no clock, no allocation per pick; a
// level's FIFO exists once it was used (a site that only sees one priority holds one deque).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>

#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {

inline constexpr int kLowestPriority = 0;
inline constexpr int kHighestPriority = 9;
inline constexpr int kDefaultPriority = 5;

template <class T>
class SiteQueue {
 public:
  static constexpr std::size_t kLevels = kHighestPriority + 1;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // A new job: behind the others of its level.
  void push_back(T item, int priority) {
    std::size_t level = clamp(priority);
    waking(level).push_back(std::move(item));
    ++size_;
    chosen_ = kNone;
  }
  // A job coming back (a retry on another server): first of its level, as before.
  void push_front(T item, int priority) {
    std::size_t level = clamp(priority);
    waking(level).push_front(std::move(item));
    ++size_;
    chosen_ = kNone;
  }

  // The job that goes next: the first of the level whose turn it is. Not empty().
  T& front() {
    if (chosen_ == kNone) chosen_ = next_level();
    return levels_[chosen_]->front();
  }
  // Takes front() out; its level's turn passes.
  T pop_front() {
    T& first = front();
    T item = std::move(first);
    std::size_t level = chosen_;
    levels_[level]->pop_front();
    --size_;
    clock_ = pass_[level];
    pass_[level] += std::size_t{1} << (kHighestPriority - level);
    chosen_ = kNone;
    return item;
  }

  // The first job, in turn order (levels by their turn, each in order), that `eligible` accepts,
  // made front(); null when none does. `scan` false: only front() itself is considered.
  template <class Eligible>
  T* select(Eligible&& eligible, bool scan) {
    if (empty()) return nullptr;
    if (!scan) {
      T& first = front();
      return eligible(first) ? &first : nullptr;
    }
    std::array<std::size_t, kLevels> order{};
    std::size_t count = 0;
    for (std::size_t level = 0; level < kLevels; ++level) {
      if (has_work(level)) order[count++] = level;
    }
    std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count),
              [this](std::size_t a, std::size_t b) { return turn_before(a, b); });
    for (std::size_t k = 0; k < count; ++k) {
      auto& fifo = *levels_[order[k]];
      for (std::size_t i = 0; i < fifo.size(); ++i) {
        if (!eligible(fifo[i])) continue;
        if (i > 0) {
          T item = std::move(fifo[i]);
          fifo.erase(fifo.begin() + static_cast<std::ptrdiff_t>(i));
          fifo.push_front(std::move(item));
        }
        chosen_ = order[k];
        return &fifo.front();
      }
    }
    return nullptr;
  }

  // Everything, highest level first (to defer it all at once).
  std::deque<T> take_all() {
    std::deque<T> all;
    for (std::size_t level = kLevels; level-- > 0;) {
      if (!levels_[level]) continue;
      for (auto& item : *levels_[level]) all.push_back(std::move(item));
      levels_[level]->clear();
    }
    size_ = 0;
    chosen_ = kNone;
    return all;
  }

 private:
  static constexpr std::size_t kNone = kLevels;
  static std::size_t clamp(int priority) {
    return static_cast<std::size_t>(std::clamp(priority, kLowestPriority, kHighestPriority));
  }
  bool has_work(std::size_t level) const { return levels_[level] && !levels_[level]->empty(); }
  // The level's FIFO, made if need be; a level that had no work starts its turns from now.
  std::deque<T>& waking(std::size_t level) {
    if (!levels_[level]) levels_[level] = std::make_unique<std::deque<T>>();
    if (levels_[level]->empty()) pass_[level] = std::max(pass_[level], clock_);
    return *levels_[level];
  }
  // Whose turn comes first: the smaller pass, then the higher level.
  bool turn_before(std::size_t a, std::size_t b) const {
    return pass_[a] != pass_[b] ? pass_[a] < pass_[b] : a > b;
  }
  std::size_t next_level() const {
    RINGRELAY_CHECK(size_ > 0, "a job to take from a site's queue");
    std::size_t best = kNone;
    for (std::size_t level = 0; level < kLevels; ++level) {
      if (!has_work(level)) continue;
      if (best == kNone || turn_before(level, best)) best = level;
    }
    return best;
  }

  std::array<std::unique_ptr<std::deque<T>>, kLevels> levels_;
  std::array<std::uint64_t, kLevels> pass_{};
  std::uint64_t clock_ = 0;  // the pass of the last level served: where a waking level starts
  std::size_t size_ = 0;
  std::size_t chosen_ = kNone;
};

}  // namespace ringrelay::engine
