// Accepting, reading one request, answering and closing, for the admin socket and the metrics.
#include "engine/runtime/request_server.hh"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringrelay::engine {

RequestServer::RequestServer(Ring& ring, Timers& timers, Limits limits)
    : ring_(ring), timers_(timers), limits_(limits) {
  accept_op_.server = this;
  accept_op_.handler = &RequestServer::on_accept;
}

RequestServer::~RequestServer() {
  for (auto& [id, c] : connections_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void RequestServer::listen(int fd) {
  listen_fd_ = fd;
  arm_accept();
}

void RequestServer::arm_accept() {
  if (accept_op_.in_flight || listen_fd_ < 0) return;
  io_uring_prep_accept(ring_.prepare(&accept_op_), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  accept_op_.in_flight = true;
}

void RequestServer::on_accept(Completion& completion, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(completion);
  op.in_flight = false;
  RequestServer& self = *op.server;
  if (result >= 0) {
    if (self.connections_.size() >= self.limits_.connections) {
      [[maybe_unused]] ssize_t n = ::send(result, self.busy_answer.data(), self.busy_answer.size(),
                                          MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(result);
    } else {
      auto connection = std::make_unique<Connection>();
      Connection& c = *connection;
      c.id = self.next_id_++;
      c.fd = result;
      c.buffer.resize(2048);
      for (Op* o : {&c.recv_op, &c.send_op}) {
        o->server = &self;
        o->connection = &c;
      }
      c.recv_op.handler = &RequestServer::on_recv;
      c.send_op.handler = &RequestServer::on_send;
      self.connections_[c.id] = std::move(connection);
      // A client that neither sends its request nor reads its answer is cut off.
      c.deadline.arm(self.timers_, self.limits_.time, [&self, &c] { self.close(c); });
      self.arm_recv(c);
    }
  } else if (result != -ECANCELED && result != -EINTR && result != -EAGAIN && self.log) {
    self.log(std::string("accept: ") + std::strerror(-result));
  }
  self.arm_accept();
}

void RequestServer::arm_recv(Connection& c) {
  if (c.recv_op.in_flight || c.closed) return;
  io_uring_prep_recv(ring_.prepare(&c.recv_op), c.fd, c.buffer.data(), c.buffer.size(), 0);
  c.recv_op.in_flight = true;
}

void RequestServer::on_recv(Completion& completion, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(completion);
  op.in_flight = false;
  RequestServer& self = *op.server;
  Connection& c = *op.connection;
  if (c.closed || c.answered) {
    self.close(c);
    return;
  }
  if (result == -EINTR || result == -EAGAIN) {
    self.arm_recv(c);
    return;
  }
  if (result <= 0) {
    self.close(c);  // gone before its request
    return;
  }
  c.received.append(c.buffer.data(), static_cast<std::size_t>(result));
  std::size_t length = self.request_length ? self.request_length(c.received) : c.received.size();
  if (length > 0 && length <= self.limits_.request_bytes) {
    c.answered = true;  // nothing more is read: the answer comes now or later
    if (self.on_request)
      self.on_request(c.id, c.fd, std::string_view(c.received).substr(0, length));
  } else if (length > 0 || c.received.size() > self.limits_.request_bytes) {
    self.answer(c.id, self.too_long_answer);
  } else {
    self.arm_recv(c);
  }
}

bool RequestServer::answer(std::uint64_t id, std::string answer) {
  auto it = connections_.find(id);
  if (it == connections_.end() || it->second->closed || it->second->send_op.in_flight) {
    return false;
  }
  Connection& c = *it->second;
  c.answered = true;
  c.answer = std::move(answer);
  c.sent = 0;
  send_rest(c);
  return true;
}

void RequestServer::send_rest(Connection& c) {
  io_uring_prep_send(ring_.prepare(&c.send_op), c.fd, c.answer.data() + c.sent,
                     c.answer.size() - c.sent, MSG_NOSIGNAL);
  c.send_op.in_flight = true;
}

void RequestServer::on_send(Completion& completion, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(completion);
  op.in_flight = false;
  RequestServer& self = *op.server;
  Connection& c = *op.connection;
  if (result > 0) c.sent += static_cast<std::size_t>(result);
  bool again = result == -EINTR || result == -EAGAIN || (result > 0 && c.sent < c.answer.size());
  if (!c.closed && again) {
    self.send_rest(c);
    return;
  }
  self.close(c);
}

void RequestServer::close(Connection& c) {
  if (!c.closed) {
    c.closed = true;
    c.deadline.cancel();
    ::shutdown(c.fd, SHUT_RDWR);  // ends a receive or send still in flight
  }
  if (c.recv_op.in_flight || c.send_op.in_flight) return;  // their completions come back here
  ::close(c.fd);
  c.fd = -1;
  auto it = connections_.find(c.id);
  if (it != connections_.end()) {
    graveyard_.push_back(std::move(it->second));
    connections_.erase(it);
  }
}

void RequestServer::end_of_turn() {
  graveyard_.clear();
}

}  // namespace ringrelay::engine
