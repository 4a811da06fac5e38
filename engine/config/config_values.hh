// Parsing one configuration value of a given type: times with units, yes/no, whole numbers, lists.
// Only syntax lives here; which parameter has which type is in config_parameters.hh.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::engine {

// "30s", "5m", "1h", "2d", "1w", or a bare number in `default_unit`. Seconds, or nullopt.
std::optional<std::int64_t> parse_time_seconds(std::string_view text, char default_unit);

// Postfix's booleans: "yes" or "no", any case.
std::optional<bool> parse_boolean(std::string_view text);

// A whole decimal number, optionally signed; nullopt on junk or overflow.
std::optional<std::int64_t> parse_integer(std::string_view text);

// Postfix's concurrency feedback: "1/N", "1/concurrency" (returned as 0, meaning "the window"),
// or a decimal number in [0, 1].
struct Feedback {
  bool per_concurrency = false;  // 1/concurrency: the step shrinks as the window grows
  double amount = 1.0;           // otherwise the fixed step
};
std::optional<Feedback> parse_feedback(std::string_view text);

// A rate: "100/min", "5/s", "3600/h", "20000/d" (a positive decimal count per second, minute,
// hour or day), or "0" for none. Returned in events per second (0: none).
std::optional<double> parse_rate(std::string_view text);

// A factor strictly between 0 and 1, as a decimal number ("0.5").
std::optional<double> parse_fraction(std::string_view text);

// Words separated by whitespace and/or commas, as Postfix lists are written.
std::vector<std::string> split_list(std::string_view text);

// What a value of each type must look like, for error messages.
inline constexpr std::string_view kExpectTime =
    "a whole number with an optional unit s (seconds), m, h, d or w";
inline constexpr std::string_view kExpectBoolean = "yes or no";
inline constexpr std::string_view kExpectInteger = "a whole number";
inline constexpr std::string_view kExpectFeedback = "1/concurrency, 1/N, or a number from 0 to 1";
inline constexpr std::string_view kExpectRate =
    "0 (none), or a count per unit: N/s, N/min, N/h or N/d";
inline constexpr std::string_view kExpectFraction = "a number between 0 and 1 (exclusive)";

}  // namespace ringrelay::engine
