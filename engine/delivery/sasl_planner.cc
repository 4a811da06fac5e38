// Credentials per connection and the identity of cached connections.
#include "engine/delivery/sasl_planner.hh"

namespace ringrelay::engine {
AuthPlan SaslPlanner::plan(const dns::Nexthop& hop, const ServerAddress& server,
                           const std::string& sender) {
  const SaslSettings& s = sasl(hop);
  AuthPlan plan;
  if (!s.enable) return plan;
  plan.credentials = s.credentials_for(sender, server.hostname, hop.key());
  if (!plan.credentials) return plan;
  plan.options = s.options;
  plan.server_host = server.hostname.empty() ? server.address : server.hostname;
  if (s.failure_cache) {
    plan.failures = &failures_;
    plan.failure_time = s.failure_cache_time;
  }
  return plan;
}

std::string SaslPlanner::identity(const dns::Nexthop& hop, const ServerAddress& server,
                                  const std::string& sender) const {
  const SaslSettings& s = sasl(hop);
  if (!s.enable) return {};
  auto credentials = s.credentials_for(sender, server.hostname, hop.key());
  return credentials ? proto::sasl_identity(*credentials) : std::string();
}

}  // namespace ringrelay::engine
