// The feed server: queue managers connect over a UNIX stream socket (and optionally loopback TCP
// with a shared secret), send delivery requests as JSON lines, and read results as they happen.
// Protocol 2 clients name themselves; their results are numbered, kept until acknowledged and
// resent on their next connection. Protocol 1 results are at most once: kept for "collect" only
// when a connection fails before they are written. With a results journal, every accepted request
// and every result is on disk before it is acted on or sent, and a restart offers them again.
// Reading stops while a client does not read its results or the engine is full (bounded memory).
// Every shard runs one: each accepts on the shared listening sockets; a named client's connection
// moves to the shard that holds its stream (FeedRegistry), an unnamed one to shard 0, which keeps
// the protocol-1 collect pool. Each shard journals what its own clients were promised.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/config/engine_settings.hh"
#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/router.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/feed/feed_connection.hh"
#include "engine/feed/feed_registry.hh"
#include "engine/feed/result_stream.hh"
#include "engine/feed/results_journal.hh"
#include "engine/feed/spool_reader.hh"
#include "engine/metrics/shard_metrics.hh"
#include "engine/runtime/ring.hh"

namespace ringrelay::engine {

// What is done once for each result, by the shard that delivered it (or the feed's shard for its
// own): its record formatted without the sequence number (ResultRecord::unnumbered_record), then
// its log line written (a JSON log line reuses the record).
void prepare_result(ResultRecord& record, DeliveryLog& log);

// A listening socket every shard accepts on (shard 0 made it and closes it).
struct FeedListener {
  int fd = -1;
  std::string name;
  bool tcp = false;
};

// Where shard `index`'s results journal lives: results_journal itself for shard 0, a folder in it
// for the others.
std::string shard_journal_directory(const std::string& results_journal, std::size_t index);

class FeedServer : public ResultSink {
 public:
  FeedServer(Ring& ring, Timers& timers, const EngineSettings& settings, DeliveryLog& log,
             FeedRegistry& registry, ShardPlace place = {});
  ~FeedServer() override;

  // Where routed work goes (the owner shard's scheduler), and how requests are routed.
  using Dispatch =
      std::function<void(const RequestPointer&, const dns::Nexthop&, std::vector<std::size_t>)>;
  void attach(Dispatch dispatch, const Router& router) {
    dispatch_ = std::move(dispatch);
    router_ = &router;
  }
  // While this says yes (a shard's mailbox is full), no request is read.
  std::function<bool()> backlogged;
  // Reading resumes once the backlog has cleared.
  void resume_reading();
  // Opens the results journal and offers what an earlier run left; then listens. Throws
  // std::runtime_error naming the socket, the journal or the reason. Shard 0 makes the sockets;
  // the other shards accept on them too (listen_shared, with what listeners() gives).
  void listen();
  void listen_shared(const std::vector<FeedListener>& listeners);
  std::vector<FeedListener> listeners() const;
  // A result of a request another shard's feed server took: goes there (prepared).
  std::function<void(ResultRecord)> forward_result;
  // A connection that belongs on another shard (FeedConnection::target).
  std::function<void(FeedConnection)> hand_off;
  // A connection handed over by another shard: what it sent is read as if received here.
  void adopt(FeedConnection connection);
  // No new connections or requests (SIGTERM); results still flow to connected clients.
  void stop_accepting();
  // Every connected client has been written everything queued for it, and the journal is idle.
  bool flushed() const;
  // Once per loop turn: commits the journal, applies retention, frees closed connections.
  void end_of_turn();
  std::size_t in_flight() const { return in_flight_.size(); }  // this shard's
  const FeedMetrics& metrics() const { return *metrics_; }
  // Counts into `metrics` (kept by the caller, read by the scrape on another thread) from now on.
  void count_into(FeedMetrics& metrics) { metrics_ = &metrics; }
  // Shard 0's counters: the results a restart reports for interrupted requests are counted there.
  ShardMetrics* shard_metrics = nullptr;
  // No request is to be read: feed_request_limit requests in flight (all shards), spool bodies
  // over feed_body_memory_limit, or the journal too far behind.
  bool full() const;

  void report(ResultRecord record) override;

 private:
  struct Client;
  struct Listener;
  struct Op : Completion {
    FeedServer* server = nullptr;
    void* owner = nullptr;  // the Listener or Client the operation belongs to
    bool in_flight = false;
  };
  struct OutLine {
    std::string text;
    std::uint64_t seq = 0;  // a protocol-1 record (0: not a record, or a protocol-2 copy)
    bool is_result = true;
  };
  // What waits for the journal: a record to hand out, or a request to start.
  // A request's recipients by next hop, as the scheduler takes them.
  using Routes = std::map<std::string, std::pair<dns::Nexthop, std::vector<std::size_t>>>;
  struct Waiting {
    std::uint64_t position = 0;    // the journal position that makes it durable
    RequestPointer request;        // a request to dispatch, or the record's request
    Routes routes;                 // a request: where its recipients go
    std::string client;            // a record: its stream ("" with a protocol-1 client)
    std::uint64_t connection = 0;  // a record of a protocol-1 client: its connection
    StreamRecord record;
    bool is_record = false;
  };

