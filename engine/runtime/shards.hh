// Shards beyond the first: each a thread with its own ring, timers, resolver, scheduler and feed
// server, owning the MX sites whose name hashes to it and the feed clients it holds. Shard 0 is
// the hub: it hands them work (by the site it learnt for the next hop, else by the next hop's
// hash), results of requests their feed took and feed connections that belong to them, and gets
// back results, work whose site another shard owns and connections for other shards, through
// bounded SPSC mailboxes woken with MSG_RING; no mutex on the message path.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/config/engine_settings.hh"
#include "engine/control/shard_answer.hh"
#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/router.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/feed/feed_server.hh"
#include "engine/metrics/shard_metrics.hh"
#include "engine/runtime/mailbox.hh"

namespace ringrelay::engine {

struct WorkItem {
  // holds: the operator's holds changed; control: an admin command to answer (ControlReply);
  // feed_start: start the shard's feed server on `listeners`; feed_result: a result of a request
  // the shard's feed took; feed_connection: a feed connection for the shard `connection.target`.
  enum class Kind {
    none,
    deliver,
    reload,
    shutdown,
    holds,
    control,
    feed_start,
    feed_result,
    feed_connection
  } kind = Kind::none;
  RequestPointer request;
  dns::Nexthop hop;
  std::vector<std::size_t> recipients;
  // A hand-over: the shard that resolved `hop` found its site owned by shard `owner`; the owner
  // delivers it whatever its own lookup says (no second hand-over).
  bool owned = false;
  std::size_t owner = 0;
  std::shared_ptr<const ResolveAnswer> answer;     // the handing shard's lookup, used while fresh
  std::shared_ptr<const EngineSettings> settings;  // reload
  HoldSetPointer holds;                            // holds
  std::shared_ptr<const ControlCommand> command;   // control
  std::uint64_t command_id = 0;                    // control
  std::shared_ptr<const Router> router;            // feed_start, reload
  std::shared_ptr<const std::vector<FeedListener>> listeners;  // feed_start
  ResultRecord result;                                         // feed_result
  FeedConnection connection;                                   // feed_connection

  static WorkItem deliver(const RequestPointer& request, const dns::Nexthop& hop,
                          std::vector<std::size_t> recipients, bool owned, std::size_t owner,
                          std::shared_ptr<const ResolveAnswer> answer) {
    WorkItem item;
    item.kind = Kind::deliver;
    item.request = request;
    item.hop = hop;
    item.recipients = std::move(recipients);
    item.owned = owned;
    item.owner = owner;
    item.answer = std::move(answer);
    return item;
  }
  static WorkItem feed_result(ResultRecord result) {
    WorkItem item;
    item.kind = Kind::feed_result;
    item.result = std::move(result);
    return item;
  }
  static WorkItem feed_connection(FeedConnection connection) {
    WorkItem item;
    item.kind = Kind::feed_connection;
    item.connection = std::move(connection);
    return item;
  }
};

// Work done on the delivering shard for each result before it goes to shard 0 (the log line, the
// feed record's text), so that shard 0's work per recipient does not grow with the shards.
using ResultPreparer = std::function<void(ResultRecord&)>;

class WorkerShard {
 public:
  // `log` is shared by every shard: each line is one locked stdio write.
  // `metrics`: the shard's counters (metrics_listen), kept by the caller; null: not counted.
  // `registry`: the feed servers' shared state; null: this shard runs no feed server.
  WorkerShard(ShardPlace place, EngineSettings settings, DeliveryLog& log,
              ResultPreparer prepare = nullptr, ShardMetrics* metrics = nullptr,
              FeedRegistry* registry = nullptr);
  ~WorkerShard();

  void start();  // returns once the shard's ring exists
  std::size_t index() const { return place_.index; }

  // Shard 0's side. False when the inbox is full (shard 0 keeps the item and stops reading).
  bool send(Ring& home_ring, WorkItem&& item);
  // Drains results into `sink`, hand-overs into `reroute` and admin answers into `answer`.
  // Returns how many.
  std::size_t receive(ResultSink& sink, const std::function<void(WorkItem&&)>& reroute,
                      const std::function<void(ControlReply&&)>& answer);
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // The shard's thread ended with an exception: what it said (read once failed() is true).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  const std::string& failure() const { return failure_; }
  Doorbell& home_doorbell() { return outbox_bell_; }
  // The feed server's state: asked to start, listening, or failed (feed_failure()).
  enum class FeedState { idle, listening, failed };
  FeedState feed_state() const { return feed_state_.load(std::memory_order_acquire); }
  const std::string& feed_failure() const { return feed_failure_; }
  const FeedMetrics& feed_metrics() const { return feed_metrics_; }

