// The scheduler's side of the operator's holds and flushes (ringrelay ctl): which queued jobs a
// hold keeps back, parking and releasing them, and giving a site's queue its results at once.
#include <algorithm>

#include "engine/delivery/scheduler.hh"
#include "engine/delivery/scheduler_state.hh"
#include "engine/delivery/site_key.hh"
#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {
namespace {

constexpr const char* kOperatorDsn = "4.3.2";

// The recipients' domain: the next hop's for mail routed by MX, else the one all the recipients
// share (none when they differ).
std::string_view recipients_domain(const dns::Nexthop& hop,
                                   const std::vector<proto::Recipient>& recipients) {
  if (hop.kind == dns::Nexthop::Kind::domain) return hop.host;
  std::string_view shared;
  for (const proto::Recipient& r : recipients) {
    std::string_view address = r.address;
    auto at = address.rfind('@');
    std::string_view domain = at == std::string_view::npos ? "" : address.substr(at + 1);
    if (!shared.empty() && domain != shared) return {};
    shared = domain;
  }
  return shared;
}

std::string held_text(const Hold& hold) {
  return std::string("delivery suspended by the operator (") + hold_kind_name(hold.kind) + " " +
         hold.name + ")" + (hold.reason.empty() ? "" : ": " + hold.reason);
}

}  // namespace

const Hold* Scheduler::hold_for(const Job& job, const Site& s) const {
  if (!holds_ || holds_->empty()) return nullptr;
  // A request without a pool leaves from the default one: a hold on that pool holds it too.
  const std::string& pool = pool_of(job);
  return holds_->match({s.base, s.source,
                        recipients_domain(job.destination->hop, job.message.recipients), pool,
                        job.request->tenant});
}

Scheduler::Destination* Scheduler::hold_job(Site& s, std::unique_ptr<Job> job, const Hold& hold) {
  if (hold.kind == HoldKind::source && another_source(*job, s)) {
    // A source taken out of use: its pool's other sources take the mail (site_for_job skips it).
    Destination* d = job->destination;
    job->site = nullptr;
    d->waiting.push_back(std::move(job));
    return d;
  }
  if (hold.defer) {
    fail_job(*job, kOperatorDsn, held_text(hold), false);
    return nullptr;
  }
  ++s.held;
  parked_.push_back(std::move(job));
  return nullptr;
}

bool Scheduler::source_held(const std::string& base, const std::string& source) const {
  return holds_ && !holds_->empty() && holds_->match({.site = base, .source = source}) != nullptr;
}

bool Scheduler::another_source(const Job& job, const Site& s) const {
  const Destination& d = *job.destination;
  const std::string& pool_name = pool_of(job);
  const EgressPool* pool = settings_.egress.pool(pool_name);
  if (pool == nullptr || !d.answer) return false;
  Clock::time_point now = timers_.now();
  for (const EgressPool::Member& member : pool->members) {
    const EgressSource& source = settings_.egress.sources[member.source];
    if (source.name == s.source || source_held(s.base, source.name)) continue;
    auto unbound = unbindable_sources_.find(source.name);
    if (unbound != unbindable_sources_.end() && now < unbound->second.until) continue;
    for (const ServerAddress& a : d.answer->addresses) {
      if (source.reaches(a.family())) return true;
    }
  }
  return false;
}

void Scheduler::set_holds(HoldSetPointer holds) {
  holds_ = std::move(holds);
  // Queued jobs now held leave their queues (a site at its window would keep them otherwise).
  std::vector<Destination*> released;
  for (auto& [name, s] : sites_) {
    if (s->pending.empty() || !holds_ || holds_->empty()) continue;
    auto all = s->pending.take_all();
    for (std::unique_ptr<Job>& job : all) {
      if (const Hold* hold = hold_for(*job, *s)) {
        Destination* d = hold_job(*s, std::move(job), *hold);
        if (d != nullptr && std::find(released.begin(), released.end(), d) == released.end())
          released.push_back(d);
      } else {
        int priority = job->request->priority;
        s->pending.push_back(std::move(job), priority);
      }
    }
  }
  // Parked jobs no longer held (or held by a source whose pool now has another to use) go back
  // to their destinations, which choose their sites again.
  std::deque<std::unique_ptr<Job>> still;
  for (std::unique_ptr<Job>& job : parked_) {
    const Hold* hold = hold_for(*job, *job->site);
    if (hold != nullptr && !(hold->kind == HoldKind::source && another_source(*job, *job->site))) {
      still.push_back(std::move(job));
      continue;
    }
    --job->site->held;
    job->site = nullptr;
    Destination* d = job->destination;
    d->waiting.push_back(std::move(job));
    if (std::find(released.begin(), released.end(), d) == released.end()) released.push_back(d);
  }
  parked_ = std::move(still);
  for (Destination* d : released) dispatch(*d);
}

std::size_t Scheduler::flush_site(std::string_view name, bool bounce, const std::string& reason) {
  std::string text = std::string(bounce ? "bounced" : "deferred") + " by the operator" +
                     (reason.empty() ? "" : ": " + reason);
  const char* dsn = bounce ? "5.3.2" : kOperatorDsn;
  auto named = [&](const Site& s) { return s.name == name || site_answers_to(s.base, name); };
  std::size_t recipients = 0;
  std::deque<std::unique_ptr<Job>> flushed;
  for (auto& [key, s] : sites_) {
    if (!named(*s)) continue;
    auto all = s->pending.take_all();
    for (auto& job : all) flushed.push_back(std::move(job));
  }
  std::erase_if(parked_, [&](std::unique_ptr<Job>& job) {
    if (!named(*job->site)) return false;
    --job->site->held;
    flushed.push_back(std::move(job));
    return true;
  });
  for (const auto& job : flushed) recipients += job->recipients.size();
  fail_all(flushed, dsn, text, bounce);
  return recipients;
}

}  // namespace ringrelay::engine
