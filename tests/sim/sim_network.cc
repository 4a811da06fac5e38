// The simulated network: connections that run the real ClientSession against scripted servers,
// with every byte exchange, delay and fault an event in virtual time.
#include "tests/sim/sim_network.hh"

#include "proto/auth.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <optional>

namespace ringrelay::sim {

bool World::run(const std::function<bool()>& done, Clock::duration limit,
                const std::function<void()>& after_turn) {
  Clock::time_point end = now + limit;
  while (!done()) {
    std::optional<Clock::time_point> next = timers.next_deadline();
    if (!next || *next > end) return false;
    now = std::max(now, *next);
    timers.fire_due();
    if (after_turn) after_turn();
  }
  return true;
}

namespace {

bool starts_with_word(const std::string& line, std::string_view word) {
  if (line.size() < word.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    char c = line[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != word[i]) return false;
  }
  return true;
}

// The server's side of one connection: SMTP by lines, replies as the script says.
class ServerSession {
 public:
  ServerSession(SimServer& server, World& world, std::string source)
      : server_(server), world_(world), source_(std::move(source)) {}

  struct Answer {
    std::string replies;
    bool close = false;        // the server closes after these replies
    bool stall = false;        // the server stops answering for good
    bool end_of_data = false;  // the replies include the end-of-data answer (slower)
  };

