// The reuse policy (Postfix's smtp_reuse and scache limits): whether a connection that finished a
// transaction may carry another one or must close, and the per-connection message limit a site's
// servers showed (a refused MAIL FROM worded as such a limit caps reuse at the count it allowed).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include "engine/config/engine_settings.hh"
#include "engine/delivery/connection.hh"

namespace ringrelay::engine {

// Why a connection may not carry another transaction; nullptr when it may.
inline const char* reuse_refusal(const EngineSettings& s, bool cacheable_destination,
                                 const Connection& c, Clock::time_point now,
                                 std::size_t learnt_message_limit) {
  if (c.refused_after() > 0) return "the server takes no more messages on it";
  if (!s.tls.connection_reuse && c.established().tls) return "smtp_tls_connection_reuse = no";
  if (!cacheable_destination) return "smtp_connection_cache_on_demand is off";
  if (now - c.created() >= s.reuse_time_limit) return "smtp_connection_reuse_time_limit";
  if (s.reuse_count_limit > 0 && c.reuse_count() >= s.reuse_count_limit)
    return "smtp_connection_reuse_count_limit";
  if (learnt_message_limit > 0 && c.reuse_count() >= learnt_message_limit)
    return "the site's per-connection message limit";
  return nullptr;
}

inline bool cacheable_destination(const EngineSettings& s, const std::string& destination_key) {
  if (s.cache_on_demand) return true;
  return std::find(s.cache_destinations.begin(), s.cache_destinations.end(), destination_key) !=
         s.cache_destinations.end();
}

// A connection was refused a transaction after `refused_after` (> 0): the site's limit becomes
// the smallest such count seen. Returns the new limit.
inline std::size_t learn_message_limit(std::size_t current, std::size_t refused_after) {
  return current == 0 ? refused_after : std::min(current, refused_after);
}

}  // namespace ringrelay::engine
