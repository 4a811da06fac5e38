// `ringrelay ctl`: the admin socket's client. Sends one command (sites, holds, suspend, resume,
// bounce, defer) to a running serve and prints its answer as a table or a sentence (--json: the
// JSON line as it came). Exit: 0 done, 1 refused (the reason on stderr), 69 no serve to talk to.
#pragma once

#include <span>
#include <string_view>

namespace ringrelay::engine {

int run_ctl_command(std::span<const std::string_view> args);

}  // namespace ringrelay::engine