  Answer receive(std::string_view bytes) {
    Answer answer;
    buffer_.append(bytes);
    std::size_t eol;
    while (!stalled_ && !closed_ && (eol = buffer_.find('\n')) != std::string::npos) {
      std::string line = buffer_.substr(0, eol);
      buffer_.erase(0, eol + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      handle(line, answer);
    }
    answer.stall = stalled_;
    answer.close = closed_;
    return answer;
  }

 private:
  void handle(const std::string& line, Answer& answer) {
    const ServerScript& s = server_.script;
    if (in_data_) {
      if (line != ".") return;
      in_data_ = false;
      if (world_.chance() < s.drop_in_data) {
        closed_ = true;
        return;
      }
      ++messages_;
      ++server_.stats.messages;
      ++this_minute();
      ++server_.stats.messages_by_login[{login_, sender_}];
      ++server_.stats.messages_by_source[source_];
      server_.stats.recipients += rcpts_;
      server_.stats.max_recipients_in_one_transaction =
          std::max(server_.stats.max_recipients_in_one_transaction, rcpts_);
      server_.stats.max_messages_on_one_connection =
          std::max(server_.stats.max_messages_on_one_connection, messages_);
      mail_ = false;
      rcpts_ = 0;
      answer.end_of_data = true;
      answer.replies += "250 2.0.0 Ok: queued as SIM\r\n";
      return;
    }
    if (s.stall > 0 && world_.chance() < s.stall) {
      stalled_ = true;
      return;
    }
    if (starts_with_word(line, "EHLO")) {
      answer.replies += "250-sim.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n";
      if (!s.logins.empty()) answer.replies += "250-AUTH PLAIN\r\n";
      answer.replies += "250 ENHANCEDSTATUSCODES\r\n";
    } else if (starts_with_word(line, "AUTH PLAIN ") && !s.logins.empty()) {
      // "\0user\0password"
      auto decoded = proto::base64_decode(line.substr(11));
      std::string user, password;
      if (decoded) {
        auto first = decoded->find('\0'), second = decoded->find('\0', first + 1);
        if (first != std::string::npos && second != std::string::npos) {
          user = decoded->substr(first + 1, second - first - 1);
          password = decoded->substr(second + 1);
        }
      }
      auto it = s.logins.find(user);
      if (it != s.logins.end() && it->second == password) {
        login_ = user;
        ++server_.stats.logins_accepted;
        answer.replies += "235 2.7.0 Authentication successful\r\n";
      } else {
        ++server_.stats.logins_refused;
        answer.replies += "535 5.7.8 Error: authentication failed: authentication failure\r\n";
      }
    } else if (starts_with_word(line, "HELO")) {
      answer.replies += "250 sim.example\r\n";
    } else if (starts_with_word(line, "MAIL")) {
      auto open = line.find('<'), close = line.find('>');
      sender_ = open != std::string::npos && close != std::string::npos && close > open
                    ? line.substr(open + 1, close - open - 1)
                    : std::string();
      if (!s.logins.empty() && login_.empty()) {
        answer.replies += "530 5.7.0 Authentication required\r\n";
      } else if (s.messages_per_connection > 0 && messages_ >= s.messages_per_connection) {
        ++server_.stats.refused_messages;
        answer.replies += "452 4.5.3 Too many recipients: Too many messages sent\r\n";
      } else if (!s.mail_refusal.empty()) {
        answer.replies += s.mail_refusal + "\r\n";
      } else if (s.messages_per_minute > 0 &&
                 (s.rate_limited_source.empty() || s.rate_limited_source == source_) &&
                 this_minute() >= s.messages_per_minute) {
        ++server_.stats.rate_limited;
        answer.replies +=
            "421 4.7.28 Our system has detected an unusual rate of mail from your IP address: "
            "rate limited, try again later\r\n";
        closed_ = true;
      } else if (world_.chance() < s.mail_defer) {
        answer.replies += "451 4.3.0 Temporary local problem\r\n";
      } else {
        mail_ = true;
        answer.replies += "250 2.1.0 Ok\r\n";
      }
    } else if (starts_with_word(line, "RCPT")) {
      if (!mail_) {
        answer.replies += "503 5.5.1 Error: need MAIL command\r\n";
      } else if (s.recipients_per_transaction > 0 && rcpts_ >= s.recipients_per_transaction) {
        ++server_.stats.refused_recipients;
        answer.replies += "452 4.5.3 Too many recipients\r\n";
      } else if (world_.chance() < s.rcpt_defer) {
        answer.replies += "450 4.2.0 Mailbox busy\r\n";
      } else if (world_.chance() < s.rcpt_reject) {
        answer.replies += "550 5.1.1 User unknown\r\n";
      } else {
        ++rcpts_;
        answer.replies += "250 2.1.5 Ok\r\n";
      }
    } else if (starts_with_word(line, "DATA")) {
      if (!mail_ || rcpts_ == 0) {
        answer.replies += "554 5.5.1 Error: no valid recipients\r\n";
      } else {
        in_data_ = true;
        answer.replies += "354 End data with <CR><LF>.<CR><LF>\r\n";
      }
    } else if (starts_with_word(line, "RSET")) {
      mail_ = false;
      rcpts_ = 0;
      answer.replies += "250 2.0.0 Ok\r\n";
    } else if (starts_with_word(line, "QUIT")) {
      answer.replies += "221 2.0.0 Bye\r\n";
      closed_ = true;
    } else if (starts_with_word(line, "NOOP")) {
      answer.replies += "250 2.0.0 Ok\r\n";
    } else {
      answer.replies += "502 5.5.2 Error: command not recognized\r\n";
    }
  }

  // Accepted messages from this session's source address in the current clock minute of virtual
  // time (a provider limits per client address).
  std::size_t& this_minute() {
    ServerStats::Minute& counted = server_.stats.minutes_by_source[source_];
    Clock::time_point minute = Clock::time_point{} + std::chrono::floor<std::chrono::minutes>(
                                                         world_.now.time_since_epoch());
    if (counted.minute != minute) {
      counted.minute = minute;
      counted.messages = 0;
    }
    return counted.messages;
  }

  SimServer& server_;
  World& world_;
  std::string buffer_;
  bool in_data_ = false, mail_ = false, stalled_ = false, closed_ = false;
  std::string login_, sender_;  // who logged in on this connection; the current MAIL FROM
  std::string source_;          // the client's bound address; empty: the host's default
  std::size_t rcpts_ = 0, messages_ = 0;
};

class SimConnection final : public engine::Connection {
 public:
  SimConnection(SimNetwork& network, engine::ConnectionListener& listener,
                engine::ServerAddress server, proto::SessionSettings settings,
                const engine::ConnectOptions& options, engine::TlsPlan tls, engine::AuthPlan auth)
      : network_(network),
        world_(network.world()),
        listener_(listener),
        server_(std::move(server)),
        auth_plan_(std::move(auth)),
        auth_(engine::make_auth_client(auth_plan_)),
        session_(tls_off(std::move(settings)), server_.name_address(), auth_.get()),
        created_(world_.now) {
    established_.policy = tls.policy;
    const auto& source = server_.family() == AF_INET6 ? options.source6 : options.source;
    if (source) source_ = source->address;
    if (options.bind_enforce && !source_.empty() && network_.unbindable.contains(source_)) {
      bind_failure_ = source_ + ": Cannot assign requested address";
    }
    ++network_.open_connections;
  }
  ~SimConnection() override { assert(state_ == State::closed || state_ == State::created); }

