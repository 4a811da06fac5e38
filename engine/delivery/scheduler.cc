// The scheduler: destinations resolve into sites; sites queue jobs and start them within their
// window, on cached connections first; connection events come back here and become results,
// feedback, retries and reuse. Connection callbacks never free a connection in place: closed ones
// wait in the graveyard until collect_garbage(). When a site may start something (rates, reply
// rules, backoff) is decided in scheduler_pace.cc.
#include "engine/delivery/scheduler.hh"

#include "engine/delivery/scheduler_state.hh"

#include <algorithm>
#include <cstdio>

#include "engine/delivery/reuse_policy.hh"
#include "engine/delivery/site_key.hh"
#include "engine/metrics/shard_metrics.hh"
#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {

Scheduler::Scheduler(Network& network, Timers& timers, const EngineSettings& settings,
                     Resolver& resolver, ResultSink& sink, ShardPlace place)
    : timers_(timers),
      settings_(settings),
      resolver_(resolver),
      sink_(sink),
      place_(place),
      tls_(settings, timers, log_notice),
      sasl_(settings, timers),
      connector_(network, settings, tls_) {
  RINGRELAY_CHECK(place_.count >= 1 && place_.index < place_.count, "shard place");
}

Scheduler::~Scheduler() = default;

void Scheduler::debug(const ServerAddress& peer, const std::string& text) const {
  if (!log_notice || settings_.debug_peers.empty() || settings_.debug_peer_level < 1) return;
  if (is_debug_peer(settings_.debug_peers, peer)) {
    log_notice("debug: " + peer.name_address_port() + ": " + text);
  }
}

WindowSettings Scheduler::window_settings(const Site& s) const {
  const ProtocolSettings& p = connector_.protocol(s.hop);
  WindowSettings w;
  w.initial = p.initial_concurrency;
  auto it = settings_.concurrency_overrides.find(s.base);
  w.limit = it != settings_.concurrency_overrides.end() ? it->second : p.concurrency_limit;
  w.positive = settings_.positive_feedback;
  w.negative = settings_.negative_feedback;
  w.failed_cohort_limit = settings_.failed_cohort_limit;
  w.dead_time = settings_.dead_destination_time;
  return w;
}

std::size_t Scheduler::destination_limit(const Destination& d) const {
  if (d.site != nullptr && d.site->base == d.key) return 0;  // the site's own limit
  auto it = settings_.concurrency_overrides.find(d.key);
  return it != settings_.concurrency_overrides.end() ? it->second : 0;
}

const EngineSettings::Rates* Scheduler::domain_rates(const Destination& d) const {
  if (settings_.rate_overrides.empty()) return nullptr;
  if (d.site != nullptr && d.site->base == d.key) return nullptr;  // the site's own rates
  auto it = settings_.rate_overrides.find(d.key);
  return it != settings_.rate_overrides.end() ? &it->second : nullptr;
}

Scheduler::Destination& Scheduler::destination(const dns::Nexthop& hop) {
  std::string key = hop.key();
  auto& slot = destinations_[key];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = key;
    slot->hop = hop;
  }
  return *slot;
}

Scheduler::Site& Scheduler::site(const std::string& base, const std::string& source,
                                 const dns::Nexthop& hop) {
  auto& slot = sites_[source.empty() ? base : base + " via " + source];
  if (!slot) {
    const ProtocolSettings& p = connector_.protocol(hop);
    slot = std::make_unique<Site>(base, source, hop, p.initial_concurrency);
  }
  return *slot;
}

void Scheduler::submit(const RequestPointer& request, const dns::Nexthop& hop,
                       const std::vector<std::size_t>& recipients, bool owned,
                       std::shared_ptr<const ResolveAnswer> answer) {
  Destination& d = destination(hop);
  d.last_used = timers_.now();
  if (answer && !d.resolving && (!d.answer || d.answer->expires < answer->expires)) {
    d.answer = std::move(answer);
    d.answer_fresh = true;
  }
  std::size_t limit = std::max<std::size_t>(1, connector_.protocol(hop).recipient_limit);
  for (std::size_t start = 0; start < recipients.size(); start += limit) {
    std::size_t end = std::min(recipients.size(), start + limit);
    auto job = std::make_unique<Job>(
        request, d,
        std::vector<std::size_t>(recipients.begin() + static_cast<long>(start),
                                 recipients.begin() + static_cast<long>(end)));
    job->owned = owned;
    d.waiting.push_back(std::move(job));
  }
  arm_sweep();
  dispatch(d);
}

