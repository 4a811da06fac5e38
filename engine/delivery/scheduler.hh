// The per-shard delivery core, wiring Postfix-shaped parts: next hops (destinations) resolve into
// MX sites; a site has one queue, one concurrency window with Postfix's feedback (site_window), one
// dead-site throttle and one set of cached connections; jobs carry recipient batches over
// connections opened by the connector, kept or closed by the reuse policy, with TLS from the TLS
// planner; results go out through delivery_results. Its I/O (Network), clock (Timers), DNS
// (Resolver) and results (ResultSink) are parameters, so the simulator drives it without sockets.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/idle_connections.hh"
#include "dns/nexthop.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/connection.hh"
#include "engine/delivery/connector.hh"
#include "engine/delivery/delivery_results.hh"
#include "engine/delivery/holds.hh"
#include "engine/delivery/sasl_planner.hh"
#include "engine/delivery/shard_resolver.hh"
#include "engine/delivery/site_pace.hh"
#include "engine/delivery/site_window.hh"
#include "engine/delivery/tls_planner.hh"
#include "engine/feed/delivery_request.hh"

namespace ringrelay::engine {

struct ShardMetrics;

// The sizes of the core's tables, for bounds checks and tests.
struct SchedulerTables {
  std::size_t destinations = 0;
  std::size_t sites = 0;
  std::size_t connections = 0;  // busy and idle
  std::size_t idle_connections = 0;
  std::size_t queued_jobs = 0;
  std::size_t tls_broken_peers = 0;
};

// One site as an operator inspects it.
struct SiteState {
  std::string name;
  std::string source;      // the egress source of this (site, source) pair; empty: no pool
  std::size_t window = 0;  // connections allowed now (window, ceiling and backoff cap)
  std::size_t active = 0, connections = 0, queued = 0;
  std::size_t held = 0;  // jobs kept back by an operator's hold (ctl suspend)
  std::size_t backoff_step = 0;
  double message_rate = 0;     // per second in force (configured or backoff); 0: none
  double connection_rate = 0;  // new connections per second configured; 0: none
  bool dead = false, suspended = false;
  std::string last_rule;  // the last reply rule that changed it
};

// Where this scheduler sits among the shards: it owns the sites that hash to `index`.
struct ShardPlace {
  std::size_t index = 0;
  std::size_t count = 1;
};

class Scheduler : public ConnectionListener {
 public:
  Scheduler(Network& network, Timers& timers, const EngineSettings& settings, Resolver& resolver,
            ResultSink& sink, ShardPlace place = {});
  ~Scheduler() override;

  // Queues `recipients` (indices) of `request` for `hop`. `owned`: another shard handed it over
  // because its site is this shard's; it is delivered here whatever this shard's lookup says,
  // starting from that shard's `answer` (no second lookup while it is fresh).
  void submit(const RequestPointer& request, const dns::Nexthop& hop,
              const std::vector<std::size_t>& recipients, bool owned = false,
              std::shared_ptr<const ResolveAnswer> answer = nullptr);
  // Stops: pending work is deferred, idle connections QUIT, busy ones get `grace` to finish.
  void shutdown(std::chrono::seconds grace);
  bool quiet() const;  // nothing pending, nothing in flight
  SchedulerTables tables() const;
  std::vector<SiteState> site_states() const;
  // The operator's holds (ctl suspend/resume), the same snapshot on every shard: queued jobs they
  // match are kept back without a connection (or deferred, for a hold that says so); jobs no
  // longer held go back to their destinations and are delivered.
  void set_holds(HoldSetPointer holds);
  // ctl bounce/defer: every job queued or held for the site `name` (a site's name, or "SITE via
  // SOURCE" for one pair) gets its result now. Returns how many recipients.
  std::size_t flush_site(std::string_view name, bool bounce, const std::string& reason);
  // Frees connections that closed since the last call (never inside their own callbacks).
  void collect_garbage();

  // ConnectionListener
  void on_result(Connection& c, const proto::RecipientResult& result) override;
  void on_transaction_done(Connection& c, const proto::TransactionDone& done) override;
  void on_notice(Connection& c, const std::string& text) override;
  void on_idle(Connection& c) override;
  void on_closed(Connection& c) override;

