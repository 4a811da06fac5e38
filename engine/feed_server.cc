// Feed connections on the ring: accept, line-splitting receive with a size limit, ordered sends,
// and the routing of each request to the scheduler.
#include "engine/feed_server.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "engine/feed_protocol.hh"
#include "engine/version.hh"

namespace ringrelay::engine {
namespace {

constexpr std::size_t kRecvBytes = 64 * 1024;
constexpr std::size_t kPauseAboveBytes = 16 << 20;  // stop reading a client with this much unread

}  // namespace

struct FeedServer::Listener {
  int fd = -1;
  std::string name;
  Op accept_op;
};

struct FeedServer::Client {
  std::uint64_t id = 0;
  int fd = -1;
  Op recv_op, send_op;
  std::vector<char> buffer = std::vector<char>(kRecvBytes);
  std::string inbox;        // bytes of an unfinished line
  std::string unread;       // received bytes not looked at yet (held while backlogged)
  bool discarding = false;  // the current line is over the limit: skip to its end
  std::deque<std::string> outbox;
  std::size_t outbox_bytes = 0;
  std::size_t sent_offset = 0;
  bool closing = false;
  bool paused = false;     // it does not read its results
  bool held_back = false;  // the engine is backlogged
};

FeedServer::FeedServer(Ring& ring, const EngineSettings& settings, DeliveryLog& log)
    : ring_(ring), settings_(settings), log_(log) {}

FeedServer::~FeedServer() {
  for (auto& l : listeners_) {
    if (l->fd >= 0) ::close(l->fd);
  }
  for (auto& [id, c] : clients_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (!settings_.feed_socket.empty()) ::unlink(settings_.feed_socket.c_str());
}

void FeedServer::listen() {
  const std::string& path = settings_.feed_socket;
  if (!path.empty()) {
    sockaddr_un address{};
    if (path.size() >= sizeof(address.sun_path)) {
      throw std::runtime_error("feed_socket " + path + ": path too long for a UNIX socket");
    }
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    ::unlink(path.c_str());  // a stale socket from an earlier run
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd, 128) != 0) {
      int e = errno;
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("feed_socket " + path + ": " + std::strerror(e));
    }
    ::chmod(path.c_str(), 0660);
    auto l = std::make_unique<Listener>();
    l->fd = fd;
    l->name = path;
    listeners_.push_back(std::move(l));
  }
  if (!settings_.feed_tcp_listen.empty()) {
    const std::string& spec = settings_.feed_tcp_listen;
    auto colon = spec.rfind(':');
    std::string host = spec.substr(0, colon);
    if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
    int port = colon == std::string::npos ? 0 : std::atoi(spec.c_str() + colon + 1);
    auto address = numeric_address(host, static_cast<std::uint16_t>(port));
    bool loopback = host == "127.0.0.1" || host == "::1" || host.starts_with("127.");
    if (!address || port <= 0 || !loopback) {
      throw std::runtime_error("feed_tcp_listen " + spec + ": expected a loopback address:port");
    }
    int fd = ::socket(address->family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&address->storage), address->length) != 0 ||
        ::listen(fd, 128) != 0) {
      int e = errno;
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("feed_tcp_listen " + spec + ": " + std::strerror(e));
    }
    auto l = std::make_unique<Listener>();
    l->fd = fd;
    l->name = spec;
    listeners_.push_back(std::move(l));
  }
  for (auto& l : listeners_) {
    l->accept_op.server = this;
    l->accept_op.owner = l.get();
    l->accept_op.handler = &FeedServer::on_accept;
    arm_accept(*l);
  }
}

void FeedServer::arm_accept(Listener& l) {
  if (!accepting_ || l.accept_op.in_flight || l.fd < 0) return;
  io_uring_sqe* sqe = ring_.prepare(&l.accept_op);
  io_uring_prep_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  l.accept_op.in_flight = true;
}

void FeedServer::on_accept(Completion& c, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(c);
  op.in_flight = false;
  auto& self = *op.server;
  auto* listener = static_cast<Listener*>(op.owner);
  if (result >= 0) {
    if (!self.accepting_) {
      ::close(result);
    } else {
      auto client = std::make_unique<Client>();
      client->id = self.next_client_id_++;
      client->fd = result;
      client->recv_op.owner = client.get();
      client->send_op.owner = client.get();
      client->recv_op.server = &self;
      client->send_op.server = &self;
      client->recv_op.handler = &FeedServer::on_recv;
      client->send_op.handler = &FeedServer::on_send;
      Client& ref = *client;
      self.clients_[ref.id] = std::move(client);
      self.queue(ref, format_hello(kVersion));
      self.arm_recv(ref);
    }
  } else if (result != -ECANCELED && result != -EINTR && result != -EAGAIN) {
    self.log_.notice("feed: accept on " + (listener ? listener->name : "?") + ": " +
                     std::strerror(-result));
  }
  if (listener != nullptr) self.arm_accept(*listener);
}