void Scheduler::dispatch(Destination& d) {
  Clock::time_point now = timers_.now();
  if (shutting_down_) {
    fail_all(d.waiting, "4.3.2", kShutdownText, false);
    return;
  }
  if (d.waiting.empty()) return;
  // An answer is used at least by the dispatch its lookup triggers, even one with a zero TTL.
  if (!d.answer || (now >= d.answer->expires && !d.answer_fresh)) {
    // Look up (again); the lookup may finish at once (cache, literal) or later (DNS), and then
    // it dispatches this destination itself. A destination is never freed while it resolves.
    if (!d.resolving) {
      d.resolving = true;
      auto returned = std::make_shared<bool>(false);
      Destination* looked_up = &d;
      resolver_.resolve(d.hop, [this, looked_up, returned](ResolveAnswer answer) {
        looked_up->resolving = false;
        looked_up->answer = std::make_shared<const ResolveAnswer>(std::move(answer));
        looked_up->answer_fresh = true;
        if (*returned) dispatch(*looked_up);
      });
      *returned = true;
    }
    if (d.resolving) return;
  }
  d.answer_fresh = false;
  const ResolveAnswer& answer = *d.answer;
  if (answer.addresses.empty()) {
    // Failed lookups are remembered until the answer expires (dns_negative_cache_time).
    fail_all(d.waiting, answer.dsn, answer.text, answer.hard_failure);
    return;
  }
  std::string name = site_name(d.hop, answer);
  std::size_t owner = owner_shard(name, place_.count);
  if (owner != place_.index && hand_over) {
    // Another shard owns the site: its window, throttle and connections are there.
    std::deque<std::unique_ptr<Job>> kept;
    while (!d.waiting.empty()) {
      std::unique_ptr<Job> job = std::move(d.waiting.front());
      d.waiting.pop_front();
      if (job->owned) {
        kept.push_back(std::move(job));
      } else {
        hand_over(owner, job->request, d.hop, job->recipients, d.answer);  // no result here
      }
    }
    d.waiting = std::move(kept);
    if (d.waiting.empty()) return;
  }
  std::vector<Site*> queued;  // the sites (one per egress source used) that got jobs
  while (!d.waiting.empty()) {
    std::unique_ptr<Job> job = std::move(d.waiting.front());
    d.waiting.pop_front();
    job->plan = d.answer;
    Site* s = site_for_job(d, name, *job);
    if (s == nullptr) continue;  // the job has its results
    if (d.site != s) {
      if (d.site != nullptr) --d.site->destinations;
      d.site = s;
      ++s->destinations;
    }
    int priority = job->request->priority;
    job->site = s;
    s->pending.push_back(std::move(job), priority);
    if (std::find(queued.begin(), queued.end(), s) == queued.end()) queued.push_back(s);
  }
  for (Site* s : queued) dispatch(*s);
}

Scheduler::Job* Scheduler::next_job(Site& s) {
  // The job whose turn it is (SiteQueue), unless its destination is at a limit of its own inside
  // the site (concurrency or rate overrides): then the next one in turn order that is not.
  // The clock is read only when some domain may have a rate of its own (domain_rates).
  Clock::time_point now = settings_.rate_overrides.empty() ? Clock::time_point{} : timers_.now();
  Clock::time_point earliest = SitePace::kNever;  // when a domain held back by its rate may go
  auto* job = s.pending.select(
      [&](const std::unique_ptr<Job>& candidate) {
        Destination& d = *candidate->destination;
        std::size_t limit = destination_limit(d);
        if (limit != 0 && d.active >= limit) return false;
        const EngineSettings::Rates* rates = domain_rates(d);
        if (rates == nullptr || rates->messages.value_or(0) <= 0) return true;
        Clock::duration wait = d.messages.wait(*rates->messages, now);
        if (wait <= Clock::duration::zero()) return true;
        earliest = std::min(earliest, now + wait);
        return false;
      },
      !settings_.concurrency_overrides.empty() || !settings_.rate_overrides.empty());
  if (job == nullptr && earliest != SitePace::kNever) wake_at(s, earliest);
  return job != nullptr ? job->get() : nullptr;
}

