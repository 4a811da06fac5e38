// The addresses in an address header's value (From, To, Cc, Reply-To, ... as RFC 5322 §3.4 writes
// them: display names, angle brackets, groups, comments, quoted local parts, folding), found where
// they are so smtp_generic_maps can replace each one and leave every other byte as it was.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

struct HeaderAddress {
  std::size_t offset = 0;  // where the addr-spec starts in the value
  std::size_t length = 0;  // its extent (comments inside it included)
  std::string address;     // the internal form: quotes removed, comments and spaces dropped
};

// Every addr-spec in `value` (a header's text after its colon, folding included), left to right.
// Display names, group names and "<>" are not addresses; garbage is skipped, never fatal.
std::vector<HeaderAddress> find_header_addresses(std::string_view value);

// An internal-form address to a new internal-form address, or nothing to leave it.
using AddressRewrite = std::function<std::optional<std::string>(std::string_view address)>;

// `value` with every address `rewrite` maps replaced by its external form (the local part quoted
// when it is not a dot-atom), or nothing when no address changed.
std::optional<std::string> rewrite_header_addresses(std::string_view value,
                                                    const AddressRewrite& rewrite);

// Postfix's header names whose addresses smtp_generic_maps rewrites (the sender and recipient
// headers of its header_opts table), matched without regard to case.
bool is_address_header(std::string_view name);

}  // namespace ringrelay::proto
