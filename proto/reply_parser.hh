// Incremental parser of server replies: bytes may arrive split anywhere and several replies may
// come in one read. Memory is bounded: long lines are cut and extra lines dropped (the reply is
// marked truncated); nothing is buffered past the limits. A line that is not a reply line is
// "malformed".
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proto/reply.hh"

namespace ringrelay::proto {

struct ReplyLimits {
  size_t max_line_length = 2048;  // bytes kept of one line (Postfix's line_length_limit)
  size_t max_lines = 100;         // lines kept of one reply
};

// smtp_reply_filter: each line as received (without CRLF) to its replacement, or nothing to keep
// it. Applied before the line is parsed, as Postfix does.
using ReplyLineFilter = std::function<std::optional<std::string>(std::string_view line)>;

class ReplyParser {
 public:
  enum class Status {
    need_more,  // all input consumed, no complete reply yet
    reply,      // `out` holds a complete reply; input may hold more
    malformed,  // `out.lines.back()` is the offending line; the parser has reset
  };

  explicit ReplyParser(ReplyLimits limits = {},
                       std::shared_ptr<const ReplyLineFilter> filter = nullptr)
      : limits_(limits), filter_(std::move(filter)) {}

  // Consumes bytes from the front of `input` up to and including the end of one reply.
  Status parse(std::string_view& input, Reply& out);

  // Forgets any partial line or reply (after the connection changes, e.g. STARTTLS).
  void reset();

  // Whether some bytes of an unfinished reply are held.
  bool mid_reply() const { return !line_.empty() || !reply_.lines.empty() || discarding_; }

 private:
  Status finish_line(Reply& out);

  ReplyLimits limits_;
  std::shared_ptr<const ReplyLineFilter> filter_;
  std::string line_;         // the current line, up to max_line_length
  bool discarding_ = false;  // the current line was longer than the limit
  Reply reply_;              // the reply being assembled
};

// The enhanced status code at the start of `text` ("5.1.1 ..."), or empty. Class must be 2, 4 or 5.
std::string_view leading_enhanced_status(std::string_view text);

}  // namespace ringrelay::proto
