// Reading EngineSettings from a validated Config (no parsing errors can happen here).
#include "engine/config/engine_settings.hh"

#include <ifaddrs.h>
#include <netdb.h>
#include <sys/socket.h>
#include <syslog.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

#include "engine/config/address_map.hh"
#include "engine/config/config_values.hh"
#include "engine/config/lookup_table.hh"
#include "engine/config/parameter_support.hh"
#include "engine/feed/feed_access.hh"
#include "engine/runtime/address.hh"
#include "engine/runtime/tcp_socket.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

// A list of tables as one content rule: the first table with an answer decides, as Postfix's maps
// do; null when the list is empty.
proto::ContentLookup content_lookup(const Config& c, const std::string& parameter) {
  std::vector<LookupTable> tables = load_tables(c.list(parameter));
  if (tables.empty()) return nullptr;
  return [tables = std::move(tables)](std::string_view text) { return find_first(tables, text); };
}

// smtp_generic_maps with the names it treats as local ($myorigin, $mydestination).
proto::AddressRewrite generic_maps(const Config& c, const std::string& parameter) {
  std::vector<LookupTable> tables = load_tables(c.list(parameter));
  if (tables.empty()) return nullptr;
  std::vector<std::string> local_domains = {proto::ascii_lower(c.value("myorigin"))};
  for (const std::string& name : c.list("mydestination")) {
    if (name.find(':') != std::string::npos || name.starts_with("/")) {
      throw ConfigError("mydestination = " + c.value("mydestination") + ": \"" + name +
                        "\": ringrelay reads domain names here (for " + parameter +
                        "'s local-part lookups), not tables");
    }
    local_domains.push_back(proto::ascii_lower(name));
  }
  auto map = std::make_shared<const AddressMap>(std::move(tables), std::move(local_domains),
                                                c.value("recipient_delimiter"));
  return [map](std::string_view address) { return map->map(address); };
}

std::shared_ptr<const proto::ContentRules> content_rules(const Config& c, bool lmtp) {
  auto rules = std::make_shared<proto::ContentRules>();
  std::string prefix = lmtp ? "lmtp" : "smtp";
  auto name = [&](const char* suffix) { return prefix + suffix; };
  rules->parameter_prefix = lmtp ? "lmtp" : "smtp";
  rules->header = content_lookup(c, name("_header_checks"));
  rules->mime_header = content_lookup(c, name("_mime_header_checks"));
  rules->nested_header = content_lookup(c, name("_nested_header_checks"));
  rules->body = content_lookup(c, name("_body_checks"));
  rules->generic = generic_maps(c, name("_generic_maps"));
  if (!rules->any()) return nullptr;
  return rules;
}

