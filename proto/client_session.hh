// The SMTP/LMTP client protocol as a sans-IO state machine: events in (connected, bytes received,
// bytes written, TLS ready, timer fired, connection lost), actions out (write, start TLS, arm
// timer, recipient result, transaction done, idle, close). No sockets, no clock, no globals: the
// engine drives it, and so do the golden-transcript tests and the fuzzers.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "proto/auth.hh"
#include "proto/body_encoder.hh"
#include "proto/capabilities.hh"
#include "proto/message.hh"
#include "proto/output_batch.hh"
#include "proto/reply_parser.hh"
#include "proto/session_settings.hh"
#include "proto/trouble.hh"

namespace ringrelay::proto {

// Actions, in the order the engine must carry them out.
struct WriteAction {
  OutputBatch bytes;
};
struct StartTlsAction {};  // plaintext is done: wrap the connection in TLS, then call on_tls_ready
struct ArmTimerAction {    // replaces any timer armed before
  TimerName timer;
  std::int64_t seconds;
};
struct ExtendTimerAction {  // moves the armed timer's deadline later (per-request deadlines)
  std::int64_t microseconds;
};
struct CancelTimerAction {};
struct RecipientResult {
  std::size_t recipient = 0;  // index into Message::recipients
  DeliveryStatus status = DeliveryStatus::deferred;
  std::string dsn;   // "2.0.0", "5.1.1", ...
  std::string text;  // the server's reply for "sent"; Postfix's words otherwise
  Stage stage = Stage::connect;
  int reply_code = 0;
  std::string reply;               // the server's reply, when the result came from one
  std::size_t connection_use = 1;  // this transaction's number on the connection (Postfix conn_use)
  bool ambiguous = false;  // cut off after end-of-data: the server may have taken it (deferred)
  // For "sent": whether the server offered DSN (then it sends any success notice), and whether
  // this was final delivery (LMTP with lmtp_assume_final): Postfix's "delivered", else "relayed".
  bool server_offered_dsn = false;
  bool final_delivery = false;
};
struct TransactionDone {
  bool delivered_any = false;  // positive feedback for the destination
  bool throttle = false;       // negative feedback: the trouble was the server's, not the message's
};
struct NoticeAction {  // something for the log that changes no result (e.g. 8-bit headers sent as
                       // is)
  std::string text;
};
struct IdleAction {};  // ready for another transaction: cache it, give it work, or quit()
struct CloseAction {
  std::string reason;
};
using Action =
    std::variant<WriteAction, StartTlsAction, ArmTimerAction, ExtendTimerAction, CancelTimerAction,
                 RecipientResult, TransactionDone, NoticeAction, IdleAction, CloseAction>;

class ClientSession {
 public:
  // `peer` is Postfix's "host[address]" used in every message. `auth` may be null; it must
  // outlive the session.
  ClientSession(SessionSettings settings, std::string peer, AuthClient* auth = nullptr);
  ~ClientSession();
  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // Events from the engine.
  void on_connected();
  // The connection could not be made; `reason` in strerror's words ("Connection refused").
  // `peer_with_port` is "host[address]:port".
  void on_connect_failed(std::string_view peer_with_port, std::string_view reason);
  void on_received(std::string_view bytes);
  void on_written();  // everything written so far has left for the peer
  // `bytes` left for the peer and more are still to go: under per_io deadlines the armed timer
  // starts again; under per_request, message content extends it.
  void on_write_progress(std::size_t bytes);
  const SessionSettings& settings() const { return settings_; }
  // `peer_verified`: the server's certificate matched the policy's names (Postfix's
  // TLS_CERT_IS_MATCHED), which picks smtp_sasl_tls_verified_security_options for AUTH.
  void on_tls_ready(bool peer_verified = false);
  // The handshake failed. At TlsMode::may the recipients come back as try_next_server (the
  // engine retries in plaintext); at required they are deferred.
  void on_tls_failed(std::string_view reason);
  // The handshake finished but the peer failed the policy's check ("Server certificate not
  // verified"): the session ends, its recipients are deferred.
  void on_tls_rejected(std::string_view failure);
  // The TLS policy forbids this server before any connection (DANE: "TLSA lookup error for
  // mx.example.com:25", dane-only and "no TLSA records found"): deferred with 4.7.5, next server.
  void on_tls_refused(std::string_view why);
  void on_timeout();
  void on_connection_lost();
  // ringrelay ends the conversation itself (`why`: "shutting down"): pending recipients are
  // deferred in words that say so, without blaming the peer or throttling the destination.
  void on_cut_off(std::string_view why);

