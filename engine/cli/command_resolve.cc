// `ringrelay resolve [-c PATH] [-n COUNT] NEXTHOP...`: one line per lookup,
//   NEXTHOP: host[address]:port host[address]:port ...     (fallback relays marked "(fallback)")
//   NEXTHOP: deferred (4.4.3 Host or domain name not found. ...)  or  bounced (5.4.4 ...)
// Exit 0 when every lookup found servers, 75 when one was deferred, 69 when one was bounced.
#include "engine/cli/command_resolve.hh"

#include <sysexits.h>

#include <iostream>
#include <string>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/shard_resolver.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {
namespace {

constexpr std::string_view kUsage = "usage: ringrelay resolve [-c PATH] [-n COUNT] NEXTHOP...\n";

}  // namespace

int run_resolve_command(std::span<const std::string_view> args) {
  std::string path(kDefaultConfigPath);
  bool explicit_path = false;
  long count = 1;
  std::vector<std::string> hops;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-c" && i + 1 < args.size()) {
      path = args[++i];
      explicit_path = true;
    } else if (args[i] == "-n" && i + 1 < args.size()) {
      auto n = parse_integer(args[++i]);
      if (!n || *n < 1) {
        std::cerr << "ringrelay: resolve: -n needs a count of at least 1\n" << kUsage;
        return EX_USAGE;
      }
      count = static_cast<long>(*n);
    } else if (args[i].starts_with("-")) {
      std::cerr << kUsage;
      return EX_USAGE;
    } else {
      hops.emplace_back(args[i]);
    }
  }
  if (hops.empty()) {
    std::cerr << kUsage;
    return EX_USAGE;
  }
  Config config(HostFacts::from_system());
  std::string error;
  std::vector<std::string> warnings;
  if (!load_main_cf(path, explicit_path, config, error, warnings)) {
    std::cerr << "ringrelay: fatal: " << error << '\n';
    return EX_CONFIG;
  }
  for (const auto& w : warnings) std::cerr << "ringrelay: warning: " << w << '\n';
  int status = 0;
  try {
    EngineSettings settings = engine_settings(config);
    Ring ring(64, 8, 512);
    Timers timers;
    ShardResolver resolver(ring, timers, settings);
    for (const std::string& text : hops) {
      auto hop = dns::parse_nexthop(text, &error);
      if (!hop) {
        std::cerr << "ringrelay: resolve: " << text << ": " << error << '\n';
        return EX_USAGE;
      }
      for (long i = 0; i < count; ++i) {
        bool done = false;
        resolver.resolve(*hop, [&](ResolveAnswer answer) {
          done = true;
          std::cout << text << ':';
          if (answer.addresses.empty()) {
            std::cout << (answer.hard_failure ? " bounced (" : " deferred (") << answer.dsn << ' '
                      << answer.text << ")\n";
            status = std::max(status, answer.hard_failure ? EX_UNAVAILABLE : EX_TEMPFAIL);
            return;
          }
          for (const ServerAddress& a : answer.addresses) {
            std::cout << ' ' << a.name_address_port() << (a.site > 0 ? " (fallback)" : "");
          }
          std::cout << '\n';
        });
        while (!done) {
          ring.run_once(timers.until_next(std::chrono::seconds(1)));
          timers.fire_due();
        }
      }
    }
    ring.run_once(std::chrono::milliseconds(0));
  } catch (const std::exception& e) {
    return report_fatal(e);
  }
  return status;
}

}  // namespace ringrelay::engine