ProtocolSettings protocol_settings(const Config& c, bool lmtp, std::vector<std::string>& notices) {
  ProtocolSettings p;
  p.sasl = sasl_settings(c, lmtp, notices);
  proto::SessionSettings& s = p.session;
  s.lmtp = lmtp;
  s.helo_name = lmtp ? c.value("lmtp_lhlo_name") : c.value("smtp_helo_name");
  s.always_send_ehlo = c.boolean("smtp_always_send_ehlo");
  s.never_send_ehlo = c.boolean("smtp_never_send_ehlo");
  // Postfix's lmtp_ mirror of each, for LMTP sessions.
  auto mirror = [lmtp](const char* smtp, const char* lmtp_name) { return lmtp ? lmtp_name : smtp; };
  s.skip_5xx_greeting = c.boolean(mirror("smtp_skip_5xx_greeting", "lmtp_skip_5xx_greeting"));
  s.skip_quit_response =
      lmtp ? c.boolean("lmtp_skip_quit_response") : c.boolean("smtp_skip_quit_response");
  s.quote_rfc821_envelope =
      c.boolean(mirror("smtp_quote_rfc821_envelope", "lmtp_quote_rfc821_envelope"));
  s.use_chunking = c.boolean("smtp_use_chunking");
  s.disable_mime_output_conversion = c.boolean("disable_mime_output_conversion");
  for (auto keyword : c.list(mirror("smtp_discard_ehlo_keywords", "lmtp_discard_lhlo_keywords"))) {
    s.discard_ehlo_keywords.push_back(proto::ascii_lower(keyword));
  }
  p.discard_keyword_address_maps = load_tables(c.list(
      mirror("smtp_discard_ehlo_keyword_address_maps", "lmtp_discard_lhlo_keyword_address_maps")));
  auto pix_words = [&](std::string_view parameter, const std::string& text) {
    std::vector<std::string> words;
    for (const std::string& word : split_list(text)) {
      std::string lower = proto::ascii_lower(word);
      if (lower != "disable_esmtp" && lower != "delay_dotcrlf") {
        throw ConfigError(std::string(parameter) + ": unknown PIX workaround \"" + word +
                          "\" (known: disable_esmtp, delay_dotcrlf)");
      }
      words.push_back(lower);
    }
    return words;
  };
  const char* pix = mirror("smtp_pix_workarounds", "lmtp_pix_workarounds");
  s.pix_workarounds = pix_words(pix, c.value(pix));
  s.pix_delay_seconds =
      c.seconds(mirror("smtp_pix_workaround_delay_time", "lmtp_pix_workaround_delay_time"));
  s.pix_threshold_seconds =
      c.seconds(mirror("smtp_pix_workaround_threshold_time", "lmtp_pix_workaround_threshold_time"));
  p.pix_workaround_maps =
      load_tables(c.list(mirror("smtp_pix_workaround_maps", "lmtp_pix_workaround_maps")));
  s.content_rules = content_rules(c, lmtp);
  s.smtputf8_enable = c.boolean("smtputf8_enable");
  // Postfix opens one table here; a second would never be consulted.
  const char* filter_name = mirror("smtp_reply_filter", "lmtp_reply_filter");
  if (std::vector<std::string> filters = c.list(filter_name); filters.size() > 1) {
    throw ConfigError(std::string(filter_name) + " = " + c.value(filter_name) +
                      ": name one lookup table");
  } else if (filters.size() == 1) {
    s.reply_filter = std::make_shared<const proto::ReplyLineFilter>(
        [table = LookupTable(filters.front())](std::string_view line) { return table.find(line); });
  }
  // Each connection's TLS mode comes from its next hop's policy (Scheduler::start_job).
  s.tls = proto::TlsMode::none;
  s.tls_wrapper = c.boolean(mirror("smtp_tls_wrappermode", "lmtp_tls_wrappermode"));
  // Each connection gets its credentials from the password tables (SaslPlanner); without any, the
  // session talks to the server as a stranger.
  s.auth = p.sasl.enable;
  s.auth_soft_bounce = p.sasl.soft_bounce;
  s.dummy_mail_auth = p.sasl.dummy_mail_auth;
  s.line_length_limit = static_cast<std::size_t>(
      c.integer(mirror("smtp_line_length_limit", "lmtp_line_length_limit")));
  s.mime.boundary_length_limit = static_cast<std::size_t>(c.integer("mime_boundary_length_limit"));
  s.mime.nesting_limit = static_cast<std::size_t>(c.integer("mime_nesting_limit"));
  auto timeout = [&](proto::TimerName name, const char* smtp, const char* lmtp_name) {
    s.timeout_seconds[static_cast<std::size_t>(name)] = c.seconds(lmtp ? lmtp_name : smtp);
  };
  using T = proto::TimerName;
  timeout(T::helo, "smtp_helo_timeout", "lmtp_lhlo_timeout");
  timeout(T::starttls, "smtp_starttls_timeout", "lmtp_starttls_timeout");
  timeout(T::mail, "smtp_mail_timeout", "lmtp_mail_timeout");
  timeout(T::rcpt, "smtp_rcpt_timeout", "lmtp_rcpt_timeout");
  timeout(T::data_init, "smtp_data_init_timeout", "lmtp_data_init_timeout");
  timeout(T::data_xfer, "smtp_data_xfer_timeout", "lmtp_data_xfer_timeout");
  timeout(T::data_done, "smtp_data_done_timeout", "lmtp_data_done_timeout");
  timeout(T::rset, "smtp_rset_timeout", "lmtp_rset_timeout");
  timeout(T::quit, "smtp_quit_timeout", "lmtp_quit_timeout");
  timeout(T::xforward, "smtp_xforward_timeout", "lmtp_xforward_timeout");
  if (lmtp) s.assume_final = c.boolean("lmtp_assume_final");
  s.send_xforward = c.boolean(mirror("smtp_send_xforward_command", "lmtp_send_xforward_command"));
  // Postfix 3.7 replaced smtp_per_record_deadline with smtp_per_request_deadline, whose default
  // is the old parameter's value.
  const char* request_deadline = mirror("smtp_per_request_deadline", "lmtp_per_request_deadline");
  const char* record_deadline = mirror("smtp_per_record_deadline", "lmtp_per_record_deadline");
  bool per_request = c.boolean(request_deadline), per_record = c.boolean(record_deadline);
  if (c.is_set_in_file(request_deadline) ? per_request : per_record) {
    s.deadline_mode = proto::DeadlineMode::per_request;
  }
  s.min_data_rate =
      static_cast<std::uint64_t>(c.integer(mirror("smtp_min_data_rate", "lmtp_min_data_rate")));

  p.connect.connect_timeout =
      std::chrono::seconds(c.seconds(lmtp ? "lmtp_connect_timeout" : "smtp_connect_timeout"));
  p.concurrency_limit = static_cast<std::size_t>(c.integer(
      lmtp ? "lmtp_destination_concurrency_limit" : "smtp_destination_concurrency_limit"));
  p.initial_concurrency = static_cast<std::size_t>(c.integer(
      mirror("smtp_initial_destination_concurrency", "lmtp_initial_destination_concurrency")));
  p.pace.rate_delay = std::chrono::seconds(
      c.seconds(lmtp ? "lmtp_destination_rate_delay" : "smtp_destination_rate_delay"));
  p.pace.message_rate =
      c.rate(lmtp ? "lmtp_destination_message_rate" : "smtp_destination_message_rate");
  p.pace.connection_rate =
      c.rate(lmtp ? "lmtp_destination_connection_rate" : "smtp_destination_connection_rate");
  p.pace.backoff_factor = c.fraction("reply_backoff_factor");
  p.pace.backoff_steps = static_cast<std::size_t>(c.integer("reply_backoff_steps"));
  p.pace.recovery_time = std::chrono::seconds(c.seconds("reply_backoff_recovery_time"));
  if (p.pace.recovery_time > std::chrono::days(30)) {
    throw ConfigError("reply_backoff_recovery_time = " + c.value("reply_backoff_recovery_time") +
                      ": at most 30d");
  }
  p.recipient_limit = static_cast<std::size_t>(
      c.integer(lmtp ? "lmtp_destination_recipient_limit" : "smtp_destination_recipient_limit"));
  if (p.recipient_limit == 0) p.recipient_limit = static_cast<std::size_t>(-1);
  return p;
}

