// `ringrelay config`: postconf's behaviour for ringrelay's parameters.
//   (no flag) every parameter's effective value, sorted;  -n only those set in the file (one that
//   ringrelay ignores or refuses gets a "# name: ignored by ringrelay: why" line before it);
//   -d built-in defaults;  -x expand $names;  NAME... only those parameters.
#include "engine/cli/command_config.hh"

#include <sysexits.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/config/config_parameters.hh"
#include "engine/config/parameter_support.hh"
#include "engine/config/sasl_settings.hh"

namespace ringrelay::engine {
namespace {

constexpr std::string_view kUsage = "usage: ringrelay config [-c PATH] [-n] [-d] [-x] [NAME...]\n";

void print_setting(std::ostream& out, std::string_view name, std::string_view value) {
  std::string shown = masked_value(name, std::string(value));
  out << name << " =";
  if (!shown.empty()) out << ' ' << shown;
  out << '\n';
}

}  // namespace

int run_config_command(std::span<const std::string_view> args, const HostFacts& host,
                       std::ostream& out, std::ostream& err) {
  std::string path;
  bool explicit_path = false, only_set = false, defaults = false, expand = false;
  std::vector<std::string> names;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-c") {
      if (++i == args.size()) {
        err << "ringrelay: config: -c needs a file name\n" << kUsage;
        return EX_USAGE;
      }
      path = args[i];
      explicit_path = true;
    } else if (arg == "-n") {
      only_set = true;
    } else if (arg == "-d") {
      defaults = true;
    } else if (arg == "-x") {
      expand = true;
    } else if (arg.starts_with("-")) {
      err << "ringrelay: config: unknown option " << arg << '\n' << kUsage;
      return EX_USAGE;
    } else {
      names.emplace_back(arg);
    }
  }
  if (only_set && defaults) {
    err << "ringrelay: config: -n and -d exclude each other\n" << kUsage;
    return EX_USAGE;
  }
  if (!explicit_path) path = std::string(kDefaultConfigPath);

  std::vector<std::string> warnings;
  Config config(host);
  try {
    // Without -c, a missing /etc/ringrelay/main.cf means "all defaults", as a fresh install has.
    if (explicit_path || std::filesystem::exists(path)) {
      config = Config::load(path, host, warnings);
    }
  } catch (const ConfigError& e) {
    for (const auto& w : warnings) err << "ringrelay: warning: " << w << '\n';
    err << "ringrelay: fatal: " << e.what() << '\n';
    return EX_CONFIG;
  }
  for (const auto& w : warnings) err << "ringrelay: warning: " << w << '\n';

  if (names.empty()) {
    if (only_set) {
      names = config.names_set_in_file();
    } else {
      for (const auto& spec : known_parameters()) names.emplace_back(spec.name);
    }
  }
  for (const auto& name : names) {
    bool known = find_parameter(name) != nullptr;
    if (!known && !config.is_set_in_file(name)) {
      err << "ringrelay: warning: " << name << ": unknown parameter\n";
      continue;
    }
    if (defaults) {
      if (known) print_setting(out, name, config.default_raw(name));
    } else {
      // A comment line keeps the output a valid main.cf (values cannot carry comments).
      if (const ParameterNote* note = parameter_note(name); note && config.is_set_in_file(name)) {
        out << "# " << name << ": "
            << (note->support == Support::ignored   ? "ignored"
                : note->support == Support::refused ? "refused unless default"
                                                    : "refused unless equal to its smtp_ value")
            << " by ringrelay: " << note->reason << '\n';
      }
      print_setting(out, name, expand ? config.value(name) : std::string(config.raw(name)));
    }
  }
  return 0;
}

}  // namespace ringrelay::engine
