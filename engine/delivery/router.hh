// Which next hop a recipient goes to when the request does not name one, the Postfix way:
// transport_maps (domain, then ".parent" domains, then "*"), then sender_dependent_relayhost_maps
// (the sender's address, then "@domain"; the null sender as
// empty_address_relayhost_maps_lookup_key), then relayhost, then the recipient's own domain.
// Transport map files use Postfix's "pattern transport:nexthop" syntax (texthash).
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
  Router(std::string relayhost, const std::vector<std::string>& transport_maps,
         const std::vector<std::string>& sender_relayhost_maps = {},
         std::string empty_sender_key = "<>");

  // The next hop for `recipient` (an address) of mail from `sender`, or nullopt with `error` set.
  std::optional<dns::Nexthop> route(const std::string& recipient, std::string& error,
                                    const std::string& sender = {}) const;

 private:
  const std::string& relayhost_for(const std::string& sender) const;

  std::string relayhost_;
  std::string empty_sender_key_;
  std::map<std::string, std::string, std::less<>> sender_relayhosts_;  // sender key → relayhost
  std::map<std::string, std::string, std::less<>> transports_;  // pattern → "smtp:[host]:port"
};

}  // namespace ringrelay::engine
