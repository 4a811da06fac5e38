// `ringrelay resolve`: shows the servers a next hop resolves to, in the order they would be tried,
// through the same resolver and configuration as `serve` (MX plan, fallback relays, DNS errors).
#pragma once

#include <span>
#include <string_view>

namespace ringrelay::engine {

int run_resolve_command(std::span<const std::string_view> args);

}  // namespace ringrelay::engine
