// Choosing a table's reader by its type prefix, reading source text, and the fixed-key backend.
#include "engine/config/lookup_table.hh"

#include <fstream>
#include <unordered_map>

#include "engine/config/config.hh"
#include "engine/config/indexed_table.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

std::string trimmed(const std::string& text) {
  auto start = text.find_first_not_of(" \t\r");
  if (start == std::string::npos) return {};
  auto end = text.find_last_not_of(" \t\r");
  return text.substr(start, end - start + 1);
}

// Berkeley DB types: ringrelay reads the source text postmap built them from.
constexpr std::string_view kSourceTextTypes[] = {"hash:", "btree:", "dbm:"};
constexpr std::string_view kPatternTypes[] = {"regexp", "pcre", "cidr"};

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

std::vector<TableEntry> read_source_text(const std::string& path) {
  std::vector<TableEntry> entries;
  for (const TableLine& line : read_table_lines(path)) {
    std::string where = path + ", line " + std::to_string(line.number);
    auto split = line.text.find_first_of(" \t");
    if (split == std::string::npos) throw ConfigError(where + ": expected \"key value\"");
    entries.push_back(
        {proto::ascii_lower(line.text.substr(0, split)), trimmed(line.text.substr(split)), where});
  }
  return entries;
}

// "type:" of a spec, "" for a plain path.
std::string_view type_of(std::string_view spec) {
  if (spec.starts_with("/")) return {};
  auto colon = spec.find(':');
  return colon == std::string_view::npos ? std::string_view() : spec.substr(0, colon);
}

class FixedTable final : public TableBackend {
 public:
  explicit FixedTable(std::vector<TableEntry> entries) {
    for (TableEntry& entry : entries) {
      entries_.try_emplace(std::move(entry.key), std::move(entry.value));
    }
  }
  std::optional<std::string> find(std::string_view key) const override {
    auto it = entries_.find(proto::ascii_lower(key));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::unordered_map<std::string, std::string> entries_;
};

class StaticTable final : public TableBackend {
 public:
  explicit StaticTable(std::string value) : value_(std::move(value)) {}
  std::optional<std::string> find(std::string_view) const override { return value_; }

 private:
  std::string value_;
};

}  // namespace

std::vector<TableLine> read_table_lines(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw ConfigError(path + ": cannot open lookup table");
  std::vector<TableLine> lines;
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    std::string text = trimmed(line);
    if (text.empty() || text.front() == '#') continue;
    if ((line.front() == ' ' || line.front() == '\t') && !lines.empty()) {
      lines.back().text += " " + text;
    } else {
      lines.push_back({text, number});
    }
  }
  return lines;
}

std::string indexed_source_notice(std::string_view spec) {
  for (std::string_view type : kSourceTextTypes) {
    if (spec.starts_with(type)) {
      std::string path(spec.substr(type.size()));
      return std::string(spec) + ": ringrelay reads the source text " + path +
             ", not the Berkeley DB file postmap builds from it; keep them in step (postmap, " +
             "then systemctl reload ringrelay), or use lmdb: or cdb:, which ringrelay reads as " +
             "built";
    }
  }
  return {};
}

std::vector<TableEntry> read_lookup_table(std::string spec) {
  std::string_view type = type_of(spec);
  std::string path = type.empty() ? spec : spec.substr(type.size() + 1);
  if (type == "inline") return read_inline(spec);
  if (type == "lmdb") return read_lmdb_table(path);
  if (type == "cdb") return read_cdb_table(path);
  if (type.empty() || type == "texthash" || type == "hash" || type == "btree" || type == "dbm") {
    return read_source_text(path);
  }
  for (std::string_view pattern_type : kPatternTypes) {
    if (type == pattern_type) {
      throw ConfigError(spec + ": a " + std::string(type) +
                        ": table cannot be used here; this parameter needs a table with fixed " +
                        "keys (texthash:, hash:, lmdb:, cdb:, inline:)");
    }
  }
  if (type == "static") throw ConfigError(spec + ": a static: table cannot be used here");
  throw ConfigError(spec + ": unsupported lookup table type \"" + std::string(type) +
                    "\" (ringrelay reads texthash:, hash:, btree:, dbm:, lmdb:, cdb:, inline:, " +
                    "static:, regexp:, pcre: and cidr: tables)");
}

LookupTable::LookupTable(const std::string& spec) : name_(spec) {
  std::string_view type = type_of(spec);
  std::string path = type.empty() ? spec : spec.substr(type.size() + 1);
  if (type == "static") {
    backend_ = std::make_shared<StaticTable>(path);
    return;
  }
  if (type != "inline") path_ = path;
  if (type == "lmdb" || type == "cdb") path_ += "." + std::string(type);
  for (std::string_view pattern_type : kPatternTypes) {
    if (type == pattern_type) {
      backend_ = load_pattern_table(type, path);
      fixed_keys_ = false;
      return;
    }
  }
  backend_ = std::make_shared<FixedTable>(read_lookup_table(spec));
}

std::vector<LookupTable> load_tables(const std::vector<std::string>& specs) {
  std::vector<LookupTable> tables;
  tables.reserve(specs.size());
  for (const std::string& spec : specs) tables.emplace_back(spec);
  return tables;
}

std::optional<std::string> find_first(const std::vector<LookupTable>& tables,
                                      std::string_view key) {
  for (const LookupTable& table : tables) {
    if (std::optional<std::string> value = table.find(key)) return value;
  }
  return std::nullopt;
}

}  // namespace ringrelay::engine