  static void on_accept(Completion& c, int result, std::uint32_t flags);
  static void on_recv(Completion& c, int result, std::uint32_t flags);
  static void on_send(Completion& c, int result, std::uint32_t flags);

  // The journal side (feed_journal.cc): opening and replaying it, and the entries written.
  void open_journal();
  void recover(ResultsJournal::Recovered recovered, std::string& live);
  // Journals of shards beyond today's count that this shard takes over (index % count).
  std::vector<std::string> orphaned_journals() const;
  std::string live_state() const;
  void arm_accept(Listener& listener);
  void arm_recv(Client& client);
  void kick_send(Client& client);
  void consume(Client& client);  // handles the complete lines received so far
  void handle_line(Client& client, std::string_view line);
  // The shard that handles `command` of `client` (this one, or where it must move), or nullopt
  // when it was refused here.
  std::optional<std::size_t> serving_shard(Client& client, const struct FeedCommand& command);
  Client& add_client(int fd, bool tcp, bool authenticated);
  void finish_move(Client& client);  // once its outbox is written: hand it off
  // The registry lets go of `name` when nothing of it is left here.
  void maybe_release(const std::string& name);
  void open_listeners();
  void start_listening();
  void handle_hello(Client& client, struct FeedCommand& command);
  // False when the request was refused (an error line queued for the client).
  bool handle_deliver(Client& client, const RequestPointer& request);
  void handle_ack(Client& client, std::uint64_t upto);
  void handle_collect(Client& client);
  void queue(Client& client, std::string line, std::uint64_t seq = 0, bool is_result = true);
  void refuse(Client& client, const std::string& field, const std::string& message);
  // A new record, a result (of `recipient`) or a done record (no recipient): journaled, then
  // handed out once durable.
  void add_record(DeliveryRequest& request, std::string line, std::uint64_t seq,
                  std::optional<std::size_t> recipient);
  void release_waiting();
  void hand_out(Waiting& w);
  void pump_stream(Client& client);  // copies a protocol-2 client's records into its outbox
  void start_request(const RequestPointer& request, Routes& routes);
  // Where recipient `index` of `request` goes (its nexthop, or the router's answer).
  std::optional<dns::Nexthop> route(const DeliveryRequest& request, std::size_t index,
                                    std::string& error) const;
  void written(Client& client, const OutLine& line);
  void close_client(Client& client);
  void hang_up(Client& client);    // after what is queued for it has been written
  void hold_back(Client& client);  // no more reading from it until resume_reading
  void drop_logged(const std::string& client, const StreamRecord& record, const char* why);
  std::string request_entry(const DeliveryRequest& request) const;
  std::uint64_t journal_record(const StreamRecord& record, const std::string& client,
                               std::string_view id, std::optional<std::size_t> recipient);
  void journal_acknowledged(const std::string& client, std::uint64_t upto);
  void journal_forgotten(std::uint64_t seq);
  void journal_finished(const std::string& id);
  // Protocol-1 records queued to a connection and not yet written (they are still live).
  void for_each_unwritten_record(const std::function<void(const OutLine&)>& visit) const;

  Ring& ring_;
  Timers& timers_;
  Timer commit_timer_;  // wakes the loop for a commit that results_journal_commit_delay_ms held
  const EngineSettings& settings_;
  DeliveryLog& log_;
  FeedRegistry& registry_;
  ShardPlace place_;
  Dispatch dispatch_;
  const Router* router_ = nullptr;
  std::unique_ptr<SpoolReader> spool_;
  std::unique_ptr<ResultsJournal> journal_;
  ResultStreams streams_;
  FeedMetrics own_metrics_;
  FeedMetrics* metrics_ = &own_metrics_;
  std::deque<Waiting> waiting_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  bool owns_listeners_ = false;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::map<std::string, Client*> named_;  // protocol-2 identities and their current connection
  std::uint64_t collector_ = 0;           // the latest connection that collected the pool
  std::vector<std::unique_ptr<Client>> graveyard_;
  // The wall-clock time records of this loop turn are stamped with (retention, the journal): read
  // once per turn, not once per record.
  std::chrono::system_clock::time_point record_time();
  std::optional<std::chrono::system_clock::time_point> turn_record_time_;
  std::uint64_t next_client_id_ = 1;
  std::unordered_map<std::string, RequestPointer> in_flight_;
  std::unordered_map<std::string, std::size_t> requests_of_;  // named clients' requests in flight
  bool accepting_ = true;
  bool owns_socket_ = false;
};

}  // namespace ringrelay::engine
