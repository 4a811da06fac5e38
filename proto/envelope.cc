// Formatting MAIL FROM, RCPT TO and XFORWARD, the way Postfix's smtp_proto.c orders their
// parameters.
#include "proto/envelope.hh"

#include <algorithm>
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

std::string format_rcpt_to(const Recipient& recipient, const Capabilities& caps, bool quote) {
  std::string command = "RCPT TO:" + quote_envelope_address(recipient.address, quote);
  if (caps.dsn) {
    if (!recipient.orcpt.empty()) command += " ORCPT=" + xtext(recipient.orcpt);
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
