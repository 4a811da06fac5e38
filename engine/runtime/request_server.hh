// One request per connection, on a shard's ring: accepts on a listening socket, reads until the
// request is whole, hands it over, sends the answer it is given and closes. The admin socket
// (`ringrelay ctl`) and the metrics endpoint are both this. Bounded: connections (one more gets
// `busy_answer` and is closed), bytes of request, and time per connection (request and answer).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

class RequestServer {
 public:
  struct Limits {
    std::size_t connections = 16;
    std::size_t request_bytes = 4096;
    std::chrono::seconds time{10};
  };
  RequestServer(Ring& ring, Timers& timers, Limits limits);
  ~RequestServer();
  RequestServer(const RequestServer&) = delete;
  RequestServer& operator=(const RequestServer&) = delete;

  // How long the request at the start of `received` is, once it is whole; 0 until then.
  std::function<std::size_t(std::string_view received)> request_length;
  // A whole request (`fd` for the peer's credentials); answer(id, ...) now or later.
  std::function<void(std::uint64_t id, int fd, std::string_view request)> on_request;
  // The answer to a request longer than limits.request_bytes, and to one connection too many.
  std::string too_long_answer, busy_answer;
  // Failures of accept(2), for the log.
  std::function<void(const std::string& text)> log;

  // Accepts on `fd` (a listening socket, now owned here).
  void listen(int fd);
  // Sends `answer` and closes. False when the connection is gone (closed, timed out).
  bool answer(std::uint64_t id, std::string answer);
  void end_of_turn();  // frees connections that closed

 private:
  struct Connection;
  struct Op : Completion {
    RequestServer* server = nullptr;
    Connection* connection = nullptr;
    bool in_flight = false;
  };
  struct Connection {
    std::uint64_t id = 0;
    int fd = -1;
    Op recv_op, send_op;
    std::string buffer, received, answer;
    std::size_t sent = 0;
    bool answered = false, closed = false;
    Timer deadline;
  };
  static void on_accept(Completion& c, int result, std::uint32_t flags);
  static void on_recv(Completion& c, int result, std::uint32_t flags);
  static void on_send(Completion& c, int result, std::uint32_t flags);
  void arm_accept();
  void arm_recv(Connection& c);
  void send_rest(Connection& c);
  void close(Connection& c);

  Ring& ring_;
  Timers& timers_;
  Limits limits_;
  int listen_fd_ = -1;
  Op accept_op_;
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> graveyard_;
  std::uint64_t next_id_ = 1;
};

}  // namespace ringrelay::engine
