// The table of every configuration parameter ringrelay knows: its name, its type and its default.
// Postfix's names and defaults wherever Postfix has the concept; ringrelay's own are marked so.
// Reading main.cf and expanding $names lives in config.hh; parsing one typed value in
// config_values.hh.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ringrelay::engine {

enum class ParameterType {
  text,           // any string, after $name expansion
  list,           // words separated by whitespace and/or commas
  boolean,        // yes | no
  integer,        // a whole number >= minimum
  time,           // a whole number with an optional unit s m h d w (default_unit when absent)
  choice,         // one word out of `choices`
  choices,        // a list whose every word is one of `choices`
  feedback,       // Postfix's concurrency feedback: 1/N, 1/concurrency, or a number between 0 and 1
  count_or_auto,  // "auto" or a whole number >= minimum
  rate,           // 0, or a count per unit: N/s, N/min, N/h, N/d
  fraction,       // a number between 0 and 1, both excluded
};

struct ParameterSpec {
  std::string_view name;
  ParameterType type;
  // The default as Postfix's `postconf -d` prints it: $names are expanded only when the value is
  // used. Defaults that depend on the host (myhostname, mydomain) are filled in by HostFacts at
  // load time.
  std::string_view default_value;
  std::int64_t minimum = 0;  // integer, time (in seconds), count_or_auto
  char default_unit = 's';   // time
  // choice/choices: the words allowed, separated by spaces; "(empty)" allows an empty value.
  std::string_view allowed = {};
};

// All known parameters, sorted by name.
std::span<const ParameterSpec> known_parameters();

// The parameter with this name, or nullptr.
const ParameterSpec* find_parameter(std::string_view name);

}  // namespace ringrelay::engine
