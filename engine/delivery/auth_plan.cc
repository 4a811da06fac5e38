// The failed-login memory and the AUTH client that consults it.
#include "engine/delivery/auth_plan.hh"

#include <algorithm>
#include <functional>

#include "engine/runtime/invariant.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

std::string failure_key(const std::string& host, const proto::SaslCredentials& credentials) {
  return proto::ascii_lower(host) + '\n' + credentials.user;
}

// The Cyrus client, remembering its 535s in the shard's cache.
class RememberingAuthClient final : public proto::CyrusSaslClient {
 public:
  RememberingAuthClient(const AuthPlan& plan)
      : CyrusSaslClient(*plan.options, *plan.credentials, plan.server_host),
        options_(plan.options),
        failures_(plan.failures),
        failure_time_(plan.failure_time),
        host_(plan.server_host) {}

  std::optional<proto::RememberedFailure> remembered_failure() override {
    return failures_ != nullptr ? failures_->find(host_, credentials()) : std::nullopt;
  }
  void remember_failure(const proto::RememberedFailure& failure) override {
    if (failures_ != nullptr) failures_->store(host_, credentials(), failure, failure_time_);
  }

 private:
  std::shared_ptr<const proto::SaslOptions> options_;  // keeps the base's options alive
  AuthFailureCache* failures_;
  std::chrono::seconds failure_time_;
  std::string host_;
};

}  // namespace

std::optional<proto::RememberedFailure> AuthFailureCache::find(
    const std::string& host, const proto::SaslCredentials& credentials) {
  auto it = entries_.find(failure_key(host, credentials));
  if (it == entries_.end()) return std::nullopt;
  if (it->second.until <= timers_.now() ||
      it->second.password_hash != std::hash<std::string>{}(credentials.password)) {
    entries_.erase(it);  // expired, or the password changed since it failed
    return std::nullopt;
  }
  return it->second.failure;
}

void AuthFailureCache::store(const std::string& host, const proto::SaslCredentials& credentials,
                             const proto::RememberedFailure& failure, std::chrono::seconds time) {
  std::string key = failure_key(host, credentials);
  if (entries_.size() >= kLimit && !entries_.contains(key)) {
    auto first = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.until < b.second.until; });
    entries_.erase(first);
  }
  entries_[key] =
      Entry{std::hash<std::string>{}(credentials.password), failure, timers_.now() + time};
  RINGRELAY_CHECK(entries_.size() <= kLimit, "auth failure cache within its bound");
}

std::unique_ptr<proto::AuthClient> make_auth_client(const AuthPlan& plan) {
  if (!plan.credentials || !plan.options) return nullptr;
  return std::make_unique<RememberingAuthClient>(plan);
}

}  // namespace ringrelay::engine
