// Feed connections on the ring (accept, line-splitting receive with a size limit, ordered sends),
// protocol-2 result streams with acknowledgements, protocol-1 at-most-once delivery with the
// collect pool, and the results journal around both.
#include "engine/feed/feed_server.hh"
#include "engine/runtime/invariant.hh"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

#include "engine/feed/feed_access.hh"
#include "engine/feed/feed_protocol.hh"
#include "engine/runtime/tcp_socket.hh"
#include "engine/version.hh"

namespace ringrelay::engine {
namespace {

constexpr std::size_t kRecvBytes = 64 * 1024;
constexpr std::size_t kPauseAboveBytes = 16 << 20;  // stop reading a client with this much unread
constexpr std::size_t kMaxClientNames = 1024;       // protocol-2 identities connected at once
// Requests and records waiting for a journal write: past this (a stalled disk) no request is read.
constexpr std::size_t kMaxWaitingForJournal = 100000;

// A connection that moved this often is refused rather than moved again (a name held by one
// shard, let go and taken by another while the connection travelled: it does not go round).
constexpr int kMaxMoves = 4;

}  // namespace

std::string shard_journal_directory(const std::string& results_journal, std::size_t index) {
  if (index == 0 || results_journal.empty()) return results_journal;
  return results_journal + "/shard-" + std::to_string(index);
}

struct FeedServer::Listener {
  int fd = -1;
  std::string name;
  bool tcp = false;
  bool shut = false;  // shut down (SIGTERM on shard 0): no more accepts on it
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
  std::deque<OutLine> outbox;
  std::size_t outbox_bytes = 0;
  std::size_t sent_offset = 0;
  // The lines of one send: many records go out in one sendmsg, not one operation per line.
  std::array<iovec, 64> iov{};
  msghdr message{};
  bool closing = false;
  bool paused = false;     // it does not read its results
  bool held_back = false;  // the engine is backlogged
  bool tcp = false;
  bool authenticated = true;  // a TCP client is not until its hello gives the secret
  bool hanging_up = false;    // refused: no more reading, closed once its outbox is written
  bool moving = false;        // it belongs on shard move_target: handed off once its outbox is out
  bool write_failed = false;  // gone for writing: read to the end of its data, then closed
  bool superseded = false;    // a newer connection of its client reads the results
  std::size_t move_target = 0;
  std::string carry;  // what it sent that this shard leaves to the next
  int moves = 0;
  int protocol = 1;
  std::string name;                   // protocol 2: the identity whose stream this connection reads
  std::uint64_t last_queued_seq = 0;  // protocol 2: records up to here are in the outbox
  std::uint64_t backlog_end = 0;      // protocol 2: the last record waiting at hello
  bool backlog_open = false;          // "collected" not sent yet
  std::size_t backlog_results = 0, backlog_done = 0;
};

FeedServer::FeedServer(Ring& ring, Timers& timers, const EngineSettings& settings, DeliveryLog& log,
                       FeedRegistry& registry, ShardPlace place)
    : ring_(ring),
      timers_(timers),
      settings_(settings),
      log_(log),
      registry_(registry),
      place_(place),
      streams_(settings.result_retention_limit, settings.result_retention_time) {
  streams_.on_drop = [this](const std::string& client, const StreamRecord& record,
                            const char* why) { drop_logged(client, record, why); };
}

FeedServer::~FeedServer() {
  for (auto& l : listeners_) {
    if (l->fd >= 0 && owns_listeners_) ::close(l->fd);
  }
  for (auto& [id, c] : clients_) {
    if (c->fd >= 0) ::close(c->fd);
  }
  if (owns_socket_) ::unlink(settings_.feed_socket.c_str());
}

// ---- start: journal, recovery, listeners ----------------------------------------------------

void FeedServer::listen() {
  std::vector<std::string> warnings;
  spool_ = std::make_unique<SpoolReader>(settings_.spool_directories, warnings);
  for (const auto& w : warnings) log_.notice("warning: " + w);
  if (!settings_.results_journal.empty()) open_journal();
  open_listeners();
  start_listening();
}

void FeedServer::listen_shared(const std::vector<FeedListener>& listeners) {
  std::vector<std::string> warnings;  // shard 0 logged them
  spool_ = std::make_unique<SpoolReader>(settings_.spool_directories, warnings);
  if (!settings_.results_journal.empty()) open_journal();
  for (const FeedListener& shared : listeners) {
    auto l = std::make_unique<Listener>();
    l->fd = shared.fd;
    l->name = shared.name;
    l->tcp = shared.tcp;
    listeners_.push_back(std::move(l));
  }
  start_listening();
}

std::vector<FeedListener> FeedServer::listeners() const {
  std::vector<FeedListener> out;
  for (const auto& l : listeners_) out.push_back({l->fd, l->name, l->tcp});
  return out;
}

void FeedServer::open_listeners() {
  owns_listeners_ = true;
  if (!settings_.feed_socket.empty()) {
    auto l = std::make_unique<Listener>();
    l->fd = listen_feed_socket(settings_);
    owns_socket_ = true;
    l->name = settings_.feed_socket;
    listeners_.push_back(std::move(l));
  }
  if (!settings_.feed_tcp_listen.empty()) {
    const std::string& spec = settings_.feed_tcp_listen;
    int fd = listen_tcp_socket(spec, "feed_tcp_listen");
    auto l = std::make_unique<Listener>();
    l->fd = fd;
    l->name = spec;
    l->tcp = true;
    listeners_.push_back(std::move(l));
  }
}

void FeedServer::start_listening() {
  for (auto& l : listeners_) {
    l->accept_op.server = this;
    l->accept_op.owner = l.get();
    l->accept_op.handler = &FeedServer::on_accept;
    arm_accept(*l);
  }
}

// ---- connections ------------------------------------------------------------------------------

void FeedServer::arm_accept(Listener& l) {
  if (!accepting_ || l.accept_op.in_flight || l.fd < 0 || l.shut) return;
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
    std::string who;
    if (!self.accepting_) {
      ::close(result);
    } else if (!listener->tcp && !peer_allowed(result, self.settings_, who)) {
      self.log_.notice("feed: refused a connection from " + who +
                       ": not in feed_allowed_users or feed_allowed_groups");
      std::string refusal =
          format_error({"", "", "not allowed: not in feed_allowed_users or feed_allowed_groups"});
      [[maybe_unused]] ssize_t n =
          ::send(result, refusal.data(), refusal.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(result);
    } else {
      Client& client = self.add_client(result, listener->tcp, !listener->tcp);
      self.queue(client, format_hello(kVersion, self.journal_ != nullptr), 0);
      self.arm_recv(client);
    }
  } else if (result == -EINVAL || result == -EBADF) {
    if (listener != nullptr) listener->shut = true;  // shut down by shard 0: stopping
  } else if (result != -ECANCELED && result != -EINTR && result != -EAGAIN) {
    self.log_.notice("feed: accept on " + (listener ? listener->name : "?") + ": " +
                     std::strerror(-result));
  }
  if (listener != nullptr) self.arm_accept(*listener);
}

FeedServer::Client& FeedServer::add_client(int fd, bool tcp, bool authenticated) {
  auto client = std::make_unique<Client>();
  client->id = next_client_id_++;
  client->fd = fd;
  client->tcp = tcp;
  client->authenticated = authenticated;
  client->recv_op.owner = client.get();
  client->send_op.owner = client.get();
  client->recv_op.server = this;
  client->send_op.server = this;
  client->recv_op.handler = &FeedServer::on_recv;
  client->send_op.handler = &FeedServer::on_send;
  Client& ref = *client;
  clients_[ref.id] = std::move(client);
  metrics_->clients.set(clients_.size());
  return ref;
}

void FeedServer::adopt(FeedConnection connection) {
  if (!accepting_) {
    ::close(connection.fd);  // stopping: like a connection that came a moment too late
    return;
  }
  Client& client = add_client(connection.fd, connection.tcp, connection.authenticated);
  client.moves = connection.moves;
  client.unread = std::move(connection.carry);
  consume(client);
}

void FeedServer::stop_accepting() {
  accepting_ = false;
  for (auto& l : listeners_) {
    if (l->accept_op.in_flight) io_uring_prep_cancel(ring_.prepare_untracked(), &l->accept_op, 0);
    if (owns_listeners_) ::shutdown(l->fd, SHUT_RDWR);
  }
  if (owns_socket_) ::unlink(settings_.feed_socket.c_str());
  owns_socket_ = false;
}

void FeedServer::arm_recv(Client& client) {
  if (client.recv_op.in_flight || client.closing || client.hanging_up || client.paused ||
      client.moving || !accepting_)
    return;
  if (backlogged && backlogged()) {
    hold_back(client);
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
    // The queue manager went away. Its requests go on; their results are kept.
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
      hold_back(client);
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
    if (client.moving) {  // this line and the rest are for the shard it moves to
      client.carry = line + "\n" + client.unread.substr(used);
      client.unread.clear();
      finish_move(client);
      return;
    }
    if (client.closing || client.hanging_up) return;
  }
  client.unread.clear();
  if (client.write_failed && client.outbox_bytes > kPauseAboveBytes) {
    close_client(client);  // it reads nothing and sends on: its records go to the pool
    return;
  }
  arm_recv(client);
}

void FeedServer::hold_back(Client& client) {
  if (!client.held_back) metrics_->pushback.add();
  client.held_back = true;
}

void FeedServer::refuse(Client& client, const std::string& field, const std::string& message) {
  queue(client, format_error({"", field, message}));
}

void FeedServer::handle_line(Client& client, std::string_view line) {
  FeedError error;
  auto command = parse_feed_line(line, error);
  if (!command) {
    metrics_->requests_refused.add();
    queue(client, format_error(error));
    if (!client.authenticated) hang_up(client);
    return;
  }
  if (!client.authenticated && command->type != FeedCommand::Type::hello) {
    refuse(client, "secret", "authenticate first: a hello with the feed_tcp_secret_file secret");
    log_.notice("feed: TCP client refused: a request before authenticating");
    hang_up(client);
    return;
  }
  std::optional<std::size_t> serving = serving_shard(client, *command);
  if (!serving) return;  // refused
  if (*serving != place_.index) {
    if (client.moves >= kMaxMoves) {
      refuse(client, "client", "the client name moved between shards meanwhile: connect again");
      hang_up(client);
      return;
    }
    client.moving = true;  // consume() hands this line and the rest over with the connection
    client.move_target = *serving;
    return;
  }
  switch (command->type) {
    case FeedCommand::Type::hello:
      handle_hello(client, *command);
      break;
    case FeedCommand::Type::collect:
      handle_collect(client);
      break;
    case FeedCommand::Type::ack:
      handle_ack(client, command->upto);
      break;
    case FeedCommand::Type::deliver:
      if (handle_deliver(client, command->request)) {
        metrics_->requests_accepted.add();
        metrics_->recipients_received.add(command->request->message.recipients.size());
      } else {
        metrics_->requests_refused.add();
      }
      break;
  }
}

std::optional<std::size_t> FeedServer::serving_shard(Client& client, const FeedCommand& command) {
  if (command.type == FeedCommand::Type::hello) {
    if (!client.authenticated) {  // checked where it arrives: it moves authenticated, or not
      if (!secret_matches(command.secret, settings_.feed_tcp_secret)) {
        refuse(client, "secret", "authentication failed");
        log_.notice("feed: TCP client refused: wrong or missing secret");
        hang_up(client);
        return std::nullopt;
      }
      client.authenticated = true;
    }
    if (!command.client.empty() && command.client != client.name) {
      std::optional<std::size_t> holder = registry_.claim(command.client, place_.index);
      if (!holder) {
        refuse(client, "client",
               "too many client names in use (" + std::to_string(FeedRegistry::kMaxClients) + ")");
        return std::nullopt;
      }
      return *holder;
    }
  }
  // An unnamed client's results go to its connection or to the collect pool, which shard 0 keeps.
  return client.name.empty() ? 0 : place_.index;
}

void FeedServer::handle_hello(Client& client, FeedCommand& command) {
  client.protocol = command.protocol;
  if (command.client.empty() || (command.client == client.name && !client.superseded)) {
    if (client.protocol >= 2 && command.client.empty()) {
      queue(client, format_welcome("", 0, 0));
    }
    return;
  }
  if (!named_.count(command.client) && named_.size() >= kMaxClientNames) {
    refuse(client, "client",
           "too many client names in use (" + std::to_string(kMaxClientNames) + ")");
    maybe_release(command.client);
    return;
  }
  std::string previous = client.name;
  if (auto mine = named_.find(previous); mine != named_.end() && mine->second == &client) {
    named_.erase(mine);
  }
  client.superseded = false;
  auto holder = named_.find(command.client);
  if (holder != named_.end() && holder->second != &client) {
    // The newest connection of a client takes its stream; what the older one was sent and did
    // not acknowledge is sent again here. The older one's requests are still the client's.
    log_.notice("feed: client " + command.client +
                " connected again; its results go to the new connection");
    holder->second->superseded = true;
  }
  client.name = command.client;
  named_[client.name] = &client;
  if (!previous.empty()) maybe_release(previous);
  client.last_queued_seq = 0;
  auto& records = streams_.records(client.name);
  auto requests = requests_of_.find(client.name);
  std::size_t in_flight = requests == requests_of_.end() ? 0 : requests->second;
  queue(client, format_welcome(client.name, records.size(), in_flight));
  client.backlog_end = records.empty() ? 0 : records.back().seq;
  client.backlog_open = true;
  client.backlog_results = client.backlog_done = 0;
  pump_stream(client);
}

void FeedServer::handle_ack(Client& client, std::uint64_t upto) {
  if (client.name.empty()) {
    refuse(client, "type", "ack needs protocol 2 and a client name in the hello");
    return;
  }
  upto = std::min(upto, client.last_queued_seq);
  if (streams_.acknowledge(client.name, upto) > 0 && journal_) {
    journal_acknowledged(client.name, upto);
  }
  streams_.forget_if_empty(client.name);  // names come and go: only streams with records stay
}

void FeedServer::handle_collect(Client& client) {
  streams_.expire();
  std::size_t results = 0, done = 0;
  auto& pool = streams_.records(kAnonymousPool);
  for (auto& r : pool) {
    (r.is_result ? results : done) += 1;
    std::string line = with_flag(r.line, "retained");
    if (r.sent_before) line = with_flag(line, "redelivered");
    queue(client, std::move(line), r.seq, r.is_result);
  }
  streams_.acknowledge(kAnonymousPool, UINT64_MAX);  // at most once: handed over is done with
  streams_.forget_if_empty(kAnonymousPool);
  collector_ = client.id;
  queue(client, format_collected(results, done));
}

bool FeedServer::handle_deliver(Client& client, const RequestPointer& request) {
  if (!request->pool.empty() && settings_.egress.pool(request->pool) == nullptr) {
    queue(client, format_error({request->id, "pool",
                                "no egress pool or source named \"" + request->pool +
                                    "\" (egress_pool_maps, egress_source_maps)"}));
    return false;
  }
  if (request->spool_reference) {
    const auto& ref = *request->spool_reference;
    if (ref.size > settings_.feed_body_memory_limit) {
      queue(client, format_error({request->id, "body.size",
                                  "larger than feed_body_memory_limit (" +
                                      std::to_string(settings_.feed_body_memory_limit) + ")"}));
      return false;
    }
    if (auto problem = spool_->read(ref.path, ref.offset, ref.size, request->spool)) {
      queue(client, format_error({request->id, problem->about_path ? "body.path" : "body",
                                  problem->message}));
      return false;
    }
    request->body_waiting = request->spool.waiting();
    if (!request->body_waiting) request->message.body = {request->spool.bytes()};
  }
  // Route every recipient first: a request is queued whole or refused whole.
  Routes routes;
  for (std::size_t i = 0; i < request->message.recipients.size(); ++i) {
    std::string error;
    std::optional<dns::Nexthop> hop = route(*request, i, error);
    if (!hop) {
      queue(client,
            format_error({request->id, "recipients[" + std::to_string(i) + "].address", error}));
      return false;
    }
    auto& to = routes[hop->key()];
    to.first = std::move(*hop);
    to.second.push_back(i);
  }
  if (!registry_.add_request(request->id)) {  // in flight here or on another shard
    queue(client, format_error({request->id, "id", "a request with this id is already in flight"}));
    return false;
  }
  request->feed_client = client.id;
  request->feed_client_name = client.name;
  request->feed_shard = place_.index;
  request->received = timers_.now();
  request->reported.assign(request->message.recipients.size(), false);
  in_flight_[request->id] = request;
  if (!client.name.empty()) ++requests_of_[client.name];
  if (!journal_) {
    start_request(request, routes);
    return true;
  }
  // Started only once the journal knows of it: after a crash, every recipient it might have
  // reached is accounted for.
  Waiting w;
  w.position = journal_->append(request_entry(*request));
  w.request = request;
  w.routes = std::move(routes);
  waiting_.push_back(std::move(w));
  return true;
}

std::optional<dns::Nexthop> FeedServer::route(const DeliveryRequest& request, std::size_t index,
                                              std::string& error) const {
  return request.nexthop.empty() ? router_->route(request.message.recipients[index].address, error,
                                                  request.message.sender)
                                 : dns::parse_nexthop(request.nexthop, &error);
}

void FeedServer::start_request(const RequestPointer& request, Routes& routes) {
  for (auto& [key, to] : routes) dispatch_(request, to.first, std::move(to.second));
}

void FeedServer::resume_reading() {
  // consume() may close a client or hand it off (clients_ changes): by id, not by iterator.
  std::vector<std::uint64_t> held;
  for (auto& [id, client] : clients_) {
    if (client->held_back && !client->closing && !client->moving) held.push_back(id);
  }
  for (std::uint64_t id : held) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    it->second->held_back = false;
    consume(*it->second);
  }
}

