// The admin socket's language (`ringrelay ctl`): one line of words per connection, one JSON line
// back. Commands: sites [NAME], holds, suspend KIND NAME [for TIME] [defer] [reason TEXT...],
// resume KIND NAME, bounce SITE [reason TEXT...], defer SITE [reason TEXT...]. Parsing only; the
// control server carries them out. docs/control.md describes them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/delivery/holds.hh"

namespace ringrelay::engine {

struct ControlCommand {
  enum class Verb { sites, holds, suspend, resume, bounce, defer } verb = Verb::sites;
  HoldKind kind = HoldKind::site;  // suspend, resume
  std::string name;                // lower case: the site, source, domain, pool or tenant
  std::optional<std::chrono::seconds> duration;  // suspend ... for TIME
  bool defer = false;                            // suspend ... defer
  std::string reason;
};

// Longest request line the server reads, and the longest name or reason in it.
inline constexpr std::size_t kControlLineLimit = 4096;
inline constexpr std::size_t kControlNameLimit = 255;
inline constexpr std::size_t kControlReasonLimit = 500;

// Parses one request line (without its newline). On failure, `error` says what is wrong in words
// an operator can act on.
std::optional<ControlCommand> parse_control_command(std::string_view line, std::string& error);

}  // namespace ringrelay::engine
