// Test helpers for what a receiving server makes of ringrelay's DATA stream: strip the terminator
// and undo dot-stuffing, the way smtpd (and smtp-sink's dumps) do.
#pragma once

#include <string>
#include <string_view>

namespace ringrelay::testing {

// `wire` ends with ".\r\n"; the result keeps CRLF line endings, or LF when `lf` is set.
inline std::string unstuff(std::string_view wire, bool lf = false) {
  wire.remove_suffix(3);
  std::string out;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    std::size_t end = wire.find("\r\n", pos);
    std::string_view line = wire.substr(pos, end - pos);
    if (line.starts_with(".")) line.remove_prefix(1);
    out += line;
    out += lf ? "\n" : "\r\n";
    pos = end + 2;
  }
  return out;
}

}  // namespace ringrelay::testing
