// The table of known parameters. Postfix 3.7's defaults (postconf -d) unless the comment says
// "ringrelay": those are ours. Keep the table sorted by name; a unit test checks it.
#include "engine/config/config_parameters.hh"

#include <algorithm>
#include <array>

namespace ringrelay::engine {
namespace {

using T = ParameterType;

constexpr std::string_view kTlsLevels = "none may encrypt dane dane-only fingerprint verify secure";

// clang-format off
constexpr std::array kParameters = std::to_array<ParameterSpec>({
  {"best_mx_transport", T::text, ""},
  // ringrelay: the admin socket `ringrelay ctl` talks to (UNIX stream); empty: none.
  {"control_socket", T::text, "$feed_socket.control"},
  // ringrelay: the admin socket's group (a name; empty: the process's group).
  {"control_socket_group", T::text, ""},
  // ringrelay: the admin socket's permissions, in octal: whoever can connect can suspend,
  // bounce and defer mail.
  {"control_socket_mode", T::text, "0600"},
  // ringrelay: where the operator's holds (ringrelay ctl suspend) are saved, so that a restart
  // keeps them; empty: they live in memory only (a reload keeps them, a restart does not).
  {"control_state_file", T::text, ""},
  {"cyrus_sasl_config_path", T::text, ""},
  {"debug_peer_level", T::integer, "2", 1},
  {"debug_peer_list", T::list, ""},
  {"default_destination_concurrency_failed_cohort_limit", T::integer, "1", 0},
  {"default_destination_concurrency_limit", T::integer, "20", 0},
  {"default_destination_concurrency_negative_feedback", T::feedback, "1"},
  {"default_destination_concurrency_positive_feedback", T::feedback, "1"},
  // ringrelay: new connections to one site at most this often (N/s, N/min, N/h, N/d; 0: none).
  {"default_destination_connection_rate", T::rate, "0"},
  // ringrelay: deliveries (messages) to one site at most this often, held as a token bucket.
  {"default_destination_message_rate", T::rate, "0"},
  {"default_destination_rate_delay", T::time, "0s", 0},
  {"default_destination_recipient_limit", T::integer, "50", 0},
  // ringrelay: the egress pool (or source) of requests that name none; empty: smtp_bind_address.
  {"default_egress_pool", T::text, ""},
  {"delay_logging_resolution_limit", T::integer, "2", 0},
  {"destination_concurrency_feedback_debug", T::boolean, "no"},
  {"disable_dns_lookups", T::boolean, "no"},
  {"disable_mime_output_conversion", T::boolean, "no"},
  // ringrelay: DNS answers kept per shard at most (the record cache is bounded like every pool).
  {"dns_cache_size_limit", T::integer, "100000", 1},
  // ringrelay: the longest a DNS answer is used, whatever its TTL says.
  {"dns_cache_ttl_limit", T::time, "1h", 0},
  // ringrelay: how long a failed or empty DNS answer (NXDOMAIN, no data, SERVFAIL) is remembered.
  {"dns_negative_cache_time", T::time, "30s", 0},
  // ringrelay: DNS servers to ask instead of /etc/resolv.conf's, as address or address:port.
  {"dns_servers", T::list, ""},
  // ringrelay: how long to wait for one DNS server's answer before the next try.
  {"dns_timeout", T::time, "5s", 1},
  // ringrelay: how many times each DNS server is asked before a lookup fails ("try again").
  {"dns_tries", T::integer, "2", 1},
  // ringrelay: tables of egress pools, "POOL SOURCE[:WEIGHT] ..." (docs/shaping.md).
  {"egress_pool_maps", T::list, ""},
  // ringrelay: tables of egress sources, "NAME address=IPv4 address6=IPv6 helo=NAME".
  {"egress_source_maps", T::list, ""},
  // ringrelay: a source whose address could not be bound is not used again for this long.
  {"egress_source_retry_time", T::time, "60s", 1},
  {"empty_address_relayhost_maps_lookup_key", T::text, "<>"},
  // ringrelay: groups (names) whose members may use the feed socket; empty: any that can open it.
  {"error_notice_recipient", T::text, "postmaster"},
  {"fallback_relay", T::list, ""},
  {"feed_allowed_groups", T::list, ""},
  // ringrelay: users (names) who may use the feed socket; empty: any that can open it.
  {"feed_allowed_users", T::list, ""},
  // ringrelay: spool bodies held in memory at most (bytes); at the limit the feed stops reading.
  {"feed_body_memory_limit", T::integer, "268435456", 1},
  // ringrelay: requests in flight at most; at the limit the feed stops reading (push-back).
  {"feed_request_limit", T::integer, "50000", 1},
  // ringrelay: how many unread results are kept at most; past this the oldest are dropped and logged.
  {"feed_result_retention_limit", T::integer, "100000", 1},
  // ringrelay: how long results a queue manager has not read yet are kept for its reconnection.
  {"feed_result_retention_time", T::time, "1h", 1},
  // ringrelay: the UNIX stream socket queue managers connect to.
  {"feed_socket", T::text, "/run/ringrelay/feed"},
  // ringrelay: the feed socket's group (a name; empty: the process's group).
  {"feed_socket_group", T::text, ""},
  // ringrelay: the feed socket's permissions, in octal.
  {"feed_socket_mode", T::text, "0660"},
  // ringrelay: an optional TCP listener for the feed protocol, loopback only (host:port).
  {"feed_tcp_listen", T::text, ""},
  // ringrelay: the shared secret a TCP feed client must give in its hello (a file of mode 0600).
  {"feed_tcp_secret_file", T::text, ""},
  {"ignore_mx_lookup_error", T::boolean, "no"},
  {"inet_interfaces", T::list, "all"},
  {"inet_protocols", T::choices, "all", 0, 's', "all ipv4 ipv6"},
  {"initial_destination_concurrency", T::integer, "5", 1},
  {"lmtp_address_preference", T::choice, "any", 0, 's', "any ipv4 ipv6"},
  {"lmtp_assume_final", T::boolean, "no"},
  {"lmtp_balance_inet_protocols", T::boolean, "yes"},
  {"lmtp_bind_address", T::text, ""},
  {"lmtp_bind_address6", T::text, ""},
  {"lmtp_bind_address_enforce", T::boolean, "no"},
  {"lmtp_body_checks", T::list, ""},
  {"lmtp_cname_overrides_servername", T::boolean, "no"},
  {"lmtp_connect_timeout", T::time, "0s", 0},
  {"lmtp_connection_cache_destinations", T::list, ""},
  {"lmtp_connection_cache_on_demand", T::boolean, "yes"},
  {"lmtp_connection_cache_time_limit", T::time, "2s", 1},
  {"lmtp_connection_reuse_count_limit", T::integer, "0", 0},
  {"lmtp_connection_reuse_time_limit", T::time, "300s", 1},
  {"lmtp_data_done_timeout", T::time, "600s", 1},
  {"lmtp_data_init_timeout", T::time, "120s", 1},
  {"lmtp_data_xfer_timeout", T::time, "180s", 1},
  {"lmtp_defer_if_no_mx_address_found", T::boolean, "no"},
  {"lmtp_destination_concurrency_failed_cohort_limit", T::integer, "$default_destination_concurrency_failed_cohort_limit", 0},
  {"lmtp_destination_concurrency_limit", T::integer, "$default_destination_concurrency_limit", 0},
  {"lmtp_destination_concurrency_negative_feedback", T::feedback, "$default_destination_concurrency_negative_feedback"},
  {"lmtp_destination_concurrency_positive_feedback", T::feedback, "$default_destination_concurrency_positive_feedback"},
  {"lmtp_destination_connection_rate", T::rate, "$default_destination_connection_rate"},
  {"lmtp_destination_message_rate", T::rate, "$default_destination_message_rate"},
  {"lmtp_destination_rate_delay", T::time, "$default_destination_rate_delay", 0},
  {"lmtp_destination_recipient_limit", T::integer, "$default_destination_recipient_limit", 0},
  {"lmtp_discard_lhlo_keyword_address_maps", T::list, ""},
  {"lmtp_discard_lhlo_keywords", T::list, ""},
  {"lmtp_dns_resolver_options", T::list, ""},
  {"lmtp_dns_support_level", T::choice, "", 0, 's', "enabled disabled dnssec"},
  {"lmtp_enforce_tls", T::boolean, "no"},
  {"lmtp_fallback_relay", T::list, ""},
  {"lmtp_generic_maps", T::list, ""},
  {"lmtp_header_checks", T::list, ""},
  {"lmtp_host_lookup", T::choices, "dns", 0, 's', "dns native"},
  {"lmtp_initial_destination_concurrency", T::integer, "$initial_destination_concurrency", 1},
  {"lmtp_lhlo_name", T::text, "$myhostname"},
  {"lmtp_lhlo_timeout", T::time, "300s", 1},
  {"lmtp_line_length_limit", T::integer, "998", 0},
  {"lmtp_mail_timeout", T::time, "300s", 1},
  {"lmtp_mime_header_checks", T::list, ""},
  {"lmtp_min_data_rate", T::integer, "500", 1},
  {"lmtp_mx_address_limit", T::integer, "5", 0},
  {"lmtp_mx_session_limit", T::integer, "2", 0},
  {"lmtp_nested_header_checks", T::list, ""},
  {"lmtp_per_record_deadline", T::boolean, "no"},
  {"lmtp_per_request_deadline", T::boolean, "no"},
  {"lmtp_pix_workaround_delay_time", T::time, "10s", 1},
  {"lmtp_pix_workaround_maps", T::list, ""},
  {"lmtp_pix_workaround_threshold_time", T::time, "500s", 1},
  {"lmtp_pix_workarounds", T::list, "disable_esmtp, delay_dotcrlf"},
  {"lmtp_quit_timeout", T::time, "300s", 1},
  {"lmtp_quote_rfc821_envelope", T::boolean, "yes"},
  {"lmtp_randomize_addresses", T::boolean, "yes"},
  {"lmtp_rcpt_timeout", T::time, "300s", 1},
  {"lmtp_reply_filter", T::list, ""},
  {"lmtp_rset_timeout", T::time, "20s", 1},
  {"lmtp_sasl_auth_cache_name", T::text, ""},
  {"lmtp_sasl_auth_cache_time", T::time, "90d", 0, 'd'},
  {"lmtp_sasl_auth_enable", T::boolean, "no"},
  {"lmtp_sasl_auth_soft_bounce", T::boolean, "yes"},
  {"lmtp_sasl_mechanism_filter", T::list, ""},
  {"lmtp_sasl_password_maps", T::list, ""},
  {"lmtp_sasl_path", T::text, ""},
  {"lmtp_sasl_security_options", T::choices, "noplaintext, noanonymous", 0, 's',
   "noplaintext noactive nodictionary noanonymous mutual_auth"},
  {"lmtp_sasl_tls_security_options", T::choices, "$lmtp_sasl_security_options", 0, 's',
   "noplaintext noactive nodictionary noanonymous mutual_auth"},
  {"lmtp_sasl_tls_verified_security_options", T::choices, "$lmtp_sasl_tls_security_options", 0,
   's', "noplaintext noactive nodictionary noanonymous mutual_auth"},
  {"lmtp_sasl_type", T::choice, "cyrus", 0, 's', "cyrus"},
  {"lmtp_send_dummy_mail_auth", T::boolean, "no"},
  {"lmtp_send_xforward_command", T::boolean, "no"},
  {"lmtp_sender_dependent_authentication", T::boolean, "no"},
  {"lmtp_skip_5xx_greeting", T::boolean, "yes"},
  {"lmtp_skip_quit_response", T::boolean, "no"},
  {"lmtp_starttls_timeout", T::time, "300s", 1},
  {"lmtp_tcp_port", T::text, "24"},
  {"lmtp_tls_block_early_mail_reply", T::boolean, "no"},
  {"lmtp_tls_cert_file", T::text, ""},
  {"lmtp_tls_chain_files", T::list, ""},
  {"lmtp_tls_ciphers", T::choice, "medium", 0, 's', "export low medium high null"},
  {"lmtp_tls_connection_reuse", T::boolean, "yes"},
  {"lmtp_tls_dcert_file", T::text, ""},
  {"lmtp_tls_dkey_file", T::text, "$lmtp_tls_dcert_file"},
  {"lmtp_tls_eccert_file", T::text, ""},
  {"lmtp_tls_eckey_file", T::text, "$lmtp_tls_eccert_file"},
  {"lmtp_tls_enforce_peername", T::boolean, "yes"},
  {"lmtp_tls_exclude_ciphers", T::list, ""},
  {"lmtp_tls_fingerprint_cert_match", T::list, ""},
  {"lmtp_tls_fingerprint_digest", T::choice, "sha256", 0, 's', "md5 sha1 sha256 sha512"},
  {"lmtp_tls_force_insecure_host_tlsa_lookup", T::boolean, "no"},
  {"lmtp_tls_key_file", T::text, "$lmtp_tls_cert_file"},
  {"lmtp_tls_loglevel", T::integer, "1", 0},
  {"lmtp_tls_mandatory_ciphers", T::choice, "medium", 0, 's', "export low medium high null"},
  {"lmtp_tls_mandatory_exclude_ciphers", T::list, ""},
  {"lmtp_tls_mandatory_protocols", T::list, ">=TLSv1"},
  {"lmtp_tls_note_starttls_offer", T::boolean, "no"},
  {"lmtp_tls_per_site", T::list, ""},
  {"lmtp_tls_policy_maps", T::list, ""},
  {"lmtp_tls_protocols", T::list, ">=TLSv1"},
  {"lmtp_tls_scert_verifydepth", T::integer, "9", 1},
  {"lmtp_tls_secure_cert_match", T::list, "nexthop"},
  {"lmtp_tls_security_level", T::choice, "none", 0, 's', kTlsLevels},
  // ringrelay: delivery log format, Postfix's one-line form or one JSON object per line.
  {"lmtp_tls_servername", T::text, ""},
  {"lmtp_tls_session_cache_database", T::text, ""},
  {"lmtp_tls_session_cache_timeout", T::time, "3600s", 0},
  {"lmtp_tls_trust_anchor_file", T::list, ""},
  {"lmtp_tls_verify_cert_match", T::list, "hostname"},
  {"lmtp_tls_wrappermode", T::boolean, "no"},
  {"lmtp_use_tls", T::boolean, "no"},
  {"lmtp_xforward_timeout", T::time, "300s", 1},
  {"log_format", T::choice, "postfix", 0, 's', "postfix json"},
  {"maillog_file", T::text, ""},
  // ringrelay: where Prometheus scrapes the metrics (GET /metrics), an IP address and port such
  // as 127.0.0.1:9464; empty: no metrics endpoint.
  {"metrics_listen", T::text, ""},
  // ringrelay: how many sites (the busiest) get gauges of their own; the rest are summed under
  // site="other", so that the number of series stays bounded.
  {"metrics_site_limit", T::integer, "50", 0},
  {"mime_boundary_length_limit", T::integer, "2048", 1},
  {"mime_nesting_limit", T::integer, "100", 1},
  {"minimal_backoff_time", T::time, "300s", 1},
  {"mydestination", T::list, "$myhostname, localhost.$mydomain, localhost"},
  {"mydomain", T::text, ""},
  {"myhostname", T::text, ""},
  {"myorigin", T::text, "$myhostname"},
  {"notify_classes", T::list, "resource, software"},
  {"proxy_interfaces", T::list, ""},
  {"recipient_delimiter", T::text, ""},
  {"relayhost", T::text, ""},
  // ringrelay: the durable results journal's directory (docs/feed-protocol.md); empty: none.
  // ringrelay: how far each backoff step of reply_rules cuts a site's connections and rate.
  {"reply_backoff_factor", T::fraction, "0.5"},
  // ringrelay: a site in backoff climbs one step back after this long without a throttling reply.
  {"reply_backoff_recovery_time", T::time, "300s", 1},
  // ringrelay: the deepest backoff step (the factor applied this many times at most).
  {"reply_backoff_steps", T::integer, "5", 1},
  // ringrelay: texthash files of "site TABLE..." lines: a site's own reply rules (pcre: or regexp:
  // tables), tried before reply_rules; the site by its name, an MX host or a bracketed next hop.
  {"reply_rule_maps", T::list, ""},
  // ringrelay: regexp: or pcre: tables matched against the server's replies; their results are
  // actions (backoff, suspend=TIME, noreuse=TIME, close, defer): docs/shaping.md.
  {"reply_rules", T::list, ""},
  {"results_journal", T::text, "/var/lib/ringrelay/results"},
  // ringrelay: journal commits start at most this often (ms): fewer synced writes, later results.
  {"results_journal_commit_delay_ms", T::integer, "5", 0},
  // ringrelay: the journal is compacted once its active segment holds this many bytes.
  {"results_journal_segment_limit", T::integer, "67108864", 4096},
  // ringrelay: each journal write is synced to disk (survives power loss); "no" survives a crash.
  {"results_journal_sync", T::boolean, "yes"},
  // ringrelay: the user serve runs as once started as root has bound its sockets and opened its
  // journal and log (Postfix's mail_owner idea); empty: it stays the user it was started as
  // (a warning when that is root). main.cf.sample and the package set ringrelay.
  {"ringrelay_user", T::text, ""},
  {"send_cyrus_sasl_authzid", T::boolean, "no"},
  {"sender_dependent_relayhost_maps", T::list, ""},
  // ringrelay: how many SMTP/LMTP sessions one shard may hold at once; the feed pushes back past it.
  {"shard_session_limit", T::integer, "10000", 1},
  // ringrelay: event-loop threads, one per core with "auto".
  {"shards", T::count_or_auto, "auto", 1},
  {"smtp_address_preference", T::choice, "any", 0, 's', "any ipv4 ipv6"},
  {"smtp_always_send_ehlo", T::boolean, "yes"},
  {"smtp_balance_inet_protocols", T::boolean, "yes"},
  {"smtp_bind_address", T::text, ""},
  {"smtp_bind_address6", T::text, ""},
  {"smtp_bind_address_enforce", T::boolean, "no"},
  {"smtp_body_checks", T::list, ""},
  {"smtp_cname_overrides_servername", T::boolean, "no"},
  {"smtp_connect_timeout", T::time, "30s", 0},
  {"smtp_connection_cache_destinations", T::list, ""},
  {"smtp_connection_cache_on_demand", T::boolean, "yes"},
  {"smtp_connection_cache_time_limit", T::time, "2s", 1},
  {"smtp_connection_reuse_count_limit", T::integer, "0", 0},
  {"smtp_connection_reuse_time_limit", T::time, "300s", 1},
  {"smtp_data_done_timeout", T::time, "600s", 1},
  {"smtp_data_init_timeout", T::time, "120s", 1},
  {"smtp_data_xfer_timeout", T::time, "180s", 1},
  {"smtp_defer_if_no_mx_address_found", T::boolean, "no"},
  {"smtp_destination_concurrency_failed_cohort_limit", T::integer, "$default_destination_concurrency_failed_cohort_limit", 0},
  {"smtp_destination_concurrency_limit", T::integer, "$default_destination_concurrency_limit", 0},
  // ringrelay: per-destination concurrency limits, "destination limit" lines (texthash files),
  // the destination written as in the log (example.com, [mx.example.com]:2525).
  {"smtp_destination_concurrency_maps", T::list, ""},
  {"smtp_destination_concurrency_negative_feedback", T::feedback, "$default_destination_concurrency_negative_feedback"},
  {"smtp_destination_concurrency_positive_feedback", T::feedback, "$default_destination_concurrency_positive_feedback"},
  {"smtp_destination_connection_rate", T::rate, "$default_destination_connection_rate"},
  {"smtp_destination_message_rate", T::rate, "$default_destination_message_rate"},
  {"smtp_destination_rate_delay", T::time, "$default_destination_rate_delay", 0},
  // ringrelay: per-site rates, "site messages=N/unit connections=N/unit" lines (texthash files).
  {"smtp_destination_rate_maps", T::list, ""},
  {"smtp_destination_recipient_limit", T::integer, "$default_destination_recipient_limit", 0},
  {"smtp_discard_ehlo_keyword_address_maps", T::list, ""},
  {"smtp_discard_ehlo_keywords", T::list, ""},
  {"smtp_dns_resolver_options", T::list, ""},
  {"smtp_dns_support_level", T::choice, "", 0, 's', "enabled disabled dnssec"},
  {"smtp_enforce_tls", T::boolean, "no"},
  {"smtp_fallback_relay", T::list, "$fallback_relay"},
  {"smtp_generic_maps", T::list, ""},
  {"smtp_header_checks", T::list, ""},
  {"smtp_helo_name", T::text, "$myhostname"},
  {"smtp_helo_timeout", T::time, "300s", 1},
  {"smtp_host_lookup", T::choices, "dns", 0, 's', "dns native"},
  {"smtp_initial_destination_concurrency", T::integer, "$initial_destination_concurrency", 1},
  {"smtp_line_length_limit", T::integer, "998", 0},
  {"smtp_mail_timeout", T::time, "300s", 1},
  {"smtp_mime_header_checks", T::list, ""},
  {"smtp_min_data_rate", T::integer, "500", 1},
  {"smtp_mx_address_limit", T::integer, "5", 0},
  {"smtp_mx_session_limit", T::integer, "2", 0},
  {"smtp_nested_header_checks", T::list, ""},
  {"smtp_never_send_ehlo", T::boolean, "no"},
  {"smtp_per_record_deadline", T::boolean, "no"},
  {"smtp_per_request_deadline", T::boolean, "no"},
  {"smtp_pix_workaround_delay_time", T::time, "10s", 1},
  {"smtp_pix_workaround_maps", T::list, ""},
  {"smtp_pix_workaround_threshold_time", T::time, "500s", 1},
  {"smtp_pix_workarounds", T::list, "disable_esmtp, delay_dotcrlf"},
  {"smtp_quit_timeout", T::time, "300s", 1},
  {"smtp_quote_rfc821_envelope", T::boolean, "yes"},
  {"smtp_randomize_addresses", T::boolean, "yes"},
  {"smtp_rcpt_timeout", T::time, "300s", 1},
  {"smtp_reply_filter", T::list, ""},
  {"smtp_rset_timeout", T::time, "20s", 1},
  {"smtp_sasl_auth_cache_name", T::text, ""},
  {"smtp_sasl_auth_cache_time", T::time, "90d", 0, 'd'},
  {"smtp_sasl_auth_enable", T::boolean, "no"},
  {"smtp_sasl_auth_soft_bounce", T::boolean, "yes"},
  {"smtp_sasl_mechanism_filter", T::list, ""},
  {"smtp_sasl_password_maps", T::list, ""},
  {"smtp_sasl_password_result_delimiter", T::text, ":"},
  {"smtp_sasl_path", T::text, ""},
  {"smtp_sasl_security_options", T::choices, "noplaintext, noanonymous", 0, 's',
   "noplaintext noactive nodictionary noanonymous mutual_auth"},
  {"smtp_sasl_tls_security_options", T::choices, "$smtp_sasl_security_options", 0, 's',
   "noplaintext noactive nodictionary noanonymous mutual_auth"},
  {"smtp_sasl_tls_verified_security_options", T::choices, "$smtp_sasl_tls_security_options", 0,
   's', "noplaintext noactive nodictionary noanonymous mutual_auth"},
  {"smtp_sasl_type", T::choice, "cyrus", 0, 's', "cyrus"},
  {"smtp_send_dummy_mail_auth", T::boolean, "no"},
  {"smtp_send_xforward_command", T::boolean, "no"},
  {"smtp_sender_dependent_authentication", T::boolean, "no"},
  {"smtp_skip_5xx_greeting", T::boolean, "yes"},
  {"smtp_skip_quit_response", T::boolean, "yes"},
  {"smtp_starttls_timeout", T::time, "300s", 1},
  {"smtp_tcp_port", T::text, "smtp"},
  {"smtp_tls_CAfile", T::text, ""},
  {"smtp_tls_CApath", T::text, ""},
  {"smtp_tls_block_early_mail_reply", T::boolean, "no"},
  // ringrelay: how long a server whose TLS handshake failed at level "may" gets plaintext.
  {"smtp_tls_broken_peer_time", T::time, "3600s", 0},
  {"smtp_tls_cert_file", T::text, ""},
  {"smtp_tls_chain_files", T::list, ""},
  {"smtp_tls_ciphers", T::choice, "medium", 0, 's', "export low medium high null"},
  // ringrelay: TLS connections are cached in the process (Postfix needs tlsproxy for it, hence no).
  {"smtp_tls_connection_reuse", T::boolean, "yes"},
  {"smtp_tls_dane_insecure_mx_policy", T::choice, "dane", 0, 's', "may encrypt dane"},
  {"smtp_tls_dcert_file", T::text, ""},
  {"smtp_tls_dkey_file", T::text, "$smtp_tls_dcert_file"},
  {"smtp_tls_eccert_file", T::text, ""},
  {"smtp_tls_eckey_file", T::text, "$smtp_tls_eccert_file"},
  {"smtp_tls_enforce_peername", T::boolean, "yes"},
  {"smtp_tls_exclude_ciphers", T::list, ""},
  {"smtp_tls_fingerprint_cert_match", T::list, ""},
  {"smtp_tls_fingerprint_digest", T::choice, "sha256", 0, 's', "md5 sha1 sha256 sha512"},
  {"smtp_tls_force_insecure_host_tlsa_lookup", T::boolean, "no"},
  {"smtp_tls_key_file", T::text, "$smtp_tls_cert_file"},
  // ringrelay: 1, the summary line of each handshake (Postfix: 0). Levels 2 to 4 log as 1.
  {"smtp_tls_loglevel", T::integer, "1", 0},
  {"smtp_tls_mandatory_ciphers", T::choice, "medium", 0, 's', "export low medium high null"},
  {"smtp_tls_mandatory_exclude_ciphers", T::list, ""},
  {"smtp_tls_mandatory_protocols", T::list, ">=TLSv1"},
  {"smtp_tls_note_starttls_offer", T::boolean, "no"},
  {"smtp_tls_per_site", T::list, ""},
  {"smtp_tls_policy_maps", T::list, ""},
  {"smtp_tls_protocols", T::list, ">=TLSv1"},
  {"smtp_tls_scert_verifydepth", T::integer, "9", 1},
  {"smtp_tls_secure_cert_match", T::list, "nexthop, dot-nexthop"},
  // Postfix's own default is empty ("none" unless smtp_use_tls); DESIGN.md chose opportunistic TLS.
  // Empty, as in Postfix: the legacy smtp_use_tls/smtp_enforce_tls decide (tls_settings.cc).
  {"smtp_tls_security_level", T::choice, "may", 0, 's',
   "(empty) none may encrypt dane dane-only fingerprint verify secure"},
  {"smtp_tls_servername", T::text, ""},
  {"smtp_tls_session_cache_database", T::text, ""},
  {"smtp_tls_session_cache_timeout", T::time, "3600s", 0},
  {"smtp_tls_trust_anchor_file", T::list, ""},
  {"smtp_tls_verify_cert_match", T::list, "hostname"},
  {"smtp_tls_wrappermode", T::boolean, "no"},
  // ringrelay: use BDAT (RFC 3030) when the server offers CHUNKING.
  {"smtp_use_chunking", T::boolean, "yes"},
  {"smtp_use_tls", T::boolean, "no"},
  {"smtp_xforward_timeout", T::time, "300s", 1},
  {"smtputf8_enable", T::boolean, "yes"},
  // ringrelay: the program name in delivery log lines ("ringrelay/smtp[pid]"); Postfix's is "postfix".
  // ringrelay: the directories that bodies given by path must resolve beneath.
  {"spool_directories", T::list, "/var/spool/ringrelay"},
  {"syslog_facility", T::text, "mail"},
  {"syslog_name", T::text, "ringrelay"},
  {"tls_append_default_CA", T::boolean, "no"},
  {"transport_maps", T::list, ""},
});
// clang-format on

}  // namespace

std::span<const ParameterSpec> known_parameters() {
  return kParameters;
}

const ParameterSpec* find_parameter(std::string_view name) {
  auto it = std::lower_bound(kParameters.begin(), kParameters.end(), name,
                             [](const ParameterSpec& p, std::string_view n) { return p.name < n; });
  return it != kParameters.end() && it->name == name ? &*it : nullptr;
}

}  // namespace ringrelay::engine
