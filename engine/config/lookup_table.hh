// Postfix-style lookup tables read from their source text: "key value" lines, # comments, blank
// lines, continuation lines that start with whitespace. "texthash:/path", "hash:/path" (and the
// other indexed types: the source text next to what postmap builds, see indexed_source_notice), a
// plain path, "inline:{ key=value, { key = value with spaces } }", and, for LookupTable,
// "static:value". Used by transport_maps, smtp_tls_policy_maps and the SASL password maps.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ringrelay::engine {

struct TableEntry {
  std::string key;  // lower case
  std::string value;
  std::string where;  // "file, line N", for error messages
};

// Throws ConfigError naming the file (and line) that cannot be read or has a key without a value.
std::vector<TableEntry> read_lookup_table(std::string spec);

// For an indexed table (hash:, btree:, lmdb:, cdb:, dbm:): the start-up warning that ringrelay
// reads the source text, not the file postmap builds from it; empty for other types.
std::string indexed_source_notice(std::string_view spec);

// A table loaded for lookups by key. Keys are matched in lower case (Postfix folds them).
class LookupTable {
 public:
  // Throws ConfigError like read_lookup_table.
  explicit LookupTable(const std::string& spec);
  const std::string& name() const { return name_; }
  // The value for `key` (already lower case), or null. A static: table answers every key.
  const std::string* find(std::string_view key) const;
  // The file it was read from ("" for inline: and static:), for permission checks.
  const std::string& path() const { return path_; }

 private:
  std::string name_, path_;
  std::unordered_map<std::string, std::string> entries_;
  std::optional<std::string> static_value_;
};

}  // namespace ringrelay::engine
