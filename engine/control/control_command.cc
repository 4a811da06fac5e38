// Parsing the admin socket's command lines.
#include "engine/control/control_command.hh"

#include <algorithm>
#include <cctype>
#include <vector>

#include "engine/config/config_values.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// A site, source, domain, pool or tenant name: printable, no quotes or backslashes (they go into
// log lines and JSON), at most kControlNameLimit.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > kControlNameLimit) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return c > ' ' && c < 0x7f && c != '"' && c != '\\'; });
}

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= ' ' && c < 0x7f; });
}

}  // namespace

std::optional<ControlCommand> parse_control_command(std::string_view line, std::string& error) {
  if (line.size() > kControlLineLimit) {
    error = "request longer than " + std::to_string(kControlLineLimit) + " bytes";
    return std::nullopt;
  }
  if (!printable(line)) {
    error = "request has control or non-ASCII characters";
    return std::nullopt;
  }
  std::vector<std::string_view> w = words_of(line);
  if (w.empty()) {
    error = "empty request; commands: sites, holds, suspend, resume, bounce, defer";
    return std::nullopt;
  }
  ControlCommand c;
  std::size_t next = 1;
  auto name_at = [&](std::size_t i, const char* what) {
    if (i >= w.size() || !valid_name(w[i])) {
      error = std::string(w[0]) + ": expected " + what;
      return false;
    }
    c.name = proto::ascii_lower(w[i]);
    return true;
  };
  // "reason TEXT...": the rest of the line as typed, from the word after "reason".
  auto reason_from = [&](std::size_t i) {
    if (i + 1 >= w.size()) {
      error = "reason: expected some words";
      return false;
    }
    std::string_view rest = line.substr(static_cast<std::size_t>(w[i + 1].data() - line.data()));
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    if (rest.size() > kControlReasonLimit) {
      error = "reason longer than " + std::to_string(kControlReasonLimit) + " characters";
      return false;
    }
    c.reason = std::string(rest);
    return true;
  };
  std::string_view verb = w[0];
  if (verb == "sites") {
    c.verb = ControlCommand::Verb::sites;
    if (w.size() > 2) {
      error = "sites: expected at most a site name";
      return std::nullopt;
    }
    if (w.size() == 2 && !name_at(1, "a site name")) return std::nullopt;
    return c;
  }
  if (verb == "holds") {
    c.verb = ControlCommand::Verb::holds;
    if (w.size() != 1) {
      error = "holds: takes no arguments";
      return std::nullopt;
    }
    return c;
  }
  if (verb == "suspend" || verb == "resume") {
    c.verb = verb == "suspend" ? ControlCommand::Verb::suspend : ControlCommand::Verb::resume;
    auto kind = w.size() > 1 ? hold_kind(w[1]) : std::nullopt;
    if (!kind) {
      error = std::string(verb) + ": expected site, source, domain, pool or tenant";
      return std::nullopt;
    }
    c.kind = *kind;
    if (!name_at(2, "a name")) return std::nullopt;
    next = 3;
    if (c.verb == ControlCommand::Verb::resume) {
      if (w.size() > next) {
        error = "resume: unexpected \"" + std::string(w[next]) + "\"";
        return std::nullopt;
      }
      return c;
    }
    while (next < w.size()) {
      if (w[next] == "for" && !c.duration) {
        auto seconds = next + 1 < w.size() ? parse_time_seconds(w[next + 1], 's') : std::nullopt;
        if (!seconds || *seconds <= 0) {
          error = "for: expected a time such as 30m, 2h or 1d";
          return std::nullopt;
        }
        c.duration = std::chrono::seconds(*seconds);
        next += 2;
      } else if (w[next] == "defer" && !c.defer) {
        c.defer = true;
        ++next;
      } else if (w[next] == "reason") {
        if (!reason_from(next)) return std::nullopt;
        return c;
      } else {
        error = "suspend: unexpected \"" + std::string(w[next]) +
                "\" (expected for TIME, defer or reason TEXT)";
        return std::nullopt;
      }
    }
    return c;
  }
  if (verb == "bounce" || verb == "defer") {
    c.verb = verb == "bounce" ? ControlCommand::Verb::bounce : ControlCommand::Verb::defer;
    if (!name_at(1, "a site name (as ctl sites shows it)")) return std::nullopt;
    if (w.size() > 2) {
      if (w[2] != "reason") {
        error =
            std::string(verb) + ": unexpected \"" + std::string(w[2]) + "\" (expected reason TEXT)";
        return std::nullopt;
      }
      if (!reason_from(2)) return std::nullopt;
    }
    return c;
  }
  error = "unknown command \"" + std::string(verb) +
          "\"; commands: sites, holds, suspend, resume, bounce, defer";
  return std::nullopt;
}

}  // namespace ringrelay::engine
