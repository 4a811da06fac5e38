// Operator holds: matching a job's facts, and the copies that add, remove and expire holds.
#include "engine/delivery/holds.hh"

#include <algorithm>

#include "engine/delivery/site_key.hh"

namespace ringrelay::engine {
namespace {

constexpr std::pair<HoldKind, const char*> kKindNames[] = {
    {HoldKind::site, "site"}, {HoldKind::source, "source"}, {HoldKind::domain, "domain"},
    {HoldKind::pool, "pool"}, {HoldKind::tenant, "tenant"},
};

std::string_view fact(const HeldFacts& facts, HoldKind kind) {
  switch (kind) {
    case HoldKind::site:
      return facts.site;
    case HoldKind::source:
      return facts.source;
    case HoldKind::domain:
      return facts.domain;
    case HoldKind::pool:
      return facts.pool;
    case HoldKind::tenant:
      return facts.tenant;
  }
  return {};
}

}  // namespace

std::optional<HoldKind> hold_kind(std::string_view word) {
  for (const auto& [kind, name] : kKindNames) {
    if (word == name) return kind;
  }
  return std::nullopt;
}

const char* hold_kind_name(HoldKind kind) {
  for (const auto& [k, name] : kKindNames) {
    if (k == kind) return name;
  }
  return "?";
}

const Hold* HoldSet::match(const HeldFacts& facts) const {
  for (const Hold& h : holds_) {
    std::string_view value = fact(facts, h.kind);
    if (value.empty()) continue;
    if (value == h.name) return &h;
    // A site also by one of its MX hosts, as rate maps name it.
    if (h.kind == HoldKind::site && site_answers_to(value, h.name)) return &h;
  }
  return nullptr;
}

std::optional<HoldSet> HoldSet::with(Hold hold, std::string& error) const {
  HoldSet copy = *this;
  auto same = std::find_if(copy.holds_.begin(), copy.holds_.end(), [&](const Hold& h) {
    return h.kind == hold.kind && h.name == hold.name;
  });
  if (same != copy.holds_.end()) {
    *same = std::move(hold);
    return copy;
  }
  if (copy.holds_.size() >= kHoldLimit) {
    error = "too many holds (" + std::to_string(kHoldLimit) + "): resume some first";
    return std::nullopt;
  }
  copy.holds_.push_back(std::move(hold));
  return copy;
}

std::optional<HoldSet> HoldSet::without(HoldKind kind, std::string_view name,
                                        std::string& error) const {
  HoldSet copy = *this;
  auto removed =
      std::erase_if(copy.holds_, [&](const Hold& h) { return h.kind == kind && h.name == name; });
  if (removed == 0) {
    error = std::string("no ") + hold_kind_name(kind) + " " + std::string(name) + " is suspended";
    return std::nullopt;
  }
  return copy;
}

HoldSet HoldSet::without_expired(std::chrono::system_clock::time_point now,
                                 std::vector<Hold>& expired) const {
  HoldSet copy;
  for (const Hold& h : holds_) (now >= h.until ? expired : copy.holds_).push_back(h);
  return copy;
}

std::optional<std::chrono::system_clock::time_point> HoldSet::next_expiry() const {
  std::optional<std::chrono::system_clock::time_point> first;
  for (const Hold& h : holds_) {
    if (h.until == std::chrono::system_clock::time_point::max()) continue;
    if (!first || h.until < *first) first = h.until;
  }
  return first;
}

}  // namespace ringrelay::engine
