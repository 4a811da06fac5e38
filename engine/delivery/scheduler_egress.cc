// The scheduler's egress sources: which source of a request's pool a job leaves from (smooth
// weighted round robin over the sources usable at that site now), the plan cut to the address
// families a source binds, and what happens when a source's address cannot be bound.
#include "engine/delivery/scheduler.hh"

#include "engine/delivery/scheduler_state.hh"

#include <algorithm>

#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {

const std::string& Scheduler::pool_of(const Job& job) const {
  return job.request->pool.empty() ? settings_.egress.default_pool : job.request->pool;
}

Scheduler::Site* Scheduler::site_for_job(Destination& d, const std::string& base, Job& job) {
  const std::string& pool_name = pool_of(job);
  if (pool_name.empty()) return &site(base, "", d.hop);  // no pool: nothing to choose
  const ResolveAnswer& answer = *d.answer;
  bool v4 = false, v6 = false;
  for (const ServerAddress& a : answer.addresses) {
    v4 = v4 || a.family() == AF_INET;
    v6 = v6 || a.family() == AF_INET6;
  }
  if (!v4 && !v6) return &site(base, "", d.hop);  // a UNIX-domain LMTP server: nothing to bind
  const EgressPool* pool = settings_.egress.pool(pool_name);
  if (pool == nullptr) {  // a reload removed it after the feed took the request
    fail_job(job, "4.3.5", "egress pool " + pool_name + " is not configured (egress_pool_maps)",
             false);
    return nullptr;
  }
  Clock::time_point now = timers_.now();
  // Usable: reaches one of the servers' address families and binds. Preferred among those: not
  // dead or suspended at this site (otherwise its mail would only be deferred there).
  std::vector<std::size_t> usable, preferred;  // member indices
  const std::string* unbound_why = nullptr;
  for (std::size_t i = 0; i < pool->members.size(); ++i) {
    const EgressSource& source = settings_.egress.sources[pool->members[i].source];
    if (!((v4 && source.reaches(AF_INET)) || (v6 && source.reaches(AF_INET6)))) continue;
    auto unbound = unbindable_sources_.find(source.name);
    if (unbound != unbindable_sources_.end() && now < unbound->second.until) {
      unbound_why = &unbound->second.why;
      continue;
    }
    usable.push_back(i);
    auto there = sites_.find(base + " via " + source.name);
    if (there == sites_.end() ||
        !(there->second->window.dead(now) || there->second->pace.suspended(now))) {
      preferred.push_back(i);
    }
  }
  if (usable.empty()) {
    if (unbound_why != nullptr) {
      fail_job(job, "4.3.0",
               "no source of egress pool " + pool_name + " can be bound now: " + *unbound_why,
               false);
    } else {
      fail_job(job, "4.4.0",
               "egress pool " + pool_name + " has no source address of the family of " +
                   (v6 ? "the IPv6" : "the IPv4") + " servers of " + base,
               false);
    }
    return nullptr;
  }
  // An operator's hold on a source (or on the site) takes it out of use while another is free of
  // one; when all are held, the job goes where it would have and waits there (hold_job).
  if (holds_ && !holds_->empty()) {
    auto held = [&](std::size_t i) {
      return source_held(base, settings_.egress.sources[pool->members[i].source].name);
    };
    if (!std::all_of(usable.begin(), usable.end(), held)) {
      std::erase_if(usable, held);
      std::erase_if(preferred, held);
    }
  }
  const std::vector<std::size_t>& candidates = preferred.empty() ? usable : preferred;
  // Smooth weighted round robin (nginx's): each candidate gains its weight, the richest is chosen
  // and pays the candidates' total. Exact proportions, evenly interleaved, per destination.
  std::vector<long>& turns = d.pool_turns[pool_name];
  if (turns.size() != pool->members.size()) turns.assign(pool->members.size(), 0);
  long total = 0;
  std::size_t chosen = candidates.front();
  for (std::size_t i : candidates) {
    turns[i] += pool->members[i].weight;
    total += pool->members[i].weight;
    if (turns[i] > turns[chosen]) chosen = i;
  }
  turns[chosen] -= total;
  const EgressSource& source = settings_.egress.sources[pool->members[chosen].source];
  job.plan = plan_for(d, source);
  return &site(base, source.name, d.hop);
}

std::shared_ptr<const ResolveAnswer> Scheduler::plan_for(Destination& d,
                                                         const EgressSource& source) {
  if (source.address && source.address6) return d.answer;
  int family = source.address ? AF_INET : AF_INET6;
  if (d.family_plans_of != d.answer) {
    d.family_plans[0].reset();
    d.family_plans[1].reset();
    d.family_plans_of = d.answer;
  }
  std::shared_ptr<const ResolveAnswer>& cut = d.family_plans[family == AF_INET6 ? 1 : 0];
  if (!cut) {
    const auto& all = d.answer->addresses;
    if (std::all_of(all.begin(), all.end(),
                    [&](const ServerAddress& a) { return a.family() == family; })) {
      cut = d.answer;
    } else {
      auto copy = std::make_shared<ResolveAnswer>(*d.answer);
      std::erase_if(copy->addresses, [&](const ServerAddress& a) { return a.family() != family; });
      RINGRELAY_CHECK(!copy->addresses.empty(), "a source is chosen only for servers it reaches");
      cut = std::move(copy);
    }
  }
  return cut;
}

bool Scheduler::return_to_destinations(Site& s, Clock::time_point now) {
  auto unbound = unbindable_sources_.find(s.source);
  bool usable = settings_.egress.source(s.source) != nullptr &&
                (unbound == unbindable_sources_.end() || now >= unbound->second.until);
  if (usable) return false;
  std::vector<Destination*> returned;
  auto jobs = s.pending.take_all();
  for (std::unique_ptr<Job>& job : jobs) {
    job->site = nullptr;
    Destination* d = job->destination;
    d->waiting.push_back(std::move(job));
    if (std::find(returned.begin(), returned.end(), d) == returned.end()) returned.push_back(d);
  }
  // They choose again among the sources still usable (never this one), or get their results.
  for (Destination* d : returned) dispatch(*d);
  return true;
}

void Scheduler::source_unbindable(Site& s, const std::string& why) {
  Clock::time_point now = timers_.now();
  Unbindable& entry = unbindable_sources_[s.source];
  bool news = now >= entry.until;
  entry.until = now + settings_.egress.retry_time;
  entry.why = why;
  if (news && log_notice) {
    log_notice("warning: egress source " + s.source + ": cannot bind " + why + "; not used for " +
               std::to_string(settings_.egress.retry_time.count()) +
               "s, its mail goes to the other sources of its pool");
  }
  arm_sweep();
}

void Scheduler::retry_elsewhere(Job& job) {
  std::vector<std::size_t> indices;
  for (std::size_t i : job.retry) indices.push_back(job.recipients[i]);
  Destination& d = *job.destination;
  auto next = std::make_unique<Job>(job.request, d, std::move(indices));
  next->owned = true;  // this shard owns the site; the destination decides the source again
  next->started_at = job.started_at;
  next->requeues = job.requeues;
  d.waiting.push_back(std::move(next));
  dispatch(d);
}

}  // namespace ringrelay::engine
