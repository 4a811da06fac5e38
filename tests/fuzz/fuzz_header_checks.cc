// Fuzzes smtp_header_checks over arbitrary messages with every action: no crash; nothing changed
// means nothing copied; a changed message keeps everything after its header section byte for
// byte, and its new header section has no more headers than the original plus one per header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/header_checks.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  static constexpr std::string_view kActions[] = {
      "IGNORE", "REPLACE X-New: 1", "PREPEND X-Added: 2",   "WARN w", "INFO i",
      "DUNNO",  "REJECT no",        "REPLACE not a header", ""};
  std::size_t headers = 0;
  auto r = ringrelay::proto::apply_header_checks(
      message, [&](std::string_view header) -> std::optional<std::string> {
        ++headers;
        if (header.empty() || header.find(':') == std::string_view::npos) std::abort();
        std::size_t pick = (header.size() + static_cast<unsigned char>(header[0])) % 10;
        if (pick == 9) return std::nullopt;
        return std::string(kActions[pick]);
      });
  if (!r.changed) {
    if (!r.headers.empty() || r.rest_offset != 0) std::abort();
    return 0;
  }
  if (r.rest_offset > message.size()) std::abort();
  std::size_t lines = 0;
  for (char c : r.headers) lines += c == '\n';
  // Each original header gives at most itself (all its lines) plus one prepended line.
  std::size_t original_lines = 0;
  for (char c : message.substr(0, r.rest_offset)) original_lines += c == '\n';
  if (lines > original_lines + headers + 1) std::abort();
  return 0;
}
