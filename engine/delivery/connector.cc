// The address walk and opening connections.
#include "engine/delivery/connector.hh"

#include "engine/config/config_values.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

// The first table with an entry for `address`: its words, lower case.
std::optional<std::vector<std::string>> words_for_server(const std::vector<LookupTable>& maps,
                                                         const std::string& address) {
  std::optional<std::string> value = find_first(maps, address);
  if (!value) return std::nullopt;
  std::vector<std::string> words;
  for (const std::string& word : split_list(*value)) words.push_back(proto::ascii_lower(word));
  return words;
}

}  // namespace

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

bool is_debug_peer(const std::vector<std::string>& patterns, const ServerAddress& peer) {
  for (const std::string& pattern : patterns) {
    std::string bare = pattern.starts_with(".") ? pattern.substr(1) : pattern;
    if (pattern == peer.address || bare == peer.hostname ||
        (peer.hostname.size() > bare.size() && peer.hostname.ends_with("." + bare))) {
      return true;
    }
  }
  return false;
}

std::unique_ptr<Connection> Connector::open(ConnectionListener& listener, const dns::Nexthop& hop,
                                            const ServerAddress& server, bool plaintext,
                                            AuthPlan auth, const EgressSource* source) {
  const ProtocolSettings& p = protocol(hop);
  proto::SessionSettings session = p.session;
  ConnectOptions options = p.connect;
  if (source != nullptr) {
    options.source = source->address;
    options.source6 = source->address6;
    options.bind_enforce = true;  // never from an address the pool did not name
    if (!source->helo.empty()) session.helo_name = source->helo;
  }
  // Postfix's per-server workarounds: a table's words for this address replace main.cf's list.
  if (auto words = words_for_server(p.discard_keyword_address_maps, server.address)) {
    session.discard_ehlo_keywords = std::move(*words);
  }
  if (auto words = words_for_server(p.pix_workaround_maps, server.address)) {
    session.pix_workarounds = std::move(*words);
  }
  session.transcript =
      settings_.debug_peer_level >= 2 && is_debug_peer(settings_.debug_peers, server);
  return network_.open(listener, server, std::move(session), std::move(options),
                       tls_.plan(hop, server, plaintext), std::move(auth));
}

cache::EndpointKey Connector::endpoint(const dns::Nexthop& hop, const ServerAddress& server,
                                       std::string sasl_identity,
                                       const EgressSource* source) const {
  const ProtocolSettings& p = protocol(hop);
  if (source != nullptr) {
    const std::optional<ServerAddress>& bound =
        server.family() == AF_INET6 ? source->address6 : source->address;
    return cache::EndpointKey{server.address, server.port, bound ? bound->address : std::string(),
                              source->helo.empty() ? p.session.helo_name : source->helo,
                              std::move(sasl_identity)};
  }
  // TLS is checked when a connection is taken (TlsPlanner::serves); the SASL identity is part of
  // the key, and checked again when a connection is taken by next hop (Scheduler::serves).
  return cache::EndpointKey{server.address, server.port,
                            server.family() == AF_INET6
                                ? (p.connect.source6 ? p.connect.source6->address : std::string())
                                : (p.connect.source ? p.connect.source->address : std::string()),
                            p.session.helo_name, std::move(sasl_identity)};
}

}  // namespace ringrelay::engine
