// The scheduler: destinations with their queues, windows and caches; jobs that carry recipient
// batches over connections; results with Postfix's delay breakdown. Connection callbacks never
// free a connection in place: closed ones wait in the graveyard until collect_garbage().
#include "engine/scheduler.hh"

#include <algorithm>
#include <cmath>

namespace ringrelay::engine {
namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  if (from == Clock::time_point{} || to < from) return 0;
  return std::chrono::duration<double>(to - from).count();
}

}  // namespace

struct Scheduler::Job {
  RequestPointer request;
  std::vector<std::size_t> recipients;        // indices into request->message.recipients
  std::vector<bool> reported;                 // per job recipient: final result given
  proto::Message message;                     // just those recipients; the body spans are shared
  std::shared_ptr<const ResolveAnswer> plan;  // the addresses it started with (kept for retries)
  std::size_t address_index = 0;
  std::size_t sessions = 0;        // connections that reached a server of the current site
  bool fresh_connection = false;   // a retry at the next address: no cached connection
  bool plaintext = false;          // a retry after a failed "may" handshake: no STARTTLS
  std::vector<std::size_t> retry;  // job recipients to try at the next address
  Clock::time_point started_at{};

  Job(RequestPointer r, std::vector<std::size_t> indices)
      : request(std::move(r)), recipients(std::move(indices)) {
    const proto::Message& m = request->message;
    message.sender = m.sender;
    message.encoding = m.encoding;
    message.smtputf8 = m.smtputf8;
    message.envid = m.envid;
    message.ret = m.ret;
    message.body = m.body;
    for (std::size_t i : recipients) message.recipients.push_back(m.recipients[i]);
    reported.assign(recipients.size(), false);
  }
};

struct Scheduler::Destination {
  std::string key;
  dns::Nexthop hop;
  std::shared_ptr<const ResolveAnswer> answer;  // the latest lookup; null before the first
  bool resolving = false;
  bool answer_fresh = false;  // not yet used by a dispatch
  std::deque<std::unique_ptr<Job>> pending;
  std::size_t active = 0;  // connections connecting or carrying a job
  double window = 1;
  // Postfix's pseudo-cohorts: each failure adds 1/window (the window before it shrinks); any
  // delivery resets it; at destination_concurrency_failed_cohort_limit the destination is dead.
  double failed_cohorts = 0;
  Clock::time_point dead_until{};
  std::string last_failure_dsn = "4.4.1", last_failure_text;
};

struct Scheduler::Slot {
  std::unique_ptr<SmtpConnection> connection;
  Destination* destination = nullptr;
  std::unique_ptr<Job> job;
  std::size_t address_index = 0;
  bool active = false;  // counted in destination->active
  bool idle = false;    // in the cache
  bool fresh = true;    // the current job opened this connection
  cache::EndpointKey endpoint;
  tls::PeerNames names;  // what the current job checks the server's certificate against
  // How a reused TLS connection fares under the current job's policy ("Verified", ...); empty
  // for a fresh connection, whose own handshake says it.
  std::string reused_trust;
  Timer idle_timer;
};

std::size_t Scheduler::next_address(const ResolveAnswer& plan, std::size_t index,
                                    std::size_t site_sessions) const {
  // As Postfix walks its next hops: the following address of the same site until the site has
  // had smtp_mx_session_limit sessions, then the first address of the next site.
  std::size_t next = index + 1;
  if (index < plan.addresses.size() && settings_.mx_session_limit > 0 &&
      site_sessions >= settings_.mx_session_limit) {
    unsigned site = plan.addresses[index].site;
    while (next < plan.addresses.size() && plan.addresses[next].site == site) ++next;
  }
  return next;
}

Scheduler::Scheduler(Ring& ring, Timers& timers, const EngineSettings& settings, Resolver& resolver,
                     ResultSink& sink)
    : ring_(ring),
      timers_(timers),
      settings_(settings),
      resolver_(resolver),
      sink_(sink),
      tls_sessions_(settings.tls.session_cache_timeout, settings.tls.session_cache_limit) {
  if (settings.tls.any_tls()) refresh_tls_context();
}

Scheduler::~Scheduler() = default;

