// The session store: a map with expiry; when full, expired entries go first, then the one that
// expires soonest.
#include "tls/session_store.hh"

#include <algorithm>

namespace ringrelay::tls {

SessionStore::SessionStore(std::chrono::seconds timeout, std::size_t limit)
    : timeout_(timeout), limit_(std::max<std::size_t>(1, limit)) {}

void SessionStore::put(const std::string& key, ResumableSession session, Clock::time_point now) {
  if (timeout_.count() <= 0 || !session.session) return;
  if (entries_.size() >= limit_ && !entries_.contains(key)) {
    drop_expired(now);
    if (entries_.size() >= limit_) {
      auto soonest = std::min_element(entries_.begin(), entries_.end(), [](auto& a, auto& b) {
        return a.second.expires < b.second.expires;
      });
      entries_.erase(soonest);
    }
  }
  entries_[key] = Entry{std::move(session), now + timeout_};
}

ResumableSession SessionStore::find(const std::string& key, Clock::time_point now) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  if (now >= it->second.expires) {
    entries_.erase(it);
    return {};
  }
  return it->second.session;
}

void SessionStore::drop_expired(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& e) { return now >= e.second.expires; });
}

std::string session_key(std::string_view address_port, std::string_view server_name,
                        const Policy& policy) {
  std::string key(address_port);
  key += " sni=";
  key += server_name;
  key += ' ';
  key += policy.key();
  return key;
}

}  // namespace ringrelay::tls
