// Operator holds (`ringrelay ctl suspend`): which mail the scheduler keeps back, by site, egress
// source, recipient domain, egress pool or feed tenant, until resumed or until a time. A HoldSet is
// an immutable snapshot that shard 0 publishes to every shard; the scheduler asks it per job only
// while it is not empty. Not here: the admin socket (engine/control) or what a shard does with a
// held job (the scheduler parks it, or defers it when the hold says so).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::engine {

enum class HoldKind { site, source, domain, pool, tenant };

// "site", "source", ... and back; nullopt for another word.
std::optional<HoldKind> hold_kind(std::string_view word);
const char* hold_kind_name(HoldKind kind);

struct Hold {
  HoldKind kind = HoldKind::site;
  std::string name;  // lower case; a site by its name as `ctl sites` shows it
  // Until then (wall clock, so that `ctl holds` can say it); max(): until resumed.
  std::chrono::system_clock::time_point until = std::chrono::system_clock::time_point::max();
  bool defer = false;  // the mail is deferred at once (a result now) instead of kept back
  std::string reason;  // the operator's words, in deferrals and in the log
};

// What a job is, for matching holds.
struct HeldFacts {
  std::string_view site;    // the site's base name
  std::string_view source;  // its egress source ("" without a pool)
  std::string_view domain;  // the next hop's domain (the recipients' domain when routed by MX)
  std::string_view pool;
  std::string_view tenant;
};

class HoldSet {
 public:
  static constexpr std::size_t kHoldLimit = 1000;

  bool empty() const { return holds_.empty(); }
  const std::vector<Hold>& holds() const { return holds_; }
  // The first hold that applies to a job with these facts, or null.
  const Hold* match(const HeldFacts& facts) const;
  // Copies with one hold added (replacing one of the same kind and name) or removed; `error` says
  // why not (too many holds, none to remove).
  std::optional<HoldSet> with(Hold hold, std::string& error) const;
  std::optional<HoldSet> without(HoldKind kind, std::string_view name, std::string& error) const;
  // Copy without the holds whose time has come; `expired` gets them.
  HoldSet without_expired(std::chrono::system_clock::time_point now,
                          std::vector<Hold>& expired) const;
  // The earliest end of a timed hold, if any.
  std::optional<std::chrono::system_clock::time_point> next_expiry() const;

 private:
  std::vector<Hold> holds_;
};

using HoldSetPointer = std::shared_ptr<const HoldSet>;

}  // namespace ringrelay::engine
