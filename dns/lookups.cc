// The record cache: expiry from TTLs, in-flight joining, and CNAME re-queries (at most five, as a
// chain longer than that is a misconfiguration, not something to follow forever).
#include "dns/lookups.hh"

#include <algorithm>

namespace ringrelay::dns {
namespace {

constexpr int cname_query_limit = 5;

std::string cache_key(const std::string& name, RecordType type) {
  return normalize_name(name) + "/" + std::string(record_type_name(type));
}

}  // namespace

void Lookups::lookup(const std::string& name, RecordType type, Callback done) {
  std::string key = cache_key(name, type);
  auto cached = cache_.find(key);
  if (cached != cache_.end()) {
    if (DnsClock::now() < cached->second.expires) {
      ++stats_.hits;
      LookupResult copy = cached->second;
      copy.from_cache = true;
      done(copy);
      return;
    }
    cache_.erase(cached);
  }
  auto [flight, first] = in_flight_.try_emplace(key);
  flight->second.push_back(std::move(done));
  if (!first) {
    ++stats_.joined;
    return;
  }
  ask(key, normalize_name(name), type, 0, UINT32_MAX, true);
}

void Lookups::ask(const std::string& key, const std::string& name, RecordType type, int cname_hops,
                  std::uint32_t chain_ttl, bool chain_secure) {
  ++stats_.queries;
  channel_.query(
      name, type,
      [this, key, name, type, cname_hops, chain_ttl, chain_secure](QueryOutcome outcome) {
        std::uint32_t ttl = std::min(chain_ttl, outcome.answer.cname_ttl);
        // Secure only when every answer along the way was (RFC 4035: the AD bit of each).
        bool secure = chain_secure && outcome.answer.authenticated;
        if (outcome.status == LookupStatus::ok && outcome.answer.records.empty()) {
          // The server gave an alias but not its target's records: ask for the target.
          if (cname_hops + 1 > cname_query_limit) {
            LookupResult r;
            r.status = LookupStatus::failed;
            r.reason = "CNAME chain too long";
            r.expires = DnsClock::now() + limits_.negative_time;
            finish(key, std::move(r));
            return;
          }
          ask(key, outcome.answer.canonical_name, type, cname_hops + 1, ttl, secure);
          return;
        }
        LookupResult r;
        r.status = outcome.status;
        r.reason = std::move(outcome.reason);
        r.records = std::move(outcome.answer.records);
        r.secure = secure;
        r.canonical_name =
            outcome.status == LookupStatus::ok && !outcome.answer.canonical_name.empty()
                ? outcome.answer.canonical_name
                : name;
        for (const Record& record : r.records) ttl = std::min(ttl, record.ttl);
        auto keep = r.status == LookupStatus::ok ? std::min<std::chrono::seconds>(
                                                       std::chrono::seconds(ttl), limits_.ttl_limit)
                                                 : limits_.negative_time;
        r.expires = DnsClock::now() + keep;
        finish(key, std::move(r));
      });
}

void Lookups::finish(const std::string& key, LookupResult result) {
  if (result.expires > DnsClock::now()) {
    make_room();
    cache_[key] = result;
  }
  auto flight = in_flight_.find(key);
  if (flight == in_flight_.end()) return;
  std::vector<Callback> waiters = std::move(flight->second);
  in_flight_.erase(flight);
  for (Callback& done : waiters) done(result);
}

void Lookups::make_room() {
  if (cache_.size() < limits_.entry_limit) return;
  DnsClock::time_point now = DnsClock::now();
  std::erase_if(cache_, [now](const auto& entry) { return entry.second.expires <= now; });
  // Still full of live entries: drop about a tenth, whichever they are, rather than grow.
  if (cache_.size() < limits_.entry_limit) return;
  std::size_t drop = std::max<std::size_t>(1, limits_.entry_limit / 10);
  while (drop-- > 0 && !cache_.empty()) cache_.erase(cache_.begin());
}

}  // namespace ringrelay::dns
