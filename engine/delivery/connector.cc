// The address walk and opening connections.
#include "engine/delivery/connector.hh"

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
                                            const ServerAddress& server, bool plaintext) {
  const ProtocolSettings& p = protocol(hop);
  return network_.open(listener, server, p.session, p.connect, tls_.plan(hop, server, plaintext));
}

cache::EndpointKey Connector::endpoint(const dns::Nexthop& hop, const ServerAddress& server) const {
  const ProtocolSettings& p = protocol(hop);
  // TLS is checked when a connection is taken (TlsPlanner::serves); SASL is not in the engine yet.
  return cache::EndpointKey{server.address, server.port,
                            server.family() == AF_INET6
                                ? (p.connect.source6 ? p.connect.source6->address : std::string())
                                : (p.connect.source ? p.connect.source->address : std::string()),
                            p.session.helo_name, ""};
}

}  // namespace ringrelay::engine