bool FeedServer::full() const {
  return registry_.requests_in_flight() >= settings_.feed_request_limit ||
         SpoolBody::bytes_held() >= settings_.feed_body_memory_limit ||
         waiting_.size() >= kMaxWaitingForJournal;  // the journal is that far behind
}

// ---- results ----------------------------------------------------------------------------------

void FeedServer::report(ResultRecord record) {
  if (record.request->feed_shard != place_.index) {  // another shard's feed took the request
    if (record.unnumbered_record.empty()) prepare_result(record, log_);
    forward_result(std::move(record));
    return;
  }
  DeliveryRequest& request = *record.request;
  RINGRELAY_CHECK(record.recipient < request.message.recipients.size(),
                  "result for a known recipient");
  if (record.recipient < request.reported.size()) {
    if (request.reported[record.recipient]) {  // exactly one result per recipient
      log_.notice("feed: internal error: a second result for recipient " +
                  std::to_string(record.recipient) + " of " + request.id + " ignored");
      return;
    }
    request.reported[record.recipient] = true;
  }
  if (record.unnumbered_record.empty()) prepare_result(record, log_);  // a result of this shard
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
  std::uint64_t seq = registry_.next_seq();
  std::string line = number_record({std::move(record.unnumbered_record), record.seq_offset}, seq);
  add_record(request, std::move(line), seq, record.recipient);
  if (request.unfinished > 0 && --request.unfinished == 0) {
    std::uint64_t done_seq = registry_.next_seq();
    add_record(request, format_done(request, done_seq), done_seq, std::nullopt);
    if (journal_) journal_finished(request.id);
    in_flight_.erase(request.id);
    registry_.remove_request(request.id);
    if (!request.feed_client_name.empty()) {
      auto requests = requests_of_.find(request.feed_client_name);
      if (requests != requests_of_.end() && --requests->second == 0) {
        requests_of_.erase(requests);
        maybe_release(request.feed_client_name);
      }
    }
  }
}

