// Which next hop a recipient goes to when the request does not name one, the Postfix way:
// transport_maps (domain, then ".parent" domains, then "*"), then relayhost, then the recipient's
// own domain. Transport map files use Postfix's "pattern transport:nexthop" syntax (texthash).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dns/nexthop.hh"

namespace ringrelay::engine {

class Router {
 public:
  // Loads the transport maps ("texthash:/path" or a plain path). Throws ConfigError naming the
  // file and line of a malformed entry.
  Router(std::string relayhost, const std::vector<std::string>& transport_maps);

  // The next hop for `recipient` (an address), or nullopt with `error` set.
  std::optional<dns::Nexthop> route(const std::string& recipient, std::string& error) const;

 private:
  std::string relayhost_;
  std::map<std::string, std::string, std::less<>> transports_;  // pattern → "smtp:[host]:port"
};

}  // namespace ringrelay::engine
