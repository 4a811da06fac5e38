// Postfix's qmgr_feedback arithmetic for one site's window.
#include "engine/delivery/site_window.hh"

#include "engine/runtime/invariant.hh"

#include <algorithm>
#include <cmath>

namespace ringrelay::engine {

double SiteWindow::step(const Feedback& f) const {
  return f.per_concurrency ? 1.0 / std::max(1.0, window_) : f.amount;
}

std::size_t SiteWindow::allowed(std::size_t limit) const {
  auto floor = static_cast<std::size_t>(std::floor(window_));
  return std::max<std::size_t>(1, std::min(limit, floor));
}

void SiteWindow::delivered(const WindowSettings& s, std::size_t active) {
  failed_cohorts_ = 0;
  auto limit = static_cast<double>(s.limit);
  // Grow only while the window is within the initial concurrency of what is really busy, as
  // Postfix does: a window far above the actual concurrency would make negative feedback blunt.
  auto busy_margin = static_cast<double>(active + s.initial);
  if (window_ < limit && window_ < busy_margin)
    window_ = std::min(limit, window_ + step(s.positive));
  RINGRELAY_CHECK(window_ >= 1.0, "a window of at least one connection");
}

bool SiteWindow::throttled(const WindowSettings& s, Clock::time_point now) {
  if (dead_) return false;  // already dead: the other sessions' news changes nothing
  failed_cohorts_ += 1.0 / std::max(1.0, window_);
  if (s.failed_cohort_limit > 0 && failed_cohorts_ >= static_cast<double>(s.failed_cohort_limit)) {
    dead_ = true;
    dead_until_ = now + s.dead_time;
    return true;
  }
  window_ = std::max(1.0, window_ - step(s.negative));
  return false;
}

bool SiteWindow::revive_if_due(const WindowSettings& s, Clock::time_point now, std::size_t active) {
  if (!dead_ || now < dead_until_) return false;
  dead_ = false;
  dead_until_ = {};
  failed_cohorts_ = 0;
  window_ = static_cast<double>(active > 0 ? active : s.initial);
  return true;
}

}  // namespace ringrelay::engine