void prepare_result(ResultRecord& record, DeliveryLog& log) {
  auto formatted = format_unnumbered_result(record);
  record.unnumbered_record = std::move(formatted.text);
  record.seq_offset = formatted.seq_offset;
  log.result(record);
}

void FeedServer::add_record(DeliveryRequest& request, std::string line, std::uint64_t seq,
                            std::optional<std::size_t> recipient) {
  bool is_result = recipient.has_value();
  Waiting w;
  w.is_record = true;
  w.client = request.feed_client_name;
  w.connection = request.feed_client;
  w.record = StreamRecord{seq, std::move(line), record_time(), is_result, false};
  if (!journal_) {
    hand_out(w);
    return;
  }
  w.position = journal_record(w.record, w.client, request.id, recipient);
  waiting_.push_back(std::move(w));
}

void FeedServer::release_waiting() {
  std::uint64_t durable = journal_ ? journal_->durable() : UINT64_MAX;
  while (!waiting_.empty() && waiting_.front().position <= durable) {
    Waiting w = std::move(waiting_.front());
    waiting_.pop_front();
    if (w.is_record) {
      hand_out(w);
    } else {
      start_request(w.request, w.routes);
    }
  }
}

void FeedServer::hand_out(Waiting& w) {
  if (!w.client.empty()) {  // protocol 2: the client's stream, read by its current connection
    streams_.add(w.client, std::move(w.record));
    auto holder = named_.find(w.client);
    if (holder != named_.end()) pump_stream(*holder->second);
    return;
  }
  auto it = clients_.find(w.connection);
  Client* target = it != clients_.end() && !it->second->closing ? it->second.get() : nullptr;
  std::string line = std::move(w.record.line);
  if (target == nullptr) {  // its connection is gone: the collector gets it, or the pool keeps it
    auto collector = clients_.find(collector_);
    if (collector != clients_.end() && !collector->second->closing) {
      target = collector->second.get();
      line = with_flag(line, "retained");
    }
  }
  if (target != nullptr) {
    queue(*target, std::move(line), w.record.seq, w.record.is_result);
  } else {
    w.record.line = std::move(line);
    streams_.add(kAnonymousPool, std::move(w.record));
  }
}

