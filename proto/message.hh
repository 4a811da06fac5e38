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

// Where the message came from, for XFORWARD (smtp_send_xforward_command): what the queue manager
// knows of the original client. Empty: unknown, not forwarded.
struct ClientAttributes {
  std::string name;      // the client's host name (XFORWARD NAME)
  std::string address;   // its IP address (ADDR)
  std::string port;      // its TCP port (PORT)
  std::string helo;      // the HELO/EHLO name it gave (HELO)
  std::string protocol;  // "SMTP", "ESMTP", ... (PROTO)
  std::string ident;     // the queue manager's id of the message, for logs (IDENT)
  std::string source;    // "LOCAL" or "REMOTE": the address rewriting context (DOMAIN)
};

struct Message {
  std::string sender;  // empty: the null sender <>
  std::vector<Recipient> recipients;
  BodyEncoding encoding = BodyEncoding::unknown;
  bool smtputf8 = false;  // the message needs SMTPUTF8 (internationalised addresses or headers)
  std::string envid;      // RFC 3461 ENVID, or empty
  DsnReturn ret = DsnReturn::unspecified;
  ClientAttributes client;
  double queued_seconds = 0;  // its age when the queue manager handed it over (PIX workarounds)
  std::vector<std::string_view> body;  // the RFC 5322 message, LF or CRLF line endings

  std::uint64_t body_size() const {
    std::uint64_t size = 0;
    for (auto span : body) size += span.size();
    return size;
  }
};

}  // namespace ringrelay::proto
