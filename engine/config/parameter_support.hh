// The parameters ringrelay knows but does not act on, each with its reason: ignored (accepted,
// logged at start when main.cf sets it, listed in docs/configuration.md), refused (the start
// stops with exit 78 when main.cf gives it anything but its default), or, for some lmtp_ names,
// refused unless equal to the smtp_ value that applies. Every other known parameter
// is read by the code that acts on it; a unit test walks the table to keep that true.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config.hh"

namespace ringrelay::engine {

enum class Support {
  ignored,
  refused,
  // An lmtp_ name whose smtp_ counterpart ringrelay applies to LMTP next hops as well: accepted
  // when main.cf gives both the same value, refused otherwise (the LMTP value would not apply).
  smtp_value,
};

struct ParameterNote {
  std::string_view name;
  Support support;
  std::string_view reason;
};

// Sorted by name.
std::span<const ParameterNote> parameter_notes();
const ParameterNote* parameter_note(std::string_view name);

// Throws ConfigError for a refused parameter set to a value other than its default
// ("smtp_tls_wrappermode = yes: not supported by ringrelay: ..."); returns a notice for each
// ignored parameter set in main.cf.
std::vector<std::string> check_parameter_support(const Config& config);

// Parameters a reload (SIGHUP) cannot apply: the feed listeners, the results journal, the log, the
// shard count, the spool directories opened at start, the DNS channels' servers and Cyrus's
// configuration path. Sorted; docs/configuration.md lists them (a unit test checks).
std::span<const std::string_view> restart_only_parameters();
// A warning for each of them whose value in `fresh` differs from the running one.
std::vector<std::string> restart_notices(const Config& running, const Config& fresh);

}  // namespace ringrelay::engine
