// Postfix-style lookup tables read from their source text: "key value" lines, # comments, blank
// lines, continuation lines that start with whitespace. "texthash:/path", "hash:/path" (the text
// next to the .db) or a plain path. Used by transport_maps and smtp_tls_policy_maps.
#pragma once

#include <string>
#include <vector>

namespace ringrelay::engine {

struct TableEntry {
  std::string key;  // lower case
  std::string value;
  std::string where;  // "file, line N", for error messages
};

// Throws ConfigError naming the file (and line) that cannot be read or has a key without a value.
std::vector<TableEntry> read_lookup_table(std::string spec);

}  // namespace ringrelay::engine
