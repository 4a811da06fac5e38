// `ringrelay serve [-c PATH]`: runs the relay until SIGTERM. SIGHUP reloads the configuration
// for new work without dropping what is in flight.
#pragma once

#include <span>
#include <string_view>

namespace ringrelay::engine {

// Returns a sysexits.h code.
int run_serve_command(std::span<const std::string_view> args);

}  // namespace ringrelay::engine
