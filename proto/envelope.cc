// Formatting MAIL FROM, RCPT TO and XFORWARD, the way Postfix's smtp_proto.c orders their
// parameters.
#include "proto/envelope.hh"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "proto/ascii.hh"

namespace ringrelay::proto {
namespace {

bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;  // UTF-8 in SMTPUTF8 addresses
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != 0 && std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr;
}

bool is_dot_string(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  for (size_t i = 0; i < local.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(local[i]);
    if (c == '.') {
      if (local[i - 1] == '.') return false;
    } else if (!is_atext(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string quote_address(std::string_view address) {
  size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  std::string_view domain = at == std::string_view::npos ? "" : address.substr(at);
  std::string out;
  if (is_dot_string(local) || (local.size() >= 2 && local.front() == '"' && local.back() == '"')) {
    out += local;
  } else {
    out += '"';
    for (char c : local) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += domain;
  return out;
}

std::string quote_envelope_address(std::string_view address, bool quote) {
  if (address.empty()) return "<>";
  return "<" + (quote ? quote_address(address) : std::string(address)) + ">";
}

std::string xtext(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c < '!' || c > '~' || c == '+' || c == '=') {
      out += '+';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string format_mail_from(const Message& message, const Capabilities& caps, bool quote,
                             MailOptions options) {
  const std::string& sender = options.sender ? *options.sender : message.sender;
  std::string command = "MAIL FROM:" + quote_envelope_address(sender, quote);
  if (caps.size && options.announce_size) {
    command += " SIZE=" + std::to_string(message.body_size());
  }
  if (options.binary_mime) {
    command += " BODY=BINARYMIME";
  } else if (caps.eight_bit_mime) {
    if (message.encoding == BodyEncoding::eight_bit || message.encoding == BodyEncoding::binary) {
      command += " BODY=8BITMIME";
    } else if (message.encoding == BodyEncoding::seven_bit) {
      command += " BODY=7BIT";
    }
  }
  if (caps.dsn) {
    if (!message.envid.empty()) command += " ENVID=" + xtext(message.envid);
    if (message.ret == DsnReturn::full) command += " RET=FULL";
    if (message.ret == DsnReturn::headers) command += " RET=HDRS";
  }
  if (caps.smtputf8 && message.smtputf8 && options.smtputf8) command += " SMTPUTF8";
  // Postfix: "We authenticate the local MTA only, but not the sender."
  if (options.dummy_auth) command += " AUTH=<>";
  command += "\r\n";
  return command;
}

std::optional<std::string> utf8_orcpt(std::string_view address, bool unitext) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "utf-8;";
  for (std::size_t i = 0; i < address.size();) {
    auto c = static_cast<unsigned char>(address[i]);
    if (c < 0x80) {
      if (c > ' ' && c < 127 && c != '+' && c != '=' && c != '\\') {
        out += static_cast<char>(c);
      } else {
        out += "\\x{";
        out += kHex[c >> 4];
        out += kHex[c & 15];
        out += '}';
      }
      ++i;
      continue;
    }
    // One UTF-8 character: its length from the lead byte, continuation bytes 10xxxxxx, no
    // overlong forms, surrogates or code points past U+10FFFF.
    std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (length == 0 || c > 0xF4 || i + length > address.size()) return std::nullopt;
    std::uint32_t point = c & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
      auto more = static_cast<unsigned char>(address[i + k]);
      if ((more & 0xC0) != 0x80) return std::nullopt;
      point = (point << 6) | (more & 0x3F);
    }
    if ((length == 3 && (point < 0x800 || (point >= 0xD800 && point <= 0xDFFF))) ||
        (length == 4 && (point < 0x10000 || point > 0x10FFFF))) {
      return std::nullopt;
    }
    if (unitext) {
      out += address.substr(i, length);
    } else {
      char hex[16];
      std::snprintf(hex, sizeof hex, "\\x{%X}", point);
      out += hex;
    }
    i += length;
  }
  return out;
}

namespace {

// The ORCPT parameter's value: "type;address" as xtext, except UTF-8 addresses, which RFC 6533
// gives their own type and encoding (an "rfc822" address with UTF-8 in it becomes "utf-8", as
// Postfix types the addresses it makes up); nothing when a UTF-8 address is malformed (Postfix
// leaves ORCPT out then too).
std::optional<std::string> orcpt_parameter(std::string_view orcpt, bool smtputf8) {
  std::size_t semicolon = orcpt.find(';');
  std::string type = ascii_lower(orcpt.substr(0, semicolon));
  std::string_view address =
      semicolon == std::string_view::npos ? std::string_view() : orcpt.substr(semicolon + 1);
  bool utf8 = std::any_of(address.begin(), address.end(),
                          [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
  if (type == "utf-8" || (type == "rfc822" && utf8)) return utf8_orcpt(address, smtputf8);
  return xtext(orcpt);
}

}  // namespace

std::string format_rcpt_to(const Recipient& recipient, const Capabilities& caps, bool quote,
                           bool smtputf8) {
  std::string command = "RCPT TO:" + quote_envelope_address(recipient.address, quote);
  if (caps.dsn) {
    if (!recipient.orcpt.empty()) {
      if (auto value = orcpt_parameter(recipient.orcpt, smtputf8)) command += " ORCPT=" + *value;
    }
    if (!recipient.notify.empty()) command += " NOTIFY=" + recipient.notify;
  }
  command += "\r\n";
  return command;
}

// Postfix's two XFORWARD commands (client name/address/port, then protocol/HELO/ident/domain),
// each with the attributes the server offers and the message knows; none when neither has any.
// Postfix forwards no name, address, port or protocol that says "unknown".
std::vector<std::string> format_xforward(const ClientAttributes& client, const Capabilities& caps) {
  auto offered = [&](std::string_view name) {
    return std::find(caps.xforward_attributes.begin(), caps.xforward_attributes.end(), name) !=
           caps.xforward_attributes.end();
  };
  auto known = [](const std::string& value) {
    return !value.empty() && ascii_lower(value) != "unknown";
  };
  std::vector<std::string> commands;
  using Items = std::vector<std::pair<std::string_view, std::string>>;
  auto command = [&](const Items& items) {
    std::string line;
    for (const auto& [name, value] : items) {
      if (!value.empty() && offered(name)) line += " " + std::string(name) + "=" + xtext(value);
    }
    if (!line.empty()) commands.push_back("XFORWARD" + line + "\r\n");
  };
  command(Items{{"NAME", known(client.name) ? client.name : ""},
                {"ADDR", known(client.address) ? client.address : ""},
                {"PORT", known(client.port) ? client.port : ""}});
  command(Items{{"PROTO", known(client.protocol) ? client.protocol : ""},
                {"HELO", client.helo},
                {"IDENT", client.ident},
                {"DOMAIN", client.source}});
  return commands;
}

}  // namespace ringrelay::proto