  void start() override {
    state_ = State::connecting;
    connect_timer_.arm(world_.timers, 1ms, [this] { connect(); });
  }
  void deliver(const proto::Message& message, bool final_server) override {
    session_.start_transaction(message, final_server);
    run_actions();
  }
  void quit() override {
    if (state_ == State::closing || state_ == State::closed) return;
    if (session_.idle()) {
      session_.quit();
      run_actions();
    } else {
      cut_off("ringrelay is shutting down");
    }
  }
  void cut_off(const std::string& why) override {
    if (state_ == State::closing || state_ == State::closed) return;
    if (state_ == State::open || state_ == State::connecting) {
      session_.on_cut_off(why);
      run_actions();
    }
    if (close_reason_.empty()) close_reason_ = why;
    begin_close();
  }

  const engine::ServerAddress& server() const override { return server_; }
  std::size_t reuse_count() const override { return session_.transactions_done(); }
  Clock::time_point created() const override { return created_; }
  Clock::time_point connected_at() const override { return connected_at_; }
  Clock::time_point handshake_done_at() const override { return handshake_done_at_; }
  std::string close_reason() const override { return close_reason_; }
  const tls::Established& established() const override { return established_; }
  const engine::TlsOutcome& tls_outcome() const override { return tls_outcome_; }
  bool tls_failed_opportunistically() const override { return false; }
  std::size_t refused_after() const override { return session_.refused_after(); }
  std::size_t recipients_refused_after() const override {
    return session_.recipients_refused_after();
  }
  const std::string& bind_failure() const override { return bind_failure_; }

 private:
  enum class State { created, connecting, open, closing, closed };

  static proto::SessionSettings tls_off(proto::SessionSettings settings) {
    settings.tls = proto::TlsMode::none;  // the simulator has no TLS
    return settings;
  }

  void connect() {
    if (state_ != State::connecting) return;
    if (!bind_failure_.empty()) {
      session_.on_connect_failed(server_.name_address_port(), "Cannot assign requested address");
      run_actions();
      begin_close();
      return;
    }
    SimServer* server = network_.find(server_);
    if (server == nullptr || server->script.refuse_connections) {
      session_.on_connect_failed(server_.name_address_port(), "Connection refused");
      run_actions();
      begin_close();
      return;
    }
    server_side_ = server;
    ++server->stats.connections;
    ++server->stats.sessions_now;
    server->stats.sessions_max = std::max(server->stats.sessions_max, server->stats.sessions_now);
    state_ = State::open;
    connected_at_ = world_.now;
    peer_ = std::make_unique<ServerSession>(*server, world_, source_);
    session_.on_connected();
    run_actions();
    const ServerScript& s = server->script;
    if (s.session_limit > 0 && server->stats.sessions_now > s.session_limit) {
      ++server->stats.too_many;
      inbound("421 4.7.0 Too many connections\r\n", true, s.reply_delay);
    } else if (s.greeting_defer > 0 && world_.chance() < s.greeting_defer) {
      inbound("421 4.3.2 Service not available\r\n", true, s.reply_delay);
    } else {
      inbound("220 sim.example ESMTP\r\n", false, s.reply_delay);
    }
  }

