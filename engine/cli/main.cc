// The ringrelay command: dispatches to its subcommands (config, ctl, resolve, serve, submit) and
// prints the version with the TLS library and allocator it carries. Exit codes are sysexits.h's.
#include <sysexits.h>

#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#ifdef RINGRELAY_WITH_MIMALLOC
#include <mimalloc.h>
#endif

#include "engine/cli/command_config.hh"
#include "engine/cli/command_ctl.hh"
#include "engine/cli/command_resolve.hh"
#include "engine/cli/command_serve.hh"
#include "engine/cli/command_submit.hh"
#include "engine/version.hh"
#include "tls/library.hh"

namespace {

constexpr std::string_view kUsage =
    "usage: ringrelay --version\n"
    "       ringrelay config [-c PATH] [-n] [-d] [-x] [NAME...]\n"
    "       ringrelay ctl [-c PATH] [--socket PATH] [--json] COMMAND (ctl --help)\n"
    "       ringrelay resolve [-c PATH] [-n COUNT] NEXTHOP...\n"
    "       ringrelay serve [-c PATH]\n"
    "       ringrelay submit [-c PATH] [--socket PATH] -f SENDER -r RCPT ... FILE...\n";

void print_version() {
  std::cout << "ringrelay " << ringrelay::engine::kVersion << '\n';
  std::cout << "tls: " << ringrelay::tls::library_description() << '\n';
#ifdef RINGRELAY_WITH_MIMALLOC
  // Proves the allocator took over: memory from plain malloc() must be mimalloc's.
  void* probe = std::malloc(64);
  bool overridden = mi_is_in_heap_region(probe);
  std::free(probe);
  std::cout << "allocator: mimalloc " << MI_MALLOC_VERSION / 100 << '.'
            << MI_MALLOC_VERSION % 100 / 10 << '.' << MI_MALLOC_VERSION % 10
            << (overridden ? " (replaces malloc)" : " (linked, but NOT replacing malloc)") << '\n';
#else
  std::cout << "allocator: libc malloc (sanitizer build)\n";
#endif
}

#ifdef RINGRELAY_WITH_MIMALLOC
// Freed memory goes back to the kernel only after a second unused (mimalloc's default: 25 ms). Each
// give-back is an madvise whose TLB shootdown waits for every other CPU running a shard, and a
// relay's memory churns (requests, results, bodies): at 1 KiB per message those shootdowns were a
// third of shard 0's time (bench/README.md). MIMALLOC_DECOMMIT_DELAY in the environment decides.
void tune_allocator() {
  if (std::getenv("MIMALLOC_DECOMMIT_DELAY") == nullptr) {
    mi_option_set(mi_option_decommit_delay, 1000);
  }
}
#else
void tune_allocator() {}
#endif

}  // namespace

int main(int argc, char** argv) {
  tune_allocator();
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return EX_USAGE;
  }
  std::string_view command = args.front();
  std::vector<std::string_view> rest(args.begin() + 1, args.end());
  if (command == "--version" || command == "version") {
    print_version();
    return 0;
  }
  if (command == "--help" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "config") {
    return ringrelay::engine::run_config_command(rest, ringrelay::engine::HostFacts::from_system(),
                                                 std::cout, std::cerr);
  }
  if (command == "ctl") return ringrelay::engine::run_ctl_command(rest);
  if (command == "resolve") return ringrelay::engine::run_resolve_command(rest);
  if (command == "serve") return ringrelay::engine::run_serve_command(rest);
  if (command == "submit") return ringrelay::engine::run_submit_command(rest);
  std::cerr << "ringrelay: unknown command \"" << command << "\"\n" << kUsage;
  return EX_USAGE;
}