 private:
  class ForwardingSink;
  void run();

  ShardPlace place_;
  EngineSettings settings_;
  DeliveryLog& log_;
  ResultPreparer prepare_;
  ShardMetrics* metrics_;
  FeedRegistry* registry_;
  FeedMetrics feed_metrics_;  // outlives the thread: the scrape may read it after the shard ended
  std::atomic<FeedState> feed_state_{FeedState::idle};
  std::string feed_failure_;  // written before feed_state_ says failed
  SpscQueue<WorkItem> inbox_{4096};
  using Outgoing = std::variant<ResultRecord, WorkItem, ControlReply>;  // or a hand-over, an answer
  // Results and hand-overs waiting for room in the outbox before the shard takes new work.
  static constexpr std::size_t kResultBacklogLimit = 8192;
  SpscQueue<Outgoing> outbox_{8192};
  Doorbell inbox_bell_;   // rung by shard 0, answered by this shard
  Doorbell outbox_bell_;  // rung by this shard, answered by shard 0 (ring_fd set by shard 0)
  std::thread thread_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> failed_{false};
  std::string failure_;  // written before failed_ is set
};

// Shard 0's view: which shard owns a destination, and the handing over of work.
class ShardSet {
 public:
  // `metrics[i]`, when there: shard i's counters.
  ShardSet(std::size_t count, const EngineSettings& settings, Ring& home_ring, DeliveryLog& log,
           ResultPreparer prepare = nullptr, const std::vector<ShardMetrics*>& metrics = {},
           FeedRegistry* registry = nullptr);
  ~ShardSet();

  std::size_t count() const { return workers_.size() + 1; }
  // The shard that owns the next hop's site, when a shard has said so; else the hop's hash.
  std::size_t owner(const dns::Nexthop& hop) const;
  // A shard found `hop`'s site owned by `owner`: later work for `hop` goes there directly.
  void learn_owner(const dns::Nexthop& hop, std::size_t owner);
  // Queues work for shard `owner` (>= 1).
  void submit(std::size_t owner, WorkItem item);
  // Moves results from every worker to `sink` and hand-overs to `reroute`, and retries work that
  // found an inbox full.
  void pump(ResultSink& sink, const std::function<void(WorkItem&&)>& reroute);
  bool backlogged() const;  // some inbox was full: stop reading the feed for now
  void broadcast(WorkItem::Kind kind, std::shared_ptr<const EngineSettings> settings = nullptr,
                 std::shared_ptr<const Router> router = nullptr);
  // The operator's holds, to every worker.
  void publish_holds(const HoldSetPointer& holds);
  // An admin command for every running worker to answer (through on_control_reply); returns how
  // many will.
  std::size_t ask(const std::shared_ptr<const ControlCommand>& command, std::uint64_t id);
  std::function<void(ControlReply&&)> on_control_reply;
  bool all_finished() const;
  bool finished(std::size_t shard) const { return workers_[shard - 1]->finished(); }
  // Starts every worker's feed server on shard 0's listening sockets and waits until each one
  // listens (its journal read). Throws std::runtime_error with the first failure.
  void start_feeds(const std::vector<FeedListener>& listeners,
                   std::shared_ptr<const Router> router);
  // Every worker's feed counters.
  std::vector<const FeedMetrics*> feed_metrics() const;
  // A worker that ended with an exception, and what it said.
  std::optional<std::string> failure() const;

 private:
  Ring& home_ring_;
  std::vector<std::unique_ptr<WorkerShard>> workers_;
  std::vector<std::deque<WorkItem>> waiting_;  // per worker: items its full inbox refused
  // Next hop key → the shard owning its site; a cache, emptied when it reaches its bound.
  std::unordered_map<std::string, std::size_t> site_owners_;
  static constexpr std::size_t kSiteOwnerLimit = 100000;
};

}  // namespace ringrelay::engine
