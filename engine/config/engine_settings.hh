// Everything the engine runs with, read once from the configuration into typed fields: the
// per-protocol session settings, connection options, scheduler, cache, feed and log settings.
// The one place that maps parameter names to engine behaviour.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dns/ares_channel.hh"
#include "dns/lookups.hh"
#include "dns/resolver.hh"
#include "engine/config/config.hh"
#include "engine/config/config_values.hh"
#include "engine/config/egress.hh"
#include "engine/config/lookup_table.hh"
#include "engine/config/reply_rules.hh"
#include "engine/config/sasl_settings.hh"
#include "engine/config/tls_settings.hh"
#include "engine/delivery/connection.hh"
#include "engine/delivery/site_pace.hh"
#include "proto/session_settings.hh"

namespace ringrelay::engine {

struct ProtocolSettings {  // smtp_* or lmtp_*
  proto::SessionSettings session;
  ConnectOptions connect;
  std::size_t concurrency_limit = 20;
  std::size_t initial_concurrency = 5;
  // smtp_destination_rate_delay (the pause between the end of one delivery to a site and the
  // start of the next, Postfix's qmgr: one at a time), smtp_destination_message_rate and
  // _connection_rate, and the reply_backoff_* settings of reply_rules.
  PaceSettings pace;
  std::size_t recipient_limit = 50;
  SaslSettings sasl;  // smtp_sasl_* or lmtp_sasl_*
  // smtp_discard_ehlo_keyword_address_maps: a server's address → the EHLO keywords to discard
  // from its reply instead of session.discard_ehlo_keywords.
  std::vector<LookupTable> discard_keyword_address_maps;
  // smtp_pix_workaround_maps: a server's address → its PIX workarounds instead of
  // session.pix_workarounds.
  std::vector<LookupTable> pix_workaround_maps;
};

struct EngineSettings {
  ProtocolSettings smtp, lmtp;
  Feedback positive_feedback, negative_feedback;
  std::size_t failed_cohort_limit = 1;
  bool feedback_debug = false;                      // destination_concurrency_feedback_debug
  std::chrono::seconds dead_destination_time{300};  // minimal_backoff_time
  // smtp_destination_concurrency_maps: destination key → concurrency limit.
  std::map<std::string, std::size_t, std::less<>> concurrency_overrides;
  // smtp_destination_rate_maps: destination key → its own rates (per second; unset: the
  // protocol's).
  struct Rates {
    std::optional<double> messages, connections;
  };
  std::map<std::string, Rates, std::less<>> rate_overrides;
  ReplyRules reply_rules;  // reply_rules
  // reply_rule_maps: a site's own rules (by its name or an MX host), tried before reply_rules.
  std::map<std::string, ReplyRules, std::less<>> site_reply_rules;
  EgressSettings egress;                 // egress_source_maps, egress_pool_maps, ...
  std::vector<std::string> debug_peers;  // debug_peer_list
  // debug_peer_level: 1 logs connection and cache events for those peers, 2 (Postfix's default)
  // and more also the SMTP conversation ("> host: MAIL FROM:<...>", "< host: 250 2.1.0 Ok").
  int debug_peer_level = 2;
  std::size_t mx_session_limit = 2;
  bool ipv4 = true, ipv6 = true;
  // How next hops become addresses (MX plan, loop detection, fallback relays), and the DNS
  // channel and record cache of each shard. The channel's servers and timeouts apply at start.
  dns::ResolverOptions resolver;
  dns::ChannelOptions dns_channel;
  dns::CacheLimits dns_cache;
  // STARTTLS: policies per next hop, the client context's files, resumption, broken peers.
  TlsSettings tls;

  bool cache_on_demand = true;
  std::vector<std::string> cache_destinations;
  std::chrono::seconds cache_time_limit{2};
  std::chrono::seconds reuse_time_limit{300};
  std::size_t reuse_count_limit = 0;

  std::string relayhost;
  std::vector<std::string> transport_maps;
  std::vector<std::string> sender_relayhost_maps;  // sender_dependent_relayhost_maps
  std::string empty_sender_key = "<>";             // empty_address_relayhost_maps_lookup_key

  std::string feed_socket;
  int feed_socket_mode = 0660;
  std::string feed_socket_group;  // empty: the process's group
  std::string control_socket;     // the admin socket (ringrelay ctl); empty: none
  int control_socket_mode = 0600;
  std::string control_socket_group;
  std::string control_state_file;  // the operator's holds, kept across restarts; empty: not kept
  std::vector<unsigned> feed_allowed_users, feed_allowed_groups;  // uids, gids; empty: anyone
  std::string feed_tcp_listen;  // checked: a loopback address and port
  std::string feed_tcp_secret;  // read from feed_tcp_secret_file (required with TCP)
  std::vector<std::string> spool_directories;
  std::uint64_t feed_body_memory_limit = 256ull << 20;
  std::string results_journal;  // directory; empty: no journal
  bool results_journal_sync = true;
  std::uint64_t results_journal_segment_limit = 64ull << 20;  // compaction threshold
  std::chrono::milliseconds results_journal_commit_delay{5};  // between commits, at least
  std::chrono::seconds result_retention_time{3600};
  std::size_t result_retention_limit = 100000;
  std::size_t feed_request_limit = 50000;
  std::size_t shards = 0;  // 0: one per core
  std::size_t shard_session_limit = 10000;
  std::string metrics_listen;           // Prometheus scrape address:port; empty: no endpoint
  std::size_t metrics_site_limit = 50;  // sites with their own gauges; the rest: site="other"
  std::string ringrelay_user;  // serve started as root becomes this user; empty: stays as started

  std::string maillog_file;
  bool json_log = false;
  std::string syslog_name = "ringrelay";
  int syslog_facility = 2 << 3;  // syslog_facility (LOG_MAIL), when maillog_file is empty
  std::string myhostname;
  // Counts reloads: what is loaded from files (the TLS client context: certificates, keys, CAs) is
  // loaded again after each one, even when no path changed (a renewed certificate).
  std::uint64_t generation = 0;
  // Warnings found while reading the settings (a password table others can read, a table read
  // as source text): logged at start and on reload.
  std::vector<std::string> notices;
};

// Throws ConfigError (file, line) for a malformed concurrency map.
EngineSettings engine_settings(const Config& config);

}  // namespace ringrelay::engine
