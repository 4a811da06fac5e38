// Transport map loading and the routing decision.
#include "engine/delivery/router.hh"

#include "engine/config/config.hh"
#include "engine/config/lookup_table.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
Router::Router(std::string relayhost, const std::vector<std::string>& transport_maps,
               const std::vector<std::string>& sender_relayhost_maps, std::string empty_sender_key)
    : relayhost_(std::move(relayhost)), empty_sender_key_(proto::ascii_lower(empty_sender_key)) {
  for (const std::string& map : sender_relayhost_maps) {
    for (TableEntry& entry : read_lookup_table(map)) {
      std::string error;
      if (!dns::parse_nexthop(entry.value, &error)) {
        throw ConfigError(entry.where + ": " + entry.value + ": " + error);
      }
      sender_relayhosts_.try_emplace(entry.key, entry.value);
    }
  }
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

const std::string& Router::relayhost_for(const std::string& sender) const {
  if (sender_relayhosts_.empty()) return relayhost_;
  std::string key = sender.empty() ? empty_sender_key_ : proto::ascii_lower(sender);
  if (auto it = sender_relayhosts_.find(key); it != sender_relayhosts_.end()) return it->second;
  if (auto at = key.rfind('@'); !sender.empty() && at != std::string::npos) {
    if (auto it = sender_relayhosts_.find(key.substr(at)); it != sender_relayhosts_.end())
      return it->second;
  }
  return relayhost_;
}

std::optional<dns::Nexthop> Router::route(const std::string& recipient, std::string& error,
                                          const std::string& sender) const {
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
  } else if (const std::string& relayhost = relayhost_for(sender); !relayhost.empty()) {
    hop_text = relayhost;
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
