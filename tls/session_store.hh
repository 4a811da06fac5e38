// The TLS session cache of one shard: sessions to resume, keyed by endpoint and policy (so a
// session made under one policy never shortcuts the checks of another), each kept for
// smtp_tls_session_cache_timeout. Bounded; the caller passes the time (no clock here).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

#include "tls/channel.hh"

namespace ringrelay::tls {

class SessionStore {
 public:
  using Clock = std::chrono::steady_clock;

  // timeout 0 disables resumption (nothing is kept).
  SessionStore(std::chrono::seconds timeout, std::size_t limit);

  void put(const std::string& key, ResumableSession session, Clock::time_point now);
  // The session for `key`, if one is fresh (else one without a session); an expired one is
  // dropped.
  ResumableSession find(const std::string& key, Clock::time_point now);
  void forget(const std::string& key) { entries_.erase(key); }
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    ResumableSession session;
    Clock::time_point expires;
  };
  void drop_expired(Clock::time_point now);

  std::chrono::seconds timeout_;
  std::size_t limit_;
  std::unordered_map<std::string, Entry> entries_;
};

// The key of a session: the server (address and port), the name we sent, and the policy.
std::string session_key(std::string_view address_port, std::string_view server_name,
                        const Policy& policy);

}  // namespace ringrelay::tls
