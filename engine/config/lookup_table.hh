// Postfix's lookup tables, one module for every type: texthash: and plain paths (source text),
// inline:{...}, static:, lmdb: and cdb: (the files postmap builds), hash:/btree:/dbm: (their source
// text beside the built file, with a start-up notice), and the first-match regexp:, pcre:, cidr:.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/pattern_table.hh"

namespace ringrelay::engine {

struct TableEntry {
  std::string key;  // lower case
  std::string value;
  std::string where;  // "file, line N", for error messages
};

// A logical line of a table's source text: continuation lines (starting with white space) joined,
// comments and blank lines dropped, trimmed.
struct TableLine {
  std::string text;
  int number = 0;  // of its first physical line
};
// Throws ConfigError when the file cannot be read.
std::vector<TableLine> read_table_lines(const std::string& path);

// Every entry of a table with fixed keys (not regexp:, pcre:, cidr: or static:), for parameters
// that check each entry at start. Throws ConfigError naming the file (and line) that cannot be read
// or has a key without a value, or the table type that cannot be used.
std::vector<TableEntry> read_lookup_table(std::string spec);

// For hash:, btree: and dbm: tables: the start-up warning that ringrelay reads the source text,
// not the Berkeley DB file postmap builds from it; empty for other types.
std::string indexed_source_notice(std::string_view spec);

// A table loaded for lookups. Fixed-key tables fold keys to lower case (as Postfix does); pattern
// tables see the key as given. Copies share the loaded table.
class LookupTable {
 public:
  // Throws ConfigError like read_lookup_table, and for patterns as load_pattern_table says.
  explicit LookupTable(const std::string& spec);
  const std::string& name() const { return name_; }
  std::optional<std::string> find(std::string_view key) const { return backend_->find(key); }
  // The file it was read from ("" for inline: and static:), for permission checks.
  const std::string& path() const { return path_; }
  // False for regexp:, pcre: and cidr:, which Postfix queries with whole keys only (no parent
  // domains, no "@domain" forms).
  bool has_fixed_keys() const { return fixed_keys_; }
  // For regexp:, pcre: and cidr: tables, every result a rule may give with where it was written.
  std::vector<std::pair<std::string, std::string>> rule_results() const {
    return backend_->results();
  }

 private:
  std::string name_, path_;
  bool fixed_keys_ = true;
  std::shared_ptr<const TableBackend> backend_;
};

// Every table in `specs`, loaded in order (throws ConfigError like LookupTable).
std::vector<LookupTable> load_tables(const std::vector<std::string>& specs);
// The answer of the first table in `tables` that has one for `key`, as Postfix's maps search.
std::optional<std::string> find_first(const std::vector<LookupTable>& tables, std::string_view key);

}  // namespace ringrelay::engine
