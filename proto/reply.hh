// One SMTP/LMTP server reply: its code, its enhanced status code (RFC 2034/3463; synthesised from
// the basic code when the server sent none) and its lines, bounded in count and length.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

struct Reply {
  int code = 0;                       // 220, 250, 354, 421, 550, ...
  std::string enhanced;               // "5.1.1": the server's, or "X.0.0" from the code
  bool enhanced_from_server = false;  // whether the server sent `enhanced` itself
  std::vector<std::string> lines;     // each line as received, without its line ending
  bool truncated = false;             // lines were cut or dropped to stay within the limits

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }

  // The text of line `i` after its "250-" or "250 " prefix.
  std::string_view line_text(size_t i) const;
  // Postfix's one-line form for logs and results: the lines joined with single spaces,
  // e.g. "550-5.7.1 first line 550 5.7.1 last line".
  std::string text() const;
};

}  // namespace ringrelay::proto
