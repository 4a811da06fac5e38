// Reading main.cf (Postfix's logical-line rules), $name expansion, and checking every value against
// the parameter table. Messages follow postconf's wording where it has one.
#include "engine/config/config.hh"

#include <filesystem>

#include <sysexits.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>

#include "engine/config/config_parameters.hh"

namespace ringrelay::engine {
namespace {

constexpr size_t kMaxExpansionDepth = 100;

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// One logical line: a line that starts with text plus the lines that continue it.
struct LogicalLine {
  std::string text;
  int first_line = 0;
};

// Postfix's readllines(): empty lines and comment lines are skipped; a line that starts with
// whitespace continues the previous logical line; an empty line or a line that starts with
// text (or with a comment at column one) ends it; an indented comment does not end it.
std::vector<LogicalLine> read_logical_lines(std::string_view text, const std::string& origin) {
  std::vector<LogicalLine> lines;
  bool open = false;
  int number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++number;
    std::string_view content = trim(line);
    if (content.empty()) {
      open = false;
      continue;
    }
    bool indented = is_space(line.front());
    if (content.front() == '#') {
      if (!indented) open = false;
      continue;
    }
    if (indented) {
      if (!open) {
        throw ConfigError(origin + ", line " + std::to_string(number) +
                          ": a line that starts with whitespace continues a parameter, but no "
                          "parameter precedes it: \"" +
                          std::string(content) + "\"");
      }
      lines.back().text += ' ';
      lines.back().text += content;
      continue;
    }
    lines.push_back({std::string(content), number});
    open = true;
  }
  return lines;
}

// The names a value refers to with $name, ${name...} or $(name...).
void collect_references(std::string_view text, std::vector<std::string>& names) {
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '$') continue;
    size_t start = i + 1;
    if (text[start] == '{' || text[start] == '(') ++start;
    size_t end = start;
    while (end < text.size() && is_name_char(text[end])) ++end;
    if (end > start) names.emplace_back(text.substr(start, end - start));
  }
}

std::string describe_expected(const ParameterSpec& spec) {
  switch (spec.type) {
    case ParameterType::time:
      return std::string(kExpectTime) + ", at least " + std::to_string(spec.minimum) + "s";
    case ParameterType::boolean:
      return std::string(kExpectBoolean);
    case ParameterType::integer:
      return std::string(kExpectInteger) + " of at least " + std::to_string(spec.minimum);
    case ParameterType::count_or_auto:
      return "auto, or " + std::string(kExpectInteger) + " of at least " +
             std::to_string(spec.minimum);
    case ParameterType::feedback:
      return std::string(kExpectFeedback);
    case ParameterType::rate:
      return std::string(kExpectRate);
    case ParameterType::fraction:
      return std::string(kExpectFraction);
    case ParameterType::choice: {
      std::string words(spec.allowed);
      std::replace(words.begin(), words.end(), ' ', ',');
      return "one of " + words;
    }
    case ParameterType::choices: {
      std::string words(spec.allowed);
      std::replace(words.begin(), words.end(), ' ', ',');
      return "a list of " + words;
    }
    case ParameterType::text:
    case ParameterType::list:
      break;
  }
  return "text";
}

bool is_allowed_word(const ParameterSpec& spec, std::string_view word) {
  for (const auto& allowed : split_list(spec.allowed)) {
    if (allowed == word) return true;
  }
  return false;
}

