// Accepting scrapes, reading one HTTP request head each, answering with the rendered metrics.
#include "engine/metrics/metrics_server.hh"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/metrics/http_request.hh"
#include "engine/runtime/tcp_socket.hh"

namespace ringrelay::engine {

MetricsServer::MetricsServer(Ring& ring, Timers& timers, DeliveryLog& log)
    : ring_(ring), timers_(timers), log_(log) {
  accept_op_.server = this;
  accept_op_.handler = &MetricsServer::on_accept;
}

MetricsServer::~MetricsServer() {
  for (auto& [id, c] : connections_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void MetricsServer::listen(const std::string& spec) {
  if (spec.empty()) return;
  spec_ = spec;
  listen_fd_ = listen_tcp_socket(spec, "metrics_listen");
  arm_accept();
}

void MetricsServer::arm_accept() {
  if (accept_op_.in_flight || listen_fd_ < 0) return;
  io_uring_prep_accept(ring_.prepare(&accept_op_), listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  accept_op_.in_flight = true;
}

void MetricsServer::on_accept(Completion& completion, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(completion);
  op.in_flight = false;
  MetricsServer& self = *op.server;
  if (result >= 0) {
    if (self.connections_.size() >= kConnectionLimit) {
      static const char busy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      [[maybe_unused]] ssize_t n =
          ::send(result, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
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
      c.recv_op.handler = &MetricsServer::on_recv;
      c.send_op.handler = &MetricsServer::on_send;
      self.connections_[c.id] = std::move(connection);
      c.deadline.arm(self.timers_, kConnectionTime, [&self, &c] { self.close(c); });
      self.arm_recv(c);
    }
  } else if (result != -ECANCELED && result != -EINTR && result != -EAGAIN) {
    self.log_.notice("metrics: accept on " + self.spec_ + ": " + std::strerror(-result));
  }
  self.arm_accept();
}

void MetricsServer::arm_recv(Connection& c) {
  if (c.recv_op.in_flight || c.closed) return;
  io_uring_prep_recv(ring_.prepare(&c.recv_op), c.fd, c.buffer.data(), c.buffer.size(), 0);
  c.recv_op.in_flight = true;
}

void MetricsServer::on_recv(Completion& completion, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(completion);
  op.in_flight = false;
  MetricsServer& self = *op.server;
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
    self.close(c);
    return;
  }
  c.head.append(c.buffer.data(), static_cast<std::size_t>(result));
  if (http_head_complete(c.head)) {
    self.handle(c);
  } else if (c.head.size() > kRequestHeadLimit) {
    self.respond(c, "431 Request Header Fields Too Large", "text/plain; charset=utf-8",
                 "request head longer than " + std::to_string(kRequestHeadLimit) + " bytes\n");
  } else {
    self.arm_recv(c);
  }
}

void MetricsServer::handle(Connection& c) {
  std::string error;
  auto request = parse_http_request_line(c.head, error);
  if (!request) {
    respond(c, "400 Bad Request", "text/plain; charset=utf-8", error + "\n");
    return;
  }
  if (request->method != "GET" && request->method != "HEAD") {
    respond(c, "405 Method Not Allowed", "text/plain; charset=utf-8", "GET or HEAD only\n",
            "Allow: GET, HEAD\r\n");
    return;
  }
  c.head_only = request->method == "HEAD";
  if (request->path == "/metrics") {
    scrape(c);
  } else if (request->path == "/") {
    respond(c, "200 OK", "text/plain; charset=utf-8",
            "ringrelay: the metrics are at /metrics (Prometheus text format)\n");
  } else {
    respond(c, "404 Not Found", "text/plain; charset=utf-8", "no such page: try /metrics\n");
  }
}

void MetricsServer::scrape(Connection& c) {
  c.answered = true;  // nothing more is read; the answer comes once the shards have spoken
  std::uint64_t id = c.id;
  auto finish = [this, id](std::vector<SiteState> sites, bool partial) {
    auto it = connections_.find(id);
    if (it == connections_.end() || it->second->closed) return;  // the scraper gave up
    MetricsView view = snapshot ? snapshot() : MetricsView{};
    view.sites = std::move(sites);
    view.sites_partial = partial;
    Connection& conn = *it->second;
    conn.answered = false;
    respond(conn, "200 OK", "text/plain; version=0.0.4; charset=utf-8", render_metrics(view));
  };
  if (gather_sites) {
    gather_sites(std::move(finish));
  } else {
    finish({}, false);
  }
}

void MetricsServer::respond(Connection& c, const char* status, const std::string& content_type,
                            const std::string& body, const char* extra_headers) {
  if (c.answered || c.closed) return;
  c.answered = true;
  c.reply = std::string("HTTP/1.1 ") + status + "\r\nContent-Type: " + content_type +
            "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers +
            "Connection: close\r\n\r\n";
  if (!c.head_only) c.reply += body;
  c.sent = 0;
  send_rest(c);
}

void MetricsServer::send_rest(Connection& c) {
  io_uring_prep_send(ring_.prepare(&c.send_op), c.fd, c.reply.data() + c.sent,
                     c.reply.size() - c.sent, MSG_NOSIGNAL);
  c.send_op.in_flight = true;
}

void MetricsServer::on_send(Completion& completion, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(completion);
  op.in_flight = false;
  MetricsServer& self = *op.server;
  Connection& c = *op.connection;
  if (result > 0) c.sent += static_cast<std::size_t>(result);
  bool again = result == -EINTR || result == -EAGAIN || (result > 0 && c.sent < c.reply.size());
  if (!c.closed && again) {
    self.send_rest(c);
    return;
  }
  if (!c.closed) {
    c.closed = true;
    c.deadline.cancel();
    ::shutdown(c.fd, SHUT_WR);  // the answer is whole; the client closes its end
  }
  self.close(c);
}

void MetricsServer::close(Connection& c) {
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

void MetricsServer::end_of_turn() {
  graveyard_.clear();
}

}  // namespace ringrelay::engine