void Scheduler::dispatch(Site& s) {
  Clock::time_point now = timers_.now();
  s.last_used = now;
  if (shutting_down_) {
    auto all = s.pending.take_all();
    fail_all(all, "4.3.2", kShutdownText, false);
    return;
  }
  if (!s.source.empty() && return_to_destinations(s, now)) return;
  WindowSettings ws = window_settings(s);
  if (s.window.dead(now)) {
    // A throttled site: defer at once, with the reason, as Postfix's qmgr does.
    auto all = s.pending.take_all();
    fail_all(all, s.last_failure_dsn, "delivery temporarily suspended: " + s.last_failure_text,
             false);
    return;
  }
  if (s.pace.suspended(now)) {
    // Suspended by a reply rule: deferred at once with the server's words, like a dead site.
    auto all = s.pending.take_all();
    fail_all(all, s.last_failure_dsn, "delivery temporarily suspended: " + s.pace.suspend_reason(),
             false);
    return;
  }
  if (s.window.revive_if_due(ws, now, s.active) && log_notice) {
    log_notice("site " + s.name + ": delivery resumed after the throttle, window " +
               std::to_string(s.window.allowed(ws.limit)));
  }
  bool holding = holds_ && !holds_->empty();
  std::vector<Destination*> redirected;  // jobs a source's hold sent to choose another source
  while (!s.pending.empty()) {
    if (holding) {  // the operator's holds: the job whose turn it is may be kept back
      if (const Hold* hold = hold_for(*s.pending.front(), s)) {
        if (Destination* d = hold_job(s, s.pending.pop_front(), *hold)) redirected.push_back(d);
        continue;
      }
    }
    if (!may_start(s, now)) break;
    Job* next = next_job(s);
    if (next == nullptr) break;
    const dns::Nexthop& hop = next->destination->hop;
    if (!next->fresh_connection && s.pace.reuse_allowed(now)) {
      // A cached connection of this site, or to this very server under another site. Either way,
      // only a connection whose TLS satisfies this next hop's policy, checked against the names
      // from this next hop's own lookup.
      std::optional<Slot*> cached = cache_.take_by_nexthop(s.name, [&](Slot* slot) {
        return serves(*slot, *next, tls_.peer_names(hop, slot->connection->server()));
      });
      if (!cached) {
        const ServerAddress& first = next->plan->addresses.front();
        tls::PeerNames names = tls_.peer_names(hop, first);
        cached = cache_.take_by_endpoint(
            connector_.endpoint(hop, first, sasl_.identity(hop, first, next->message.sender),
                                s.source.empty() ? nullptr : settings_.egress.source(s.source)),
            [&](Slot* slot) { return serves(*slot, *next, names); });
      }
      if (cached) {
        Slot* slot = *cached;
        if (slot->site != &s) {
          --slot->site->connections;
          slot->site = &s;
          ++s.connections;
        }
        start_next(s, slot);  // a body that cannot be read leaves the slot in the cache
        continue;
      }
    }
    // A new connection: within the window, and never more connections to the site than its
    // limit (closing ones included), nor more sessions on this shard than shard_session_limit.
    if (s.active >= allowed_connections(s, ws) || s.connections >= ws.limit ||
        slots_.size() >= settings_.shard_session_limit || !may_connect(s, now)) {
      break;
    }
    // A domain with a connection rate of its own opens new connections only within it.
    Destination& d = *next->destination;
    if (const EngineSettings::Rates* rates = domain_rates(d);
        rates != nullptr && rates->connections.value_or(0) > 0) {
      Clock::duration wait = d.connections.wait(*rates->connections, now);
      if (wait > Clock::duration::zero()) {
        wake_at(s, now + wait);
        break;
      }
      d.connections.take(*rates->connections, now);
    }
    start_next(s, nullptr);
  }
  for (Destination* d : redirected) dispatch(*d);
}

const ServerAddress* Scheduler::resolved_as(const Job& job, const ServerAddress& server) const {
  if (!job.plan) return nullptr;
  for (const ServerAddress& a : job.plan->addresses) {
    if (a.address == server.address && a.port == server.port) return &a;
  }
  return nullptr;
}

bool Scheduler::serves(Slot& slot, const Job& job, tls::PeerNames names) {
  const dns::Nexthop& hop = job.destination->hop;
  if (slot.endpoint.sasl_identity !=
      sasl_.identity(hop, slot.connection->server(), job.message.sender)) {
    return false;
  }
  if (!tls_.serves(*slot.connection, hop, names, resolved_as(job, slot.connection->server())))
    return false;
  slot.names = std::move(names);
  return true;
}

bool Scheduler::read_body(Site& s, Job& job) {
  std::string problem;
  if (job.request->body_for_delivery(job.message.body, problem)) {
    job.has_body = true;
    return true;
  }
  // The queue manager's file changed after the feed checked it: deferred, never half sent.
  RINGRELAY_CHECK(s.pending.front().get() == &job, "the job to read is first in its queue");
  std::unique_ptr<Job> failed = s.pending.pop_front();
  fail_job(*failed, "4.3.0", "cannot read the message body: " + problem, false);
  return false;
}

