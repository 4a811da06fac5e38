// The header section is read line by line until the first empty line or a line that is not a
// header; each logical header is looked up once, and the section is rebuilt only when an action
// changes it.
#include "proto/header_checks.hh"

#include "proto/ascii.hh"

namespace ringrelay::proto {
namespace {

// "Name:" at the start: printable characters other than ':' and space, then ':'.
bool is_header(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] > ' ' && line[i] < 127 && line[i] != ':') ++i;
  return i > 0 && i < line.size() && line[i] == ':';
}

std::string_view without_line_end(std::string_view line) {
  if (line.ends_with("\n")) line.remove_suffix(1);
  if (line.ends_with("\r")) line.remove_suffix(1);
  return line;
}

// The first line of `text` (with its line end) or all of it.
std::string_view next_line(std::string_view text, std::size_t at) {
  std::size_t end = text.find('\n', at);
  return text.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at + 1);
}

}  // namespace

HeaderRewrite apply_header_checks(std::string_view message, const HeaderCheck& check) {
  HeaderRewrite out;
  std::string rebuilt;
  std::size_t at = 0;
  while (at < message.size()) {
    std::string_view first = next_line(message, at);
    if (!is_header(without_line_end(first))) break;  // the empty line, or the body without one
    // The logical header: the first line and its continuation lines.
    std::size_t end = at + first.size();
    std::string logical(without_line_end(first));
    while (end < message.size() && (message[end] == ' ' || message[end] == '\t')) {
      std::string_view more = next_line(message, end);
      logical += '\n';
      logical += without_line_end(more);
      end += more.size();
    }
    std::string_view original = message.substr(at, end - at);
    std::optional<std::string> action = check(logical);
    std::string_view keep = original;
    if (action) {
      std::string_view text = *action;
      std::size_t space = text.find_first_of(" \t");
      std::string verb = ascii_upper(text.substr(0, space));
      std::string_view argument =
          space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
      while (!argument.empty() && (argument.front() == ' ' || argument.front() == '\t')) {
        argument.remove_prefix(1);
      }
      std::string name = logical.substr(0, logical.find(':'));
      if (verb == "IGNORE") {
        keep = {};
        out.changed = true;
      } else if ((verb == "REPLACE" || verb == "PREPEND") && is_header(argument)) {
        std::string line = std::string(argument) + "\n";
        if (verb == "REPLACE") {
          rebuilt += line;
          keep = {};
        } else {
          rebuilt += line;
        }
        out.changed = true;
      } else if (verb == "WARN" || verb == "INFO") {
        out.notices.push_back(std::string(verb == "WARN" ? "warning" : "info") + ": header " +
                              logical.substr(0, 200) + (argument.empty() ? "" : ": ") +
                              std::string(argument));
      } else if (verb != "DUNNO") {
        out.notices.push_back("warning: smtp_header_checks: unsupported action \"" +
                              std::string(text.substr(0, 100)) + "\" for header " + name +
                              " (smtp(8) takes IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO; " +
                              "REPLACE and PREPEND need a header as their text)");
      }
    }
    rebuilt += keep;
    at = end;
  }
  if (out.changed) {
    out.headers = std::move(rebuilt);
    out.rest_offset = at;
  }
  return out;
}

}  // namespace ringrelay::proto
