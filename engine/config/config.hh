// ringrelay's configuration: a main.cf-style file read the way Postfix reads its own (logical
// lines, comments, $name expansion), every value checked against the parameter table at load time.
// After a successful load, the typed accessors cannot fail for a known parameter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config_values.hh"

namespace ringrelay::engine {

// A configuration that cannot be used; what() names the file, line, parameter and what was
// expected.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a command does with an error that stops it: "ringrelay: fatal: ..." on standard error,
// and the exit code, EX_CONFIG for a ConfigError, EX_OSERR for anything else.
int report_fatal(const std::exception& error);

// Facts about the host that some defaults come from (myhostname, mydomain).
struct HostFacts {
  std::string hostname;  // the machine's fully qualified name, as gethostname() gives it
  static HostFacts from_system();
};

inline constexpr std::string_view kDefaultConfigPath = "/etc/ringrelay/main.cf";

class Config {
 public:
  // Built-in defaults only.
  explicit Config(const HostFacts& host);

  // Reads main.cf text. `origin` names it in messages (the file's path). Warnings (unused or
  // overridden parameters, references to undefined ones) are appended to `warnings`.
  static Config parse(std::string_view text, std::string origin, const HostFacts& host,
                      std::vector<std::string>& warnings);
  static Config load(const std::filesystem::path& path, const HostFacts& host,
                     std::vector<std::string>& warnings);

  // The value as written in the file (or the default), before $name expansion.
  std::string_view raw(std::string_view name) const;
  // The value after $name expansion.
  std::string value(std::string_view name) const;
  // The parameter's built-in default as `postconf -d` shows it.
  std::string_view default_raw(std::string_view name) const;

  bool is_set_in_file(std::string_view name) const;
  // Every name set in the file, known or not, sorted (what `postconf -n` lists).
  std::vector<std::string> names_set_in_file() const;

  // Typed values of known parameters; calling one with the wrong type is a programming error.
  std::int64_t seconds(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  bool boolean(std::string_view name) const;
  std::vector<std::string> list(std::string_view name) const;
  Feedback feedback(std::string_view name) const;
  double rate(std::string_view name) const;      // events per second; 0: none
  double fraction(std::string_view name) const;  // in (0, 1)
  // count_or_auto parameters: 0 means "auto".
  std::int64_t count_or_auto(std::string_view name) const;

  // Every parameter whose value was asked for (value() and the typed readers), with the ones its
  // value refers to: what the engine acts on. The parameter-support test checks that every known
  // parameter is read, ignored with a reason, or refused (parameter_support.hh).
  const std::set<std::string, std::less<>>& names_read() const { return read_; }

 private:
  struct Entry {
    std::string raw;
    int line = 0;  // 0: the built-in default
  };
  std::string expand(std::string_view text, std::vector<std::string>& stack,
                     std::vector<std::string>* undefined) const;
  void validate(std::vector<std::string>& warnings) const;
  std::string where(const Entry& entry) const;

  std::string origin_;
  std::map<std::string, Entry, std::less<>>
      entries_;  // every known parameter, plus unknown ones set
  std::map<std::string, std::string, std::less<>> defaults_;
  mutable std::set<std::string, std::less<>> read_;
};

// Loads main.cf from `path` when it exists (or must: `explicit_path`); otherwise `config` keeps
// the defaults. False with `error` set on a bad file. Shared by the commands that read main.cf.
bool load_main_cf(const std::string& path, bool explicit_path, Config& config, std::string& error,
                  std::vector<std::string>& warnings);

}  // namespace ringrelay::engine
