// Transport map loading and the routing decision.
#include "engine/delivery/router.hh"

#include "engine/config/config.hh"
#include "engine/config/lookup_table.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {}  // namespace

Router::Router(std::string relayhost, const std::vector<std::string>& transport_maps)
    : relayhost_(std::move(relayhost)) {
  for (const std::string& map : transport_maps) {
    for (TableEntry& entry : read_lookup_table(map)) {
      std::string error;
      const std::string& value = entry.value;
      std::string hop = value.substr(value.find(':') + 1);
      if (!hop.empty() && !dns::parse_nexthop(value.starts_with("lmtp:") ? value : hop, &error)) {
        throw ConfigError(entry.where + ": " + value + ": " + error);
      }
      transports_[entry.key] = value;
    }
  }
}

std::optional<dns::Nexthop> Router::route(const std::string& recipient, std::string& error) const {
  auto at = recipient.rfind('@');
  std::string domain = proto::ascii_lower(at == std::string::npos ? "" : recipient.substr(at + 1));
  std::optional<std::string> transport;
  if (!domain.empty()) {
    if (auto it = transports_.find(domain); it != transports_.end()) transport = it->second;
    for (auto dot = domain.find('.'); !transport && dot != std::string::npos;
         dot = domain.find('.', dot + 1)) {
      if (auto it = transports_.find(domain.substr(dot)); it != transports_.end())
        transport = it->second;
    }
  }
  if (!transport) {
    if (auto it = transports_.find("*"); it != transports_.end()) transport = it->second;
  }
  std::string hop_text;
  if (transport) {
    bool lmtp = transport->starts_with("lmtp:");
    std::string hop = transport->substr(transport->find(':') + 1);
    hop_text = lmtp ? *transport : (hop.empty() ? domain : hop);
  } else if (!relayhost_.empty()) {
    hop_text = relayhost_;
  } else {
    hop_text = domain;
  }
  if (hop_text.empty()) {
    error = "recipient " + recipient + " has no domain and no relayhost or transport is set";
    return std::nullopt;
  }
  return dns::parse_nexthop(hop_text, &error);
}

}  // namespace ringrelay::engine