// syslog_facility's names, as syslog(3) has them.
int syslog_facility(const std::string& name) {
  static constexpr std::pair<std::string_view, int> kFacilities[] = {
      {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"cron", LOG_CRON},
      {"daemon", LOG_DAEMON}, {"ftp", LOG_FTP},           {"kern", LOG_KERN},
      {"lpr", LOG_LPR},       {"mail", LOG_MAIL},         {"news", LOG_NEWS},
      {"syslog", LOG_SYSLOG}, {"user", LOG_USER},         {"uucp", LOG_UUCP},
      {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},     {"local2", LOG_LOCAL2},
      {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},     {"local5", LOG_LOCAL5},
      {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
  for (const auto& [known, facility] : kFacilities) {
    if (proto::ascii_lower(name) == known) return facility;
  }
  throw ConfigError("syslog_facility = " + name +
                    ": unknown facility (mail, daemon, user, local0 to local7, ...)");
}

// This host's addresses for loop detection: inet_interfaces ("all": every interface's address,
// "loopback-only", or addresses and names) and proxy_interfaces, printable as DNS answers are.
std::vector<std::string> own_addresses(const Config& c) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& text) {
    if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
  };
  auto add_name = [&](const std::string& name) {
    std::string bare = name.size() > 2 && name.front() == '[' && name.back() == ']'
                           ? name.substr(1, name.size() - 2)
                           : name;
    if (auto literal = numeric_address(bare, 0)) {
      add(literal->address);
      return;
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (::getaddrinfo(bare.c_str(), nullptr, &hints, &list) != 0) return;
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      char text[NI_MAXHOST];
      if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0,
                        NI_NUMERICHOST) == 0) {
        add(text);
      }
    }
    ::freeaddrinfo(list);
  };
  for (const std::string& word : c.list("inet_interfaces")) {
    std::string w = proto::ascii_lower(word);
    if (w == "all") {
      ifaddrs* list = nullptr;
      if (::getifaddrs(&list) != 0) continue;
      for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr) continue;
        int family = i->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) continue;
        socklen_t length = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
        char text[NI_MAXHOST];
        if (::getnameinfo(i->ifa_addr, length, text, sizeof text, nullptr, 0, NI_NUMERICHOST) ==
                0 &&
            std::string_view(text).find('%') == std::string_view::npos) {
          add(text);
        }
      }
      ::freeifaddrs(list);
    } else if (w == "loopback-only") {
      add("127.0.0.1");
      add("::1");
    } else {
      add_name(word);
    }
  }
  for (const std::string& word : c.list("proxy_interfaces")) add_name(word);
  return out;
}

