// Parsing the EHLO/LHLO reply into Capabilities. Keywords are case-insensitive; parameters follow
// after a space (or '=' for the old "AUTH=" form some servers still send).
#include "proto/capabilities.hh"

#include "proto/ascii.hh"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace ringrelay::proto {
namespace {

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

}  // namespace

Capabilities parse_capabilities(const Reply& reply, const std::vector<std::string>& discard) {
  Capabilities caps;
  caps.esmtp = true;
  auto discarded = [&](std::string_view keyword) {
    return std::find(discard.begin(), discard.end(), keyword) != discard.end();
  };
  for (size_t i = 0; i < reply.lines.size(); ++i) {
    auto line_words = words(reply.line_text(i));
    if (line_words.empty()) continue;
    if (i == 0) {
      caps.server_name = std::string(line_words[0]);
      continue;
    }
    std::string_view first = line_words[0];
    std::vector<std::string_view> params(line_words.begin() + 1, line_words.end());
    size_t equals = first.find('=');
    if (equals != std::string_view::npos) {  // "AUTH=PLAIN LOGIN"
      if (equals + 1 < first.size()) params.insert(params.begin(), first.substr(equals + 1));
      first = first.substr(0, equals);
    }
    std::string keyword = ascii_lower(first);
    if (discarded(keyword)) continue;
    if (keyword == "pipelining") {
      caps.pipelining = true;
    } else if (keyword == "size") {
      caps.size = true;
      if (!params.empty()) {
        std::uint64_t limit = 0;
        auto [end, ec] =
            std::from_chars(params[0].data(), params[0].data() + params[0].size(), limit);
        if (ec == std::errc() && end == params[0].data() + params[0].size()) {
          caps.size_limit = limit;
        }
      }
    } else if (keyword == "8bitmime") {
      caps.eight_bit_mime = true;
    } else if (keyword == "starttls") {
      caps.starttls = true;
    } else if (keyword == "auth") {
      caps.auth = true;
      for (auto p : params) {
        std::string mechanism = ascii_upper(p);
        if (std::find(caps.auth_mechanisms.begin(), caps.auth_mechanisms.end(), mechanism) ==
            caps.auth_mechanisms.end()) {
          caps.auth_mechanisms.push_back(mechanism);
        }
      }
    } else if (keyword == "dsn") {
      caps.dsn = true;
    } else if (keyword == "smtputf8") {
      caps.smtputf8 = true;
    } else if (keyword == "enhancedstatuscodes") {
      caps.enhanced_status_codes = true;
    } else if (keyword == "chunking") {
      caps.chunking = true;
    } else if (keyword == "binarymime") {
      caps.binary_mime = true;
    } else if (keyword == "xforward") {
      caps.xforward = true;
      for (auto p : params) caps.xforward_attributes.push_back(ascii_upper(p));
    }
  }
  // As Postfix: a server that offers SMTPUTF8 but forgets 8BITMIME gets 8-bit mail anyway.
  if (caps.smtputf8) caps.eight_bit_mime = true;
  return caps;
}

}  // namespace ringrelay::proto
