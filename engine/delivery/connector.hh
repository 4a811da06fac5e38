// The connector (Postfix's smtp_connect): which address of a next hop's plan a job tries, when
// the next one comes (smtp_mx_session_limit), whether a server is the last one (its trouble is
// final), and opening a connection to it with the protocol's settings and the TLS plan. It keeps
// no state of its own: jobs carry their place in the walk.
#pragma once

#include <memory>

#include "cache/endpoint_key.hh"
#include "dns/nexthop.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/connection.hh"
#include "engine/delivery/shard_resolver.hh"
#include "engine/delivery/tls_planner.hh"

namespace ringrelay::engine {

// Whether `peer` matches debug_peer_list: an address, a host name, or a domain whose subdomains
// match too (Postfix's default).
bool is_debug_peer(const std::vector<std::string>& patterns, const ServerAddress& peer);

class Connector {
 public:
  Connector(Network& network, const EngineSettings& settings, TlsPlanner& tls)
      : network_(network), settings_(settings), tls_(tls) {}

  const ProtocolSettings& protocol(const dns::Nexthop& hop) const {
    return hop.protocol == dns::Protocol::lmtp ? settings_.lmtp : settings_.smtp;
  }
  // As Postfix walks its next hops: the following address of the same MX host group until that
  // group has had smtp_mx_session_limit sessions, then the first address of the next group.
  std::size_t next_address(const ResolveAnswer& plan, std::size_t index,
                           std::size_t group_sessions) const;
  // Whether the server at `index` is the last this job may try (its soft trouble then defers).
  bool final_server(const ResolveAnswer& plan, std::size_t index,
                    std::size_t group_sessions) const {
    return next_address(plan, index, group_sessions) >= plan.addresses.size();
  }
  // A new connection to `server` for `hop`; `plaintext`: retry after a failed "may" handshake.
  // `auth`: its credentials (SaslPlanner::plan). `source`: the egress source it leaves from (its
  // address must be bound, and its EHLO name replaces smtp_helo_name); null: smtp_bind_address.
  std::unique_ptr<Connection> open(ConnectionListener& listener, const dns::Nexthop& hop,
                                   const ServerAddress& server, bool plaintext, AuthPlan auth,
                                   const EgressSource* source);
  // What makes two connections interchangeable (cache/endpoint_key.hh); `sasl_identity` is what
  // the connection logs in as ("" for none).
  cache::EndpointKey endpoint(const dns::Nexthop& hop, const ServerAddress& server,
                              std::string sasl_identity, const EgressSource* source) const;

 private:
  Network& network_;
  const EngineSettings& settings_;
  TlsPlanner& tls_;
};

}  // namespace ringrelay::engine