bool is_valid(const ParameterSpec& spec, std::string_view value) {
  switch (spec.type) {
    case ParameterType::text:
    case ParameterType::list:
      return true;
    case ParameterType::boolean:
      return parse_boolean(value).has_value();
    case ParameterType::integer: {
      auto n = parse_integer(value);
      return n && *n >= spec.minimum;
    }
    case ParameterType::time: {
      auto n = parse_time_seconds(value, spec.default_unit);
      return n && *n >= spec.minimum;
    }
    case ParameterType::count_or_auto: {
      if (trim(value) == "auto") return true;
      auto n = parse_integer(value);
      return n && *n >= spec.minimum;
    }
    case ParameterType::feedback:
      return parse_feedback(value).has_value();
    case ParameterType::rate:
      return parse_rate(value).has_value();
    case ParameterType::fraction:
      return parse_fraction(value).has_value();
    case ParameterType::choice: {
      auto words = split_list(value);
      if (words.empty()) return spec.default_value.empty() || is_allowed_word(spec, "(empty)");
      return words.size() == 1 && is_allowed_word(spec, words[0]);
    }
    case ParameterType::choices: {
      auto words = split_list(value);
      if (words.empty()) return spec.default_value.empty();
      return std::all_of(words.begin(), words.end(),
                         [&](const std::string& w) { return is_allowed_word(spec, w); });
    }
  }
  return false;
}

const ParameterSpec& spec_of(std::string_view name, ParameterType type) {
  const ParameterSpec* spec = find_parameter(name);
  if (spec == nullptr || spec->type != type) {
    throw std::logic_error("configuration parameter \"" + std::string(name) +
                           "\" is unknown or read as the wrong type");
  }
  return *spec;
}

template <typename T>
T checked(std::optional<T> value, std::string_view name) {
  if (!value) {
    throw std::logic_error("configuration parameter \"" + std::string(name) +
                           "\" escaped validation");
  }
  return *value;
}

}  // namespace

int report_fatal(const std::exception& error) {
  std::cerr << "ringrelay: fatal: " << error.what() << '\n';
  return dynamic_cast<const ConfigError*>(&error) != nullptr ? EX_CONFIG : EX_OSERR;
}

HostFacts HostFacts::from_system() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return {"localhost.localdomain"};
  return {name};
}

Config::Config(const HostFacts& host) {
  std::string hostname = host.hostname.empty() ? "localhost" : host.hostname;
  size_t dot = hostname.find('.');
  std::string domain = dot == std::string::npos ? "localdomain" : hostname.substr(dot + 1);
  if (dot == std::string::npos) hostname += ".localdomain";
  for (const ParameterSpec& spec : known_parameters()) {
    std::string value(spec.default_value);
    if (spec.name == "myhostname") value = hostname;
    if (spec.name == "mydomain") value = domain;
    defaults_.emplace(std::string(spec.name), value);
    entries_.emplace(std::string(spec.name), Entry{value, 0});
  }
}

Config Config::parse(std::string_view text, std::string origin, const HostFacts& host,
                     std::vector<std::string>& warnings) {
  Config config(host);
  config.origin_ = std::move(origin);
  for (const LogicalLine& line : read_logical_lines(text, config.origin_)) {
    std::string at = config.origin_ + ", line " + std::to_string(line.first_line);
    size_t equals = line.text.find('=');
    std::string_view name = trim(std::string_view(line.text).substr(0, equals));
    if (equals == std::string::npos ||
        std::any_of(name.begin(), name.end(), [](char c) { return is_space(c); })) {
      throw ConfigError(at + ": missing '=' after parameter name: \"" +
                        std::string(trim(std::string_view(line.text).substr(0, equals))) + "\"");
    }
    if (name.empty()) throw ConfigError(at + ": missing parameter name before '='");
    if (!std::all_of(name.begin(), name.end(),
                     [](char c) { return is_name_char(c) || c == '-' || c == '.'; })) {
      throw ConfigError(at + ": bad parameter name \"" + std::string(name) +
                        "\": expected letters, digits, '_', '-' or '.'");
    }
    std::string value(trim(std::string_view(line.text).substr(equals + 1)));
    auto [it, inserted] = config.entries_.try_emplace(std::string(name));
    if (!inserted && it->second.line != 0) {
      warnings.push_back(at + ": overriding earlier entry: " + std::string(name) + "=" +
                         it->second.raw);
    }
    it->second = Entry{std::move(value), line.first_line};
  }
  // As in Postfix, mydomain follows a myhostname set in the file unless it is set itself.
  if (config.is_set_in_file("myhostname") && !config.is_set_in_file("mydomain")) {
    std::string hostname = config.value("myhostname");
    size_t dot = hostname.find('.');
    config.entries_["mydomain"].raw =
        dot == std::string::npos ? "localdomain" : hostname.substr(dot + 1);
  }
  config.validate(warnings);
  return config;
}