void FeedServer::pump_stream(Client& client) {
  if (client.name.empty() || client.superseded || client.closing || client.fd < 0) return;
  auto& records = streams_.records(client.name);
  auto next =
      std::upper_bound(records.begin(), records.end(), client.last_queued_seq,
                       [](std::uint64_t seq, const StreamRecord& r) { return seq < r.seq; });
  for (; next != records.end() && client.outbox_bytes < kPauseAboveBytes; ++next) {
    if (client.backlog_open && next->seq <= client.backlog_end) {
      (next->is_result ? client.backlog_results : client.backlog_done) += 1;
    }
    queue(client, next->sent_before ? with_flag(next->line, "redelivered") : next->line);
    next->sent_before = true;
    client.last_queued_seq = next->seq;
  }
  if (client.backlog_open && client.last_queued_seq >= client.backlog_end) {
    client.backlog_open = false;
    queue(client, format_collected(client.backlog_results, client.backlog_done));
  }
}

void FeedServer::drop_logged(const std::string& client, const StreamRecord& record,
                             const char* why) {
  std::string text = record.line.substr(0, record.line.size() - 1);
  std::string whose = client.empty() ? std::string() : " of client " + client;
  if (std::string_view(why) == "expired") {
    log_.notice("feed: unacknowledged result" + whose +
                " expired after feed_result_retention_time: " + text);
  } else {
    log_.notice("feed: result retention limit reached, dropping the oldest unacknowledged result" +
                whose + ": " + text);
  }
  if (journal_) journal_forgotten(record.seq);
}