bool Scheduler::start_next(Site& s, Slot* reuse) {
  Job& first = *s.pending.front();
  // Beyond the site's learnt recipient limit: the rest waits just behind it, as a job of its own.
  std::unique_ptr<Job> rest;
  if (s.recipient_limit > 0 && first.recipients.size() > s.recipient_limit) {
    std::size_t keep = s.recipient_limit;
    rest = std::make_unique<Job>(
        first.request, *first.destination,
        std::vector<std::size_t>(first.recipients.begin() + static_cast<long>(keep),
                                 first.recipients.end()));
    rest->plan = first.plan;
    rest->site = first.site;
    rest->address_index = first.address_index;
    rest->sessions = first.sessions;
    rest->fresh_connection = first.fresh_connection;
    rest->plaintext = first.plaintext;
    rest->owned = first.owned;
    rest->requeues = first.requeues;
    rest->started_at = first.started_at;
    first.recipients.resize(keep);
    first.reported.resize(keep);
    first.message.recipients.resize(keep);
  }
  int priority = first.request->priority;
  bool started = first.has_body || read_body(s, first);
  if (started) start_job(s, s.pending.pop_front(), reuse);
  if (rest) s.pending.push_front(std::move(rest), priority);
  return started;
}

void Scheduler::start_job(Site& s, std::unique_ptr<Job> job, Slot* reuse) {
  Clock::time_point now = timers_.now();
  if (job->started_at == Clock::time_point{}) job->started_at = now;
  Destination& d = *job->destination;
  const ResolveAnswer& plan = *job->plan;
  std::size_t addresses = plan.addresses.size();
  RINGRELAY_CHECK(addresses > 0, "a job started without an address");
  Slot* slot = reuse;
  bool fresh = reuse == nullptr;
  if (fresh) {
    auto owned = std::make_unique<Slot>();
    owned->site = &s;
    ++s.connections;
    owned->address_index = std::min(job->address_index, addresses - 1);
    const ServerAddress& server = plan.addresses[owned->address_index];
    AuthPlan auth = sasl_.plan(d.hop, server, job->message.sender);
    std::string identity = auth.identity();
    // Not null when the site has a source: return_to_destinations took its jobs otherwise.
    const EgressSource* source = s.source.empty() ? nullptr : settings_.egress.source(s.source);
    RINGRELAY_CHECK(s.source.empty() || source != nullptr, "a site's source is configured");
    owned->connection =
        connector_.open(*this, d.hop, server, job->plaintext, std::move(auth), source);
    owned->endpoint = connector_.endpoint(d.hop, server, std::move(identity), source);
    owned->names = tls_.peer_names(d.hop, server);
    slot = owned.get();
    slots_[slot->connection.get()] = std::move(owned);
    if (metrics != nullptr) metrics->connections_opened.add();
    if (debugging()) {
      debug(slot->connection->server(),
            "connecting for " + d.key + " (site " + s.name + ", window " +
                std::to_string(s.window.allowed(window_settings(s).limit)) + ", active " +
                std::to_string(s.active) + ")");
    }
  } else {
    if (metrics != nullptr) metrics->connections_reused.add();
    cache_.remove(slot);
    slot->idle = false;
    slot->idle_timer.cancel();
    // Judged once per job, not per recipient: the connection may have been opened under
    // another next hop's policy.
    slot->reused_tls = tls_.reused_outcome(*slot->connection, d.hop, slot->names,
                                           resolved_as(*job, slot->connection->server()));
    const ServerAddress& server = slot->connection->server();
    slot->address_index = addresses;
    for (std::size_t i = 0; i < addresses; ++i) {
      if (plan.addresses[i].address == server.address && plan.addresses[i].port == server.port) {
        slot->address_index = i;
        break;
      }
    }
    if (debugging()) {
      debug(server, "reusing the connection for " + d.key + " (transaction " +
                        std::to_string(slot->connection->reuse_count() + 1) + ")");
    }
  }
  PaceSettings pace = pace_settings(s);
  s.pace.message_started(pace, now);
  if (const EngineSettings::Rates* rates = domain_rates(d);
      rates != nullptr && rates->messages.value_or(0) > 0) {
    d.messages.take(*rates->messages, now);
  }
  if (fresh) s.pace.connection_opened(pace, now);
  slot->rule_fired = false;
  slot->fresh = fresh;
  slot->active = true;
  slot->destination = &d;
  ++s.active;
  ++d.active;
  // A cached connection may serve a next hop whose plan does not list its address: then it is
  // the only server tried for this job.
  bool final_server = slot->address_index >= addresses ||
                      connector_.final_server(plan, slot->address_index, job->sessions + 1);
  slot->job = std::move(job);
  Connection& connection = *slot->connection;
  connection.deliver(slot->job->message, final_server);
  if (fresh) connection.start();
}