  // Bytes from the server after `delay`; `close`: the server closes after them.
  void inbound(std::string bytes, bool close, Clock::duration delay) {
    incoming_.push_back({world_.now + delay, std::move(bytes), close});
    if (!incoming_timer_.armed()) arm_incoming();
  }
  void arm_incoming() {
    if (incoming_.empty()) return;
    Clock::duration wait = std::max(Clock::duration::zero(), incoming_.front().at - world_.now);
    incoming_timer_.arm(world_.timers, wait, [this] {
      Incoming next = std::move(incoming_.front());
      incoming_.pop_front();
      if (state_ != State::open) return;
      if (!next.bytes.empty()) {
        session_.on_received(next.bytes);
        run_actions();
      }
      if (next.close && state_ == State::open) {
        session_.on_connection_lost();
        run_actions();
        begin_close();
      }
      if (state_ == State::open) arm_incoming();
    });
  }

  void send(const std::string& bytes) {
    if (state_ != State::open || peer_ == nullptr) return;
    ServerSession::Answer answer = peer_->receive(bytes);
    if (answer.stall) return;  // nothing more from the server; the session's timer decides
    Clock::duration delay = server_side_->script.reply_delay;
    if (answer.end_of_data) delay += server_side_->script.data_delay;
    if (!answer.replies.empty() || answer.close)
      inbound(std::move(answer.replies), answer.close, delay);
  }

  void run_actions() {
    for (;;) {
      std::vector<proto::Action> actions = session_.take_actions();
      if (actions.empty()) break;
      for (auto& action : actions) {
        if (auto* w = std::get_if<proto::WriteAction>(&action)) {
          send(w->bytes.flatten());
          session_.on_written();
        } else if (auto* t = std::get_if<proto::ArmTimerAction>(&action)) {
          session_timer_.arm(world_.timers, std::chrono::seconds(t->seconds), [this] {
            session_.on_timeout();
            run_actions();
          });
        } else if (std::holds_alternative<proto::CancelTimerAction>(action)) {
          session_timer_.cancel();
        } else if (std::holds_alternative<proto::StartTlsAction>(action)) {
          session_.on_tls_failed("the simulator has no TLS");
        } else if (auto* r = std::get_if<proto::RecipientResult>(&action)) {
          listener_.on_result(*this, *r);
        } else if (auto* d = std::get_if<proto::TransactionDone>(&action)) {
          listener_.on_transaction_done(*this, *d);
        } else if (auto* n = std::get_if<proto::NoticeAction>(&action)) {
          listener_.on_notice(*this, n->text);
        } else if (std::holds_alternative<proto::IdleAction>(action)) {
          listener_.on_idle(*this);
        } else if (auto* x = std::get_if<proto::CloseAction>(&action)) {
          if (close_reason_.empty()) close_reason_ = x->reason;
          begin_close();
        }
      }
      if (handshake_done_at_ == Clock::time_point{} && session_.handshake_done())
        handshake_done_at_ = world_.now;
    }
  }

  void begin_close() {
    if (state_ == State::closing || state_ == State::closed) return;
    state_ = State::closing;
    session_timer_.cancel();
    incoming_timer_.cancel();
    connect_timer_.cancel();
    if (server_side_ != nullptr) --server_side_->stats.sessions_now;
    peer_.reset();
    // Like the ring: the close completes later, never inside the caller's own callback.
    close_timer_.arm(world_.timers, Clock::duration::zero(), [this] {
      state_ = State::closed;
      --network_.open_connections;
      listener_.on_closed(*this);  // may schedule this object's destruction
    });
  }

  struct Incoming {
    Clock::time_point at;
    std::string bytes;
    bool close = false;
  };

