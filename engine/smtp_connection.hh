// One outbound SMTP/LMTP connection on a shard: connects (with smtp_connect_timeout and an optional
// source address), then pumps bytes between the socket and its proto::ClientSession, carrying out
// the session's actions. It reports results, idleness and its end to a listener (the scheduler).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/address.hh"
#include "engine/ring.hh"
#include "engine/timers.hh"
#include "proto/client_session.hh"
#include "tls/channel.hh"
#include "tls/peer_check.hh"
#include "tls/session_store.hh"

namespace ringrelay::engine {

class SmtpConnection;

class ConnectionListener {
 public:
  virtual ~ConnectionListener() = default;
  virtual void on_result(SmtpConnection& c, const proto::RecipientResult& result) = 0;
  virtual void on_transaction_done(SmtpConnection& c, const proto::TransactionDone& done) = 0;
  virtual void on_notice(SmtpConnection& c, const std::string& text) = 0;
  virtual void on_idle(SmtpConnection& c) = 0;
  // Nothing is in flight any more: the listener may destroy the connection (after returning).
  virtual void on_closed(SmtpConnection& c) = 0;
};

struct ConnectOptions {
  std::chrono::seconds connect_timeout{30};
  std::optional<ServerAddress> source;   // smtp_bind_address (IPv4 connections)
  std::optional<ServerAddress> source6;  // smtp_bind_address6 (IPv6 connections)
};

// What TLS a connection uses; the scheduler fills it in from the next hop's policy.
struct TlsPlan {
  const tls::Context* context = nullptr;  // the shard's client context; null: never STARTTLS
  tls::SessionStore* sessions = nullptr;  // the shard's sessions to resume
  tls::Policy policy;                     // level none: never STARTTLS
  tls::PeerNames names;                   // next hop and the server's host name
  std::string digest = "sha256";          // smtp_tls_fingerprint_digest
  bool plaintext = false;  // "may" to a peer remembered as broken: no STARTTLS this time
};

// The TLS a connection ended up with, for results and logs (empty protocol: plaintext).
struct TlsOutcome {
  std::string protocol;  // "TLSv1.3"
  std::string cipher;    // "TLS_AES_128_GCM_SHA256"
  std::string trust;     // "Verified", "Trusted", "Untrusted", "Anonymous"
  bool resumed = false;  // an abbreviated handshake (session resumption)
};

class SmtpConnection {
 public:
  SmtpConnection(Ring& ring, Timers& timers, ConnectionListener& listener, ServerAddress server,
                 proto::SessionSettings settings, ConnectOptions options, TlsPlan tls = {});
  ~SmtpConnection();
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;

  void start();
  // Hands the session a transaction (before or after the handshake).
  void deliver(const proto::Message& message, bool final_server);
  // Politely ends an idle connection; forcibly ends any other.
  void quit();
  // Ends the connection after an I/O failure (`why`); pending recipients get the peer's trouble.
  void abort(const std::string& why);
  // Ends the connection for a reason of ringrelay's own (shutdown): pending recipients are deferred
  // saying so, and the destination gets no negative feedback.
  void cut_off(const std::string& why);

  proto::ClientSession& session() { return session_; }
  const ServerAddress& server() const { return server_; }
  bool closed() const { return state_ == State::closed; }
  // Transactions completed on this connection before the current one (Postfix's conn_use - 1).
  std::size_t reuse_count() const { return session_.transactions_done(); }
  Clock::time_point created() const { return created_; }
  Clock::time_point connected_at() const { return connected_at_; }
  Clock::time_point handshake_done_at() const { return handshake_done_at_; }
  std::string close_reason() const { return close_reason_; }
  // What the connection was opened under and showed: decides which requests it may serve.
  const tls::Established& established() const { return established_; }
  const TlsOutcome& tls_outcome() const { return tls_outcome_; }
  // The TLS handshake failed at a level that allows plaintext ("may"): retry without STARTTLS.
  bool tls_failed_opportunistically() const { return tls_failed_opportunistically_; }

  // Connections put to rest in the cache keep a receive armed: a server that closes one is seen.
  void set_listener(ConnectionListener& listener) { listener_ = &listener; }

 private:
  enum class State { created, connecting, open, closing, closed };
  struct Op : Completion {
    SmtpConnection* owner = nullptr;
    bool in_flight = false;
  };

  static void on_connect_complete(Completion& c, int result, std::uint32_t flags);
  static void on_recv_complete(Completion& c, int result, std::uint32_t flags);
  static void on_send_complete(Completion& c, int result, std::uint32_t flags);

  void fail_connect(int error);
  void receive(std::string_view bytes);
  void start_tls();
  void continue_handshake();
  void finish_handshake();
  void tls_failed(const std::string& reason);
  void read_plaintext();
  void send_encrypted();
  bool encrypt_queued();  // false when the channel refused to encrypt
  bool output_pending() const;
  std::string tls_session_key() const;
  void arm_recv();
  void kick_send();
  void run_actions();
  void begin_close();
  void finish_if_quiet();

  Ring& ring_;
  Timers& timers_;
  ConnectionListener* listener_;
  ServerAddress server_;
  ConnectOptions options_;
  TlsPlan tls_;
  proto::ClientSession session_;
  State state_ = State::created;
  int fd_ = -1;
  Op connect_op_, recv_op_, send_op_;
  __kernel_timespec connect_timeout_spec_{};
  std::deque<proto::OutputBatch> send_queue_;
  std::size_t send_offset_ = 0;  // bytes of the front batch already written
  std::vector<iovec> iov_;
  msghdr msg_{};
  bool close_after_send_ = false;
  bool handshake_seen_ = false;
  // TLS after STARTTLS: batches queued before it still go out raw; later ones are encrypted in
  // chunks into tls_out_, which is sent as one buffer.
  std::unique_ptr<tls::Channel> channel_;
  std::size_t raw_batches_ = 0;
  std::string tls_out_;
  std::size_t tls_out_offset_ = 0;
  bool send_was_encrypted_ = false;
  bool session_saved_ = false;
  bool tls_failed_opportunistically_ = false;
  tls::Established established_;
  TlsOutcome tls_outcome_;
  Timer timer_;
  Clock::time_point created_ = Clock::now();
  Clock::time_point connected_at_{};
  Clock::time_point handshake_done_at_{};
  std::string close_reason_;
};

}  // namespace ringrelay::engine