const ProtocolSettings& Scheduler::protocol(const Destination& d) const {
  return d.hop.protocol == dns::Protocol::lmtp ? settings_.lmtp : settings_.smtp;
}

cache::EndpointKey Scheduler::endpoint_of(const Destination& d, const ServerAddress& server) const {
  const ProtocolSettings& p = protocol(d);
  // TLS is checked when a connection is taken (serves()); SASL is not in the engine yet.
  return cache::EndpointKey{server.address, server.port,
                            server.family() == AF_INET6
                                ? (p.connect.source6 ? p.connect.source6->address : std::string())
                                : (p.connect.source ? p.connect.source->address : std::string()),
                            p.session.helo_name, ""};
}

const tls::Policy& Scheduler::tls_policy(const Destination& d) const {
  return settings_.tls.policy_for(d.hop);
}

tls::PeerNames Scheduler::peer_names(const Destination& d, const ServerAddress& server) const {
  return tls::PeerNames{d.hop.host, server.hostname.empty() ? d.hop.host : server.hostname};
}

bool Scheduler::serves(const Slot& slot, const Destination& d, const tls::PeerNames& names) const {
  return tls::serves(slot.connection->established(), tls_policy(d), names);
}

bool Scheduler::tls_broken(const ServerAddress& server) {
  auto it = tls_broken_peers_.find(server.address_port());
  if (it == tls_broken_peers_.end()) return false;
  if (Clock::now() < it->second) return true;
  tls_broken_peers_.erase(it);
  return false;
}

void Scheduler::remember_tls_broken(const SmtpConnection& c) {
  if (settings_.tls.broken_peer_time.count() <= 0) return;
  tls_broken_peers_[c.server().address_port()] = Clock::now() + settings_.tls.broken_peer_time;
  if (log_notice) {
    log_notice("TLS handshake with " + c.server().name_address_port() + " failed (" +
               c.close_reason() + "): retrying in plaintext; remembering the server as broken " +
               "for " + std::to_string(settings_.tls.broken_peer_time.count()) + "s");
  }
}

void Scheduler::refresh_tls_context() {
  if (tls_context_ && tls_context_settings_ == settings_.tls.context) return;
  try {
    // Loading the CAs (the system bundle: ~140 certificates) takes milliseconds: once per shard
    // at start, and again only when a reload changes the files.
    tls_context_ = std::make_unique<tls::Context>(tls::Role::client, settings_.tls.context);
    tls_context_settings_ = settings_.tls.context;
  } catch (const tls::ContextError& e) {
    // Checked at start; a file broken since a reload leaves TLS unavailable, loudly.
    if (log_notice) log_notice("warning: TLS is unavailable: " + std::string(e.what()));
    tls_context_.reset();
  }
}

TlsPlan Scheduler::tls_plan(const Destination& d, const ServerAddress& server, bool plaintext) {
  TlsPlan plan;
  plan.policy = tls_policy(d);
  if (!plan.policy.uses_tls()) return plan;
  refresh_tls_context();
  plan.context = tls_context_.get();
  plan.sessions = &tls_sessions_;
  plan.names = peer_names(d, server);
  plan.digest = settings_.tls.fingerprint_digest;
  plan.plaintext = !plan.policy.mandatory() && (plaintext || tls_broken(server));
  return plan;
}

std::size_t Scheduler::concurrency_limit(const Destination& d) const {
  auto it = settings_.concurrency_overrides.find(d.key);
  return it != settings_.concurrency_overrides.end() ? it->second : protocol(d).concurrency_limit;
}

void Scheduler::debug(const ServerAddress& peer, const std::string& text) const {
  if (!log_notice || settings_.debug_peers.empty()) return;
  for (const std::string& pattern : settings_.debug_peers) {
    // An address, a host name, or a domain whose subdomains match too (Postfix's default).
    std::string bare = pattern.starts_with(".") ? pattern.substr(1) : pattern;
    bool match = pattern == peer.address || bare == peer.hostname ||
                 (peer.hostname.size() > bare.size() && peer.hostname.ends_with("." + bare));
    if (match) {
      log_notice("debug: " + peer.name_address_port() + ": " + text);
      return;
    }
  }
}