void Scheduler::report(Job& job, std::size_t job_recipient, const proto::RecipientResult& result,
                       const Slot* slot) {
  RINGRELAY_CHECK(job_recipient < job.reported.size(), "recipient index within its job");
  if (job.reported[job_recipient]) return;
  job.reported[job_recipient] = true;
  Carrier carrier;
  carrier.started = job.started_at;
  const Site* s = slot != nullptr ? slot->site : job.site;
  if (s != nullptr && s->base != job.destination->key) carrier.site = s->base;
  if (s != nullptr) carrier.source = s->source;
  if (slot != nullptr) {
    carrier.connection = slot->connection.get();
    carrier.fresh = slot->fresh;
    carrier.reused_tls = slot->reused_tls;
  }
  ResultRecord record =
      result_record(job.request, job.recipients[job_recipient], result, carrier, timers_.now());
  if (metrics != nullptr) count_result(*metrics, record);
  sink_.report(std::move(record));
}

void Scheduler::count_setup(Slot& slot) {
  if (slot.setup_counted || metrics == nullptr) return;
  slot.setup_counted = true;
  count_connection_setup(*metrics, *slot.connection);
}

void Scheduler::fail_all(std::deque<std::unique_ptr<Job>>& jobs, const std::string& dsn,
                         const std::string& text, bool hard) {
  while (!jobs.empty()) {
    fail_job(*jobs.front(), dsn, text, hard);
    jobs.pop_front();
  }
}

void Scheduler::fail_job(Job& job, const std::string& dsn, const std::string& text, bool hard) {
  for (std::size_t i = 0; i < job.recipients.size(); ++i) {
    report(job, i, local_result(i, dsn, text, hard), nullptr);
  }
}

void Scheduler::on_result(Connection& c, const proto::RecipientResult& given) {
  Slot& slot = *slots_.at(&c);
  if (!slot.job) return;
  if (!slot.site->source.empty() && !c.bind_failure().empty()) {
    // The source's address is not on this host: nothing reached the server; another source of
    // the pool takes these recipients (on_transaction_done).
    slot.job->retry.push_back(given.recipient);
    return;
  }
  const proto::RecipientResult* chosen = &given;
  proto::RecipientResult deferred;
  if (given.status != proto::DeliveryStatus::sent && !given.reply.empty() &&
      (!settings_.reply_rules.empty() || !settings_.site_reply_rules.empty())) {
    std::optional<ReplyAction> action = reply_action(*slot.site, given.reply);
    if (action && !slot.rule_fired) apply_rule(slot, *action, given);
    if (action && action->defer && given.status == proto::DeliveryStatus::bounced) {
      // The refusal is about the sender's address or reputation, not the recipient: deferred.
      deferred = given;
      deferred.status = proto::DeliveryStatus::deferred;
      if (!deferred.dsn.empty()) deferred.dsn[0] = '4';
      deferred.text += " (deferred by reply rule)";
      chosen = &deferred;
    } else if (action && c.refused_after() > 0 &&
               given.status == proto::DeliveryStatus::try_next_server) {
      // A 421 to MAIL FROM on a used connection that a rule calls throttling: the server limits
      // the rate, the connection is not merely used up; deferred now rather than tried afresh.
      deferred = given;
      deferred.status = proto::DeliveryStatus::deferred;
      chosen = &deferred;
    }
  }
  const proto::RecipientResult& result = *chosen;
  if (result.status == proto::DeliveryStatus::try_next_server) {
    slot.job->retry.push_back(result.recipient);
    return;
  }
  if (result.status == proto::DeliveryStatus::deferred) {
    slot.site->last_failure_dsn = result.dsn;
    slot.site->last_failure_text = result.text;
    if (requeue_allowed(slot, result)) {
      slot.job->retry.push_back(result.recipient);
      if (!slot.job->requeue) cap_at_the_server_limit(*slot.site);
      slot.job->requeue = true;
      return;
    }
  }
  report(*slot.job, result.recipient, result, &slot);
}

