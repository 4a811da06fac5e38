// One c-ares channel (one per shard: a channel is not thread-safe) whose sockets and timeouts are
// driven by the shard's event loop through EventHooks, which engine/ implements with ring polls
// and a timer. A query's outcome is classified the way Postfix's dns_lookup() classifies it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dns/answer.hh"

namespace ringrelay::dns {

// What the channel needs from the loop that owns it.
class EventHooks {
 public:
  virtual ~EventHooks() = default;
  // Watch `fd` for these readiness conditions; both false: stop watching (the fd closes next).
  virtual void watch_socket(int fd, bool readable, bool writable) = 0;
  // Call Channel::process_timeouts() after this long; nullopt: no timeout pending.
  virtual void arm_timeout(std::optional<std::chrono::milliseconds> after) = 0;
};

enum class LookupStatus {
  ok,         // records found
  no_data,    // the name exists, no record of this type (NOERROR, empty answer)
  not_found,  // NXDOMAIN
  try_again,  // SERVFAIL, REFUSED, timeout, no server reachable: a soft error
  failed,     // a malformed answer or another non-recoverable error
};

struct QueryOutcome {
  LookupStatus status = LookupStatus::failed;
  Answer answer;       // when status is ok or no_data
  std::string reason;  // Postfix's words: "Host not found", "Host not found, try again", ...
};

struct ChannelOptions {
  std::vector<std::string> servers;  // "address" or "address:port"; empty: /etc/resolv.conf's
  std::chrono::milliseconds timeout{5000};
  int tries = 2;
  // smtp_dns_support_level = dnssec: queries ask for DNSSEC (AD and DO bits, EDNS0) and answers
  // say whether the resolver validated them. Trust it only for a validating resolver on loopback.
  bool dnssec = false;
};

class Channel {
 public:
  // Throws std::runtime_error naming what c-ares refused (a bad server address, say).
  Channel(EventHooks& hooks, const ChannelOptions& options);
  ~Channel();  // pending queries are dropped without their callbacks
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  using Callback = std::function<void(QueryOutcome)>;
  // One query, no search domains. The callback may run before query() returns.
  void query(const std::string& name, RecordType type, Callback done);

  // Readiness reported for a watched socket.
  void process_socket(int fd, bool readable, bool writable);
  void process_timeouts();
  std::size_t pending() const { return pending_; }

 private:
  struct Pending;
  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* arg, int status, int timeouts, unsigned char* message, int length);
  void rearm_timeout();

  EventHooks& hooks_;
  void* channel_ = nullptr;  // ares_channel
  std::size_t pending_ = 0;
  bool destroying_ = false;
  bool dnssec_ = false;
};

}  // namespace ringrelay::dns
