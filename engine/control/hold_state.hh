// The operator's holds on disk (control_state_file), so that a restart keeps what an operator
// suspended: one hold per line, "KIND<TAB>NAME<TAB>UNTIL<TAB>MODE<TAB>REASON" (UNTIL in Unix
// seconds or "-" for until resumed, MODE "keep" or "defer"), written whole to a temporary file,
// synced and renamed over the old one at each change.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/delivery/holds.hh"

namespace ringrelay::engine {

std::string format_holds(const HoldSet& holds);
// The holds in `text`; a line that does not parse is left out and described in `problems`
// ("line 3: ..."). Holds whose time has passed are kept (the caller expires them, with a log).
HoldSet parse_holds(std::string_view text, std::vector<std::string>& problems);

// Writes `holds` to `path` atomically (temporary file, fsync, rename). Throws std::runtime_error.
void save_holds(const std::string& path, const HoldSet& holds);
// The holds saved at `path`; none when the file does not exist. Throws std::runtime_error when it
// exists and cannot be read.
HoldSet load_holds(const std::string& path, std::vector<std::string>& problems);

}  // namespace ringrelay::engine
