// The TLS part of the engine's settings: main.cf's defaults, the policy of each next hop
// (smtp_tls_policy_maps), what every shard's client context loads, and the session and
// broken-peer memories. Read once by engine_settings(); policy_for() is the one lookup.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "dns/nexthop.hh"
#include "engine/config/config.hh"
#include "tls/context.hh"
#include "tls/dane_policy.hh"
#include "tls/policy.hh"

namespace ringrelay::engine {

struct TlsSettings {
  tls::PolicyDefaults defaults;
  tls::Policy default_policy;  // smtp_tls_security_level with main.cf's settings for it
  tls::Policy lmtp_policy;     // lmtp_tls_security_level (none by default)
  // smtp_tls_policy_maps: next hop ("example.com", ".example.com", "[mx.example.com]:587").
  std::map<std::string, tls::Policy, std::less<>> policy_map;
  tls::ContextSettings context;
  std::string fingerprint_digest = "sha256";         // smtp_tls_fingerprint_digest
  std::chrono::seconds session_cache_timeout{3600};  // smtp_tls_session_cache_timeout
  std::size_t session_cache_limit = 10000;           // per shard
  std::chrono::seconds broken_peer_time{3600};       // smtp_tls_broken_peer_time (ringrelay)
  int loglevel = 1;              // smtp_tls_loglevel: 0 logs failures only, 1+ each handshake too
  bool connection_reuse = true;  // smtp_tls_connection_reuse: no: a TLS connection carries one job
  bool note_starttls_offer = false;                                 // smtp_tls_note_starttls_offer
  tls::InsecureMxPolicy insecure_mx = tls::InsecureMxPolicy::dane;  // ..._dane_insecure_mx_policy
  // Why dane/dane-only cannot work with this configuration, in Postfix's words after "dane
  // configured" ("with dnssec lookups disabled"); empty when DANE can work. Set with the DNS
  // settings.
  std::string dane_config_problem;
  // True when some policy is dane or dane-only: next hops are then resolved with TLSA records.
  bool any_dane() const;
  std::vector<std::string> notices;  // said at start and reload

  // The policy for a next hop: its policy map entry (exact, then parent domains as
  // ".example.com"), else main.cf's level.
  const tls::Policy& policy_for(const dns::Nexthop& hop) const;
  // True when some policy may use TLS (then each shard loads a client context at start).
  bool any_tls() const;
};

// Throws ConfigError naming the parameter or the policy table line at fault, and tls::ContextError
// (as ConfigError) when a certificate, key or CA file cannot be loaded.
TlsSettings tls_settings(const Config& config);

}  // namespace ringrelay::engine