  // Logs a notice (connection events, conversions, throttling); set by the shard.
  std::function<void(const std::string&)> log_notice;
  // A connection's notice (TLS established, a header rule, a conversion): the message's id when a
  // message is on it ("" otherwise) and the peer, for a log that keeps them apart (JSON). Unset:
  // log_notice with "ID: " before the text.
  std::function<void(const std::string& id, const std::string& peer, const std::string& text)>
      log_connection_notice;
  // This shard's counters for the metrics (metrics_listen); null: not counted.
  ShardMetrics* metrics = nullptr;
  // Work whose site another shard owns: hand it to shard `owner` (set when there are shards).
  std::function<void(std::size_t owner, const RequestPointer& request, const dns::Nexthop& hop,
                     std::vector<std::size_t> recipients,
                     std::shared_ptr<const ResolveAnswer> answer)>
      hand_over;

  // Destinations and sites with no work, no connection and no lookup are freed after this long
  // (Postfix frees an empty queue at once; a short wait keeps a busy site's window and learnt
  // limits between bursts). The sweep runs at a tenth of it.
  static constexpr std::chrono::seconds kIdleTableTime{60};
  static constexpr const char* kShutdownText = "delivery interrupted: ringrelay is shutting down";
  // A job turned away by a new connection of a site that delivers goes back to the site's queue
  // at most this many times, and only when the site delivered within the window.
  static constexpr std::size_t kRequeueLimit = 3;
  static constexpr std::chrono::seconds kRequeueWindow{10};
  // How long a site stays capped at the connections its server took when it turned one away.
  static constexpr std::chrono::seconds kCeilingTime{60};

 private:
  struct Job;
  struct Destination;
  struct Site;
  struct Slot;

