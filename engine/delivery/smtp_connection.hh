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

#include "engine/delivery/connection.hh"
#include "engine/runtime/address.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"
#include "proto/client_session.hh"
#include "tls/channel.hh"
#include "tls/peer_check.hh"
#include "tls/session_store.hh"

namespace ringrelay::engine {

class SmtpConnection final : public Connection {
 public:
  SmtpConnection(Ring& ring, Timers& timers, ConnectionListener& listener, ServerAddress server,
                 proto::SessionSettings settings, ConnectOptions options, TlsPlan tls = {},
                 AuthPlan auth = {});
  ~SmtpConnection();
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;

  void start() override;
  // Hands the session a transaction (before or after the handshake).
  void deliver(const proto::Message& message, bool final_server) override;
  // Politely ends an idle connection; forcibly ends any other.
  void quit() override;
  // Ends the connection after an I/O failure (`why`); pending recipients get the peer's trouble.
  void abort(const std::string& why);
  // Ends the connection for a reason of ringrelay's own (shutdown): pending recipients are deferred
  // saying so, and the destination gets no negative feedback.
  void cut_off(const std::string& why) override;

  proto::ClientSession& session() { return session_; }
  const ServerAddress& server() const override { return server_; }
  bool closed() const { return state_ == State::closed; }
  // Transactions completed on this connection before the current one (Postfix's conn_use - 1).
  std::size_t reuse_count() const override { return session_.transactions_done(); }
  Clock::time_point created() const override { return created_; }
  Clock::time_point connected_at() const override { return connected_at_; }
  Clock::time_point handshake_done_at() const override { return handshake_done_at_; }
  SetupTimes setup_times() const override { return setup_times_; }
  std::string close_reason() const override { return close_reason_; }
  // What the connection was opened under and showed: decides which requests it may serve.
  const tls::Established& established() const override { return established_; }
  const TlsOutcome& tls_outcome() const override { return tls_outcome_; }
  // The TLS handshake failed at a level that allows plaintext ("may"): retry without STARTTLS.
  bool tls_failed_opportunistically() const override { return tls_failed_opportunistically_; }
  std::size_t refused_after() const override { return session_.refused_after(); }
  const std::string& bind_failure() const override { return bind_failure_; }
  std::size_t recipients_refused_after() const override {
    return session_.recipients_refused_after();
  }

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
  void arm_session_timer(Clock::duration after);
  void begin_close();
  void finish_if_quiet();

  Ring& ring_;
  Timers& timers_;
  ConnectionListener* listener_;
  ServerAddress server_;
  ConnectOptions options_;
  TlsPlan tls_;
  AuthPlan auth_plan_;
  std::unique_ptr<proto::AuthClient> auth_;  // before session_, which points to it
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
  Clock::time_point created_;
  Clock::time_point connected_at_{};
  Clock::time_point handshake_done_at_{};
  SetupTimes setup_times_;
  std::string close_reason_;
  std::string bind_failure_;  // the source address that could not be bound, and why
  // Passing errors (EINTR, EAGAIN, ENOBUFS) in a row are retried at most kPassingErrorLimit times.
  std::size_t passing_errors_ = 0;
  static constexpr std::size_t kPassingErrorLimit = 1000;
};

// The production network: SmtpConnections on the shard's ring.
class RingNetwork final : public Network {
 public:
  RingNetwork(Ring& ring, Timers& timers) : ring_(ring), timers_(timers) {}
  std::unique_ptr<Connection> open(ConnectionListener& listener, ServerAddress server,
                                   proto::SessionSettings settings, ConnectOptions options,
                                   TlsPlan tls, AuthPlan auth) override {
    return std::make_unique<SmtpConnection>(ring_, timers_, listener, std::move(server),
                                            std::move(settings), std::move(options), std::move(tls),
                                            std::move(auth));
  }

 private:
  Ring& ring_;
  Timers& timers_;
};

}  // namespace ringrelay::engine
