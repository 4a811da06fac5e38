// `ringrelay config`: prints the effective settings the way postconf does.
// Kept apart from main() so that tests can run it with their own streams.
#pragma once

#include <ostream>
#include <span>
#include <string_view>

#include "engine/config/config.hh"

namespace ringrelay::engine {

// Runs `ringrelay config [-c PATH] [-n] [-d] [-x] [NAME...]` with the arguments after "config".
// Returns a sysexits.h code: 0, EX_USAGE or EX_CONFIG.
int run_config_command(std::span<const std::string_view> args, const HostFacts& host,
                       std::ostream& out, std::ostream& err);

}  // namespace ringrelay::engine