  SimNetwork& network_;
  World& world_;
  engine::ConnectionListener& listener_;
  engine::ServerAddress server_;
  engine::AuthPlan auth_plan_;
  std::unique_ptr<proto::AuthClient> auth_;  // the real Cyrus client, as in production
  proto::ClientSession session_;
  State state_ = State::created;
  SimServer* server_side_ = nullptr;
  std::unique_ptr<ServerSession> peer_;
  std::deque<Incoming> incoming_;
  engine::Timer connect_timer_, incoming_timer_, session_timer_, close_timer_;
  Clock::time_point created_, connected_at_{}, handshake_done_at_{};
  std::string close_reason_, bind_failure_, source_;
  tls::Established established_;
  engine::TlsOutcome tls_outcome_;
};

}  // namespace

SimServer& SimNetwork::add_server(const std::string& address, ServerScript script,
                                  std::uint16_t port) {
  SimServer& server = servers_[address + ":" + std::to_string(port)];
  server.address = address;
  server.port = port;
  server.script = script;
  return server;
}

SimServer* SimNetwork::find(const engine::ServerAddress& server) {
  auto it = servers_.find(server.address_port());
  return it == servers_.end() ? nullptr : &it->second;
}

std::unique_ptr<engine::Connection> SimNetwork::open(engine::ConnectionListener& listener,
                                                     engine::ServerAddress server,
                                                     proto::SessionSettings settings,
                                                     engine::ConnectOptions options,
                                                     engine::TlsPlan tls, engine::AuthPlan auth) {
  return std::make_unique<SimConnection>(*this, listener, std::move(server), std::move(settings),
                                         options, std::move(tls), std::move(auth));
}

struct SimResolver::Pending {
  engine::Timer timer;
};

SimResolver::SimResolver(World& world) : world_(world) {}
SimResolver::~SimResolver() = default;

void SimResolver::add_mx(const std::string& domain,
                         const std::vector<std::pair<std::string, std::string>>& hosts,
                         std::uint16_t port) {
  engine::ResolveAnswer answer;
  for (const auto& [name, address] : hosts) {
    auto a = engine::numeric_address(address, port);
    assert(a);
    a->hostname = name;
    answer.addresses.push_back(std::move(*a));
  }
  answers_[domain] = std::move(answer);
}

void SimResolver::add_failure(const std::string& domain, bool hard, std::string dsn,
                              std::string text) {
  engine::ResolveAnswer answer;
  answer.hard_failure = hard;
  answer.dsn = std::move(dsn);
  answer.text = std::move(text);
  answers_[domain] = std::move(answer);
}

void SimResolver::add_answer(const std::string& domain, engine::ResolveAnswer answer) {
  answers_[domain] = std::move(answer);
}

void SimResolver::resolve(const dns::Nexthop& hop,
                          std::function<void(engine::ResolveAnswer)> done) {
  ++lookups;
  engine::ResolveAnswer answer;
  auto it = answers_.find(hop.host);
  if (it != answers_.end()) {
    answer = it->second;
  } else if (auto literal = engine::numeric_address(hop.host, hop.port)) {
    answer.addresses.push_back(std::move(*literal));
  } else {
    answer.hard_failure = true;
    answer.dsn = "5.1.2";
    answer.text = "Host or domain name not found. Name service error for name=" + hop.host +
                  " type=MX: Host not found";
  }
  for (auto& a : answer.addresses) a.port = hop.port;
  answer.expires = world_.now + ttl;
  // Finished lookups free their timers on the next lookup (a timer may not free itself).
  std::erase_if(pending_, [](const auto& p) { return !p->timer.armed(); });
  auto pending = std::make_unique<Pending>();
  pending->timer.arm(
      world_.timers, delay,
      [done = std::move(done), answer = std::move(answer)]() mutable { done(std::move(answer)); });
  pending_.push_back(std::move(pending));
}

}  // namespace ringrelay::sim
