// Worker shard threads and shard 0's side of the mailboxes.
#include "engine/runtime/shards.hh"

#include <pthread.h>
#include <unistd.h>

#include <stdexcept>

#include "engine/delivery/shard_resolver.hh"
#include "engine/delivery/site_key.hh"
#include "engine/delivery/smtp_connection.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

// The worker's result sink: a result of a request this shard's feed took goes to it; the others
// wait in a local list until the outbox has room. Hand-overs wait there too, in order with the
// results.
class WorkerShard::ForwardingSink : public ResultSink {
 public:
  explicit ForwardingSink(const ResultPreparer& prepare) : prepare_(prepare) {}
  void report(ResultRecord record) override {
    if (prepare_) {
      prepare_(record);
      prepared_since_flush = true;
    }
    if (feed != nullptr) {
      feed->report(std::move(record));  // forwards it (into pending) when another shard's
      return;
    }
    pending.emplace_back(std::move(record));
  }
  std::deque<Outgoing> pending;
  FeedServer* feed = nullptr;
  bool prepared_since_flush = false;  // log lines written that must be flushed before sending

 private:
  const ResultPreparer& prepare_;
};

WorkerShard::WorkerShard(ShardPlace place, EngineSettings settings, DeliveryLog& log,
                         ResultPreparer prepare, ShardMetrics* metrics, FeedRegistry* registry)
    : place_(place),
      settings_(std::move(settings)),
      log_(log),
      prepare_(std::move(prepare)),
      metrics_(metrics),
      registry_(registry) {
  inbox_bell_.handler = [](Completion&, int, std::uint32_t) {};
  outbox_bell_.handler = [](Completion&, int, std::uint32_t) {};
}

WorkerShard::~WorkerShard() {
  if (thread_.joinable()) thread_.join();
}

void WorkerShard::start() {
  thread_ = std::thread([this] {
    try {
      run();
    } catch (const std::exception& e) {
      // Never std::terminate: shard 0 sees the failure, logs it and ends the process non-zero.
      failure_ = "shard " + std::to_string(place_.index) + ": " + e.what();
      failed_.store(true, std::memory_order_release);
      ready_.store(true, std::memory_order_release);
      finished_.store(true, std::memory_order_release);
    }
  });
  while (!ready_.load(std::memory_order_acquire)) std::this_thread::yield();
}

bool WorkerShard::send(Ring& home_ring, WorkItem&& item) {
  if (!inbox_.try_push(std::move(item))) return false;
  ring_doorbell(home_ring, inbox_bell_);
  return true;
}

std::size_t WorkerShard::receive(ResultSink& sink, const std::function<void(WorkItem&&)>& reroute,
                                 const std::function<void(ControlReply&&)>& answer) {
  answer_doorbell(outbox_bell_);
  std::size_t n = 0;
  while (auto outgoing = outbox_.try_pop()) {
    if (auto* record = std::get_if<ResultRecord>(&*outgoing)) {
      sink.report(std::move(*record));
    } else if (auto* item = std::get_if<WorkItem>(&*outgoing)) {
      reroute(std::move(*item));
    } else if (answer) {
      answer(std::get<ControlReply>(std::move(*outgoing)));
    }
    ++n;
  }
  return n;
}

