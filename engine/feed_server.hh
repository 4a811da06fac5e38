// The feed server: queue managers connect over a UNIX stream socket (and optionally loopback TCP),
// send delivery requests as JSON lines, and read results as they happen. Results for a queue
// manager that went away are kept (feed_result_retention_time, _limit) for the next connection that
// sends "collect". Reading stops while a client does not read its results (bounded memory).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/delivery_log.hh"
#include "engine/engine_settings.hh"
#include "engine/ring.hh"
#include "engine/router.hh"
#include "engine/scheduler.hh"

namespace ringrelay::engine {

class FeedServer : public ResultSink {
 public:
  FeedServer(Ring& ring, const EngineSettings& settings, DeliveryLog& log);
  ~FeedServer() override;

  // Where routed work goes (the owner shard's scheduler), and how requests are routed.
  using Dispatch =
      std::function<void(const RequestPointer&, const dns::Nexthop&, std::vector<std::size_t>)>;
  void attach(Dispatch dispatch, Router& router) {
    dispatch_ = std::move(dispatch);
    router_ = &router;
  }
  // While this says yes (a shard's mailbox is full), no request is read.
  std::function<bool()> backlogged;
  // Reading resumes once the backlog has cleared.
  void resume_reading();
  // Starts listening; throws std::runtime_error naming the socket and the reason.
  void listen();
  // No new connections or requests (SIGTERM); results still flow to connected clients.
  void stop_accepting();
  bool flushed() const;  // every connected client has read everything queued for it
  void collect_garbage();
  std::size_t in_flight() const { return in_flight_.size(); }

  void report(ResultRecord record) override;

 private:
  struct Client;
  struct Listener;
  struct Op : Completion {
    FeedServer* server = nullptr;
    void* owner = nullptr;  // the Listener or Client the operation belongs to
    bool in_flight = false;
  };

  static void on_accept(Completion& c, int result, std::uint32_t flags);
  static void on_recv(Completion& c, int result, std::uint32_t flags);
  static void on_send(Completion& c, int result, std::uint32_t flags);

  void arm_accept(Listener& listener);
  void arm_recv(Client& client);
  void kick_send(Client& client);
  void consume(Client& client);  // handles the complete lines received so far
  void handle_line(Client& client, std::string_view line);
  void handle_deliver(Client& client, const RequestPointer& request);
  void queue(Client& client, std::string line);
  void deliver_or_retain(std::uint64_t client_id, std::string line);
  void close_client(Client& client);
  void expire_retained();

  Ring& ring_;
  const EngineSettings& settings_;
  DeliveryLog& log_;
  Dispatch dispatch_;
  Router* router_ = nullptr;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Client>> clients_;
  std::vector<std::unique_ptr<Client>> graveyard_;
  std::uint64_t next_client_id_ = 1;
  std::unordered_map<std::string, RequestPointer> in_flight_;
  std::deque<std::pair<Clock::time_point, std::string>> retained_;
  bool accepting_ = true;
};

}  // namespace ringrelay::engine