void FeedServer::stop_accepting() {
  accepting_ = false;
  for (auto& l : listeners_) {
    if (l->accept_op.in_flight) io_uring_prep_cancel(ring_.prepare_untracked(), &l->accept_op, 0);
    ::shutdown(l->fd, SHUT_RDWR);
  }
  if (!settings_.feed_socket.empty()) ::unlink(settings_.feed_socket.c_str());
}

void FeedServer::arm_recv(Client& client) {
  if (client.recv_op.in_flight || client.closing || client.paused || !accepting_) return;
  if (backlogged && backlogged()) {
    client.held_back = true;
    return;
  }
  io_uring_sqe* sqe = ring_.prepare(&client.recv_op);
  io_uring_prep_recv(sqe, client.fd, client.buffer.data(), client.buffer.size(), 0);
  client.recv_op.in_flight = true;
}

void FeedServer::on_recv(Completion& c, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(c);
  op.in_flight = false;
  auto& client = *static_cast<Client*>(op.owner);
  FeedServer& self = *op.server;
  if (client.closing) {
    self.close_client(client);
    return;
  }
  if (result <= 0) {
    if (result == -EINTR || result == -EAGAIN) {
      self.arm_recv(client);
      return;
    }
    // The queue manager went away. Its requests go on; their results are retained.
    self.close_client(client);
    return;
  }
  client.unread.append(client.buffer.data(), static_cast<std::size_t>(result));
  self.consume(client);
}

void FeedServer::consume(Client& client) {
  // One line at a time, and not one more while the engine is backlogged: the rest of the read
  // waits here (at most one receive buffer), and no new receive is armed until it is used up.
  std::size_t used = 0;
  while (used < client.unread.size()) {
    if (backlogged && backlogged()) {
      client.unread.erase(0, used);
      client.held_back = true;
      return;
    }
    std::string_view data = std::string_view(client.unread).substr(used);
    auto newline = data.find('\n');
    std::string_view piece = data.substr(0, newline);
    used += newline == std::string_view::npos ? data.size() : newline + 1;
    if (!client.discarding) {
      if (client.inbox.size() + piece.size() > kMaxFeedLineBytes) {
        client.discarding = true;
        client.inbox.clear();
        queue(client,
              format_error(
                  {"", "", "request longer than " + std::to_string(kMaxFeedLineBytes) + " bytes"}));
      } else {
        client.inbox.append(piece);
      }
    }
    if (newline == std::string_view::npos) break;
    if (client.discarding) {
      client.discarding = false;
      continue;
    }
    std::string line = std::move(client.inbox);
    client.inbox.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) handle_line(client, line);
    if (client.closing) return;
  }
  client.unread.clear();
  arm_recv(client);
}

void FeedServer::handle_line(Client& client, std::string_view line) {
  FeedError error;
  auto command = parse_feed_line(line, error);
  if (!command) {
    queue(client, format_error(error));
    return;
  }
  switch (command->type) {
    case FeedCommand::Type::hello:
      break;
    case FeedCommand::Type::collect: {
      expire_retained();
      std::size_t count = retained_.size();
      for (auto& [when, text] : retained_) queue(client, std::move(text));
      retained_.clear();
      queue(client, "{\"type\":\"collected\",\"count\":" + std::to_string(count) + "}\n");
      break;
    }
    case FeedCommand::Type::deliver:
      handle_deliver(client, command->request);
      break;
  }
}

void FeedServer::handle_deliver(Client& client, const RequestPointer& request) {
  if (in_flight_.count(request->id)) {
    queue(client, format_error({request->id, "id", "a request with this id is already in flight"}));
    return;
  }
  // Route every recipient first: a request is queued whole or refused whole.
  std::map<std::string, std::pair<dns::Nexthop, std::vector<std::size_t>>> routes;
  for (std::size_t i = 0; i < request->message.recipients.size(); ++i) {
    std::string error;
    std::optional<dns::Nexthop> hop =
        request->nexthop.empty() ? router_->route(request->message.recipients[i].address, error)
                                 : dns::parse_nexthop(request->nexthop, &error);
    if (!hop) {
      queue(client,
            format_error({request->id, "recipients[" + std::to_string(i) + "].address", error}));
      return;
    }
    auto& route = routes[hop->key()];
    route.first = *hop;
    route.second.push_back(i);
  }
  request->feed_client = client.id;
  request->received = Clock::now();
  in_flight_[request->id] = request;
  for (auto& [key, route] : routes) dispatch_(request, route.first, std::move(route.second));
}

void FeedServer::resume_reading() {
  for (auto& [id, client] : clients_) {
    if (client->held_back && !client->closing) {
      client->held_back = false;
      consume(*client);
    }
  }
}

