// The delivery core's I/O seam: what the scheduler needs of one outbound connection, and of the
// network that opens them. Production uses SmtpConnection on the shard's ring (RingNetwork); the
// deterministic simulator (tests/sim) gives the same interfaces a fake network in virtual time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "engine/delivery/auth_plan.hh"
#include "engine/runtime/address.hh"
#include "engine/runtime/timers.hh"
#include "proto/client_session.hh"
#include "tls/peer_check.hh"
#include "tls/session_store.hh"

namespace ringrelay::engine {

class Connection;

class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  virtual void on_result(Connection& c, const proto::RecipientResult& result) = 0;
  virtual void on_transaction_done(Connection& c, const proto::TransactionDone& done) = 0;
  virtual void on_notice(Connection& c, const std::string& text) = 0;
  virtual void on_idle(Connection& c) = 0;
  // Nothing is in flight any more: the listener may destroy the connection (after returning).
  virtual void on_closed(Connection& c) = 0;
};

struct ConnectOptions {
  std::chrono::seconds connect_timeout{30};
  std::optional<ServerAddress> source;   // smtp_bind_address (IPv4 connections)
  std::optional<ServerAddress> source6;  // smtp_bind_address6 (IPv6 connections)
  // smtp_bind_address_enforce: a source address that cannot be bound fails the connection (yes)
  // or is logged and left to the kernel (no, Postfix's default).
  bool bind_enforce = false;
};

// What TLS a connection uses; the TLS planner fills it in from the next hop's policy.
struct TlsPlan {
  const tls::Context* context = nullptr;  // the shard's client context; null: never STARTTLS
  tls::SessionStore* sessions = nullptr;  // the shard's sessions to resume
  tls::Policy policy;                     // level none: never STARTTLS
  tls::PeerNames names;                   // next hop and the server's host name
  std::string digest = "sha256";          // smtp_tls_fingerprint_digest
  bool plaintext = false;            // "may" to a peer remembered as broken: no STARTTLS this time
  int loglevel = 1;                  // smtp_tls_loglevel: 0 logs failed checks only
  bool note_starttls_offer = false;  // smtp_tls_note_starttls_offer: log an unused STARTTLS
  // dane/dane-only: not empty, the server must not be used (defer with 4.7.5 and these words);
  // `downgrade` says why the level is not DANE authentication ("no TLSA records found").
  std::string refusal;
  std::string downgrade;
  tls::SecurityLevel configured_level = tls::SecurityLevel::none;  // the next hop's, before DANE
};

// The TLS a connection ended up with, for results and logs (empty protocol: plaintext).
struct TlsOutcome {
  std::string protocol;  // "TLSv1.3"
  std::string cipher;    // "TLS_AES_128_GCM_SHA256"
  std::string trust;     // "Verified", "Trusted", "Untrusted", "Anonymous"
  bool resumed = false;  // an abbreviated handshake (session resumption)
  // The TLS policy outcome (Postfix 3.11's tls= status idea): the level configured for the next
  // hop, the level that applied at this server, how the server was authenticated ("dane",
  // "trust-anchor", "ca", "fingerprint" or "none") and why a dane level fell back.
  std::string configured_level, level, authentication = "none", downgrade;
};

class Connection {
 public:
  virtual ~Connection() = default;

  virtual void start() = 0;
  // Hands the session a transaction (before or after the handshake).
  virtual void deliver(const proto::Message& message, bool final_server) = 0;
  // Politely ends an idle connection; forcibly ends any other.
  virtual void quit() = 0;
  // Ends the connection for a reason of ringrelay's own (shutdown): pending recipients are deferred
  // saying so, and the destination gets no negative feedback.
  virtual void cut_off(const std::string& why) = 0;

  virtual const ServerAddress& server() const = 0;
  // Transactions completed on this connection before the current one (Postfix's conn_use - 1).
  virtual std::size_t reuse_count() const = 0;
  virtual Clock::time_point created() const = 0;
  virtual Clock::time_point connected_at() const = 0;  // {} when it never connected
  virtual Clock::time_point handshake_done_at() const = 0;
  // When steps of the set-up ended, for the metrics' phase histograms ({}: not reached, or not
  // known to this kind of connection).
  struct SetupTimes {
    Clock::time_point greeting, tls_started, tls_done;
  };
  virtual SetupTimes setup_times() const { return {}; }
  virtual std::string close_reason() const = 0;
  // What the connection was opened under and showed: decides which requests it may serve.
  virtual const tls::Established& established() const = 0;
  virtual const TlsOutcome& tls_outcome() const = 0;
  // The TLS handshake failed at a level that allows plaintext ("may"): retry without STARTTLS.
  virtual bool tls_failed_opportunistically() const = 0;
  // The server refused a further transaction after this many on the connection, worded as a
  // per-connection message limit (OpenSMTPD's "452 4.5.3 ... Too many messages sent"); 0: it did
  // not. Such a connection is closing; its recipients are retried on a fresh one.
  virtual std::size_t refused_after() const = 0;
  // The server refused recipients of the current transaction after accepting this many in it (a
  // per-transaction recipient limit); 0: it did not.
  virtual std::size_t recipients_refused_after() const = 0;
  // The egress source's address could not be bound ("192.0.2.10: Cannot assign requested
  // address"): the connection never left this host; empty otherwise.
  virtual const std::string& bind_failure() const = 0;
};

// Opens connections: the shard's ring in production, a fake network in the simulator.
class Network {
 public:
  virtual ~Network() = default;
  virtual std::unique_ptr<Connection> open(ConnectionListener& listener, ServerAddress server,
                                           proto::SessionSettings settings, ConnectOptions options,
                                           TlsPlan tls, AuthPlan auth) = 0;
};

}  // namespace ringrelay::engine