// ---- sending ------------------------------------------------------------------------------------

void FeedServer::queue(Client& client, std::string line, std::uint64_t seq, bool is_result) {
  client.outbox_bytes += line.size();
  client.outbox.push_back(OutLine{std::move(line), seq, is_result});
  if (client.outbox_bytes > kPauseAboveBytes && !client.write_failed) {
    client.paused = true;  // it is not reading
  }
  kick_send(client);
}

void FeedServer::kick_send(Client& client) {
  if (client.send_op.in_flight || client.outbox.empty() || client.fd < 0 || client.closing ||
      client.write_failed)
    return;
  std::size_t count = 0;
  for (const OutLine& line : client.outbox) {
    if (count == client.iov.size()) break;
    std::size_t skip = count == 0 ? client.sent_offset : 0;
    client.iov[count++] = {const_cast<char*>(line.text.data()) + skip, line.text.size() - skip};
  }
  client.message = {};
  client.message.msg_iov = client.iov.data();
  client.message.msg_iovlen = count;
  io_uring_sqe* sqe = ring_.prepare(&client.send_op);
  io_uring_prep_sendmsg(sqe, client.fd, &client.message, MSG_NOSIGNAL);
  client.send_op.in_flight = true;
}

void FeedServer::written(Client&, const OutLine& line) {
  // A protocol-1 record is done with once written: that is all its client promises.
  if (line.seq != 0 && journal_) journal_forgotten(line.seq);
}

