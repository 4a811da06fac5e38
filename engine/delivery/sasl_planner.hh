// The SASL side of delivery decisions: which credentials a connection for (sender, server, next
// hop) logs in with, and the identity cached connections are keyed by (so an authenticated
// connection never carries mail that would log in differently or not at all). It owns the shard's
// memory of failed logins (auth_plan.hh) and opens nothing.
#pragma once

#include <string>

#include "dns/nexthop.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/auth_plan.hh"
#include "engine/runtime/address.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

class SaslPlanner {
 public:
  SaslPlanner(const EngineSettings& settings, Timers& timers)
      : settings_(settings), failures_(timers) {}

  // For a new connection to `server` carrying mail from `sender` to `hop`.
  AuthPlan plan(const dns::Nexthop& hop, const ServerAddress& server, const std::string& sender);
  // The identity such a connection is cached under ("" without credentials); a cached connection
  // serves a job only when the job's identity is the connection's.
  std::string identity(const dns::Nexthop& hop, const ServerAddress& server,
                       const std::string& sender) const;
  std::size_t remembered_failures() const { return failures_.size(); }

 private:
  const SaslSettings& sasl(const dns::Nexthop& hop) const {
    return hop.protocol == dns::Protocol::lmtp ? settings_.lmtp.sasl : settings_.smtp.sasl;
  }

  const EngineSettings& settings_;
  AuthFailureCache failures_;
};

}  // namespace ringrelay::engine