void WorkerShard::run() {
  // "rr-shard-N" in top -H and /proc/PID/task/*/comm; shard 0 is the main thread ("ringrelay").
  const std::string name = "rr-shard-" + std::to_string(place_.index);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  Ring ring(4096);
  inbox_bell_.ring_fd = ring.fd();
  Timers timers;
  auto settings = std::make_shared<EngineSettings>(settings_);
  ShardResolver resolver(ring, timers, *settings);
  ForwardingSink sink(prepare_);
  RingNetwork network(ring, timers);
  Scheduler scheduler(network, timers, *settings, resolver, sink, place_);
  scheduler.log_notice = [this](const std::string& text) { log_.notice(text); };
  scheduler.log_connection_notice = [this](const std::string& id, const std::string& peer,
                                           const std::string& text) {
    log_.connection_notice(id, peer, text);
  };
  scheduler.metrics = metrics_;
  if (metrics_ != nullptr) mark_shard_thread(*metrics_);
  scheduler.hand_over = [&sink](std::size_t owner, const RequestPointer& request,
                                const dns::Nexthop& hop, std::vector<std::size_t> recipients,
                                std::shared_ptr<const ResolveAnswer> answer) {
    sink.pending.emplace_back(
        WorkItem::deliver(request, hop, std::move(recipients), true, owner, std::move(answer)));
  };
  // The feed server, once shard 0 says where to listen (feed_start).
  std::unique_ptr<FeedServer> feed;
  std::shared_ptr<const Router> router;
  // A request this shard's feed took: delivered here when its next hop hashes here, else shard 0
  // routes it (it knows which shard owns which site).
  auto dispatch = [&](const RequestPointer& request, const dns::Nexthop& hop,
                      std::vector<std::size_t> recipients) {
    if (owner_shard(hop.key(), place_.count) == place_.index) {
      scheduler.submit(request, hop, recipients, false, nullptr);
    } else {
      sink.pending.emplace_back(
          WorkItem::deliver(request, hop, std::move(recipients), false, 0, nullptr));
    }
  };
  auto feed_backlogged = [&] {
    return sink.pending.size() >= kResultBacklogLimit / 2 || feed->full();
  };
  auto start_feed = [&](const WorkItem& item) {
    try {
      router = item.router;
      feed = std::make_unique<FeedServer>(ring, timers, *settings, log_, *registry_, place_);
      feed->count_into(feed_metrics_);
      feed->shard_metrics = metrics_;
      feed->attach(dispatch, *router);
      feed->backlogged = feed_backlogged;
      feed->forward_result = [&sink](ResultRecord record) {
        sink.pending.emplace_back(std::move(record));
      };
      feed->hand_off = [&sink](FeedConnection connection) {
        sink.pending.emplace_back(WorkItem::feed_connection(std::move(connection)));
      };
      feed->listen_shared(*item.listeners);
      sink.feed = feed.get();
      feed_state_.store(FeedState::listening, std::memory_order_release);
    } catch (const std::exception& e) {
      feed.reset();
      feed_failure_ = "shard " + std::to_string(place_.index) + ": " + e.what();
      feed_state_.store(FeedState::failed, std::memory_order_release);
    }
  };
  ready_.store(true, std::memory_order_release);
  bool stopping = false;
  Clock::time_point stop_deadline{};
  for (;;) {
    ring.run_once(timers.until_next(std::chrono::milliseconds(200)), &timers);
    timers.fire_due();
    answer_doorbell(inbox_bell_);
    // While shard 0 is behind with results, no new work is taken: the inbox fills, shard 0 stops
    // reading the feed, and the results waiting here stay bounded by the work already in flight.
    while (sink.pending.size() < kResultBacklogLimit) {
      auto item = inbox_.try_pop();
      if (!item) break;
      switch (item->kind) {
        case WorkItem::Kind::deliver:
          scheduler.submit(item->request, item->hop, item->recipients, item->owned,
                           std::move(item->answer));
          break;
        case WorkItem::Kind::reload:
          // Sessions keep their copies; new work uses the new settings.
          *settings = *item->settings;
          resolver.reload(*settings);
          if (item->router) {
            router = item->router;
            if (feed) feed->attach(dispatch, *router);
          }
          break;
        case WorkItem::Kind::feed_start:
          if (registry_ != nullptr && !feed) start_feed(*item);
          break;
        case WorkItem::Kind::feed_result:
          // Always this shard's own: shard 0 forwards by DeliveryRequest::feed_shard.
          if (feed) feed->report(std::move(item->result));
          break;
        case WorkItem::Kind::feed_connection:
          if (feed) {
            feed->adopt(std::move(item->connection));
          } else {
            ::close(item->connection.fd);
          }
          break;
        case WorkItem::Kind::holds:
          scheduler.set_holds(std::move(item->holds));
          break;
        case WorkItem::Kind::control:
          // After the results a bounce or defer gave, in order.
          sink.pending.emplace_back(answer_on_shard(scheduler, *item->command, item->command_id));
          break;
        case WorkItem::Kind::shutdown:
          stopping = true;
          // As long as shard 0 waits: results of this feed's requests may still come from there.
          stop_deadline = Clock::now() + std::chrono::seconds(15);
          if (feed) feed->stop_accepting();
          scheduler.shutdown(std::chrono::seconds(10));
          break;
        case WorkItem::Kind::none:
          break;
      }
    }
    scheduler.collect_garbage();
    if (feed) {
      if (!feed_backlogged()) feed->resume_reading();
      feed->end_of_turn();  // commits its journal: results go out once it is on disk
    }
    if (sink.prepared_since_flush) {  // a result is in the log before its record reaches shard 0
      log_.flush();
      sink.prepared_since_flush = false;
    }
    bool sent_any = false;
    while (!sink.pending.empty()) {
      if (!outbox_.try_push(std::move(sink.pending.front()))) break;  // shard 0 is behind: later
      sink.pending.pop_front();
      sent_any = true;
    }
    if (sent_any) ring_doorbell(ring, outbox_bell_);
    bool feed_done = !feed || (feed->in_flight() == 0 && feed->flushed());
    if (stopping && scheduler.quiet() && sink.pending.empty() && feed_done) break;
    if (stopping && Clock::now() > stop_deadline) {
      log_.notice("stopping: shard " + std::to_string(place_.index) +
                  " gave up waiting after the grace period");
      break;
    }
  }
  sink.feed = nullptr;  // the feed lives on until the ring's last completions are in
  ring.run_once(std::chrono::milliseconds(10), &timers);  // submit the last doorbell
  finished_.store(true, std::memory_order_release);
  ring_doorbell(ring, outbox_bell_);
  ring.run_once(std::chrono::milliseconds(10), &timers);
}