void FeedServer::on_send(Completion& c, int result, std::uint32_t) {
  auto& op = static_cast<Op&>(c);
  op.in_flight = false;
  auto& client = *static_cast<Client*>(op.owner);
  FeedServer& self = *op.server;
  if (result < 0) {
    if ((result == -EINTR || result == -EAGAIN) && !client.closing) {
      self.kick_send(client);
      return;
    }
    if (client.moving) {  // what it sent still goes on, to be read there to its end
      client.outbox.clear();
      client.outbox_bytes = 0;
      client.sent_offset = 0;
      self.finish_move(client);
      return;
    }
    if (client.closing || client.hanging_up) {
      self.close_client(client);  // keeps what was not written
      return;
    }
    // The client went away (it may close without reading its results). What it wrote before is
    // still to be read: its requests are taken until the end of its data, then it is closed.
    client.write_failed = true;
    if (client.paused) {
      client.paused = false;
      self.arm_recv(client);
    }
    if (!client.recv_op.in_flight && !client.held_back) self.close_client(client);
    return;
  }
  client.sent_offset += static_cast<std::size_t>(result);
  while (!client.outbox.empty() && client.sent_offset >= client.outbox.front().text.size()) {
    client.sent_offset -= client.outbox.front().text.size();
    client.outbox_bytes -= client.outbox.front().text.size();
    self.written(client, client.outbox.front());
    client.outbox.pop_front();
  }
  if (client.closing || (client.hanging_up && client.outbox.empty())) {
    self.close_client(client);
    return;
  }
  if (client.moving && client.outbox.empty()) {
    self.finish_move(client);
    return;
  }
  if (client.outbox_bytes < kPauseAboveBytes / 16) {
    self.pump_stream(client);
    if (client.paused && client.outbox_bytes < kPauseAboveBytes / 16) {
      client.paused = false;
      self.arm_recv(client);
    }
  }
  self.kick_send(client);
}