Scheduler::Destination& Scheduler::destination(const dns::Nexthop& hop) {
  std::string key = hop.key();
  auto& slot = destinations_[key];
  if (!slot) {
    slot = std::make_unique<Destination>();
    slot->key = key;
    slot->hop = hop;
    slot->window = static_cast<double>(protocol(*slot).initial_concurrency);
  }
  return *slot;
}

void Scheduler::submit(const RequestPointer& request, const dns::Nexthop& hop,
                       const std::vector<std::size_t>& recipients) {
  Destination& d = destination(hop);
  std::size_t limit = std::max<std::size_t>(1, protocol(d).recipient_limit);
  for (std::size_t start = 0; start < recipients.size(); start += limit) {
    std::size_t end = std::min(recipients.size(), start + limit);
    d.pending.push_back(std::make_unique<Job>(
        request, std::vector<std::size_t>(recipients.begin() + static_cast<long>(start),
                                          recipients.begin() + static_cast<long>(end))));
  }
  dispatch(d);
}

void Scheduler::dispatch(Destination& d) {
  Clock::time_point now = Clock::now();
  if (shutting_down_) {
    while (!d.pending.empty()) {
      fail_job(*d.pending.front(), "4.3.2", "delivery interrupted: ringrelay is shutting down",
               false);
      d.pending.pop_front();
    }
    return;
  }
  if (d.dead_until != Clock::time_point{}) {
    if (now < d.dead_until) {
      // A throttled destination: defer at once, with the reason, as Postfix's qmgr does.
      while (!d.pending.empty()) {
        fail_job(*d.pending.front(), d.last_failure_dsn,
                 "delivery temporarily suspended: " + d.last_failure_text, false);
        d.pending.pop_front();
      }
      return;
    }
    d.dead_until = {};
    d.failed_cohorts = 0;
    // Back from the dead, as Postfix: the connections still busy, or the initial concurrency.
    d.window = static_cast<double>(d.active > 0 ? d.active : protocol(d).initial_concurrency);
    d.answer.reset();
  }
  if (d.pending.empty()) return;
  // An answer is used at least by the dispatch its lookup triggers, even one with a zero TTL.
  if (!d.answer || (now >= d.answer->expires && !d.answer_fresh)) {
    // Look up (again); the lookup may finish at once (cache, literal) or later (DNS), and then
    // it dispatches this destination itself.
    if (!d.resolving) {
      d.resolving = true;
      auto returned = std::make_shared<bool>(false);
      resolver_.resolve(d.hop, [this, &d, returned](ResolveAnswer answer) {
        d.resolving = false;
        d.answer = std::make_shared<const ResolveAnswer>(std::move(answer));
        d.answer_fresh = true;
        if (*returned) dispatch(d);
      });
      *returned = true;
    }
    if (d.resolving) return;
  }
  d.answer_fresh = false;
  const ResolveAnswer& answer = *d.answer;
  if (answer.addresses.empty()) {
    // Failed lookups are remembered until the answer expires (dns_negative_cache_time).
    while (!d.pending.empty()) {
      fail_job(*d.pending.front(), answer.dsn, answer.text, answer.hard_failure);
      d.pending.pop_front();
    }
    return;
  }
  std::size_t window = std::max<std::size_t>(
      1, std::min(concurrency_limit(d), static_cast<std::size_t>(std::floor(d.window))));
  while (!d.pending.empty()) {
    Job& next = *d.pending.front();
    if (!next.fresh_connection) {
      // A cached connection of this next hop, or to this very server under another next hop.
      // Either way, only a connection whose TLS satisfies this destination's policy.
      // The names come from this destination's own lookup: by endpoint, a connection opened
      // under another name must satisfy this one.
      auto take_if_served = [this, &d](Slot* s, const tls::PeerNames& names) {
        if (!serves(*s, d, names)) return false;
        s->names = names;
        return true;
      };
      std::optional<Slot*> cached = cache_.take_by_nexthop(d.key, [&](Slot* s) {
        return take_if_served(s, peer_names(d, s->connection->server()));
      });
      if (!cached) {
        tls::PeerNames names = peer_names(d, answer.addresses.front());
        cached = cache_.take_by_endpoint(endpoint_of(d, answer.addresses.front()),
                                         [&](Slot* s) { return take_if_served(s, names); });
      }
      if (cached) {
        Slot* slot = *cached;
        if (slot->destination != &d) {
          slot->destination = &d;
          slot->address_index = 0;
        }
        auto job = std::move(d.pending.front());
        d.pending.pop_front();
        start_job(d, std::move(job), slot);
        continue;
      }
    }
    if (d.active >= window || slots_.size() >= settings_.shard_session_limit) break;
    auto job = std::move(d.pending.front());
    d.pending.pop_front();
    start_job(d, std::move(job), nullptr);
  }
}

