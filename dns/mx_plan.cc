// MX plan ordering, limits and loop detection (see mx_plan.hh).
#include "dns/mx_plan.hh"

#include <algorithm>

namespace ringrelay::dns {
namespace {

int family_rank(const Target& t, AddressPreference preference) {
  switch (preference) {
    case AddressPreference::ipv6:
      return t.ipv6() ? 0 : 1;
    case AddressPreference::ipv4:
      return t.ipv6() ? 1 : 0;
    case AddressPreference::any:
      return 0;
  }
  return 0;
}

}  // namespace

void order_targets(std::vector<Target>& targets, const PlanOptions& options, std::mt19937& random,
                   bool sort_by_preference) {
  if (targets.size() < 2) return;
  if (options.randomize) std::shuffle(targets.begin(), targets.end(), random);
  std::stable_sort(targets.begin(), targets.end(), [&](const Target& a, const Target& b) {
    if (sort_by_preference && a.preference != b.preference) return a.preference < b.preference;
    return family_rank(a, options.address_preference) < family_rank(b, options.address_preference);
  });
}

void limit_targets(std::vector<Target>& targets, const PlanOptions& options) {
  std::size_t limit = options.address_limit;
  if (limit == 0 || targets.size() <= limit) return;
  if (options.balance && limit >= 2) {
    bool kept_v4 = false, kept_v6 = false;
    for (std::size_t i = 0; i < limit; ++i) (targets[i].ipv6() ? kept_v6 : kept_v4) = true;
    if (kept_v4 != kept_v6) {
      bool missing_v6 = kept_v4;
      auto other = std::find_if(targets.begin() + static_cast<long>(limit), targets.end(),
                                [&](const Target& t) { return t.ipv6() == missing_v6; });
      if (other != targets.end()) {
        Target moved = *other;
        targets.erase(other);
        targets.insert(targets.begin() + static_cast<long>(limit - 1), std::move(moved));
      }
    }
  }
  targets.resize(limit);
}

std::optional<unsigned> find_self(const std::vector<Target>& targets,
                                  const std::vector<std::string>& self) {
  for (const Target& t : targets) {
    if (std::find(self.begin(), self.end(), t.address) != self.end()) return t.preference;
  }
  return std::nullopt;
}

void truncate_at(std::vector<Target>& targets, unsigned preference) {
  std::erase_if(targets, [preference](const Target& t) { return t.preference >= preference; });
}

}  // namespace ringrelay::dns
