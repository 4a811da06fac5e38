// The Prometheus scrape endpoint (metrics_listen, e.g. 127.0.0.1:9464): a small HTTP/1.1 server on
// shard 0's ring, one request per connection. GET /metrics gathers the sites from every shard
// through their mailboxes (at most ControlServer::kAnswerTime, never blocking a shard), reads every
// shard's counters and answers in the text format; other paths get 404, other methods 405.
// Bounded: 16 connections, 8 KiB of request head, 10 s per connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/metrics/metrics_exposition.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

class MetricsServer {
 public:
  using SitesDone = std::function<void(std::vector<SiteState> sites, bool partial)>;
  MetricsServer(Ring& ring, Timers& timers, DeliveryLog& log);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Everything but the sites, read when a scrape comes.
  std::function<MetricsView()> snapshot;
  // Asks every shard for its sites; `done` runs on this thread once all answered or time is up.
  std::function<void(SitesDone done)> gather_sites;

  // Listens on `spec` (nothing when it is empty). Throws std::runtime_error naming it.
  void listen(const std::string& spec);
  void end_of_turn();  // frees connections that closed

  static constexpr std::size_t kConnectionLimit = 16;
  static constexpr std::size_t kRequestHeadLimit = 8192;
  static constexpr std::chrono::seconds kConnectionTime{10};

 private:
  struct Connection;
  struct Op : Completion {
    MetricsServer* server = nullptr;
    Connection* connection = nullptr;
    bool in_flight = false;
  };
  struct Connection {
    std::uint64_t id = 0;
    int fd = -1;
    Op recv_op, send_op;
    std::string buffer, head, reply;
    std::size_t sent = 0;
    bool answered = false, closed = false, head_only = false;
    Timer deadline;
  };

  static void on_accept(Completion& c, int result, std::uint32_t flags);
  static void on_recv(Completion& c, int result, std::uint32_t flags);
  static void on_send(Completion& c, int result, std::uint32_t flags);
  void arm_accept();
  void arm_recv(Connection& c);
  void handle(Connection& c);  // a whole request head is in c.head
  void scrape(Connection& c);
  void respond(Connection& c, const char* status, const std::string& content_type,
               const std::string& body, const char* extra_headers = "");
  void send_rest(Connection& c);
  void close(Connection& c);

  Ring& ring_;
  Timers& timers_;
  DeliveryLog& log_;
  int listen_fd_ = -1;
  std::string spec_;
  Op accept_op_;
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::uint64_t next_id_ = 1;
};

}  // namespace ringrelay::engine