// A dns_servers entry: address, address:port, [address] or [address]:port.
bool is_dns_server(const std::string& server) {
  std::string host = server, port;
  if (server.starts_with("[")) {
    auto close = server.find(']');
    if (close == std::string::npos) return false;
    host = server.substr(1, close - 1);
    std::string rest = server.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return false;
    port = rest.empty() ? "" : rest.substr(1);
    if (!rest.empty() && port.empty()) return false;
  } else if (std::count(server.begin(), server.end(), ':') == 1) {
    host = server.substr(0, server.find(':'));
    port = server.substr(server.find(':') + 1);
    if (port.empty()) return false;
  }
  auto number = port.empty() ? std::optional<std::int64_t>(53) : parse_integer(port);
  return numeric_address(host, 53) && number && *number >= 1 && *number <= 65535;
}

dns::ResolverOptions resolver_options(const Config& c, bool ipv4, bool ipv6) {
  dns::ResolverOptions r;
  r.ipv4 = ipv4;
  r.ipv6 = ipv6;
  r.mx_lookups =
      !c.boolean("disable_dns_lookups") && c.value("smtp_dns_support_level") != "disabled";
  auto lookup = c.list("smtp_host_lookup");
  r.host_dns = r.mx_lookups && std::find(lookup.begin(), lookup.end(), "dns") != lookup.end();
  // With DNS off, host names can only come from the system's resolver (as in Postfix).
  r.host_native = !r.host_dns || std::find(lookup.begin(), lookup.end(), "native") != lookup.end();
  r.ignore_mx_lookup_error = c.boolean("ignore_mx_lookup_error");
  r.defer_if_no_mx_address = c.boolean("smtp_defer_if_no_mx_address_found");
  std::string preference = c.value("smtp_address_preference");
  r.plan.address_preference = preference == "ipv6"   ? dns::AddressPreference::ipv6
                              : preference == "ipv4" ? dns::AddressPreference::ipv4
                                                     : dns::AddressPreference::any;
  r.plan.randomize = c.boolean("smtp_randomize_addresses");
  r.plan.balance = c.boolean("smtp_balance_inet_protocols");
  r.plan.address_limit = static_cast<std::size_t>(c.integer("smtp_mx_address_limit"));
  r.self_addresses = own_addresses(c);
  for (const std::string& relay : c.list("smtp_fallback_relay")) {
    std::string error;
    auto hop = dns::parse_nexthop(relay, &error);
    if (!hop) throw ConfigError("bad smtp_fallback_relay entry \"" + relay + "\": " + error);
    r.fallback_relays.push_back(*hop);
  }
  // LMTP's: "unix:/path", "inet:host:port", or "host:port" (inet), as lmtp(8) names next hops.
  for (const std::string& relay : c.list("lmtp_fallback_relay")) {
    std::string error;
    bool typed = relay.starts_with("unix:") || relay.starts_with("inet:");
    auto hop = dns::parse_nexthop((typed ? "lmtp:" : "lmtp:inet:") + relay, &error);
    if (!hop) throw ConfigError("bad lmtp_fallback_relay entry \"" + relay + "\": " + error);
    r.lmtp_fallback_relays.push_back(*hop);
  }
  if (std::string relayhost = c.value("relayhost"); !relayhost.empty()) {
    std::string error;
    auto hop = dns::parse_nexthop(relayhost, &error);
    if (!hop) throw ConfigError("relayhost = " + relayhost + ": " + error);
    r.relayhost_key = hop->key();
  }
  return r;
}