bool Scheduler::requeue_allowed(const Slot& slot, const proto::RecipientResult& result) const {
  // A new connection turned away before any transaction ("421 Too many connections", a refused
  // connection) while the site's other connections deliver: the site works, this session did
  // not. Postfix defers such a message to its deferred queue; here it waits in the site's queue
  // for a connection that works (the negative feedback has shrunk the window), a few times at most.
  using proto::Stage;
  bool before_mail = result.stage == Stage::connect || result.stage == Stage::greeting ||
                     result.stage == Stage::ehlo || result.stage == Stage::helo ||
                     result.stage == Stage::lhlo;
  const Site& s = *slot.site;
  if (!before_mail || !slot.fresh || result.connection_use > 1 ||
      slot.job->requeues >= kRequeueLimit) {
    return false;
  }
  bool delivering =
      s.last_delivery != Clock::time_point{} && timers_.now() - s.last_delivery <= kRequeueWindow;
  // A server that greets with 421 while other connections of the site are busy is up and at its
  // connection limit, even before the first delivery.
  bool at_its_limit =
      result.stage == proto::Stage::greeting && result.reply_code == 421 && s.active > 1;
  return delivering || at_its_limit;
}

void Scheduler::cap_at_the_server_limit(Site& s) {
  // The others (this connection is still counted) are what the server takes: no more new
  // connections than that for a while, then the window may probe upwards again.
  s.ceiling = std::max<std::size_t>(1, s.connections - 1);
  s.ceiling_until = timers_.now() + kCeilingTime;
  if (settings_.feedback_debug && log_notice) {
    log_notice("feedback: site " + s.name + ": a new connection was turned away with " +
               std::to_string(s.ceiling) + " others open; at most that many for " +
               std::to_string(kCeilingTime.count()) + "s");
  }
}

std::size_t Scheduler::allowed_connections(const Site& s, const WindowSettings& ws) const {
  std::size_t allowed = s.window.allowed(ws.limit);
  if (s.ceiling > 0 && timers_.now() < s.ceiling_until) allowed = std::min(allowed, s.ceiling);
  return std::min(allowed, s.pace.connection_cap(pace_settings(s), ws.limit));
}

void Scheduler::on_transaction_done(Connection& c, const proto::TransactionDone& done) {
  Slot& slot = *slots_.at(&c);
  count_setup(slot);
  Site& s = *slot.site;
  std::unique_ptr<Job> job = std::move(slot.job);
  if (!s.source.empty() && !c.bind_failure().empty()) {
    source_unbindable(s, c.bind_failure());
    if (job && !job->retry.empty()) retry_elsewhere(*job);
    return;
  }
  // A refusal a reply rule acted on is the rule's to answer, not the window's again.
  if (!(slot.rule_fired && !done.delivered_any)) feedback(s, done);
  bool refused = c.refused_after() > 0;
  if (refused && !slot.rule_fired) learn_message_limit(s, c);
  bool over_recipient_limit = c.recipients_refused_after() > 0;
  if (over_recipient_limit) learn_recipient_limit(s, c);
  if (!job) return;
  std::size_t sessions_before = job->sessions;
  if (c.connected_at() != Clock::time_point{}) ++job->sessions;
  if (job->retry.empty()) return;
  // Recipients another connection may take, on a connection of its own.
  std::vector<std::size_t> indices;
  for (std::size_t i : job->retry) indices.push_back(job->recipients[i]);
  auto next = std::make_unique<Job>(job->request, *job->destination, std::move(indices));
  next->plan = job->plan;
  next->owned = true;
  std::size_t addresses = job->plan->addresses.size();
  std::size_t here = slot.address_index < addresses ? slot.address_index : 0;
  next->fresh_connection = true;
  if (refused) {
    // The connection was used up, not the server troubled: the same server, afresh.
    next->address_index = here;
    next->sessions = sessions_before;
  } else if (over_recipient_limit) {
    // The transaction was full, not the server troubled: the same server, this connection first.
    next->address_index = here;
    next->sessions = sessions_before;
    next->fresh_connection = false;
  } else if (job->requeue) {
    // Back to the queue: a working connection of the site may take it.
    next->address_index = here;
    next->sessions = sessions_before;
    next->requeues = job->requeues + 1;
    next->fresh_connection = false;
  } else if (c.tls_failed_opportunistically()) {
    // "may" whose handshake failed: this very server again, in plaintext, once.
    tls_.remember_broken(c);
    next->address_index = here;
    next->sessions = job->sessions;
    next->plaintext = true;
  } else {
    next->address_index = connector_.next_address(*job->plan, here, job->sessions);
    bool same_group =
        next->address_index < addresses &&
        job->plan->addresses[next->address_index].site == job->plan->addresses[here].site;
    next->sessions = same_group ? job->sessions : 0;
  }
  next->started_at = job->started_at;
  next->site = &s;
  int priority = next->request->priority;
  s.pending.push_front(std::move(next), priority);
}