  Destination& destination(const dns::Nexthop& hop);
  // The site `base` (its MX hosts) as reached from `source` (an egress source; "" for none).
  Site& site(const std::string& base, const std::string& source, const dns::Nexthop& hop);
  // The (site, source) a job of `d` goes to: the site itself when the job's request has no pool,
  // else a source of the pool by smooth weighted round robin among the sources that are not
  // failing to bind, not dead or suspended at this site, and reach an address of its servers.
  // Null when the pool has no source it can use: the job was given its result.
  Site* site_for_job(Destination& d, const std::string& base, Job& job);
  // The egress pool a job leaves from: its request's, else default_egress_pool ("" for none).
  const std::string& pool_of(const Job& job) const;
  // A site whose source is unusable now (its address cannot be bound, or a reload removed it):
  // its queued jobs go back to their destinations to choose again.
  bool return_to_destinations(Site& s, Clock::time_point now);
  // The job's plan as the source can use it: only the addresses of the families it binds.
  std::shared_ptr<const ResolveAnswer> plan_for(Destination& d, const EgressSource& source);
  // A connection of `s` could not bind its source's address: the source is not used again for
  // egress_source_retry_time (on this shard), and the site's queue chooses again.
  void source_unbindable(Site& s, const std::string& why);
  // The recipients of `job` to retry, back to their destination to choose a source again.
  void retry_elsewhere(Job& job);
  // The operator's hold that applies to `job` queued at `s`, or null (holds.hh).
  const Hold* hold_for(const Job& job, const Site& s) const;
  // Keeps `job`, taken from the queue of `s`, back (or defers it) under `hold`; under a source's
  // hold, a job whose pool has another source it can use goes back to its destination instead,
  // returned for the caller to dispatch once it is done with its loop.
  Destination* hold_job(Site& s, std::unique_ptr<Job> job, const Hold& hold);
  // Whether an operator's hold keeps the (site `base`, `source`) pair out of use.
  bool source_held(const std::string& base, const std::string& source) const;
  // Whether the job's pool has a source besides the one of `s` that it can leave from now: it
  // reaches the servers' address family, binds, and no hold keeps it out (site_for_job agrees).
  bool another_source(const Job& job, const Site& s) const;
  void dispatch(Destination& d);  // resolve, then move its jobs to its site (or another shard)
  void dispatch(Site& s);         // start jobs within the site's window
  Job* next_job(Site& s);         // the first queued job whose destination is under its own limit
  void start_job(Site& s, std::unique_ptr<Job> job, Slot* reuse);
  // A waiting spool body is read when its job is about to go on a connection; false: it could not
  // be read, and the job (first in the site's queue) was taken out and its recipients deferred.
  bool read_body(Site& s, Job& job);
  // Starts the site's first queued job (next_job put it there); false when its body could not be
  // read (the job was deferred, `reuse` was left alone).
  bool start_next(Site& s, Slot* reuse);
  // Whether a connection may carry `job`: it logs in as the job would (or neither logs in), and
  // its TLS satisfies the job's next hop's policy checked against `names`; if so, the slot keeps
  // the names for the job it is about to carry.
  bool serves(Slot& slot, const Job& job, tls::PeerNames names);
  // The server as the job's own lookup listed it (with its DNSSEC facts), or null.
  const ServerAddress* resolved_as(const Job& job, const ServerAddress& server) const;
  void fail_job(Job& job, const std::string& dsn, const std::string& text, bool hard);
  void fail_all(std::deque<std::unique_ptr<Job>>& jobs, const std::string& dsn,
                const std::string& text, bool hard);
  void report(Job& job, std::size_t job_recipient, const proto::RecipientResult& result,
              const Slot* slot);
  void feedback(Site& s, const proto::TransactionDone& done);
  bool requeue_allowed(const Slot& slot, const proto::RecipientResult& result) const;
  void cap_at_the_server_limit(Site& s);
  std::size_t allowed_connections(const Site& s, const WindowSettings& ws) const;
  // The site's pace (rate delay, rates, backoff step): whether a delivery may start now, and
  // whether a new connection may open now; if not, the site's pace timer dispatches it when it may.
  bool may_start(Site& s, Clock::time_point now);
  bool may_connect(Site& s, Clock::time_point now);
  void wake_at(Site& s, Clock::time_point at);
  void delivery_ended(Site& s, Clock::time_point now);  // a connection stopped carrying a job
  PaceSettings pace_settings(const Site& s) const;      // the protocol's, with the site's rates
  // The rule a refusal from a server of `s` matches: the site's own (reply_rule_maps) first,
  // then reply_rules.
  std::optional<ReplyAction> reply_action(const Site& s, std::string_view reply) const;
  // reply_rules: a refusal on `slot` matched a rule; its actions on the site and the connection.
  void apply_rule(Slot& slot, const ReplyAction& action, const proto::RecipientResult& result);
  void arm_recovery(Site& s);  // the backoff climbs back a step when its quiet time has passed
  std::string pace_summary(const Site& s) const;  // "at most 5 connections, 150/min", for the log
  void learn_message_limit(Site& s, const Connection& c);
  void learn_recipient_limit(Site& s, const Connection& c);
  void park(Slot& slot);
  WindowSettings window_settings(const Site& s) const;
  std::size_t destination_limit(const Destination& d) const;  // 0: none of its own
  // A domain's own rates inside its site: smtp_destination_rate_maps naming the destination
  // (its key) when that is not the site's own name. Null: none.
  const EngineSettings::Rates* domain_rates(const Destination& d) const;
  void sweep();  // frees idle destinations and sites, forgets expired broken TLS peers
  void arm_sweep();
  void count_setup(Slot& slot);  // once per connection, when it is ready or has ended
  // Connection and cache events for peers in debug_peer_list. Callers check debugging() first, so
  // the text is not even built on the per-message path when nobody is being debugged.
  bool debugging() const { return log_notice && !settings_.debug_peers.empty(); }
  void debug(const ServerAddress& peer, const std::string& text) const;

  Timers& timers_;
  const EngineSettings& settings_;
  Resolver& resolver_;
  ResultSink& sink_;
  ShardPlace place_;
  TlsPlanner tls_;
  SaslPlanner sasl_;
  Connector connector_;
  std::unordered_map<std::string, std::unique_ptr<Destination>> destinations_;
  std::unordered_map<std::string, std::unique_ptr<Site>> sites_;
  std::unordered_map<Connection*, std::unique_ptr<Slot>> slots_;
  cache::IdleConnections<Slot*> cache_;  // this shard's idle connections, by site and endpoint
  std::vector<std::unique_ptr<Slot>> graveyard_;
  // Egress sources whose address could not be bound, until they may be tried again (at most one
  // entry per configured source); with why, for the results.
  struct Unbindable {
    Clock::time_point until;
    std::string why;
  };
  std::unordered_map<std::string, Unbindable> unbindable_sources_;
  HoldSetPointer holds_;                     // null or empty: nothing is held
  std::deque<std::unique_ptr<Job>> parked_;  // jobs kept back by a hold, each still at its site
  bool shutting_down_ = false;
  Timer shutdown_timer_;
  Timer sweep_timer_;
};

}  // namespace ringrelay::engine
