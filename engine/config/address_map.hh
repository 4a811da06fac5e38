// smtp_generic_maps' address lookups in the order Postfix's mail_addr_find tries them: the whole
// address (every table), then with the recipient_delimiter extension removed, then the local part
// alone when the domain is $myorigin or in $mydestination, then "@domain" (fixed-key tables only);
// an answer "@otherdomain" keeps the local part.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/lookup_table.hh"

namespace ringrelay::engine {

class AddressMap {
 public:
  // `local_domains`: $myorigin and the $mydestination names, lower case.
  AddressMap(std::vector<LookupTable> tables, std::vector<std::string> local_domains,
             std::string recipient_delimiter);

  // The address to use instead of `address` (internal form, unquoted), or nothing.
  std::optional<std::string> map(std::string_view address) const;

 private:
  std::optional<std::string> find(std::string_view key, bool whole_key) const;

  std::vector<LookupTable> tables_;
  std::vector<std::string> local_domains_;
  std::string delimiters_;
};

}  // namespace ringrelay::engine
