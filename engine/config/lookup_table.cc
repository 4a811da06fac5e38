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

constexpr std::string_view kIndexedTypes[] = {"hash:", "btree:", "lmdb:", "cdb:", "dbm:"};

// "inline:{ key=value, { key = value } }" (Postfix 3.0): elements separated by commas or
// whitespace, an element in braces may hold both.
std::vector<TableEntry> read_inline(const std::string& spec) {
  std::string_view body = spec;
  body.remove_prefix(7);  // "inline:"
  if (!body.starts_with("{") || !body.ends_with("}")) {
    throw ConfigError(spec + ": expected inline:{ key=value, ... }");
  }
  body = body.substr(1, body.size() - 2);
  std::vector<TableEntry> entries;
  std::size_t i = 0;
  auto element = [&](std::string text) {
    std::string item = trimmed(text);
    if (item.empty()) return;
    auto equals = item.find('=');
    if (equals == std::string::npos || trimmed(item.substr(0, equals)).empty()) {
      throw ConfigError(spec.substr(0, 7) +
                        "{...}: expected key=value, got an element without '='");
    }
    entries.push_back({proto::ascii_lower(trimmed(item.substr(0, equals))),
                       trimmed(item.substr(equals + 1)), "inline table"});
  };
  while (i < body.size()) {
    char c = body[i];
    if (c == ' ' || c == '\t' || c == ',') {
      ++i;
    } else if (c == '{') {
      auto close = body.find('}', i);
      if (close == std::string_view::npos)
        throw ConfigError(spec.substr(0, 7) + ": unbalanced '{'");
      element(std::string(body.substr(i + 1, close - i - 1)));
      i = close + 1;
    } else {
      auto end = body.find_first_of(" \t,", i);
      if (end == std::string_view::npos) end = body.size();
      element(std::string(body.substr(i, end - i)));
      i = end;
    }
  }
  return entries;
}

}  // namespace

std::string indexed_source_notice(std::string_view spec) {
  for (std::string_view type : kIndexedTypes) {
    if (spec.starts_with(type)) {
      std::string path(spec.substr(type.size()));
      return std::string(spec) + ": ringrelay reads the source text " + path +
             ", not the file postmap builds from it; keep them in step (postmap, then " +
             "systemctl reload ringrelay)";
    }
  }
  return {};
}

LookupTable::LookupTable(const std::string& spec) : name_(spec) {
  if (spec.starts_with("static:")) {
    static_value_ = spec.substr(7);
    return;
  }
  if (!spec.starts_with("inline:")) {
    path_ = spec.substr(spec.find(':') == std::string::npos ? 0 : spec.find(':') + 1);
    if (spec.starts_with("/")) path_ = spec;
  }
  for (TableEntry& entry : read_lookup_table(spec)) {
    entries_.try_emplace(std::move(entry.key), std::move(entry.value));
  }
}

const std::string* LookupTable::find(std::string_view key) const {
  if (static_value_) return &*static_value_;
  auto it = entries_.find(std::string(key));
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<TableEntry> read_lookup_table(std::string spec) {
  if (spec.starts_with("inline:")) return read_inline(spec);
  if (spec.starts_with("static:")) {
    throw ConfigError(spec + ": a static: table cannot be used here");
  }
  if (spec.starts_with("texthash:")) spec = spec.substr(9);
  for (std::string_view type : kIndexedTypes) {
    // Postfix would read what postmap built; ringrelay reads the source text it was built from.
    if (spec.starts_with(type)) spec = spec.substr(type.size());
  }
  if (auto colon = spec.find(':'); colon != std::string::npos && !spec.starts_with("/")) {
    throw ConfigError(spec + ": unsupported lookup table type \"" + spec.substr(0, colon) +
                      "\" (ringrelay reads texthash:, hash:, btree:, lmdb:, cdb:, dbm:, inline: " +
                      "and static: tables)");
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