void FeedServer::finish_move(Client& client) {
  if (!client.outbox.empty() || client.send_op.in_flight || client.recv_op.in_flight ||
      client.closing)
    return;  // on_send calls again once the outbox is written
  FeedConnection connection{
      client.fd,          client.tcp,      client.authenticated, std::move(client.carry),
      client.move_target, client.moves + 1};
  client.fd = -1;  // it goes on: not shut down or closed here
  close_client(client);
  hand_off(std::move(connection));
}

void FeedServer::maybe_release(const std::string& name) {
  if (name.empty() || named_.count(name) || requests_of_.count(name) || streams_.has(name)) return;
  registry_.release(name, place_.index);
}

void FeedServer::hang_up(Client& client) {
  client.hanging_up = true;
  if (client.outbox.empty() && !client.send_op.in_flight) close_client(client);
}

void FeedServer::close_client(Client& client) {
  if (!client.closing) {
    client.closing = true;
    if (client.fd >= 0) ::shutdown(client.fd, SHUT_RDWR);
    if (!client.name.empty()) {
      auto holder = named_.find(client.name);
      if (holder != named_.end() && holder->second == &client) named_.erase(holder);
      streams_.forget_if_empty(client.name);
      maybe_release(client.name);
    }
    if (collector_ == client.id) collector_ = 0;
    // Protocol-1 records not wholly written go to the pool for a later "collect"; one written in
    // part may have been read, and says so when it is collected. (Protocol-2 records stay in
    // their stream until acknowledged.)
    bool first = true;
    for (auto& line : client.outbox) {
      if (line.seq != 0) {
        streams_.add(kAnonymousPool, StreamRecord{line.seq, std::move(line.text), record_time(),
                                                  line.is_result, first && client.sent_offset > 0});
      }
      first = false;
    }
    client.outbox.clear();
    client.outbox_bytes = 0;
    client.sent_offset = 0;
  }
  if (client.recv_op.in_flight || client.send_op.in_flight) return;
  if (client.fd >= 0) ::close(client.fd);
  client.fd = -1;
  auto it = clients_.find(client.id);
  if (it != clients_.end() && it->second.get() == &client) {
    graveyard_.push_back(std::move(it->second));
    clients_.erase(it);
    metrics_->clients.set(clients_.size());
  }
}

void FeedServer::for_each_unwritten_record(const std::function<void(const OutLine&)>& visit) const {
  for (const auto& [id, c] : clients_) {
    for (const auto& line : c->outbox) {
      if (line.seq != 0) visit(line);
    }
  }
}

bool FeedServer::flushed() const {
  for (const auto& [id, c] : clients_) {
    if (!c->outbox.empty()) return false;
  }
  return waiting_.empty() && (!journal_ || journal_->idle());
}

std::chrono::system_clock::time_point FeedServer::record_time() {
  if (!turn_record_time_) turn_record_time_ = std::chrono::system_clock::now();
  return *turn_record_time_;
}

void FeedServer::end_of_turn() {
  turn_record_time_.reset();
  graveyard_.clear();
  streams_.expire();
  if (!journal_) return;
  if (auto again = journal_->commit(); again && !commit_timer_.armed()) {
    commit_timer_.arm(timers_, *again - Clock::now(), [] {});  // the next end_of_turn commits
  }
}

}  // namespace ringrelay::engine
