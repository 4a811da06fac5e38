// The per-shard, per-destination scheduler, with Postfix's qmgr semantics: a queue per next hop,
// a concurrency window that grows with success and shrinks with trouble, recipient batches of at
// most the recipient limit, dead (throttled) destinations whose new work is deferred at once, the
// next server for recipients that may do better elsewhere, and the connection cache.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cache/idle_connections.hh"
#include "dns/nexthop.hh"
#include "engine/delivery_request.hh"
#include "engine/engine_settings.hh"
#include "engine/resolver.hh"
#include "engine/smtp_connection.hh"
#include "tls/context.hh"
#include "tls/session_store.hh"

namespace ringrelay::engine {

// A final result for one recipient, with what the log and the queue manager need.
struct ResultRecord {
  RequestPointer request;
  std::size_t recipient = 0;  // index into request->message.recipients
  proto::RecipientResult result;
  std::string relay = "none";        // "host[address]:port"
  double delay = 0;                  // seconds since the queue manager queued it
  double delays[4] = {0, 0, 0, 0};   // before us / in our queue / connection set-up / transmission
  std::size_t connection_use = 0;    // Postfix's conn_use: 1 for a new connection
  TlsOutcome tls;                    // protocol, cipher, verification (empty: plaintext)
  const char* stage_text = nullptr;  // instead of result.stage's name ("restart": see feed_server)
};

// Where final results go. It runs on the shard that owns the request (the feed's shard): the
// request's counters are touched there only, even when its recipients went to several shards.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual void report(ResultRecord record) = 0;
};

struct SchedulerStats {
  std::size_t connections_opened = 0;
  std::size_t connections_reused = 0;  // transactions started on an already used connection
  std::size_t tls_broken_peers = 0;    // servers currently getting plaintext after a failed "may"
  std::size_t active_connections = 0;
  std::size_t idle_connections = 0;
  std::size_t pending_jobs = 0;
};

class Scheduler : public ConnectionListener {
 public:
  Scheduler(Ring& ring, Timers& timers, const EngineSettings& settings, Resolver& resolver,
            ResultSink& sink);
  ~Scheduler() override;

  // Queues `recipients` (indices) of `request` for `hop`.
  void submit(const RequestPointer& request, const dns::Nexthop& hop,
              const std::vector<std::size_t>& recipients);
  // Stops: pending work is deferred, idle connections QUIT, busy ones get `grace` to finish.
  void shutdown(std::chrono::seconds grace);
  bool quiet() const;  // nothing pending, nothing in flight
  SchedulerStats stats() const;
  // Frees connections that closed since the last call (never inside their own callbacks).
  void collect_garbage();

  // ConnectionListener
  void on_result(SmtpConnection& c, const proto::RecipientResult& result) override;
  void on_transaction_done(SmtpConnection& c, const proto::TransactionDone& done) override;
  void on_notice(SmtpConnection& c, const std::string& text) override;
  void on_idle(SmtpConnection& c) override;
  void on_closed(SmtpConnection& c) override;

  // Logs a notice (connection events, conversions); set by the shard.
  std::function<void(const std::string&)> log_notice;

 private:
  struct Job;
  struct Destination;
  struct Slot;

  Destination& destination(const dns::Nexthop& hop);
  void dispatch(Destination& d);
  void start_job(Destination& d, std::unique_ptr<Job> job, Slot* reuse);
  void fail_job(Job& job, const std::string& dsn, const std::string& text, bool hard);
  void report(Job& job, std::size_t job_recipient, const proto::RecipientResult& result,
              const Slot* slot);
  void feedback(Destination& d, const proto::TransactionDone& done);
  void park(Slot& slot);
  // What makes two connections interchangeable (cache/endpoint_key.hh).
  cache::EndpointKey endpoint_of(const Destination& d, const ServerAddress& server) const;
  const ProtocolSettings& protocol(const Destination& d) const;
  std::size_t next_address(const ResolveAnswer& plan, std::size_t index,
                           std::size_t site_sessions) const;
  std::size_t concurrency_limit(const Destination& d) const;
  // Connection and cache events for peers in debug_peer_list. Callers check debugging() first, so
  // the text is not even built on the per-message path when nobody is being debugged.
  bool debugging() const { return log_notice && !settings_.debug_peers.empty(); }
  void debug(const ServerAddress& peer, const std::string& text) const;
  bool cacheable(const Destination& d) const;
  // TLS: the policy of a destination, the names its servers are checked against, the plan a new
  // connection gets, whether a cached one may serve it, and the servers whose "may" TLS failed.
  const tls::Policy& tls_policy(const Destination& d) const;
  tls::PeerNames peer_names(const Destination& d, const ServerAddress& server) const;
  TlsPlan tls_plan(const Destination& d, const ServerAddress& server, bool plaintext);
  void refresh_tls_context();  // made at start, remade when a reload changes its files
  bool serves(const Slot& slot, const Destination& d, const tls::PeerNames& names) const;
  bool tls_broken(const ServerAddress& server);
  void remember_tls_broken(const SmtpConnection& c);

  Ring& ring_;
  Timers& timers_;
  const EngineSettings& settings_;
  Resolver& resolver_;
  ResultSink& sink_;
  std::unordered_map<std::string, std::unique_ptr<Destination>> destinations_;
  std::unordered_map<SmtpConnection*, std::unique_ptr<Slot>> slots_;
  cache::IdleConnections<Slot*> cache_;  // this shard's idle connections
  std::vector<std::unique_ptr<Slot>> graveyard_;
  std::unique_ptr<tls::Context> tls_context_;  // this shard's client context (made when needed)
  tls::ContextSettings tls_context_settings_;  // what it was made from (a reload may change it)
  tls::SessionStore tls_sessions_;
  std::unordered_map<std::string, Clock::time_point> tls_broken_peers_;  // "address:port" → until
  bool shutting_down_ = false;
  Timer shutdown_timer_;
  SchedulerStats stats_;
};

}  // namespace ringrelay::engine
