// smtp_header_checks: Postfix's header_checks(5) actions that make sense at the last hop (IGNORE,
// REPLACE, PREPEND, WARN, INFO, DUNNO), applied to a message's primary header section as it is
// sent. A message that no rule changes is sent as it is, without a copy.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

// A logical header (continuation lines joined by "\n", no CR) to the table's action, or nothing.
using HeaderCheck = std::function<std::optional<std::string>(std::string_view header)>;

struct HeaderRewrite {
  bool changed = false;
  std::string headers;               // the new header section (when changed)
  std::size_t rest_offset = 0;       // where the original message goes on after it
  std::vector<std::string> notices;  // WARN and INFO lines, and actions that cannot apply here
};

// `message`: the RFC 5322 message, LF or CRLF line endings.
HeaderRewrite apply_header_checks(std::string_view message, const HeaderCheck& check);

}  // namespace ringrelay::proto