void FeedServer::report(ResultRecord record) {
  log_.result(record);
  DeliveryRequest& request = *record.request;
  switch (record.result.status) {
    case proto::DeliveryStatus::sent:
      ++request.sent;
      break;
    case proto::DeliveryStatus::bounced:
      ++request.bounced;
      break;
    default:
      ++request.deferred;
      break;
  }
  deliver_or_retain(request.feed_client, format_result(record, false));
  if (request.unfinished > 0 && --request.unfinished == 0) {
    deliver_or_retain(request.feed_client, format_done(request));
    in_flight_.erase(request.id);
  }
}

void FeedServer::deliver_or_retain(std::uint64_t client_id, std::string line) {
  auto it = clients_.find(client_id);
  if (it != clients_.end() && !it->second->closing) {
    queue(*it->second, std::move(line));
    return;
  }
  expire_retained();
  if (retained_.size() >= settings_.result_retention_limit) {
    log_.notice("feed: result retention limit reached, dropping the oldest unread result: " +
                retained_.front().second.substr(0, retained_.front().second.size() - 1));
    retained_.pop_front();
  }
  // Retained results say so, for a queue manager that collects them later.
  if (line.size() > 1 && line[line.size() - 2] == '}') {
    line.insert(line.size() - 2, ",\"retained\":true");
  }
  retained_.emplace_back(Clock::now(), std::move(line));
}

void FeedServer::expire_retained() {
  auto oldest = Clock::now() - settings_.result_retention_time;
  while (!retained_.empty() && retained_.front().first < oldest) {
    log_.notice("feed: unread result expired after feed_result_retention_time: " +
                retained_.front().second.substr(0, retained_.front().second.size() - 1));
    retained_.pop_front();
  }
}

void FeedServer::queue(Client& client, std::string line) {
  client.outbox_bytes += line.size();
  client.outbox.push_back(std::move(line));
  if (client.outbox_bytes > kPauseAboveBytes) client.paused = true;  // it is not reading
  kick_send(client);
}

void FeedServer::kick_send(Client& client) {
  if (client.send_op.in_flight || client.outbox.empty() || client.fd < 0) return;
  const std::string& front = client.outbox.front();
  io_uring_sqe* sqe = ring_.prepare(&client.send_op);
  io_uring_prep_send(sqe, client.fd, front.data() + client.sent_offset,
                     front.size() - client.sent_offset, MSG_NOSIGNAL);
  client.send_op.in_flight = true;
}

void FeedServer::on_send(Completion& c, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(c);
  op.in_flight = false;
  auto& client = *static_cast<Client*>(op.owner);
  FeedServer& self = *op.server;
  if (result < 0) {
    if (result == -EINTR || result == -EAGAIN) {
      self.kick_send(client);
      return;
    }
    client.outbox.clear();  // undeliverable now; later results are retained
    client.outbox_bytes = 0;
    self.close_client(client);
    return;
  }
  client.sent_offset += static_cast<std::size_t>(result);
  while (!client.outbox.empty() && client.sent_offset >= client.outbox.front().size()) {
    client.sent_offset -= client.outbox.front().size();
    client.outbox_bytes -= client.outbox.front().size();
    client.outbox.pop_front();
  }
  if (client.closing) {
    self.close_client(client);
    return;
  }
  if (client.paused && client.outbox_bytes < kPauseAboveBytes / 16) {
    client.paused = false;
    self.arm_recv(client);
  }
  self.kick_send(client);
}

void FeedServer::close_client(Client& client) {
  if (!client.closing) {
    client.closing = true;
    ::shutdown(client.fd, SHUT_RDWR);
    // What was queued but not written goes back to retention, so nothing read is lost.
    std::deque<std::string> unsent = std::move(client.outbox);
    if (!unsent.empty() && client.sent_offset > 0) unsent.pop_front();  // half-written: it was seen
    client.outbox.clear();
    client.outbox_bytes = 0;
    client.id = 0;  // results for it are retained from now on
    for (auto& line : unsent) {
      if (line.find("\"type\":\"hello\"") == std::string::npos)
        deliver_or_retain(0, std::move(line));
    }
  }
  if (client.recv_op.in_flight || client.send_op.in_flight) return;
  ::close(client.fd);
  client.fd = -1;
  for (auto it = clients_.begin(); it != clients_.end(); ++it) {
    if (it->second.get() == &client) {
      graveyard_.push_back(std::move(it->second));
      clients_.erase(it);
      break;
    }
  }
}

bool FeedServer::flushed() const {
  for (const auto& [id, c] : clients_) {
    if (!c->outbox.empty()) return false;
  }
  return true;
}

void FeedServer::collect_garbage() {
  graveyard_.clear();
}

}  // namespace ringrelay::engine