ShardSet::ShardSet(std::size_t count, const EngineSettings& settings, Ring& home_ring,
                   DeliveryLog& log, ResultPreparer prepare,
                   const std::vector<ShardMetrics*>& metrics, FeedRegistry* registry)
    : home_ring_(home_ring) {
  for (std::size_t i = 1; i < count; ++i) {
    auto worker =
        std::make_unique<WorkerShard>(ShardPlace{i, count}, settings, log, prepare,
                                      i < metrics.size() ? metrics[i] : nullptr, registry);
    worker->home_doorbell().ring_fd = home_ring.fd();
    worker->start();
    workers_.push_back(std::move(worker));
  }
  waiting_.resize(workers_.size());
}

ShardSet::~ShardSet() {
  broadcast(WorkItem::Kind::shutdown);
  // Only the doorbells go out: dispatching here could run a completion of an object already
  // destroyed (the admin or metrics server, when serve ends with an exception).
  home_ring_.submit_only();
  workers_.clear();  // joins
}

std::size_t ShardSet::owner(const dns::Nexthop& hop) const {
  std::string key = hop.key();
  auto known = site_owners_.find(key);
  if (known != site_owners_.end()) return known->second;
  return owner_shard(key, count());
}

void ShardSet::learn_owner(const dns::Nexthop& hop, std::size_t owner) {
  if (site_owners_.size() >= kSiteOwnerLimit) site_owners_.clear();
  site_owners_[hop.key()] = owner;
}

void ShardSet::submit(std::size_t owner, WorkItem item) {
  std::size_t w = owner - 1;
  if (!waiting_[w].empty() || !workers_[w]->send(home_ring_, std::move(item))) {
    waiting_[w].push_back(std::move(item));
  }
}

void ShardSet::pump(ResultSink& sink, const std::function<void(WorkItem&&)>& reroute) {
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    workers_[w]->receive(sink, reroute, on_control_reply);
    while (!waiting_[w].empty() && workers_[w]->send(home_ring_, std::move(waiting_[w].front()))) {
      waiting_[w].pop_front();
    }
  }
}

bool ShardSet::backlogged() const {
  for (const auto& w : waiting_) {
    if (!w.empty()) return true;
  }
  return false;
}

void ShardSet::broadcast(WorkItem::Kind kind, std::shared_ptr<const EngineSettings> settings,
                         std::shared_ptr<const Router> router) {
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (workers_[w]->finished()) continue;
    WorkItem item;
    item.kind = kind;
    item.settings = settings;
    item.router = router;
    submit(w + 1, std::move(item));
  }
}

void ShardSet::start_feeds(const std::vector<FeedListener>& listeners,
                           std::shared_ptr<const Router> router) {
  auto shared = std::make_shared<const std::vector<FeedListener>>(listeners);
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    WorkItem item;
    item.kind = WorkItem::Kind::feed_start;
    item.listeners = shared;
    item.router = router;
    submit(w + 1, std::move(item));
  }
  home_ring_.submit_only();  // the doorbells
  for (auto& worker : workers_) {
    while (worker->feed_state() == WorkerShard::FeedState::idle && !worker->failed()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (worker->failed()) throw std::runtime_error(worker->failure());
    if (worker->feed_state() == WorkerShard::FeedState::failed) {
      throw std::runtime_error(worker->feed_failure());
    }
  }
}

std::vector<const FeedMetrics*> ShardSet::feed_metrics() const {
  std::vector<const FeedMetrics*> out;
  for (const auto& w : workers_) out.push_back(&w->feed_metrics());
  return out;
}

void ShardSet::publish_holds(const HoldSetPointer& holds) {
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (workers_[w]->finished()) continue;
    WorkItem item;
    item.kind = WorkItem::Kind::holds;
    item.holds = holds;
    submit(w + 1, std::move(item));
  }
}

std::size_t ShardSet::ask(const std::shared_ptr<const ControlCommand>& command, std::uint64_t id) {
  std::size_t asked = 0;
  for (std::size_t w = 0; w < workers_.size(); ++w) {
    if (workers_[w]->finished()) continue;
    WorkItem item;
    item.kind = WorkItem::Kind::control;
    item.command = command;
    item.command_id = id;
    submit(w + 1, std::move(item));
    ++asked;
  }
  return asked;
}

std::optional<std::string> ShardSet::failure() const {
  for (const auto& w : workers_) {
    if (w->failed()) return w->failure();
  }
  return std::nullopt;
}

bool ShardSet::all_finished() const {
  for (const auto& w : workers_) {
    if (!w->finished()) return false;
  }
  return true;
}

}  // namespace ringrelay::engine
