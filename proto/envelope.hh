// The envelope commands: MAIL FROM and RCPT TO with their ESMTP parameters (SIZE, BODY, SMTPUTF8,
// RET, ENVID, ORCPT, NOTIFY), XFORWARD, RFC 5321 address quoting and RFC 3461 xtext. Pure
// formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/capabilities.hh"
#include "proto/message.hh"

namespace ringrelay::proto {

// "local@domain" with the local part quoted when it is not a dot-string (RFC 5321 §4.1.2).
std::string quote_address(std::string_view address);

// "<local@domain>" with the local part quoted when it is not a dot-string; "<>" for empty.
std::string quote_envelope_address(std::string_view address, bool quote);

// RFC 3461 xtext: '+', '=' and bytes outside '!'..'~' become "+HH".
std::string xtext(std::string_view text);

struct MailOptions {
  const std::string* sender = nullptr;  // the sender to send (smtp_generic_maps), or the message's
  bool announce_size = true;  // false while downgrading 8BIT to 7BIT: the size will change
  bool smtputf8 = true;       // smtputf8_enable: false never asks for SMTPUTF8
  bool binary_mime = false;   // BODY=BINARYMIME (only with BDAT)
  bool dummy_auth = false;    // AUTH=<> (smtp_send_dummy_mail_auth on an authenticated session)
};

// "MAIL FROM:<...> SIZE=... BODY=... ENVID=... RET=... SMTPUTF8\r\n" for this server.
std::string format_mail_from(const Message& message, const Capabilities& caps, bool quote,
                             MailOptions options);

// "RCPT TO:<...> ORCPT=... NOTIFY=...\r\n" for this server. `smtputf8`: the transaction asked
// for SMTPUTF8 (a UTF-8 ORCPT then goes as RFC 6533's utf-8-addr-unitext, else as its xtext).
std::string format_rcpt_to(const Recipient& recipient, const Capabilities& caps, bool quote,
                           bool smtputf8 = false);

// RFC 6533's ORCPT value for a UTF-8 address ("utf-8;" and the encoded address): printable ASCII
// other than '+', '=' and '\' as is, other ASCII as "\x{HH}", and UTF-8 characters as they are
// (`unitext`, SMTPUTF8 in use) or as "\x{HEX}" of their code point; nothing when `address` is not
// valid UTF-8.
std::optional<std::string> utf8_orcpt(std::string_view address, bool unitext);

// Postfix's XFORWARD commands ("XFORWARD NAME=... ADDR=...\r\n", then PROTO/HELO/IDENT/DOMAIN)
// with the attributes this server offers and the message knows; empty when there are none.
std::vector<std::string> format_xforward(const ClientAttributes& client, const Capabilities& caps);

}  // namespace ringrelay::proto
