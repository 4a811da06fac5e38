// The TLS side of delivery decisions (Postfix's smtp_tls_policy): the policy of a next hop, the
// names its servers are checked against, the plan a new connection gets, whether a cached
// connection may serve a next hop, the shard's client context (remade when a reload changes its
// files), and the bounded memory of servers whose "may" handshake failed. It opens nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "dns/nexthop.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/connection.hh"
#include "tls/context.hh"
#include "tls/session_store.hh"

namespace ringrelay::engine {

class TlsPlanner {
 public:
  // `settings` may change under it (a reload); `notice` logs (may be empty).
  TlsPlanner(const EngineSettings& settings, Timers& timers,
             const std::function<void(const std::string&)>& notice);
  ~TlsPlanner();

  const tls::Policy& policy(const dns::Nexthop& hop) const;
  // The policy at one server: the next hop's, with dane and dane-only decided by what DNSSEC
  // said of the server (tls::apply_dane); `decision` (may be null) gets why it fell back or why
  // the server must not be used.
  tls::Policy policy_at(const dns::Nexthop& hop, const ServerAddress& server,
                        tls::DaneDecision* decision = nullptr) const;
  tls::PeerNames peer_names(const dns::Nexthop& hop, const ServerAddress& server) const;
  // For a new connection; `plaintext`: a retry after a failed "may" handshake.
  TlsPlan plan(const dns::Nexthop& hop, const ServerAddress& server, bool plaintext);
  // Whether a connection opened under some policy satisfies `hop`'s, checked against `names`.
  // `resolved`: the connection's server as `hop`'s own lookup found it (its DNSSEC facts decide
  // dane levels; null when that lookup did not list the server).
  bool serves(const Connection& c, const dns::Nexthop& hop, const tls::PeerNames& names,
              const ServerAddress* resolved) const;
  // The TLS outcome of a reused connection as `hop`'s policy judges it (trust word, levels,
  // authentication); empty protocol for plaintext.
  TlsOutcome reused_outcome(const Connection& c, const dns::Nexthop& hop,
                            const tls::PeerNames& names, const ServerAddress* resolved) const;
  // A "may" handshake with this server failed: plaintext for smtp_tls_broken_peer_time.
  void remember_broken(const Connection& c);
  // Forgets expired broken-peer entries (called now and then; lookups also expire them).
  void prune();
  std::size_t broken_peers() const { return broken_peers_.size(); }

  // At most this many broken servers are remembered; beyond it the oldest-expiring ones go.
  static constexpr std::size_t kBrokenPeerLimit = 10000;

 private:
  bool broken(const ServerAddress& server);
  void refresh_context();  // made when first needed, remade after each reload

  const EngineSettings& settings_;
  Timers& timers_;
  const std::function<void(const std::string&)>& notice_;
  std::unique_ptr<tls::Context> context_;
  tls::ContextSettings context_settings_;
  std::uint64_t context_generation_ = 0;  // the settings' reload count it was made for
  tls::SessionStore sessions_;
  std::unordered_map<std::string, Clock::time_point> broken_peers_;  // "address:port" → until
};

}  // namespace ringrelay::engine
