// Lines and Content-Type parsing for the MIME walks.
#include "proto/mime_syntax.hh"

#include <cstring>

#include "proto/ascii.hh"

namespace ringrelay::proto {

std::optional<Line> line_at(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return std::nullopt;
  const char* start = text.data() + pos;
  std::size_t left = text.size() - pos;
  const char* newline = static_cast<const char*>(std::memchr(start, '\n', left));
  std::size_t end = newline ? static_cast<std::size_t>(newline - start) : left;
  std::size_t content = end;
  if (newline && content > 0 && start[content - 1] == '\r') --content;
  return Line{std::string_view(start, content), std::string_view(start, newline ? end + 1 : end)};
}

ContentType parse_content_type(std::string_view value) {
  ContentType ct;
  std::size_t semicolon = value.find(';');
  std::string_view media = trim_blanks(value.substr(0, semicolon));
  std::size_t slash = media.find('/');
  if (slash != std::string_view::npos) {
    ct.type = ascii_lower(trim_blanks(media.substr(0, slash)));
    ct.subtype = ascii_lower(trim_blanks(media.substr(slash + 1)));
  } else if (!media.empty()) {
    ct.type = ascii_lower(media);
    ct.subtype.clear();
  }
  // Parameters: name=value or name="quoted value".
  std::size_t pos = semicolon;
  while (pos != std::string_view::npos && pos < value.size()) {
    std::string_view rest = value.substr(pos + 1);
    std::size_t eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string name = ascii_lower(trim_blanks(rest.substr(0, eq)));
    std::string_view after = rest.substr(eq + 1);
    while (!after.empty() && (after.front() == ' ' || after.front() == '\t'))
      after.remove_prefix(1);
    std::string param;
    std::size_t consumed = 0;
    if (!after.empty() && after.front() == '"') {
      std::size_t i = 1;
      for (; i < after.size() && after[i] != '"'; ++i) {
        if (after[i] == '\\' && i + 1 < after.size()) ++i;
        param += after[i];
      }
      consumed = std::min(after.size(), i + 1);
    } else {
      std::size_t end = after.find(';');
      param = std::string(trim_blanks(after.substr(0, end)));
      consumed = end == std::string_view::npos ? after.size() : end;
    }
    if (name == "boundary") ct.boundary = param;
    std::size_t next = after.substr(consumed).find(';');
    if (next == std::string_view::npos) break;
    pos = static_cast<std::size_t>((after.data() + consumed + next) - value.data());
  }
  return ct;
}

}  // namespace ringrelay::proto