using Words = std::vector<std::string>;

// Each line of the texthash files a map parameter names, as words: "destination value...";
// `take` returns an error (empty: taken), thrown as ConfigError with the file and line.
void for_each_destination_line(const Config& c, std::string_view parameter,
                               const std::function<std::string(const Words&)>& take) {
  for (std::string map : c.list(parameter)) {
    if (map.starts_with("texthash:")) map = map.substr(9);
    std::ifstream file(map);
    if (!file) throw ConfigError(std::string(parameter) + " = " + map + ": cannot open the file");
    std::string line;
    for (int number = 1; std::getline(file, line); ++number) {
      std::istringstream stream(line);
      Words words;
      for (std::string word; stream >> word;) words.push_back(word);
      if (words.empty() || words[0].starts_with("#")) continue;
      if (std::string error = take(words); !error.empty()) {
        throw ConfigError(map + ", line " + std::to_string(number) + ": " + error);
      }
    }
  }
}

}  // namespace

EngineSettings engine_settings(const Config& c) {
  EngineSettings e;
  e.smtp = protocol_settings(c, false, e.notices);
  e.lmtp = protocol_settings(c, true, e.notices);
  std::string bind4 = c.value("smtp_bind_address"), bind6 = c.value("smtp_bind_address6");
  // Checked here: a typo would otherwise leave every connection to the kernel's choice silently.
  if (auto a = numeric_address(bind4, 0); !bind4.empty() && (!a || a->family() != AF_INET)) {
    throw ConfigError("smtp_bind_address = " + bind4 + ": expected an IPv4 address");
  }
  if (auto a = numeric_address(bind6, 0); !bind6.empty() && (!a || a->family() != AF_INET6)) {
    throw ConfigError("smtp_bind_address6 = " + bind6 + ": expected an IPv6 address");
  }
  if (auto a = numeric_address(bind4, 0); a && a->family() == AF_INET) e.smtp.connect.source = a;
  if (auto a = numeric_address(bind6, 0); a && a->family() == AF_INET6) e.smtp.connect.source6 = a;
  e.smtp.connect.bind_enforce = c.boolean("smtp_bind_address_enforce");
  e.positive_feedback = c.feedback("smtp_destination_concurrency_positive_feedback");
  e.negative_feedback = c.feedback("smtp_destination_concurrency_negative_feedback");
  e.failed_cohort_limit =
      static_cast<std::size_t>(c.integer("smtp_destination_concurrency_failed_cohort_limit"));
  e.feedback_debug = c.boolean("destination_concurrency_feedback_debug");
  e.dead_destination_time = std::chrono::seconds(c.seconds("minimal_backoff_time"));
  for_each_destination_line(c, "smtp_destination_concurrency_maps", [&](const Words& words) {
    auto value = parse_integer(words.size() == 2 ? words[1] : "");
    if (!value || *value < 1)
      return std::string("expected \"destination limit\" with a limit of at least 1");
    e.concurrency_overrides[words[0]] = static_cast<std::size_t>(*value);
    return std::string();
  });
  for_each_destination_line(c, "smtp_destination_rate_maps", [&](const Words& words) {
    EngineSettings::Rates rates;
    for (std::size_t i = 1; i < words.size(); ++i) {
      std::size_t equals = words[i].find('=');
      std::string name = words[i].substr(0, equals);
      auto rate =
          equals == std::string::npos ? std::nullopt : parse_rate(words[i].substr(equals + 1));
      std::optional<double>* field = name == "messages"      ? &rates.messages
                                     : name == "connections" ? &rates.connections
                                                             : nullptr;
      if (field == nullptr || !rate || field->has_value()) {
        return "\"" + words[i] +
               "\": expected messages=RATE and/or connections=RATE, each once, a RATE being " +
               std::string(kExpectRate);
      }
      *field = *rate;
    }
    if (words.size() < 2)
      return std::string("expected \"destination messages=RATE connections=RATE\"");
    e.rate_overrides[words[0]] = rates;
    return std::string();
  });
  e.reply_rules = ReplyRules(c.list("reply_rules"));
  for_each_destination_line(c, "reply_rule_maps", [&](const Words& words) {
    if (words.size() < 2)
      return std::string("expected \"site TABLE...\" (pcre: or regexp: tables)");
    if (e.site_reply_rules.count(words[0]) != 0) return "\"" + words[0] + "\" is listed twice";
    e.site_reply_rules.emplace(words[0], ReplyRules({words.begin() + 1, words.end()}));
    return std::string();
  });
  e.egress = egress_settings(c);
  e.debug_peers = c.list("debug_peer_list");
  e.debug_peer_level = static_cast<int>(c.integer("debug_peer_level"));
  e.mx_session_limit = static_cast<std::size_t>(c.integer("smtp_mx_session_limit"));
  auto protocols = c.list("inet_protocols");
  bool all = std::find(protocols.begin(), protocols.end(), "all") != protocols.end();
  e.ipv4 = all || std::find(protocols.begin(), protocols.end(), "ipv4") != protocols.end();
  e.ipv6 = all || std::find(protocols.begin(), protocols.end(), "ipv6") != protocols.end();
  e.resolver = resolver_options(c, e.ipv4, e.ipv6);
  for (const std::string& server : c.list("dns_servers")) {
    // Checked here so that no shard fails to start its resolver over a typo.
    if (!is_dns_server(server)) {
      throw ConfigError("bad dns_servers entry \"" + server +
                        "\": expected an IP address with an optional :port");
    }
    e.dns_channel.servers.push_back(server);
  }
  e.dns_channel.timeout = std::chrono::seconds(c.seconds("dns_timeout"));
  e.dns_channel.tries = static_cast<int>(c.integer("dns_tries"));
  e.dns_cache.ttl_limit = std::chrono::seconds(c.seconds("dns_cache_ttl_limit"));
  e.dns_cache.negative_time = std::chrono::seconds(c.seconds("dns_negative_cache_time"));
  e.dns_cache.entry_limit = static_cast<std::size_t>(c.integer("dns_cache_size_limit"));
  e.resolver.native_ttl = std::min(std::chrono::seconds(60), e.dns_cache.ttl_limit);
  e.dns_channel.dnssec = c.value("smtp_dns_support_level") == "dnssec";
  e.resolver.force_insecure_host_tlsa = c.boolean("smtp_tls_force_insecure_host_tlsa_lookup");
  e.tls = tls_settings(c);
  // Postfix's dane_init: DANE needs DNSSEC-validated DNS lookups, and MX lookup errors that count.
  if (!e.dns_channel.dnssec || !e.resolver.host_dns) {
    e.tls.dane_config_problem = "with dnssec lookups disabled";
  } else if (e.resolver.ignore_mx_lookup_error) {
    e.tls.dane_config_problem = "with MX lookup errors ignored";
  }
  if (e.tls.any_dane() && !e.tls.dane_config_problem.empty()) {
    e.tls.notices.push_back("warning: a dane or dane-only TLS policy is configured " +
                            e.tls.dane_config_problem +
                            " (smtp_dns_support_level = dnssec is needed): dane acts as may, "
                            "dane-only defers");
  }
  e.notices.insert(e.notices.end(), e.tls.notices.begin(), e.tls.notices.end());

  e.cache_on_demand = c.boolean("smtp_connection_cache_on_demand");
  e.cache_destinations = c.list("smtp_connection_cache_destinations");
  e.cache_time_limit = std::chrono::seconds(c.seconds("smtp_connection_cache_time_limit"));
  e.reuse_time_limit = std::chrono::seconds(c.seconds("smtp_connection_reuse_time_limit"));
  e.reuse_count_limit = static_cast<std::size_t>(c.integer("smtp_connection_reuse_count_limit"));

  e.relayhost = c.value("relayhost");
  e.transport_maps = c.list("transport_maps");
  e.sender_relayhost_maps = c.list("sender_dependent_relayhost_maps");
  e.empty_sender_key = c.value("empty_address_relayhost_maps_lookup_key");

  feed_access_settings(c, e);
  e.spool_directories = c.list("spool_directories");
  e.feed_body_memory_limit = static_cast<std::uint64_t>(c.integer("feed_body_memory_limit"));
  e.results_journal = c.value("results_journal");
  e.results_journal_sync = c.boolean("results_journal_sync");
  e.results_journal_commit_delay =
      std::chrono::milliseconds(c.integer("results_journal_commit_delay_ms"));
  e.results_journal_segment_limit =
      static_cast<std::uint64_t>(c.integer("results_journal_segment_limit"));
  e.result_retention_time = std::chrono::seconds(c.seconds("feed_result_retention_time"));
  e.result_retention_limit = static_cast<std::size_t>(c.integer("feed_result_retention_limit"));
  e.feed_request_limit = static_cast<std::size_t>(c.integer("feed_request_limit"));
  e.shards = static_cast<std::size_t>(c.count_or_auto("shards"));
  e.shard_session_limit = static_cast<std::size_t>(c.integer("shard_session_limit"));
  e.metrics_listen = c.value("metrics_listen");
  if (!e.metrics_listen.empty() && !listen_address(e.metrics_listen)) {
    throw ConfigError("metrics_listen = " + e.metrics_listen +
                      ": expected an IP address and port, e.g. 127.0.0.1:9464");
  }
  e.metrics_site_limit = static_cast<std::size_t>(c.integer("metrics_site_limit"));
  e.ringrelay_user = c.value("ringrelay_user");

  for (std::string& notice : check_parameter_support(c)) e.notices.push_back(std::move(notice));
  // Tables read from their source text, said once for every parameter that names one.
  const std::set<std::string, std::less<>> names_read = c.names_read();
  for (const std::string& name : names_read) {
    if (!name.ends_with("_maps") && !name.ends_with("_checks") &&
        !name.ends_with("_reply_filter")) {
      continue;
    }
    for (const std::string& spec : c.list(name)) {
      if (std::string notice = indexed_source_notice(spec); !notice.empty()) {
        e.notices.push_back("warning: " + name + ": " + notice);
      }
    }
  }
  e.maillog_file = c.value("maillog_file");
  e.json_log = c.value("log_format") == "json";
  e.syslog_name = c.value("syslog_name");
  e.syslog_facility = syslog_facility(c.value("syslog_facility"));
  e.myhostname = c.value("myhostname");
  return e;
}

}  // namespace ringrelay::engine
