// Small ASCII text helpers shared by the protocol code (case folding, trimming blanks). Protocol
// keywords, header names and MIME parameters are ASCII and case-insensitive; nothing here is
// locale-dependent.
#pragma once

#include <string>
#include <string_view>

namespace ringrelay::proto {

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

inline std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// Without leading and trailing spaces, tabs, CRs and LFs.
inline std::string_view trim_blanks(std::string_view text) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!text.empty() && blank(text.front())) text.remove_prefix(1);
  while (!text.empty() && blank(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace ringrelay::proto
