// Reading the files that Postfix's postmap builds: "lmdb:/etc/postfix/transport" is
// /etc/postfix/transport.lmdb (liblmdb), "cdb:..." is transport.cdb (tinycdb). Every entry is read
// into memory at start and on reload, so shards never touch the file.
#pragma once

#include <string>
#include <vector>

#include "engine/config/lookup_table.hh"

namespace ringrelay::engine {

// Keys and values as postmap stored them, without the terminating null byte Postfix appends.
// Throws ConfigError when the file is missing or is not a table of that type.
std::vector<TableEntry> read_lmdb_table(const std::string& path);
std::vector<TableEntry> read_cdb_table(const std::string& path);

}  // namespace ringrelay::engine