void Scheduler::start_job(Destination& d, std::unique_ptr<Job> job, Slot* reuse) {
  if (job->started_at == Clock::time_point{}) job->started_at = Clock::now();
  if (!job->plan) job->plan = d.answer;
  const ResolveAnswer& plan = *job->plan;
  std::size_t addresses = plan.addresses.size();
  Slot* slot = reuse;
  bool fresh = reuse == nullptr;
  if (fresh) {
    auto owned = std::make_unique<Slot>();
    owned->destination = &d;
    owned->address_index = std::min(job->address_index, addresses - 1);
    const ServerAddress& server = plan.addresses[owned->address_index];
    owned->connection =
        std::make_unique<SmtpConnection>(ring_, timers_, *this, server, protocol(d).session,
                                         protocol(d).connect, tls_plan(d, server, job->plaintext));
    owned->endpoint = endpoint_of(d, server);
    owned->names = peer_names(d, server);
    slot = owned.get();
    slots_[slot->connection.get()] = std::move(owned);
    ++stats_.connections_opened;
    if (debugging())
      debug(slot->connection->server(), "connecting for " + d.key + " (window " +
                                            std::to_string(static_cast<int>(d.window)) +
                                            ", active " + std::to_string(d.active) + ")");
  } else {
    cache_.remove(slot);
    slot->idle = false;
    slot->idle_timer.cancel();
    ++stats_.connections_reused;
    // Judged once per job, not per recipient: the connection may have been opened under
    // another next hop's policy.
    const SmtpConnection& c = *slot->connection;
    slot->reused_trust =
        c.established().tls
            ? std::string(tls::trust_word(
                  tls::judge(tls_policy(d), c.established().certificate, slot->names).trust))
            : std::string();
    if (debugging())
      debug(slot->connection->server(), "reusing the connection for " + d.key + " (transaction " +
                                            std::to_string(slot->connection->reuse_count() + 1) +
                                            ")");
  }
  slot->fresh = fresh;
  slot->active = true;
  ++d.active;
  // A cached connection may serve a next hop whose plan does not list its address: then it is
  // the only server tried for this job.
  bool listed = !fresh && slot->address_index < addresses &&
                plan.addresses[slot->address_index].address == slot->connection->server().address;
  bool final_server = (!fresh && !listed) ||
                      next_address(plan, slot->address_index, job->sessions + 1) >= addresses;
  slot->job = std::move(job);
  SmtpConnection& connection = *slot->connection;
  connection.deliver(slot->job->message, final_server);
  if (fresh) connection.start();
}

void Scheduler::report(Job& job, std::size_t job_recipient, const proto::RecipientResult& result,
                       const Slot* slot) {
  if (job.reported[job_recipient]) return;
  job.reported[job_recipient] = true;
  Clock::time_point now = Clock::now();
  DeliveryRequest& request = *job.request;
  ResultRecord record;
  record.request = job.request;
  record.recipient = job.recipients[job_recipient];
  record.result = result;
  record.delays[0] = request.queued_seconds;
  record.delays[1] = seconds_between(request.received, job.started_at);
  if (slot != nullptr) {
    const SmtpConnection& c = *slot->connection;
    if (result.stage != proto::Stage::connect) record.relay = c.server().name_address_port();
    Clock::time_point setup_done =
        c.handshake_done_at() != Clock::time_point{} ? c.handshake_done_at() : now;
    record.delays[2] = slot->fresh ? seconds_between(c.created(), setup_done) : 0;
    record.delays[3] = seconds_between(std::max(job.started_at, setup_done), now);
    record.connection_use = result.connection_use;
    record.tls = c.tls_outcome();
    if (!slot->fresh && !slot->reused_trust.empty()) record.tls.trust = slot->reused_trust;
  }
  record.delay = request.queued_seconds + seconds_between(request.received, now);
  sink_.report(std::move(record));
}

