// Fuzzes the content rules (header, MIME header, nested header and body checks with every action,
// and generic maps) over arbitrary messages: no crash or hang; nothing changed means nothing
// copied; a changed message has no more lines than the original plus one per rule answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/content_checks.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  static constexpr std::string_view kActions[] = {
      "IGNORE", "REPLACE X-New: 1", "PREPEND X-Added: 2",   "WARN w",  "INFO i",
      "DUNNO",  "REJECT no",        "REPLACE not a header", "STRIP s", ""};
  std::size_t answers = 0;
  auto pick = [&](std::string_view text) -> std::optional<std::string> {
    std::size_t n = (text.size() + (text.empty() ? 0 : static_cast<unsigned char>(text[0]))) % 11;
    if (n == 10) return std::nullopt;
    ++answers;
    return std::string(kActions[n]);
  };
  auto header = [&](std::string_view h) {
    if (h.empty() || h.find(':') == std::string_view::npos) std::abort();
    return pick(h);
  };
  ringrelay::proto::ContentRules rules;
  rules.header = header;
  rules.mime_header = header;
  rules.nested_header = header;
  rules.body = [&](std::string_view line) {
    if (line.size() > 2048 || line.find('\n') != std::string_view::npos) std::abort();
    return pick(line);
  };
  rules.generic = [](std::string_view address) -> std::optional<std::string> {
    if (address.size() % 2) return std::nullopt;
    return "rewritten \"x\"@example.com";
  };
  auto r = ringrelay::proto::apply_content_rules(message, rules, {});
  if (!r.changed) {
    if (!r.output.empty()) std::abort();
    return 0;
  }
  std::size_t lines = 0, original_lines = 1;
  for (char c : r.output.flatten()) lines += c == '\n';
  for (char c : message) original_lines += c == '\n';
  if (lines > original_lines + answers) std::abort();
  return 0;
}
