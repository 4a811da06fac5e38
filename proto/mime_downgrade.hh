// 8BIT→7BIT conversion for servers that do not offer 8BITMIME, in one pass over the message like
// Postfix's mime_state: multipart bodies are walked by boundary, message/rfc822 is recursed into,
// and every leaf part that holds 8-bit bytes becomes quoted-printable with its
// Content-Transfer-Encoding rewritten. Unlike Postfix 3.7, a part labelled 7bit (or not labelled)
// that really holds 8-bit bytes is converted too. Unchanged bytes are views into the input.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "proto/output_batch.hh"

namespace ringrelay::proto {

struct MimeLimits {
  std::size_t boundary_length_limit = 2048;  // mime_boundary_length_limit
  std::size_t nesting_limit = 100;           // mime_nesting_limit
};

struct DowngradeResult {
  OutputBatch output;      // the message to send, 7-bit clean wherever the structure allows
  bool converted = false;  // at least one part was re-encoded
  bool fatal = false;      // the message cannot be sent this way (bounce 5.6.3 with `error`)
  std::string error;
  // What stayed 8-bit because MIME has no way to convert it (8-bit headers, message/partial, a
  // multipart preamble): sent as is, as Postfix does, and said in the log.
  std::vector<std::string> notes;
};

// Whether any byte of the message has the high bit set.
bool has_8bit(std::string_view bytes);

// Converts `message` (one contiguous buffer that outlives the result).
DowngradeResult downgrade_to_7bit(std::string_view message, const MimeLimits& limits);

// Quoted-printable (RFC 2045 6.7): lines of at most 76 characters, CRLF line breaks. Exposed for
// tests and for the decoder the property tests use.
std::string quoted_printable_encode(std::string_view body);
std::string quoted_printable_decode(std::string_view encoded);

}  // namespace ringrelay::proto
