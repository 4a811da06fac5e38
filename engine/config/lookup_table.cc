// Reading lookup tables: one pass over the file, joining continuation lines.
#include "engine/config/lookup_table.hh"

#include <fstream>

#include "engine/config/config.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

std::string trimmed(const std::string& text) {
  auto start = text.find_first_not_of(" \t\r");
  if (start == std::string::npos) return {};
  auto end = text.find_last_not_of(" \t\r");
  return text.substr(start, end - start + 1);
}

}  // namespace

std::vector<TableEntry> read_lookup_table(std::string spec) {
  if (spec.starts_with("texthash:")) spec = spec.substr(9);
  if (spec.starts_with("hash:") || spec.starts_with("lmdb:") || spec.starts_with("cdb:") ||
      spec.starts_with("btree:")) {
    // Postfix would read the compiled .db; ringrelay reads the source text next to it.
    spec = spec.substr(spec.find(':') + 1);
  }
  std::ifstream file(spec);
  if (!file) throw ConfigError(spec + ": cannot open lookup table");
  // Logical lines: a line that starts with whitespace continues the one before.
  std::vector<std::pair<std::string, int>> lines;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    std::string text = trimmed(line);
    if (text.empty() || text.front() == '#') continue;
    if ((line.front() == ' ' || line.front() == '\t') && !lines.empty()) {
      lines.back().first += " " + text;
    } else {
      lines.emplace_back(text, number);
    }
  }
  std::vector<TableEntry> entries;
  for (const auto& [text, number] : lines) {
    std::string where = spec + ", line " + std::to_string(number);
    auto split = text.find_first_of(" \t");
    if (split == std::string::npos) throw ConfigError(where + ": expected \"key value\"");
    entries.push_back(
        {proto::ascii_lower(text.substr(0, split)), trimmed(text.substr(split)), where});
  }
  return entries;
}

}  // namespace ringrelay::engine
