// The scheduler's pace: each site's rates, rate delay and reply-rule backoff (SitePace) turned
// into when it may start the next delivery or connection, the actions of reply rules on a site and
// a connection, the backoff's recovery timer, and the per-site state an operator inspects.
#include <algorithm>
#include <cstdio>
#include <string_view>

#include "engine/delivery/scheduler.hh"
#include "engine/delivery/scheduler_state.hh"
#include "engine/delivery/site_key.hh"

namespace ringrelay::engine {

PaceSettings Scheduler::pace_settings(const Site& s) const {
  PaceSettings p = connector_.protocol(s.hop).pace;
  if (settings_.rate_overrides.empty()) return p;
  // The site by its name, or by one of its MX hosts (what an operator knows of a provider).
  auto it = find_for_site(settings_.rate_overrides, s.base);
  if (it != settings_.rate_overrides.end()) {
    p.message_rate = it->second.messages.value_or(p.message_rate);
    p.connection_rate = it->second.connections.value_or(p.connection_rate);
  }
  return p;
}

bool Scheduler::may_start(Site& s, Clock::time_point now) {
  Clock::time_point at = s.pace.message_allowed_at(pace_settings(s), now, s.active);
  if (at <= now) return true;
  if (at != SitePace::kNever) wake_at(s, at);  // else the running delivery's end dispatches it
  return false;
}

bool Scheduler::may_connect(Site& s, Clock::time_point now) {
  Clock::time_point at = s.pace.connection_allowed_at(pace_settings(s), now);
  if (at <= now) return true;
  wake_at(s, at);
  return false;
}

void Scheduler::wake_at(Site& s, Clock::time_point at) {
  if (s.pace_timer.armed() && s.pace_timer.deadline() <= at) return;
  Site* site = &s;
  s.pace_timer.arm(timers_, at - timers_.now(), [this, site] { dispatch(*site); });
}

void Scheduler::delivery_ended(Site& s, Clock::time_point now) {
  s.pace.delivery_ended(pace_settings(s), now);
}

std::string Scheduler::pace_summary(const Site& s) const {
  PaceSettings pace = pace_settings(s);
  std::string text = "backoff step " + std::to_string(s.pace.step()) + ", at most " +
                     std::to_string(s.pace.connection_cap(pace, window_settings(s).limit)) +
                     " connections";
  if (double rate = s.pace.message_rate(pace); rate > 0) {
    char per_minute[32];
    std::snprintf(per_minute, sizeof per_minute, ", %.4g messages/min", rate * 60);
    text += per_minute;
  }
  return text;
}

std::optional<ReplyAction> Scheduler::reply_action(const Site& s, std::string_view reply) const {
  if (!settings_.site_reply_rules.empty()) {
    auto own = find_for_site(settings_.site_reply_rules, s.base);
    if (own != settings_.site_reply_rules.end()) {
      if (auto action = own->second.match(reply)) return action;
    }
  }
  if (settings_.reply_rules.empty()) return std::nullopt;
  return settings_.reply_rules.match(reply);
}

void Scheduler::apply_rule(Slot& slot, const ReplyAction& action,
                           const proto::RecipientResult& result) {
  Site& s = *slot.site;
  Clock::time_point now = timers_.now();
  PaceSettings pace = pace_settings(s);
  slot.rule_fired = true;
  std::string why = "reply rule \"" + action.text + "\" for \"" + result.reply + "\"";
  std::vector<std::string> changes;
  if (action.backoff_steps > 0 && s.pace.back_off(pace, action.backoff_steps, now)) {
    changes.push_back(pace_summary(s));
    arm_recovery(s);
  }
  if (action.suspend > Clock::duration::zero() && !s.pace.suspended(now + action.suspend)) {
    s.pace.suspend(action.suspend, result.reply, now);
    changes.push_back("suspended for " + std::to_string(action.suspend.count()) + "s");
  }
  if (action.no_reuse > Clock::duration::zero() && s.pace.reuse_allowed(now + action.no_reuse)) {
    s.pace.stop_reuse(action.no_reuse, now);
    changes.push_back("no connection reuse for " + std::to_string(action.no_reuse.count()) + "s");
  }
  if (action.close) slot.close_after = true;
  if (changes.empty()) return;
  s.last_rule = why;
  if (!log_notice) return;
  std::string line = "site " + s.name + ": " + why + ": ";
  for (std::size_t i = 0; i < changes.size(); ++i) line += (i > 0 ? "; " : "") + changes[i];
  log_notice(line);
}

void Scheduler::arm_recovery(Site& s) {
  PaceSettings pace = pace_settings(s);
  if (s.pace.step() == 0) return;
  Site* site = &s;
  Clock::duration wait = s.pace.next_recovery(pace) - timers_.now();
  s.recovery_timer.arm(timers_, std::max(wait, Clock::duration::zero()), [this, site] {
    PaceSettings p = pace_settings(*site);
    if (site->pace.recover_if_due(p, timers_.now())) {
      if (log_notice) {
        auto quiet = std::chrono::duration_cast<std::chrono::seconds>(p.recovery_time);
        log_notice("site " + site->name + ": " + std::to_string(quiet.count()) +
                   "s without a throttling reply: " + pace_summary(*site));
      }
      dispatch(*site);
    }
    arm_recovery(*site);
  });
}

std::vector<SiteState> Scheduler::site_states() const {
  Clock::time_point now = timers_.now();
  std::vector<SiteState> states;
  for (const auto& [name, s] : sites_) {
    SiteState state;
    state.name = s->base;
    state.source = s->source;
    state.window = allowed_connections(*s, window_settings(*s));
    state.active = s->active;
    state.connections = s->connections;
    state.queued = s->pending.size();
    state.held = s->held;
    state.backoff_step = s->pace.step();
    PaceSettings pace = pace_settings(*s);
    state.message_rate = s->pace.message_rate(pace);
    state.connection_rate = pace.connection_rate;
    state.dead = s->window.dead(now);
    state.suspended = s->pace.suspended(now);
    state.last_rule = s->last_rule;
    states.push_back(std::move(state));
  }
  return states;
}

}  // namespace ringrelay::engine
