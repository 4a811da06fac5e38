// What a server offers in its EHLO/LHLO reply (RFC 5321 4.1.1.1 and the extensions ringrelay uses),
// after removing the keywords the operator discards (smtp_discard_ehlo_keywords).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/reply.hh"

namespace ringrelay::proto {

struct Capabilities {
  bool esmtp = false;       // the server answered EHLO/LHLO (not HELO)
  std::string server_name;  // the first word of the reply's first line
  bool pipelining = false;
  bool size = false;
  std::uint64_t size_limit = 0;  // 0: no limit announced
  bool eight_bit_mime = false;
  bool starttls = false;
  bool auth = false;
  std::vector<std::string> auth_mechanisms;  // upper case, from "AUTH x y" and "AUTH=x y"
  bool dsn = false;
  bool smtputf8 = false;
  bool enhanced_status_codes = false;
  bool chunking = false;
  bool binary_mime = false;
  bool xforward = false;
  std::vector<std::string> xforward_attributes;  // upper case: "NAME", "ADDR", "PORT", ...
};

// Parses an EHLO/LHLO reply. `discard` holds lower-case keywords to ignore ("pipelining", ...).
Capabilities parse_capabilities(const Reply& ehlo_reply, const std::vector<std::string>& discard);

}  // namespace ringrelay::proto
