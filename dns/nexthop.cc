// Parsing Postfix's next-hop notation into a Nexthop and printing its canonical key.
#include "dns/nexthop.hh"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace ringrelay::dns {
namespace {

bool fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

bool iprefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text == "smtp") return 25;
  if (text == "lmtp") return 24;
  if (text == "submission") return 587;
  if (text == "smtps" || text == "submissions") return 465;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

bool is_ipv4(const std::string& text) {
  in_addr a{};
  return inet_pton(AF_INET, text.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& text) {
  in6_addr a{};
  return inet_pton(AF_INET6, text.c_str(), &a) == 1;
}

bool valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

// "[host]:port", "[host]", "host:port" or "host" after any transport prefix.
bool parse_inet(std::string_view text, Nexthop& hop, std::string* error) {
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return fail(error, "missing ']' in next hop");
    std::string_view inside = text.substr(1, close - 1);
    std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(error, "unexpected text after ']' in next hop");
      port_text = after.substr(1);
      if (port_text.empty()) return fail(error, "empty port after ':' in next hop");
    }
    bool v6_tag = iprefix(inside, "ipv6:");
    if (v6_tag) inside.remove_prefix(5);
    hop.host = std::string(inside);
    if (is_ipv6(hop.host)) {
      hop.kind = Nexthop::Kind::address;
    } else if (v6_tag) {
      return fail(error, "bad IPv6 address \"" + hop.host + "\" in next hop");
    } else if (is_ipv4(hop.host)) {
      hop.kind = Nexthop::Kind::address;
    } else if (valid_host_name(hop.host)) {
      hop.kind = Nexthop::Kind::host;
    } else {
      return fail(error, "bad host name \"" + hop.host + "\" in next hop");
    }
  } else {
    size_t colon = text.rfind(':');
    std::string_view name = text.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = text.substr(colon + 1);
      if (port_text.empty()) return fail(error, "empty port after ':' in next hop");
    }
    if (!valid_host_name(name)) {
      return fail(error, "bad domain \"" + std::string(name) + "\" in next hop");
    }
    hop.host = std::string(name);
    hop.kind = is_ipv4(hop.host) ? Nexthop::Kind::address : Nexthop::Kind::domain;
  }
  if (!port_text.empty()) {
    auto port = parse_port(port_text);
    if (!port) return fail(error, "bad port \"" + std::string(port_text) + "\" in next hop");
    hop.port = *port;
  }
  std::transform(hop.host.begin(), hop.host.end(), hop.host.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (!hop.host.empty() && hop.host.back() == '.') hop.host.pop_back();
  return true;
}

}  // namespace

std::optional<Nexthop> parse_nexthop(std::string_view text, std::string* error) {
  Nexthop hop;
  if (text.empty()) {
    fail(error, "empty next hop");
    return std::nullopt;
  }
  if (iprefix(text, "smtp:")) {
    text.remove_prefix(5);
  } else if (iprefix(text, "lmtp:")) {
    text.remove_prefix(5);
    hop.protocol = Protocol::lmtp;
    hop.port = 24;
    if (iprefix(text, "unix:")) {
      text.remove_prefix(5);
      if (text.empty() || text.front() != '/') {
        fail(error, "lmtp:unix: needs an absolute socket path");
        return std::nullopt;
      }
      hop.kind = Nexthop::Kind::unix_socket;
      hop.host = std::string(text);
      hop.port = 0;
      return hop;
    }
    if (iprefix(text, "inet:")) text.remove_prefix(5);
  }
  if (!parse_inet(text, hop, error)) return std::nullopt;
  return hop;
}

std::string Nexthop::key() const {
  std::string key = protocol == Protocol::lmtp ? "lmtp:" : "";
  std::uint16_t standard_port = protocol == Protocol::lmtp ? 24 : 25;
  switch (kind) {
    case Kind::unix_socket:
      return key + "unix:" + host;
    case Kind::domain:
      key += host;
      break;
    case Kind::host:
      key.append("[").append(host).append("]");
      break;
    case Kind::address:
      key.append(host.find(':') != std::string::npos ? "[ipv6:" : "[").append(host).append("]");
      break;
  }
  if (port != standard_port) key += ":" + std::to_string(port);
  return key;
}

}  // namespace ringrelay::dns