void Scheduler::fail_job(Job& job, const std::string& dsn, const std::string& text, bool hard) {
  for (std::size_t i = 0; i < job.recipients.size(); ++i) {
    proto::RecipientResult r;
    r.recipient = i;
    r.status = hard ? proto::DeliveryStatus::bounced : proto::DeliveryStatus::deferred;
    r.dsn = dsn.empty() ? (hard ? "5.0.0" : "4.0.0") : dsn;
    r.text = text;
    r.stage = proto::Stage::connect;
    report(job, i, r, nullptr);
  }
}

void Scheduler::on_result(SmtpConnection& c, const proto::RecipientResult& result) {
  Slot& slot = *slots_.at(&c);
  if (!slot.job) return;
  if (result.status == proto::DeliveryStatus::try_next_server) {
    slot.job->retry.push_back(result.recipient);
    return;
  }
  if (result.status == proto::DeliveryStatus::deferred) {
    slot.destination->last_failure_dsn = result.dsn;
    slot.destination->last_failure_text = result.text;
  }
  report(*slot.job, result.recipient, result, &slot);
}

void Scheduler::on_transaction_done(SmtpConnection& c, const proto::TransactionDone& done) {
  Slot& slot = *slots_.at(&c);
  Destination& d = *slot.destination;
  std::unique_ptr<Job> job = std::move(slot.job);
  feedback(d, done);
  if (!job) return;
  if (c.connected_at() != Clock::time_point{}) ++job->sessions;
  if (!job->retry.empty()) {
    // Recipients another server may take: the next address, on a connection of its own.
    std::vector<std::size_t> indices;
    for (std::size_t i : job->retry) indices.push_back(job->recipients[i]);
    auto next = std::make_unique<Job>(job->request, std::move(indices));
    next->plan = job->plan;
    if (c.tls_failed_opportunistically()) {
      // "may" whose handshake failed: this very server again, in plaintext, once.
      remember_tls_broken(c);
      next->address_index = slot.address_index;
      next->sessions = job->sessions;
      next->plaintext = true;
    } else {
      next->address_index = next_address(*job->plan, slot.address_index, job->sessions);
      bool same_site = next->address_index < job->plan->addresses.size() &&
                       job->plan->addresses[next->address_index].site ==
                           job->plan->addresses[slot.address_index].site;
      next->sessions = same_site ? job->sessions : 0;
    }
    next->fresh_connection = true;
    next->started_at = job->started_at;
    d.pending.push_front(std::move(next));
  }
}

void Scheduler::feedback(Destination& d, const proto::TransactionDone& done) {
  auto step = [&](const Feedback& f) {
    return f.per_concurrency ? 1.0 / std::max(1.0, d.window) : f.amount;
  };
  double limit = static_cast<double>(concurrency_limit(d));
  if (done.delivered_any) {
    d.failed_cohorts = 0;
    // Grow only while the window is within the initial concurrency of what is really busy, as
    // Postfix does: a window far above the actual concurrency would make negative feedback blunt.
    double busy_margin = static_cast<double>(d.active + protocol(d).initial_concurrency);
    if (d.window < limit && d.window < busy_margin) {
      d.window = std::min(limit, d.window + step(settings_.positive_feedback));
    }
    return;
  }
  if (!done.throttle) return;
  if (d.dead_until != Clock::time_point{}) return;  // already dead: the other sessions' news
  d.failed_cohorts += 1.0 / std::max(1.0, d.window);
  if (settings_.failed_cohort_limit > 0 &&
      d.failed_cohorts >= static_cast<double>(settings_.failed_cohort_limit)) {
    d.dead_until = Clock::now() + settings_.dead_destination_time;
    if (log_notice) {
      log_notice("destination " + d.key + " throttled for " +
                 std::to_string(settings_.dead_destination_time.count()) +
                 "s after failed cohorts: " + d.last_failure_text);
    }
    return;
  }
  d.window = std::max(1.0, d.window - step(settings_.negative_feedback));
}