Config Config::load(const std::filesystem::path& path, const HostFacts& host,
                    std::vector<std::string>& warnings) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw ConfigError(path.string() + ": cannot open configuration file");
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) throw ConfigError(path.string() + ": error reading configuration file");
  return parse(text.str(), path.string(), host, warnings);
}

std::string Config::where(const Entry& entry) const {
  if (entry.line == 0) return "built-in default";
  return origin_ + ", line " + std::to_string(entry.line);
}

std::string Config::expand(std::string_view text, std::vector<std::string>& stack,
                           std::vector<std::string>* undefined) const {
  if (stack.size() > kMaxExpansionDepth) {
    throw ConfigError("parameter expansion nested deeper than " +
                      std::to_string(kMaxExpansionDepth) + " levels in " + stack.front());
  }
  auto lookup = [&](std::string_view name) -> std::string {
    if (std::find(stack.begin(), stack.end(), name) != stack.end()) {
      std::string chain;
      for (const auto& n : stack) chain += n + " -> ";
      const Entry& first = entries_.find(stack.front())->second;
      throw ConfigError(where(first) + ": " + stack.front() +
                        ": parameter expansion loop: " + chain + std::string(name));
    }
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      if (undefined != nullptr) undefined->emplace_back(name);
      return {};
    }
    stack.emplace_back(name);
    std::string value = expand(it->second.raw, stack, undefined);
    stack.pop_back();
    return value;
  };

  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 >= text.size()) {
      out += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '{' || next == '(') {
      char close = next == '{' ? '}' : ')';
      size_t depth = 1, j = i + 2;
      for (; j < text.size() && depth > 0; ++j) {
        if (text[j] == next) ++depth;
        if (text[j] == close) --depth;
      }
      if (depth != 0) {
        throw ConfigError(std::string("unbalanced '") + next + "' in \"" + std::string(text) +
                          "\"");
      }
      std::string_view inner = text.substr(i + 2, j - 1 - (i + 2));
      size_t name_end = 0;
      while (name_end < inner.size() && is_name_char(inner[name_end])) ++name_end;
      std::string_view name = inner.substr(0, name_end);
      std::string_view rest = inner.substr(name_end);
      if (name.empty() || (!rest.empty() && rest.front() != '?' && rest.front() != ':')) {
        throw ConfigError("bad $ expression \"$" + std::string(1, next) + std::string(inner) +
                          close + "\": expected ${name}, ${name?value} or ${name:value}");
      }
      std::string value = lookup(name);
      if (rest.empty()) {
        out += value;
      } else if ((rest.front() == '?') == !value.empty()) {
        out += expand(rest.substr(1), stack, undefined);
      }
      i = j;
    } else if (is_name_char(next)) {
      size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j])) ++j;
      out += lookup(text.substr(i + 1, j - i - 1));
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