void Scheduler::feedback(Site& s, const proto::TransactionDone& done) {
  if (!done.delivered_any && !done.throttle) return;
  WindowSettings ws = window_settings(s);
  double before = s.window.window();
  if (done.delivered_any) {
    s.last_delivery = timers_.now();
    s.window.delivered(ws, s.active);
  } else if (s.window.throttled(ws, timers_.now()) && log_notice) {
    log_notice("site " + s.name + " throttled for " +
               std::to_string(settings_.dead_destination_time.count()) +
               "s after failed cohorts: " + s.last_failure_text);
  }
  if (settings_.feedback_debug && log_notice) {
    char line[160];
    std::snprintf(line, sizeof line,
                  ": window %.2f -> %.2f (%s feedback, %zu busy, failed cohorts %.2f%s)", before,
                  s.window.window(), done.delivered_any ? "positive" : "negative", s.active,
                  s.window.failed_cohorts(), s.window.dead(timers_.now()) ? ", dead" : "");
    log_notice("feedback: site " + s.name + line);
  }
}

void Scheduler::learn_message_limit(Site& s, const Connection& c) {
  std::size_t limit = engine::learn_message_limit(s.message_limit, c.refused_after());
  if (limit == s.message_limit) return;
  s.message_limit = limit;
  if (log_notice) {
    log_notice("site " + s.name + ": " + c.server().name_address_port() +
               " refused another message after " + std::to_string(c.refused_after()) +
               " on one connection; connections to the site now carry at most " +
               std::to_string(limit) + " messages");
  }
}

void Scheduler::learn_recipient_limit(Site& s, const Connection& c) {
  std::size_t refused_after = c.recipients_refused_after();
  std::size_t limit =
      s.recipient_limit == 0 ? refused_after : std::min(s.recipient_limit, refused_after);
  if (limit == s.recipient_limit) return;
  s.recipient_limit = limit;
  if (log_notice) {
    log_notice("site " + s.name + ": " + c.server().name_address_port() +
               " refused further recipients after " + std::to_string(refused_after) +
               " in one transaction; transactions to the site now carry at most " +
               std::to_string(limit) + " recipients");
  }
}

void Scheduler::on_notice(Connection& c, const std::string& text) {
  // About the message on the connection (header checks, conversions): under its id, as Postfix
  // logs with the queue id.
  auto slot = slots_.find(&c);
  std::string id = slot != slots_.end() && slot->second->job ? slot->second->job->request->id : "";
  if (log_connection_notice) {
    log_connection_notice(id, c.server().name_address_port(), text);
  } else if (log_notice) {
    log_notice(id.empty() ? text : id + ": " + text);
  }
}

void Scheduler::on_idle(Connection& c) {
  Slot& slot = *slots_.at(&c);
  Site& s = *slot.site;
  Destination* d = slot.destination;
  Clock::time_point now = timers_.now();
  if (slot.active) {
    RINGRELAY_CHECK(s.active > 0 && (d == nullptr || d->active > 0), "active counts");
    slot.active = false;
    --s.active;
    if (d != nullptr) --d->active;
    delivery_ended(s, now);
  }
  slot.destination = nullptr;
  if (shutting_down_) {
    c.quit();
    return;
  }
  bool cacheable = d == nullptr || cacheable_destination(settings_, d->key);
  const char* refusal = reuse_refusal(settings_, cacheable, c, now, s.message_limit);
  if (refusal == nullptr && (slot.close_after || !s.pace.reuse_allowed(now))) {
    refusal = "a reply rule stopped reuse";
  }
  if (refusal == nullptr && s.pace.suspended(now)) refusal = "the site is suspended";
  if (refusal != nullptr) {
    if (debugging()) debug(c.server(), std::string("closing: ") + refusal);
    c.quit();
    dispatch(s);
    return;
  }
  if (!s.window.dead(now) && may_start(s, now)) {
    Job* next = next_job(s);
    if (next != nullptr && !next->fresh_connection) {
      const dns::Nexthop& hop = next->destination->hop;
      // Reuse at once: no RSET, the session is clean (unless the job's body cannot be read).
      if (serves(slot, *next, tls_.peer_names(hop, c.server())) && start_next(s, &slot)) {
        dispatch(s);  // a standing backlog uses the whole window, not only these connections
        return;
      }
    }
  }
  park(slot);
  dispatch(s);
}

