// The address walk and opening connections.
#include "engine/delivery/connector.hh"

#include "engine/config/config_values.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {

std::size_t Connector::next_address(const ResolveAnswer& plan, std::size_t index,
                                    std::size_t group_sessions) const {
  std::size_t next = index + 1;
  if (index < plan.addresses.size() && settings_.mx_session_limit > 0 &&
      group_sessions >= settings_.mx_session_limit) {
    unsigned group = plan.addresses[index].site;
    while (next < plan.addresses.size() && plan.addresses[next].site == group) ++next;
  }
  return next;
}

std::unique_ptr<Connection> Connector::open(ConnectionListener& listener, const dns::Nexthop& hop,
                                            const ServerAddress& server, bool plaintext,
                                            AuthPlan auth) {
  const ProtocolSettings& p = protocol(hop);
  proto::SessionSettings session = p.session;
  // Postfix's per-server workaround: the table's keywords replace the main.cf list.
  for (const LookupTable& table : p.discard_keyword_address_maps) {
    if (std::optional<std::string> keywords = table.find(server.address)) {
      session.discard_ehlo_keywords.clear();
      for (const std::string& keyword : split_list(*keywords)) {
        session.discard_ehlo_keywords.push_back(proto::ascii_lower(keyword));
      }
      break;
    }
  }
  for (const LookupTable& table : p.pix_workaround_maps) {
    if (std::optional<std::string> words = table.find(server.address)) {
      session.pix_workarounds.clear();
      for (const std::string& word : split_list(*words)) {
        session.pix_workarounds.push_back(proto::ascii_lower(word));
      }
      break;
    }
  }
  return network_.open(listener, server, std::move(session), p.connect,
                       tls_.plan(hop, server, plaintext), std::move(auth));
}

cache::EndpointKey Connector::endpoint(const dns::Nexthop& hop, const ServerAddress& server,
                                       std::string sasl_identity) const {
  const ProtocolSettings& p = protocol(hop);
  // TLS is checked when a connection is taken (TlsPlanner::serves); the SASL identity is part of
  // the key, and checked again when a connection is taken by next hop (Scheduler::serves).
  return cache::EndpointKey{server.address, server.port,
                            server.family() == AF_INET6
                                ? (p.connect.source6 ? p.connect.source6->address : std::string())
                                : (p.connect.source ? p.connect.source->address : std::string()),
                            p.session.helo_name, std::move(sasl_identity)};
}

}  // namespace ringrelay::engine
