// Fuzzes what the shaping parameters and reply rules parse: rates, fractions, rule actions and
// egress source definitions. No crash; a rate is finite and not negative, a fraction lies strictly
// between 0 and 1, a parsed action asks for at least one thing, with a bounded backoff and positive
// spells, and a parsed source has an address of the right family.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/config/config_values.hh"
#include "engine/config/egress.hh"
#include "engine/config/reply_rules.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringrelay::engine;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto rate = parse_rate(text); rate && (!std::isfinite(*rate) || *rate < 0)) std::abort();
  if (auto f = parse_fraction(text); f && !(*f > 0 && *f < 1)) std::abort();
  std::string error;
  auto action = parse_reply_action(text, error);
  if (action) {
    bool something = action->backoff_steps > 0 || action->suspend.count() > 0 ||
                     action->no_reuse.count() > 0 || action->close || action->defer;
    if (!something || action->backoff_steps > 10 || action->suspend.count() < 0 ||
        action->no_reuse.count() < 0) {
      std::abort();
    }
  } else if (error.empty()) {
    std::abort();  // a refusal always says why
  }
  error.clear();
  if (auto source = parse_egress_source("src", text, error)) {
    if ((!source->address && !source->address6) ||
        (source->address && source->address->family() != AF_INET) ||
        (source->address6 && source->address6->family() != AF_INET6) ||
        source->helo.find_first_of("\r\n ") != std::string::npos) {
      std::abort();
    }
  } else if (error.empty()) {
    std::abort();
  }
  return 0;
}