void Scheduler::on_notice(SmtpConnection&, const std::string& text) {
  if (log_notice) log_notice(text);
}

bool Scheduler::cacheable(const Destination& d) const {
  if (settings_.cache_on_demand) return true;
  return std::find(settings_.cache_destinations.begin(), settings_.cache_destinations.end(),
                   d.key) != settings_.cache_destinations.end();
}

void Scheduler::on_idle(SmtpConnection& c) {
  Slot& slot = *slots_.at(&c);
  Destination& d = *slot.destination;
  if (slot.active) {
    slot.active = false;
    --d.active;
  }
  if (shutting_down_) {
    c.quit();
    return;
  }
  if (!d.pending.empty() && !d.pending.front()->fresh_connection && d.answer &&
      d.dead_until == Clock::time_point{} && serves(slot, d, slot.names)) {
    auto job = std::move(d.pending.front());
    d.pending.pop_front();
    start_job(d, std::move(job), &slot);  // reuse at once: no RSET, the session is known clean
    dispatch(d);  // a standing backlog uses the whole window, not only the connections it has
    return;
  }
  park(slot);
  dispatch(d);
}

void Scheduler::park(Slot& slot) {
  Destination& d = *slot.destination;
  SmtpConnection& c = *slot.connection;
  bool too_old = Clock::now() - c.created() >= settings_.reuse_time_limit;
  bool used_up = settings_.reuse_count_limit > 0 && c.reuse_count() >= settings_.reuse_count_limit;
  if (!cacheable(d) || too_old || used_up) {
    c.quit();
    return;
  }
  slot.idle = true;
  cache_.put(&slot, d.key, slot.endpoint);
  if (debugging())
    debug(c.server(), "cached for " + d.key + ", idle for at most " +
                          std::to_string(settings_.cache_time_limit.count()) + "s");
  Slot* parked = &slot;
  slot.idle_timer.arm(timers_, settings_.cache_time_limit, [this, parked] {
    cache_.remove(parked);
    parked->idle = false;
    parked->connection->quit();
  });
}

void Scheduler::on_closed(SmtpConnection& c) {
  auto it = slots_.find(&c);
  if (it == slots_.end()) return;
  Slot& slot = *it->second;
  Destination& d = *slot.destination;
  if (debugging()) debug(c.server(), "closed: " + c.close_reason());
  slot.idle_timer.cancel();
  if (slot.idle) {
    cache_.remove(&slot);
    slot.idle = false;
  }
  if (slot.active) {
    slot.active = false;
    --d.active;
  }
  if (slot.job) {
    // The session always ends a transaction before closing; this is a safety net only.
    fail_job(*slot.job, "4.4.2", "connection closed: " + c.close_reason(), false);
    slot.job.reset();
  }
  graveyard_.push_back(std::move(it->second));
  slots_.erase(it);
  dispatch(d);
}

void Scheduler::collect_garbage() {
  graveyard_.clear();
}

void Scheduler::shutdown(std::chrono::seconds grace) {
  shutting_down_ = true;
  for (auto& [key, d] : destinations_) dispatch(*d);
  std::vector<SmtpConnection*> idle, busy;
  for (auto& [connection, slot] : slots_) (slot->active ? busy : idle).push_back(connection);
  for (SmtpConnection* c : idle) c->quit();
  if (busy.empty()) return;
  shutdown_timer_.arm(timers_, grace, [this] {
    std::vector<SmtpConnection*> still;
    for (auto& [connection, slot] : slots_) still.push_back(connection);
    for (SmtpConnection* c : still) c->cut_off("ringrelay is shutting down");
  });
}

bool Scheduler::quiet() const {
  if (!slots_.empty()) return false;
  return std::all_of(destinations_.begin(), destinations_.end(),
                     [](const auto& d) { return d.second->pending.empty(); });
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats s = stats_;
  for (const auto& [key, d] : destinations_) {
    s.active_connections += d->active;
    s.pending_jobs += d->pending.size();
  }
  s.idle_connections = cache_.size();
  s.tls_broken_peers = tls_broken_peers_.size();
  return s;
}

}  // namespace ringrelay::engine
