// Parsing one configuration value: times, booleans, integers, feedback fractions, rates and lists.
#include "engine/config/config_values.hh"

#include <charconv>
#include <cmath>
#include <limits>

namespace ringrelay::engine {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::optional<std::int64_t> unit_seconds(char unit) {
  switch (unit) {
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 86400;
    case 'w':
      return 7 * 86400;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<std::int64_t> parse_integer(std::string_view text) {
  text = trim(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_time_seconds(std::string_view text, char default_unit) {
  text = trim(text);
  char unit = default_unit;
  if (!text.empty() && (text.back() < '0' || text.back() > '9')) {
    unit = text.back();
    text.remove_suffix(1);
  }
  auto multiplier = unit_seconds(unit);
  if (!multiplier || text.empty() || text.front() == '-' || text.front() == '+')
    return std::nullopt;
  auto number = parse_integer(text);
  if (!number || *number > std::numeric_limits<std::int64_t>::max() / *multiplier) {
    return std::nullopt;
  }
  return *number * *multiplier;
}

std::optional<bool> parse_boolean(std::string_view text) {
  text = trim(text);
  if (iequals(text, "yes")) return true;
  if (iequals(text, "no")) return false;
  return std::nullopt;
}

std::optional<Feedback> parse_feedback(std::string_view text) {
  text = trim(text);
  if (text == "1/concurrency") return Feedback{.per_concurrency = true, .amount = 0};
  if (text.starts_with("1/")) {
    auto denominator = parse_integer(text.substr(2));
    if (!denominator || *denominator < 1) return std::nullopt;
    return Feedback{.amount = 1.0 / static_cast<double>(*denominator)};
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > 1) {
    return std::nullopt;
  }
  return Feedback{.amount = value};
}

namespace {

// A finite decimal number that is the whole of `text`.
std::optional<double> parse_decimal(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

std::optional<double> parse_rate(std::string_view text) {
  text = trim(text);
  if (text == "0") return 0.0;
  std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto count = parse_decimal(text.substr(0, slash));
  std::string_view unit = text.substr(slash + 1);
  double seconds = 0;
  if (unit == "s" || unit == "sec" || unit == "second") {
    seconds = 1;
  } else if (unit == "m" || unit == "min" || unit == "minute") {
    seconds = 60;
  } else if (unit == "h" || unit == "hour") {
    seconds = 3600;
  } else if (unit == "d" || unit == "day") {
    seconds = 86400;
  }
  if (!count || *count <= 0 || seconds == 0) return std::nullopt;
  return *count / seconds;
}

std::optional<double> parse_fraction(std::string_view text) {
  auto value = parse_decimal(trim(text));
  if (!value || *value <= 0 || *value >= 1) return std::nullopt;
  return value;
}

std::vector<std::string> split_list(std::string_view text) {
  // Postfix's list syntax: words separated by whitespace or commas; "{ ... }" groups what it
  // encloses into one word, separators included (inline:{ a=b, c=d }).
  auto separator = [](char c) {
    return c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r';
  };
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && separator(text[i])) ++i;
    size_t start = i;
    int depth = 0;
    while (i < text.size() && (depth > 0 || !separator(text[i]))) {
      if (text[i] == '{') ++depth;
      if (text[i] == '}' && depth > 0) --depth;
      ++i;
    }
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace ringrelay::engine