  // Work from the engine. `message` must outlive the transaction (until TransactionDone).
  // Allowed before the handshake ends (the transaction starts when it does) or when idle.
  void start_transaction(const Message& message, bool final_server);
  // Ends an idle session politely (QUIT).
  void quit();

  bool idle() const { return phase_ == Phase::ready && !transaction_; }
  bool closed() const { return phase_ == Phase::closed; }
  bool tls_active() const { return tls_active_; }
  // The greeting, EHLO, STARTTLS and AUTH are behind us (Postfix's "connection set-up" time ends).
  bool handshake_done() const { return handshake_done_; }
  // The server's greeting has come (whatever it said).
  bool greeting_received() const { return greeting_received_; }
  const Capabilities& capabilities() const { return caps_; }
  std::size_t transactions_done() const { return transactions_done_; }
  // The server refused MAIL FROM after this many transactions on this connection, worded as a
  // per-connection message limit (refuses_more_messages); 0 when it did not.
  std::size_t refused_after() const { return refused_after_; }
  // The server refused a recipient of the current (or last) transaction after accepting this many
  // in it, worded as a per-transaction recipient limit (RFC 5321's 452, X.5.3 or "too many
  // recipients"); 0 when it did not. Those recipients are try_next_server even at the last server.
  std::size_t recipients_refused_after() const { return recipients_refused_after_; }

  // The actions produced since the last call.
  std::vector<Action> take_actions();

 private:
  enum class Phase {
    connecting,
    greeting,
    ehlo,
    helo,
    starttls,
    tls_handshake,
    auth,
    ready,
    transaction,
    rset,
    quitting,
    closed,
  };
  struct Transaction;

  void handle_reply(const Reply& reply);
  void handle_handshake_reply(const Reply& reply);
  void begin_auth();
  void handle_auth_reply(const Reply& reply);
  void handle_transaction_reply(const Reply& reply);
  void after_capabilities();
  void send_ehlo();
  void enter_ready();
  void begin_transaction();
  void parse_replies(std::string_view bytes);
  void detect_pix(const Reply& greeting);
  void pump();
  void finish_transaction();
  void maybe_abort();
  void result(std::size_t recipient, DeliveryStatus status, std::string dsn, std::string text,
              Stage stage, int code, std::string reply = {});
  void fail_pending(const Verdict& verdict, Stage stage);
  void fail_session(const Verdict& verdict, Stage stage, bool send_quit);
  Stage waiting_stage() const;
  TimerName waiting_timer() const;
  void arm(TimerName timer);
  void cancel_timer();
  // `shown`: what the transcript logs instead of the bytes (AUTH data), when they are secret.
  void write(std::string bytes, std::optional<std::string> shown = std::nullopt);
  // The transcript's line for a command sent or a reply line read (SessionSettings::transcript).
  void log_sent(std::string_view line);
  void close(std::string reason);

  SessionSettings settings_;
  std::string peer_;
  AuthClient* auth_client_;
  std::string auth_mechanism_;                            // the one AUTH named
  std::size_t auth_steps_ = 0;                            // 3xx challenges answered
  std::optional<std::string> deferred_initial_response_;  // base64, sent after an empty 334
  static constexpr std::size_t kAuthStepLimit = 100;      // Postfix's protocol-loop guard
  ReplyParser parser_;
  Phase phase_ = Phase::connecting;
  Capabilities caps_;
  bool tls_active_ = false;
  bool tls_verified_ = false;
  bool authenticated_ = false;
  bool handshake_done_ = false;
  bool greeting_received_ = false;
  bool pix_disable_esmtp_ = false;  // the greeting was a PIX firewall's (smtp_pix_workarounds)
  bool pix_delay_dotcrlf_ = false;
  std::unique_ptr<Transaction> transaction_;
  std::size_t transactions_done_ = 0;
  std::size_t refused_after_ = 0;
  std::size_t recipients_refused_after_ = 0;
  std::vector<Action> actions_;
  std::optional<TimerName> armed_;  // the timer last armed and not cancelled
  std::uint64_t arms_ = 0;          // timers armed so far
};

}  // namespace ringrelay::proto
