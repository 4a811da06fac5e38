// The deterministic simulator's world: virtual time, a seeded random source, scripted SMTP servers
// (accept, defer, reject, stall, drop mid-DATA, limit sessions or messages per connection) and a
// fake network whose connections run the real proto::ClientSession against them, plus scripted DNS.
// The delivery core (engine::Scheduler) runs on it unchanged: the same seed gives the same run.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/delivery/connection.hh"
#include "engine/delivery/shard_resolver.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::sim {

using engine::Clock;
using namespace std::chrono_literals;

class World {
 public:
  explicit World(std::uint64_t seed) : rng(seed) {}
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Fires timers in deadline order, moving virtual time, until `done()` or no timer is left or
  // `limit` of virtual time has passed. `after_turn` runs after each firing (garbage, checks).
  // Returns true when `done()` became true.
  bool run(const std::function<bool()>& done, Clock::duration limit,
           const std::function<void()>& after_turn = {});
  // A number in [0, 1): every random choice of the simulation comes from here.
  double chance() { return std::uniform_real_distribution<double>(0, 1)(rng); }

  Clock::time_point now = Clock::time_point{} + 24h;  // never the epoch ("unset" in places)
  engine::Timers timers{&now};
  std::mt19937_64 rng;
};

// How one scripted server behaves. Probabilities are per event, drawn from the world's source.
struct ServerScript {
  bool refuse_connections = false;          // "Connection refused"
  std::size_t session_limit = 0;            // 0: none; beyond it "421 4.7.0 Too many connections"
  std::size_t messages_per_connection = 0;  // 0: none; beyond it OpenSMTPD's 452 4.5.3
  Clock::duration reply_delay = 1ms;        // per reply (a round trip)
  Clock::duration data_delay = 10ms;        // end-of-data: the server taking the message
  double rcpt_defer = 0;                    // 450 to RCPT
  double rcpt_reject = 0;                   // 550 to RCPT
  double mail_defer = 0;                    // 451 to MAIL FROM (a transient local problem)
  double drop_in_data = 0;                  // connection lost before end-of-data is answered
  double stall = 0;                         // no reply at all to a command (a tar pit)
  double greeting_defer = 0;                // "421 4.3.2 Service not available" at once
  // 0: none; beyond this many accepted messages in a clock minute, MAIL FROM gets Gmail's
  // "421 4.7.28 ... rate limited" and the connection closes.
  std::size_t messages_per_minute = 0;
  std::string rate_limited_source;  // not empty: messages_per_minute applies to this client only
  std::string mail_refusal;         // not empty: every MAIL FROM gets this reply (a blocklist, say)
  // 0: none; beyond this many recipients in a transaction, RCPT gets "452 4.5.3 Too many
  // recipients".
  std::size_t recipients_per_transaction = 0;
  // Not empty: the server offers AUTH PLAIN, checks logins against these (user → password) and
  // refuses MAIL FROM without one ("530 5.7.0 Authentication required").
  std::map<std::string, std::string> logins;
};

struct ServerStats {
  std::size_t connections = 0;       // accepted TCP connections
  std::size_t sessions_now = 0;      // open now
  std::size_t sessions_max = 0;      // the most open at once
  std::size_t too_many = 0;          // greeted with 421 for the session limit
  std::size_t messages = 0;          // transactions accepted (250 to end-of-data)
  std::size_t recipients = 0;        // recipients of accepted transactions
  std::size_t refused_messages = 0;  // MAIL FROM refused for the per-connection limit
  std::size_t max_messages_on_one_connection = 0;
  std::size_t rate_limited = 0;        // MAIL FROM refused for messages_per_minute
  std::size_t refused_recipients = 0;  // RCPT refused for recipients_per_transaction
  std::size_t max_recipients_in_one_transaction = 0;
  struct Minute {
    Clock::time_point minute{};  // the clock minute `messages` counts
    std::size_t messages = 0;
  };
  std::map<std::string, Minute> minutes_by_source;        // messages_per_minute, per client address
  std::map<std::string, std::size_t> messages_by_source;  // accepted, by client address ("": any)
  std::size_t logins_accepted = 0;                        // 235 to AUTH
  std::size_t logins_refused = 0;                         // 535 to AUTH
  // Accepted messages by (login, envelope sender): which login carried whose mail.
  std::map<std::pair<std::string, std::string>, std::size_t> messages_by_login;
};

struct SimServer {
  std::string address;
  std::uint16_t port = 25;
  ServerScript script;
  ServerStats stats;
};

class SimNetwork final : public engine::Network {
 public:
  explicit SimNetwork(World& world) : world_(world) {}
  SimServer& add_server(const std::string& address, ServerScript script, std::uint16_t port = 25);
  SimServer* find(const engine::ServerAddress& server);
  std::unique_ptr<engine::Connection> open(engine::ConnectionListener& listener,
                                           engine::ServerAddress server,
                                           proto::SessionSettings settings,
                                           engine::ConnectOptions options, engine::TlsPlan tls,
                                           engine::AuthPlan auth) override;
  World& world() { return world_; }
  std::size_t open_connections = 0;  // client side: made and not yet closed
  std::set<std::string> unbindable;  // local addresses a connection cannot bind (not on the host)

 private:
  World& world_;
  std::map<std::string, SimServer> servers_;  // "address:port"
};

// Scripted DNS: next hop key → the answer, given after `delay` of virtual time.
class SimResolver final : public engine::Resolver {
 public:
  explicit SimResolver(World& world);
  ~SimResolver() override;
  // `hosts`: MX host name → its address, in preference order (one MX group each).
  void add_mx(const std::string& domain,
              const std::vector<std::pair<std::string, std::string>>& hosts,
              std::uint16_t port = 25);
  void add_failure(const std::string& domain, bool hard, std::string dsn, std::string text);
  void add_answer(const std::string& domain, engine::ResolveAnswer answer);
  void resolve(const dns::Nexthop& hop, std::function<void(engine::ResolveAnswer)> done) override;
  Clock::duration delay = 2ms;
  Clock::duration ttl = 1h;
  std::size_t lookups = 0;

 private:
  struct Pending;
  World& world_;
  std::map<std::string, engine::ResolveAnswer> answers_;
  std::deque<std::unique_ptr<Pending>> pending_;
};

}  // namespace ringrelay::sim