void Scheduler::park(Slot& slot) {
  Connection& c = *slot.connection;
  slot.idle = true;
  cache_.put(&slot, slot.site->name, slot.endpoint);
  if (debugging()) {
    debug(c.server(), "cached for " + slot.site->name + ", idle for at most " +
                          std::to_string(settings_.cache_time_limit.count()) + "s");
  }
  Slot* parked = &slot;
  slot.idle_timer.arm(timers_, settings_.cache_time_limit, [this, parked] {
    cache_.remove(parked);
    parked->idle = false;
    parked->connection->quit();
  });
}

void Scheduler::on_closed(Connection& c) {
  auto it = slots_.find(&c);
  if (it == slots_.end()) return;
  Slot& slot = *it->second;
  count_setup(slot);
  Site& s = *slot.site;
  if (debugging()) debug(c.server(), "closed: " + c.close_reason());
  slot.idle_timer.cancel();
  if (slot.idle) {
    cache_.remove(&slot);
    slot.idle = false;
  }
  if (slot.active) {
    slot.active = false;
    --s.active;
    if (slot.destination != nullptr) --slot.destination->active;
    delivery_ended(s, timers_.now());
  }
  slot.destination = nullptr;
  if (slot.job) {
    // The session always ends a transaction before closing; this is a safety net only.
    fail_job(*slot.job, "4.4.2", "connection closed: " + c.close_reason(), false);
    slot.job.reset();
  }
  RINGRELAY_CHECK(s.connections > 0, "site connection count");
  --s.connections;
  graveyard_.push_back(std::move(it->second));
  slots_.erase(it);
  dispatch(s);
}

void Scheduler::collect_garbage() {
  graveyard_.clear();
}

void Scheduler::arm_sweep() {
  if (sweep_timer_.armed()) return;
  sweep_timer_.arm(timers_, kIdleTableTime / 10, [this] {
    sweep();
    if (!destinations_.empty() || !sites_.empty()) arm_sweep();
  });
}

void Scheduler::sweep() {
  Clock::time_point now = timers_.now();
  tls_.prune();
  std::erase_if(unbindable_sources_, [&](const auto& entry) { return now >= entry.second.until; });
  // Destinations first: a freed destination no longer holds its site.
  std::erase_if(destinations_, [&](const auto& entry) {
    const Destination& d = *entry.second;
    bool idle = d.jobs == 0 && !d.resolving && d.active == 0 && now - d.last_used >= kIdleTableTime;
    if (idle && d.site != nullptr) --d.site->destinations;
    return idle;
  });
  std::erase_if(sites_, [&](const auto& entry) {
    const Site& s = *entry.second;
    return s.destinations == 0 && s.connections == 0 && s.pending.empty() && s.held == 0 &&
           !s.window.dead(now) && s.pace.at_rest(now) && now - s.last_used >= kIdleTableTime;
  });
}

void Scheduler::shutdown(std::chrono::seconds grace) {
  shutting_down_ = true;
  for (auto& job : parked_) --job->site->held;
  fail_all(parked_, "4.3.2", kShutdownText, false);
  for (auto& [key, d] : destinations_) dispatch(*d);
  for (auto& [name, s] : sites_) dispatch(*s);
  std::vector<Connection*> idle, busy;
  for (auto& [connection, slot] : slots_) (slot->active ? busy : idle).push_back(connection);
  for (Connection* c : idle) c->quit();
  if (busy.empty()) return;
  shutdown_timer_.arm(timers_, grace, [this] {
    std::vector<Connection*> still;
    for (auto& [connection, slot] : slots_) still.push_back(connection);
    for (Connection* c : still) c->cut_off("ringrelay is shutting down");
  });
}

bool Scheduler::quiet() const {
  if (!slots_.empty() || !parked_.empty()) return false;
  return std::all_of(destinations_.begin(), destinations_.end(),
                     [](const auto& d) { return d.second->waiting.empty(); }) &&
         std::all_of(sites_.begin(), sites_.end(),
                     [](const auto& s) { return s.second->pending.empty(); });
}

SchedulerTables Scheduler::tables() const {
  SchedulerTables t;
  t.destinations = destinations_.size();
  t.sites = sites_.size();
  t.connections = slots_.size();
  t.idle_connections = cache_.size();
  for (const auto& [name, s] : sites_) t.queued_jobs += s->pending.size();
  for (const auto& [key, d] : destinations_) t.queued_jobs += d->waiting.size();
  t.queued_jobs += parked_.size();
  t.tls_broken_peers = tls_.broken_peers();
  return t;
}

}  // namespace ringrelay::engine
