// Postfix's first-match tables: regexp: (POSIX extended expressions, as Postfix compiles them),
// pcre: (PCRE2) and cidr: (address blocks). Rules apply in file order inside if/endif blocks;
// regexp: and pcre: results may name matched groups ($1, ${2}, $$ for a dollar sign).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringrelay::engine {

// What every table type answers; tables are built once at start or reload and then only read,
// from any shard.
class TableBackend {
 public:
  virtual ~TableBackend() = default;
  // The result for `key`, or nothing. Fixed-key tables fold `key` to lower case themselves.
  virtual std::optional<std::string> find(std::string_view key) const = 0;
  // Every result a rule of a regexp:, pcre: or cidr: table may give, as written, with where it
  // was written ("file, line N"), for parameters that check each one at start; empty for others.
  virtual std::vector<std::pair<std::string, std::string>> results() const { return {}; }
};

// Loads "regexp", "pcre" or "cidr" rules from `path`. Throws ConfigError naming the file and line
// of a pattern that does not compile, an unknown flag, a $n beyond the pattern's groups, a cidr
// block with host bits set, or an if without its endif.
std::unique_ptr<TableBackend> load_pattern_table(std::string_view type, const std::string& path);

}  // namespace ringrelay::engine
