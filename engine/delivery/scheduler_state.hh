// The scheduler's private state, shared by its source files (scheduler.cc: dispatch, connections
// and results; scheduler_pace.cc: rates, reply rules and inspection): destinations, jobs, sites
// and connection slots. Not for use outside the scheduler.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/delivery/scheduler.hh"
#include "engine/delivery/site_pace.hh"
#include "engine/delivery/site_queue.hh"

namespace ringrelay::engine {

struct Scheduler::Destination {
  std::string key;
  dns::Nexthop hop;
  std::shared_ptr<const ResolveAnswer> answer;  // the latest lookup; null before the first
  bool resolving = false;
  bool answer_fresh = false;                 // not yet used by a dispatch
  std::deque<std::unique_ptr<Job>> waiting;  // until its lookup says which site takes them
  Site* site = nullptr;                      // the site its jobs went to last
  // Per egress pool, the smooth weighted round robin's current weights of its members.
  std::map<std::string, std::vector<long>, std::less<>> pool_turns;
  // `answer` cut to one address family, for sources that bind only that one (AF_INET, AF_INET6).
  std::shared_ptr<const ResolveAnswer> family_plans[2];
  std::shared_ptr<const ResolveAnswer> family_plans_of;  // the answer they were cut from
  // Its own rates inside its site (smtp_destination_rate_maps naming the domain, not the site).
  TokenBucket messages, connections;
  std::size_t jobs = 0;    // Job objects alive for it, anywhere
  std::size_t active = 0;  // its jobs on connections now
  Clock::time_point last_used{};
};

struct Scheduler::Job {
  RequestPointer request;
  Destination* destination;
  Site* site = nullptr;  // the (site, source) whose queue or connection has it; null: none yet
  std::vector<std::size_t> recipients;        // indices into request->message.recipients
  std::vector<bool> reported;                 // per job recipient: final result given
  proto::Message message;                     // just those recipients; the body spans are shared
  std::shared_ptr<const ResolveAnswer> plan;  // the addresses it started with (kept for retries)
  std::size_t address_index = 0;
  std::size_t sessions = 0;        // connections that reached a server of the current MX group
  bool fresh_connection = false;   // a retry: no cached connection
  bool plaintext = false;          // a retry after a failed "may" handshake: no STARTTLS
  bool owned = false;              // handed over by another shard: never handed on
  bool has_body = false;           // message.body is set (a waiting spool body is read at start)
  bool requeue = false;            // its retry goes back to the site's queue (requeue_allowed)
  std::size_t requeues = 0;        // times it went back to the queue that way
  std::vector<std::size_t> retry;  // job recipients to try again on another connection
  Clock::time_point started_at{};

  Job(RequestPointer r, Destination& d, std::vector<std::size_t> indices)
      : request(std::move(r)), destination(&d), recipients(std::move(indices)) {
    ++destination->jobs;
    const proto::Message& m = request->message;
    message.sender = m.sender;
    message.encoding = m.encoding;
    message.smtputf8 = m.smtputf8;
    message.envid = m.envid;
    message.ret = m.ret;
    message.client = m.client;
    message.queued_seconds = request->queued_seconds;
    if (!request->body_waiting) {
      message.body = m.body;
      has_body = true;
    }
    for (std::size_t i : recipients) message.recipients.push_back(m.recipients[i]);
    reported.assign(recipients.size(), false);
  }
  ~Job() { --destination->jobs; }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;
};

struct Scheduler::Site {
  std::string name;    // base, or "base via source": the key of sites_ and of the cache
  std::string base;    // the MX site (site_key.hh): what rates and limits are configured for
  std::string source;  // the egress source its connections leave from; empty: no pool
  dns::Nexthop hop;    // the next hop that made it: its protocol's settings apply
  SiteWindow window;
  SiteQueue<std::unique_ptr<Job>> pending;  // by the requests' priority
  std::size_t active = 0;                   // connections connecting or carrying a job
  std::size_t connections = 0;              // all of its connections: busy, idle, closing
  std::size_t destinations = 0;             // destinations whose jobs come here
  std::size_t held = 0;                     // its jobs parked by an operator's hold
  std::size_t message_limit = 0;            // learnt per-connection message limit; 0: none seen
  std::size_t recipient_limit = 0;          // learnt per-transaction recipient limit; 0: none
  Clock::time_point last_delivery{};        // a transaction delivered something
  // A new connection was turned away while `ceiling` others were open: no more until then.
  std::size_t ceiling = 0;
  Clock::time_point ceiling_until{};
  std::string last_failure_dsn = "4.4.1", last_failure_text;
  Clock::time_point last_used{};
  // Rate delay, rates and the reply rules' backoff; the pace timer dispatches the site when the
  // pace lets the next delivery or connection start, the recovery timer climbs the backoff back.
  SitePace pace;
  Timer pace_timer, recovery_timer;
  std::string last_rule;  // the last reply rule that changed the site, for the log

  Site(std::string b, std::string src, const dns::Nexthop& h, std::size_t initial)
      : name(src.empty() ? b : b + " via " + src),
        base(std::move(b)),
        source(std::move(src)),
        hop(h),
        window(initial) {}
};

struct Scheduler::Slot {
  std::unique_ptr<Connection> connection;
  Site* site = nullptr;
  Destination* destination = nullptr;  // of the job it carries; null when idle
  std::unique_ptr<Job> job;
  std::size_t address_index = 0;  // the server's place in the job's plan (size: not in it)
  bool active = false;            // counted in site->active and destination->active
  bool idle = false;              // in the cache
  bool fresh = true;              // the current job opened this connection
  cache::EndpointKey endpoint;
  tls::PeerNames names;  // what the current job checks the server's certificate against
  // How a reused TLS connection fares under the current job's policy ("Verified", ...); empty
  // for a fresh connection, whose own handshake says it.
  std::optional<TlsOutcome> reused_tls;
  bool rule_fired = false;     // a reply rule acted on the current job (at most one does)
  bool setup_counted = false;  // its connection and handshake are in the metrics
  bool close_after = false;    // a reply rule said "close": no further transaction
  Timer idle_timer;
};

}  // namespace ringrelay::engine
