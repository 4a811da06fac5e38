// Content rules at the last hop, as Postfix's smtp(8) applies them while it sends a message:
// smtp_header_checks (primary headers), smtp_mime_header_checks (MIME headers and part headers),
// smtp_nested_header_checks (headers of attached messages), smtp_body_checks (every other line)
// with the actions a delivery agent can take, and smtp_generic_maps on the primary sender and
// recipient headers. A message that no rule changes is sent as it is, without a copy.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/header_addresses.hh"
#include "proto/mime_downgrade.hh"
#include "proto/output_batch.hh"

namespace ringrelay::proto {

// A table's action for one logical header (continuation lines joined by "\n", no CR) or one
// body line (without its line ending), or nothing.
using ContentLookup = std::function<std::optional<std::string>(std::string_view text)>;

struct ContentRules {
  ContentLookup header;         // smtp_header_checks
  ContentLookup mime_header;    // smtp_mime_header_checks
  ContentLookup nested_header;  // smtp_nested_header_checks
  ContentLookup body;           // smtp_body_checks
  AddressRewrite generic;       // smtp_generic_maps (headers here; the envelope in the session)
  std::string_view parameter_prefix = "smtp";  // "lmtp": for the names in warnings

  bool any() const { return header || mime_header || nested_header || body || generic; }
};

struct ContentRewrite {
  bool changed = false;
  OutputBatch output;                // the message to send (when changed): views and new lines
  std::vector<std::string> notices;  // what Postfix logs: warn/info/replace/prepend/strip lines
};

// `message`: the RFC 5322 message (LF or CRLF line endings), outliving the result's views.
ContentRewrite apply_content_rules(std::string_view message, const ContentRules& rules,
                                   const MimeLimits& limits);

}  // namespace ringrelay::proto
