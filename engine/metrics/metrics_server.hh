// The Prometheus scrape endpoint (metrics_listen, e.g. 127.0.0.1:9464): HTTP/1.1 on shard 0's
// ring, one request per connection (runtime/request_server). GET /metrics gathers the sites from
// every shard through their mailboxes (at most ControlServer::kAnswerTime, never blocking a
// shard), reads every shard's counters and answers in the text format; other paths get 404,
// other methods 405. Bounded: 16 connections, 8 KiB of request head, 10 s per connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/metrics/metrics_exposition.hh"
#include "engine/runtime/request_server.hh"

namespace ringrelay::engine {

class MetricsServer {
 public:
  using SitesDone = std::function<void(std::vector<SiteState> sites, bool partial)>;
  MetricsServer(Ring& ring, Timers& timers, DeliveryLog& log);

  // Everything but the sites, read when a scrape comes.
  std::function<MetricsView()> snapshot;
  // Asks every shard for its sites; `done` runs on this thread once all answered or time is up.
  std::function<void(SitesDone done)> gather_sites;

  // Listens on `spec` (nothing when it is empty). Throws std::runtime_error naming it.
  void listen(const std::string& spec);
  void end_of_turn() { server_.end_of_turn(); }

  static constexpr std::size_t kConnectionLimit = 16;
  static constexpr std::size_t kRequestHeadLimit = 8192;
  static constexpr std::chrono::seconds kConnectionTime{10};

 private:
  void handle(std::uint64_t connection, std::string_view head);
  void scrape(std::uint64_t connection, bool head_only);
  void respond(std::uint64_t connection, const char* status, const std::string& content_type,
               const std::string& body, bool head_only = false, const char* extra_headers = "");

  DeliveryLog& log_;
  RequestServer server_;
  std::string spec_;
};

}  // namespace ringrelay::engine