void Config::validate(std::vector<std::string>& warnings) const {
  // Report problems in file order, then those of built-in defaults that refer to file values.
  std::vector<std::pair<const std::string*, const Entry*>> order;
  std::vector<std::string> referenced;
  for (const auto& [name, entry] : entries_) {
    order.emplace_back(&name, &entry);
    collect_references(entry.raw, referenced);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    int la = a.second->line == 0 ? 1 << 30 : a.second->line;
    int lb = b.second->line == 0 ? 1 << 30 : b.second->line;
    return la < lb;
  });
  for (const auto& [name, entry] : order) {
    const ParameterSpec* spec = find_parameter(*name);
    if (spec == nullptr) {
      if (std::find(referenced.begin(), referenced.end(), *name) == referenced.end()) {
        warnings.push_back(where(*entry) + ": unused parameter: " + *name + "=" + entry->raw);
      }
      continue;
    }
    std::vector<std::string> stack{*name};
    std::vector<std::string> undefined;
    std::string value;
    try {
      value = expand(entry->raw, stack, &undefined);
    } catch (const ConfigError& e) {
      std::string message = e.what();
      if (message.starts_with(where(*entry))) throw;
      throw ConfigError(where(*entry) + ": " + *name + ": " + message);
    }
    for (const auto& missing : undefined) {
      warnings.push_back(where(*entry) + ": " + *name + ": undefined parameter: $" + missing);
    }
    if (!is_valid(*spec, value)) {
      std::string shown = *name + " = " + entry->raw;
      if (value != entry->raw) shown += " (expands to \"" + value + "\")";
      throw ConfigError(where(*entry) + ": bad value: " + shown + ": expected " +
                        describe_expected(*spec));
    }
  }
}

std::string_view Config::raw(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? std::string_view{} : std::string_view(it->second.raw);
}

std::string Config::value(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return {};
  // Recorded with what it refers to, transitively (bounded by the names that exist).
  std::vector<std::string> pending{std::string(name)};
  while (!pending.empty()) {
    std::string next = std::move(pending.back());
    pending.pop_back();
    auto entry = entries_.find(next);
    if (entry == entries_.end() || !read_.insert(next).second) continue;
    collect_references(entry->second.raw, pending);
  }
  std::vector<std::string> stack{std::string(name)};
  return expand(it->second.raw, stack, nullptr);
}

std::string_view Config::default_raw(std::string_view name) const {
  auto it = defaults_.find(name);
  return it == defaults_.end() ? std::string_view{} : std::string_view(it->second);
}

bool Config::is_set_in_file(std::string_view name) const {
  auto it = entries_.find(name);
  return it != entries_.end() && it->second.line != 0;
}

std::vector<std::string> Config::names_set_in_file() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) {
    if (entry.line != 0) names.push_back(name);
  }
  return names;
}

std::int64_t Config::seconds(std::string_view name) const {
  const ParameterSpec& spec = spec_of(name, ParameterType::time);
  return checked(parse_time_seconds(value(name), spec.default_unit), name);
}

std::int64_t Config::integer(std::string_view name) const {
  spec_of(name, ParameterType::integer);
  return checked(parse_integer(value(name)), name);
}

bool Config::boolean(std::string_view name) const {
  spec_of(name, ParameterType::boolean);
  return checked(parse_boolean(value(name)), name);
}

std::vector<std::string> Config::list(std::string_view name) const {
  const ParameterSpec* spec = find_parameter(name);
  if (spec == nullptr) throw std::logic_error("unknown parameter " + std::string(name));
  return split_list(value(name));
}

Feedback Config::feedback(std::string_view name) const {
  spec_of(name, ParameterType::feedback);
  return checked(parse_feedback(value(name)), name);
}

double Config::rate(std::string_view name) const {
  spec_of(name, ParameterType::rate);
  return checked(parse_rate(value(name)), name);
}

double Config::fraction(std::string_view name) const {
  spec_of(name, ParameterType::fraction);
  return checked(parse_fraction(value(name)), name);
}

std::int64_t Config::count_or_auto(std::string_view name) const {
  spec_of(name, ParameterType::count_or_auto);
  std::string v = value(name);
  if (trim(v) == "auto") return 0;
  return checked(parse_integer(v), name);
}

bool load_main_cf(const std::string& path, bool explicit_path, Config& config, std::string& error,
                  std::vector<std::string>& warnings) {
  try {
    if (explicit_path || std::filesystem::exists(path)) {
      config = Config::load(path, HostFacts::from_system(), warnings);
    }
  } catch (const ConfigError& e) {
    error = e.what();
    return false;
  }
  return true;
}

}  // namespace ringrelay::engine
