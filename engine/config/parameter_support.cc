// The table of parameters ringrelay does not act on, and the start-up check. Keep it sorted; keep
// each reason one line an operator can act on.
#include "engine/config/parameter_support.hh"

#include <algorithm>
#include <array>

#include "engine/config/config_parameters.hh"

namespace ringrelay::engine {
namespace {

using S = Support;

// clang-format off
constexpr std::array kNotes = std::to_array<ParameterNote>({
  {"best_mx_transport", S::refused, "ringrelay has no local delivery: mail that loops back to this host is deferred, as Postfix does with the parameter empty"},
  {"debug_peer_level", S::ignored, "debug_peer_list logs one level of connection and cache events"},
  {"delay_logging_resolution_limit", S::ignored, "delays are logged with Postfix's default resolution (2 digits)"},
  {"error_notice_recipient", S::ignored, "ringrelay sends no notices to the postmaster: every result goes to the queue manager, which reports trouble"},
  {"lmtp_tcp_port", S::refused, "LMTP next hops name their port (lmtp:inet:host:port); the default port is 24"},
  {"notify_classes", S::ignored, "ringrelay sends no notices to the postmaster: every result goes to the queue manager, which reports trouble"},
  {"smtp_cname_overrides_servername", S::refused, "ringrelay checks certificates against the names before CNAME expansion (as with no)"},
  {"smtp_dns_resolver_options", S::refused, "c-ares has no equivalent of the resolver's res_options; use dns_servers, dns_timeout, dns_tries"},
  {"smtp_tcp_port", S::refused, "next hops name their port ([host]:port); the default port is 25"},
  {"smtp_tls_block_early_mail_reply", S::ignored, "ringrelay never pipelines across STARTTLS and discards what a server sends with its 220 to STARTTLS"},
  {"smtp_tls_dane_insecure_mx_policy", S::ignored, "DANE is not implemented yet (level dane acts as may)"},
  {"smtp_tls_dcert_file", S::refused, "DSA client certificates are not supported (wolfSSL's build has no DSA)"},
  {"smtp_tls_dkey_file", S::refused, "DSA client certificates are not supported (wolfSSL's build has no DSA)"},
  {"smtp_tls_force_insecure_host_tlsa_lookup", S::ignored, "DANE is not implemented yet (level dane acts as may)"},
  {"smtp_tls_per_site", S::refused, "not supported: translate it into smtp_tls_policy_maps (NONE none, MAY may, ENCRYPT and MUST_NOPEERMATCH encrypt, VERIFY and MUST verify)"},
  {"smtp_tls_session_cache_database", S::ignored, "TLS sessions are cached in the process, per shard (smtp_tls_session_cache_timeout)"},
  {"smtp_tls_trust_anchor_file", S::refused, "not supported yet (it comes with DANE, which shares its trust-anchor checks): use smtp_tls_CAfile"},
  {"smtputf8_enable", S::refused, "ringrelay always requests SMTPUTF8 for mail that needs it (as with yes)"},
});
// clang-format on

}  // namespace

std::span<const ParameterNote> parameter_notes() {
  return kNotes;
}

const ParameterNote* parameter_note(std::string_view name) {
  auto it =
      std::lower_bound(kNotes.begin(), kNotes.end(), name,
                       [](const ParameterNote& n, std::string_view key) { return n.name < key; });
  return it != kNotes.end() && it->name == name ? &*it : nullptr;
}

std::vector<std::string> check_parameter_support(const Config& config) {
  std::vector<std::string> notices;
  for (const ParameterNote& note : kNotes) {
    if (!config.is_set_in_file(note.name)) continue;
    std::string raw(config.raw(note.name));
    if (note.support == Support::refused) {
      if (raw != config.default_raw(note.name)) {
        throw ConfigError(std::string(note.name) + " = " + raw +
                          ": not supported by ringrelay: " + std::string(note.reason));
      }
      continue;
    }
    notices.push_back(std::string(note.name) + " = " + raw +
                      ": ignored by ringrelay: " + std::string(note.reason));
  }
  return notices;
}

namespace {

constexpr std::string_view kRestartOnly[] = {"cyrus_sasl_config_path",
                                             "dns_servers",
                                             "dns_timeout",
                                             "dns_tries",
                                             "feed_socket",
                                             "feed_socket_group",
                                             "feed_socket_mode",
                                             "feed_tcp_listen",
                                             "log_format",
                                             "maillog_file",
                                             "results_journal",
                                             "shards",
                                             "smtp_sasl_path",
                                             "spool_directories",
                                             "syslog_facility",
                                             "syslog_name"};

}  // namespace

std::span<const std::string_view> restart_only_parameters() {
  return kRestartOnly;
}

std::vector<std::string> restart_notices(const Config& running, const Config& fresh) {
  std::vector<std::string> notices;
  for (std::string_view name : kRestartOnly) {
    if (running.value(name) != fresh.value(name)) {
      notices.push_back("warning: " + std::string(name) + " changed to \"" + fresh.value(name) +
                        "\": it takes effect at the next start (systemctl restart ringrelay); " +
                        "the running value \"" + running.value(name) + "\" stays");
    }
  }
  return notices;
}

}  // namespace ringrelay::engine
