// Site names from resolved plans, and site ownership.
#include "engine/delivery/site_key.hh"

#include <algorithm>
#include <functional>
#include <vector>

namespace ringrelay::engine {

std::string site_name(const dns::Nexthop& hop, const ResolveAnswer& answer) {
  if (hop.kind != dns::Nexthop::Kind::domain) return hop.key();
  std::vector<std::string> hosts;
  for (const ServerAddress& a : answer.addresses) {
    if (a.site != 0 || a.hostname.empty()) continue;
    std::string host = a.hostname;
    if (host.ends_with('.')) host.pop_back();
    for (char& c : host) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    hosts.push_back(std::move(host));
  }
  if (hosts.empty()) return hop.key();
  std::sort(hosts.begin(), hosts.end());
  hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
  std::string name = hop.protocol == dns::Protocol::lmtp ? "lmtp:" : "";
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (i > 0) name += ',';
    name += hosts[i];
  }
  if (hop.port != 25) {
    name += ':';
    name += std::to_string(hop.port);
  }
  return name;
}

std::vector<std::string_view> site_aliases(std::string_view site) {
  std::vector<std::string_view> aliases{site};
  std::size_t first = site.starts_with("lmtp:") ? 5 : 0;
  for (std::size_t start = first; start < site.size();) {
    std::size_t comma = std::min(site.find(',', start), site.size());
    std::string_view host = site.substr(start, comma - start);
    host = host.substr(0, host.find(':'));
    if (!host.empty() && host != site) aliases.push_back(host);
    start = comma + 1;
  }
  return aliases;
}

bool site_answers_to(std::string_view site, std::string_view name) {
  auto aliases = site_aliases(site);
  return std::find(aliases.begin(), aliases.end(), name) != aliases.end();
}

std::size_t owner_shard(const std::string& key, std::size_t shards) {
  return shards <= 1 ? 0 : std::hash<std::string>{}(key) % shards;
}

}  // namespace ringrelay::engine
