// Finding the addresses of a next hop, as the scheduler sees it. ShardResolver is the shard's:
// dns/'s MX plan over a c-ares channel whose sockets are polled on the shard's ring and whose
// timeouts run on the shard's timers; system-resolver lookups (smtp_host_lookup = native) run on
// a helper thread so that getaddrinfo never blocks the shard.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/nexthop.hh"
#include "engine/config/engine_settings.hh"
#include "engine/runtime/address.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

struct ResolveAnswer {
  std::vector<ServerAddress> addresses;  // in the order to try them
  // When there is no address: soft (deferred) or hard (bounced), with Postfix's words.
  bool hard_failure = false;
  std::string dsn;
  std::string text;
  Clock::time_point expires{};  // look again after this
};

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Calls `done` exactly once, possibly before returning.
  virtual void resolve(const dns::Nexthop& hop, std::function<void(ResolveAnswer)> done) = 0;
};

class NativeLookupThread;

class ShardResolver : public Resolver, private dns::EventHooks {
 public:
  // Throws std::runtime_error when c-ares refuses its options.
  ShardResolver(Ring& ring, Timers& timers, const EngineSettings& settings);
  ~ShardResolver() override;

  void resolve(const dns::Nexthop& hop, std::function<void(ResolveAnswer)> done) override;
  // New resolver options and cache limits (servers and timeouts stay as they were at start).
  void reload(const EngineSettings& settings);

 private:
  struct Watch;
  void watch_socket(int fd, bool readable, bool writable) override;
  void arm_timeout(std::optional<std::chrono::milliseconds> after) override;
  void arm(Watch& watch);
  void retire(Watch& watch);
  static void on_poll(Completion& completion, int result, std::uint32_t flags);

  Ring& ring_;
  Timers& timers_;
  const EngineSettings* settings_;
  Timer timeout_;
  std::unordered_map<Watch*, std::unique_ptr<Watch>> watches_;  // alive until their poll ends
  std::unordered_map<int, Watch*> by_fd_;                       // the current watch of each fd
  std::unique_ptr<NativeLookupThread> native_;
  std::unique_ptr<dns::Channel> channel_;
  std::unique_ptr<dns::Lookups> lookups_;
  std::unique_ptr<dns::Resolver> resolver_;
};

}  // namespace ringrelay::engine
