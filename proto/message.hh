// What one SMTP/LMTP transaction carries: the envelope (sender, recipients with their DSN
// parameters, ENVID, RET, SMTPUTF8), the body encoding and the body itself as read-only spans.
// The caller owns the bytes the spans point to and keeps them alive until the transaction ends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

enum class BodyEncoding { unknown, seven_bit, eight_bit, binary };
enum class DsnReturn { unspecified, full, headers };

struct Recipient {
  std::string address;  // without angle brackets; may need RFC 5321 quoting
  std::string orcpt;    // RFC 3461 ORCPT as "type;address" (e.g. "rfc822;a@b"), or empty
  std::string notify;   // RFC 3461 NOTIFY list ("SUCCESS,FAILURE", "NEVER"), or empty
};

struct Message {
  std::string sender;  // empty: the null sender <>
  std::vector<Recipient> recipients;
  BodyEncoding encoding = BodyEncoding::unknown;
  bool smtputf8 = false;  // the message needs SMTPUTF8 (internationalised addresses or headers)
  std::string envid;      // RFC 3461 ENVID, or empty
  DsnReturn ret = DsnReturn::unspecified;
  std::vector<std::string_view> body;  // the RFC 5322 message, LF or CRLF line endings

  std::uint64_t body_size() const {
    std::uint64_t size = 0;
    for (auto span : body) size += span.size();
    return size;
  }
};

}  // namespace ringrelay::proto
