// What a new connection authenticates with (AuthPlan), the AUTH client made from it, and the
// shard's memory of failed logins (smtp_sasl_auth_cache_name) that client consults. The delivery
// core decides the plan (sasl_planner.hh); connections only carry it out.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "engine/runtime/timers.hh"
#include "proto/sasl_cyrus.hh"

namespace ringrelay::engine {

// Failed logins per shard: (server host, login) → the server's 535, for smtp_sasl_auth_cache_time,
// and only while the password is the one that failed (Postfix keeps a hash of it too).
class AuthFailureCache {
 public:
  explicit AuthFailureCache(Timers& timers) : timers_(timers) {}
  std::optional<proto::RememberedFailure> find(const std::string& host,
                                               const proto::SaslCredentials& credentials);
  void store(const std::string& host, const proto::SaslCredentials& credentials,
             const proto::RememberedFailure& failure, std::chrono::seconds time);
  std::size_t size() const { return entries_.size(); }

  static constexpr std::size_t kLimit = 10000;  // beyond it the entry that expires first goes

 private:
  struct Entry {
    std::size_t password_hash = 0;
    proto::RememberedFailure failure;
    Clock::time_point until{};
  };
  Timers& timers_;
  std::unordered_map<std::string, Entry> entries_;
};

// What a new connection authenticates with: nothing (no credentials), or credentials with the
// options of its protocol and the shard's failure memory (null: smtp_sasl_auth_cache_name unset).
struct AuthPlan {
  std::optional<proto::SaslCredentials> credentials;
  std::shared_ptr<const proto::SaslOptions> options;
  AuthFailureCache* failures = nullptr;
  std::chrono::seconds failure_time{0};
  std::string server_host;

  bool authenticates() const { return credentials.has_value(); }
  std::string identity() const {
    return credentials ? proto::sasl_identity(*credentials) : std::string();
  }
};

// The AUTH client for a connection made under `plan`, or null when it has no credentials.
std::unique_ptr<proto::AuthClient> make_auth_client(const AuthPlan& plan);

}  // namespace ringrelay::engine
