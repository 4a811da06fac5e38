// Transport map loading and the routing decision.
#include "engine/router.hh"

#include <fstream>

#include "engine/config.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {}  // namespace

Router::Router(std::string relayhost, const std::vector<std::string>& transport_maps)
    : relayhost_(std::move(relayhost)) {
  for (std::string map : transport_maps) {
    if (map.starts_with("texthash:")) map = map.substr(9);
    if (map.starts_with("hash:") || map.starts_with("lmdb:") || map.starts_with("cdb:")) {
      // Postfix would read the compiled .db; ringrelay reads the source text next to it.
      map = map.substr(map.find(':') + 1);
    }
    std::ifstream file(map);
    if (!file) throw ConfigError(map + ": cannot open transport map");
    std::string line;
    int number = 0;
    while (std::getline(file, line)) {
      ++number;
      auto hash = line.find('#');
      if (hash == 0 || (hash != std::string::npos && line.find_first_not_of(" \t") == hash))
        continue;
      auto start = line.find_first_not_of(" \t\r");
      if (start == std::string::npos) continue;
      auto split = line.find_first_of(" \t", start);
      auto value_start = split == std::string::npos ? split : line.find_first_not_of(" \t", split);
      if (value_start == std::string::npos) {
        throw ConfigError(map + ", line " + std::to_string(number) +
                          ": expected \"pattern transport:nexthop\"");
      }
      std::string pattern = proto::ascii_lower(line.substr(start, split - start));
      std::string value = line.substr(value_start);
      while (!value.empty() &&
             (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) {
        value.pop_back();
      }
      std::string error;
      std::string hop = value.substr(value.find(':') + 1);
      if (!hop.empty() && !dns::parse_nexthop(value.starts_with("lmtp:") ? value : hop, &error)) {
        throw ConfigError(map + ", line " + std::to_string(number) + ": " + value + ": " + error);
      }
      transports_[pattern] = value;
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
