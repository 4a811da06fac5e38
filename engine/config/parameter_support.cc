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
  {"delay_logging_resolution_limit", S::ignored, "delays are logged with Postfix's default resolution (2 digits)"},
  {"error_notice_recipient", S::ignored, "ringrelay sends no notices to the postmaster: every result goes to the queue manager, which reports trouble"},
  {"lmtp_address_preference", S::smtp_value, "LMTP next hops use smtp_address_preference, as SMTP next hops do"},
  {"lmtp_balance_inet_protocols", S::smtp_value, "LMTP next hops use smtp_balance_inet_protocols, as SMTP next hops do"},
  {"lmtp_bind_address", S::smtp_value, "LMTP next hops use smtp_bind_address, as SMTP next hops do"},
  {"lmtp_bind_address6", S::smtp_value, "LMTP next hops use smtp_bind_address6, as SMTP next hops do"},
  {"lmtp_bind_address_enforce", S::smtp_value, "LMTP next hops use smtp_bind_address_enforce, as SMTP next hops do"},
  {"lmtp_cname_overrides_servername", S::refused, "ringrelay checks certificates against the names before CNAME expansion (as with no)"},
  {"lmtp_connection_cache_destinations", S::smtp_value, "LMTP next hops use smtp_connection_cache_destinations, as SMTP next hops do"},
  {"lmtp_connection_cache_on_demand", S::smtp_value, "LMTP next hops use smtp_connection_cache_on_demand, as SMTP next hops do"},
  {"lmtp_connection_cache_time_limit", S::smtp_value, "LMTP next hops use smtp_connection_cache_time_limit, as SMTP next hops do"},
  {"lmtp_connection_reuse_count_limit", S::smtp_value, "LMTP next hops use smtp_connection_reuse_count_limit, as SMTP next hops do"},
  {"lmtp_connection_reuse_time_limit", S::smtp_value, "LMTP next hops use smtp_connection_reuse_time_limit, as SMTP next hops do"},
  {"lmtp_defer_if_no_mx_address_found", S::smtp_value, "LMTP next hops use smtp_defer_if_no_mx_address_found, as SMTP next hops do"},
  {"lmtp_destination_concurrency_failed_cohort_limit", S::smtp_value, "LMTP next hops use smtp_destination_concurrency_failed_cohort_limit, as SMTP next hops do"},
  {"lmtp_destination_concurrency_negative_feedback", S::smtp_value, "LMTP next hops use smtp_destination_concurrency_negative_feedback, as SMTP next hops do"},
  {"lmtp_destination_concurrency_positive_feedback", S::smtp_value, "LMTP next hops use smtp_destination_concurrency_positive_feedback, as SMTP next hops do"},
  {"lmtp_dns_resolver_options", S::refused, "c-ares has no equivalent of the resolver's res_options; use dns_servers, dns_timeout, dns_tries"},
  {"lmtp_dns_support_level", S::smtp_value, "LMTP next hops use smtp_dns_support_level, as SMTP next hops do"},
  {"lmtp_host_lookup", S::smtp_value, "LMTP next hops use smtp_host_lookup, as SMTP next hops do"},
  {"lmtp_mx_address_limit", S::smtp_value, "LMTP next hops use smtp_mx_address_limit, as SMTP next hops do"},
  {"lmtp_mx_session_limit", S::smtp_value, "LMTP next hops use smtp_mx_session_limit, as SMTP next hops do"},
  {"lmtp_randomize_addresses", S::smtp_value, "LMTP next hops use smtp_randomize_addresses, as SMTP next hops do"},
  {"lmtp_tcp_port", S::refused, "LMTP next hops name their port (lmtp:inet:host:port); the default port is 24"},
  {"lmtp_tls_block_early_mail_reply", S::ignored, "ringrelay never pipelines across STARTTLS and discards what a server sends with its 220 to STARTTLS"},
  {"lmtp_tls_cert_file", S::smtp_value, "LMTP next hops use smtp_tls_cert_file, as SMTP next hops do"},
  {"lmtp_tls_chain_files", S::smtp_value, "LMTP next hops use smtp_tls_chain_files, as SMTP next hops do"},
  {"lmtp_tls_ciphers", S::smtp_value, "LMTP next hops use smtp_tls_ciphers, as SMTP next hops do"},
  {"lmtp_tls_connection_reuse", S::smtp_value, "LMTP next hops use smtp_tls_connection_reuse, as SMTP next hops do"},
  {"lmtp_tls_dcert_file", S::refused, "DSA client certificates are not supported (wolfSSL's build has no DSA)"},
  {"lmtp_tls_dkey_file", S::refused, "DSA client certificates are not supported (wolfSSL's build has no DSA)"},
  {"lmtp_tls_eccert_file", S::smtp_value, "LMTP next hops use smtp_tls_eccert_file, as SMTP next hops do"},
  {"lmtp_tls_eckey_file", S::smtp_value, "LMTP next hops use smtp_tls_eckey_file, as SMTP next hops do"},
  {"lmtp_tls_exclude_ciphers", S::smtp_value, "LMTP next hops use smtp_tls_exclude_ciphers, as SMTP next hops do"},
  {"lmtp_tls_fingerprint_cert_match", S::smtp_value, "LMTP next hops use smtp_tls_fingerprint_cert_match, as SMTP next hops do"},
  {"lmtp_tls_fingerprint_digest", S::smtp_value, "LMTP next hops use smtp_tls_fingerprint_digest, as SMTP next hops do"},
  {"lmtp_tls_force_insecure_host_tlsa_lookup", S::smtp_value, "LMTP next hops use smtp_tls_force_insecure_host_tlsa_lookup, as SMTP next hops do"},
  {"lmtp_tls_key_file", S::smtp_value, "LMTP next hops use smtp_tls_key_file, as SMTP next hops do"},
  {"lmtp_tls_loglevel", S::smtp_value, "LMTP next hops use smtp_tls_loglevel, as SMTP next hops do"},
  {"lmtp_tls_mandatory_ciphers", S::smtp_value, "LMTP next hops use smtp_tls_mandatory_ciphers, as SMTP next hops do"},
  {"lmtp_tls_mandatory_exclude_ciphers", S::smtp_value, "LMTP next hops use smtp_tls_mandatory_exclude_ciphers, as SMTP next hops do"},
  {"lmtp_tls_mandatory_protocols", S::smtp_value, "LMTP next hops use smtp_tls_mandatory_protocols, as SMTP next hops do"},
  {"lmtp_tls_note_starttls_offer", S::smtp_value, "LMTP next hops use smtp_tls_note_starttls_offer, as SMTP next hops do"},
  {"lmtp_tls_per_site", S::refused, "not supported: translate it into smtp_tls_policy_maps (NONE none, MAY may, ENCRYPT and MUST_NOPEERMATCH encrypt, VERIFY and MUST verify)"},
  {"lmtp_tls_policy_maps", S::smtp_value, "LMTP next hops use smtp_tls_policy_maps, as SMTP next hops do"},
  {"lmtp_tls_protocols", S::smtp_value, "LMTP next hops use smtp_tls_protocols, as SMTP next hops do"},
  {"lmtp_tls_scert_verifydepth", S::smtp_value, "LMTP next hops use smtp_tls_scert_verifydepth, as SMTP next hops do"},
  {"lmtp_tls_secure_cert_match", S::smtp_value, "LMTP next hops use smtp_tls_secure_cert_match, as SMTP next hops do"},
  {"lmtp_tls_servername", S::smtp_value, "LMTP next hops use smtp_tls_servername, as SMTP next hops do"},
  {"lmtp_tls_session_cache_database", S::ignored, "TLS sessions are cached in the process, per shard (smtp_tls_session_cache_timeout)"},
  {"lmtp_tls_session_cache_timeout", S::smtp_value, "LMTP next hops use smtp_tls_session_cache_timeout, as SMTP next hops do"},
  {"lmtp_tls_trust_anchor_file", S::smtp_value, "LMTP next hops use smtp_tls_trust_anchor_file, as SMTP next hops do"},
  {"lmtp_tls_verify_cert_match", S::smtp_value, "LMTP next hops use smtp_tls_verify_cert_match, as SMTP next hops do"},
  {"notify_classes", S::ignored, "ringrelay sends no notices to the postmaster: every result goes to the queue manager, which reports trouble"},
  {"smtp_cname_overrides_servername", S::refused, "ringrelay checks certificates against the names before CNAME expansion (as with no)"},
  {"smtp_dns_resolver_options", S::refused, "c-ares has no equivalent of the resolver's res_options; use dns_servers, dns_timeout, dns_tries"},
  {"smtp_tcp_port", S::refused, "next hops name their port ([host]:port); the default port is 25"},
  {"smtp_tls_block_early_mail_reply", S::ignored, "ringrelay never pipelines across STARTTLS and discards what a server sends with its 220 to STARTTLS"},
  {"smtp_tls_dcert_file", S::refused, "DSA client certificates are not supported (wolfSSL's build has no DSA)"},
  {"smtp_tls_dkey_file", S::refused, "DSA client certificates are not supported (wolfSSL's build has no DSA)"},
  {"smtp_tls_per_site", S::refused, "not supported: translate it into smtp_tls_policy_maps (NONE none, MAY may, ENCRYPT and MUST_NOPEERMATCH encrypt, VERIFY and MUST verify)"},
  {"smtp_tls_session_cache_database", S::ignored, "TLS sessions are cached in the process, per shard (smtp_tls_session_cache_timeout)"},
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
    if (note.support == Support::smtp_value) {
      std::string smtp_name = "smtp_" + std::string(note.name.substr(5));
      if (config.value(note.name) != config.value(smtp_name)) {
        throw ConfigError(std::string(note.name) + " = " + raw +
                          ": not supported by ringrelay: " + std::string(note.reason) + " (" +
                          smtp_name + " = " + config.value(smtp_name) + "); give " +
                          std::string(note.name) + " the same value or leave it out");
      }
      continue;
    }
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

constexpr std::string_view kRestartOnly[] = {"control_socket",
                                             "control_socket_group",
                                             "control_socket_mode",
                                             "control_state_file",
                                             "cyrus_sasl_config_path",
                                             "dns_servers",
                                             "dns_timeout",
                                             "dns_tries",
                                             "feed_socket",
                                             "feed_socket_group",
                                             "feed_socket_mode",
                                             "feed_tcp_listen",
                                             "log_format",
                                             "maillog_file",
                                             "metrics_listen",
                                             "results_journal",
                                             "ringrelay_user",
                                             "shards",
                                             "smtp_dns_support_level",
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
