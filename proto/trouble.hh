// The one place that turns what went wrong (a server reply, a lost connection, a timeout, a
// malformed reply, a local limit) into a verdict: soft or hard, whether another server may do
// better, whether the destination should be throttled, and the words Postfix would log (which
// recipients a verdict covers follows from where the session is). Nothing else in ringrelay turns
// reply codes into policy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/reply.hh"

namespace ringrelay::proto {

// Where in the conversation something happened; each has Postfix's phrase for "while ...".
enum class Stage {
  connect,
  greeting,
  ehlo,
  helo,
  lhlo,
  starttls,
  tls_handshake,
  auth,
  xforward,
  mail,
  rcpt,
  data,
  body,
  end_of_data,
  rset,
  quit,
};

std::string_view stage_name(Stage stage);  // "rcpt", for results and JSON logs

enum class DeliveryStatus {
  sent,
  deferred,
  bounced,
  try_next_server,  // not final: the engine tries the destination's next server
};

std::string_view status_name(DeliveryStatus status);  // "sent", "deferred", "bounced", ...

struct Verdict {
  bool soft = true;             // deferred (retried later) rather than bounced
  bool try_next_server = true;  // another server of the destination may do better
  bool throttle = false;        // negative feedback for the destination's concurrency window
  std::string dsn;              // enhanced status code, "4.4.2"
  std::string text;             // Postfix's words, for results and the log
  int reply_code = 0;           // the server's code, 0 when the verdict is local
  std::string reply;            // the server's reply, one line, when there was one
  // End-of-data was sent and no reply came: the server may have taken the message. Such a
  // verdict is final for this delivery (no next server: that could deliver it twice).
  bool ambiguous = false;
};

// The status one recipient gets from a verdict, on the last server or not.
DeliveryStatus status_for(const Verdict& verdict, bool final_server);

// A non-positive server reply at `stage`. `peer` is Postfix's "host[address]".
Verdict reply_verdict(const Reply& reply, Stage stage, std::string_view peer,
                      bool skip_5xx_greeting, bool auth_soft_bounce);

// A temporary refusal of MAIL FROM on a connection that has already carried `transactions_done`
// transactions, worded as a per-connection limit: OpenSMTPD's "452 4.5.3 Too many recipients: Too
// many messages sent", Exim's "421 ... too many messages in one connection". The message is not at
// fault: it goes to a fresh connection, and the connection count is the server's limit.
bool refuses_more_messages(const Reply& reply, std::size_t transactions_done);
// A temporary refusal of RCPT TO after `accepted` recipients of the same transaction were taken,
// worded as a per-transaction recipient limit (RFC 5321 4.5.3.1.10: 452 with X.5.3 "Too many
// recipients"). The recipient is not at fault: it goes in another transaction, and `accepted` is
// the server's limit. A 452 4.2.2 "mailbox full" is not one.
bool refuses_more_recipients(const Reply& reply, std::size_t accepted);

// cut_off_locally: ringrelay ended the conversation itself (shutdown); `detail` says why. It is not
// the peer's fault, so it is not negative feedback for the destination.
enum class IoProblem { lost_connection, timed_out, malformed_reply, cut_off_locally };
// The connection failed at `stage`; `detail` is the malformed line or the local reason.
Verdict io_verdict(IoProblem problem, Stage stage, std::string_view peer,
                   std::string_view detail = {});

// Failing to connect: `reason` as strerror words ("Connection refused").
Verdict connect_verdict(std::string_view peer_with_port, std::string_view reason);

// Local decisions made before or instead of sending something.
Verdict size_exceeded_verdict(std::uint64_t size, std::uint64_t limit, std::string_view peer);
Verdict smtputf8_not_offered_verdict(std::string_view peer);
Verdict tls_not_offered_verdict(std::string_view peer);
Verdict tls_refused_verdict(const Reply& reply, std::string_view peer);
Verdict tls_handshake_verdict(std::string_view peer, std::string_view reason, bool required);
// The peer failed the level's certificate check: "Server certificate not trusted" (4.7.5).
Verdict tls_peer_verdict(std::string_view failure);
// The message cannot be converted to 7 bits for a server without 8BITMIME (Postfix: 5.6.0).
Verdict mime_verdict(std::string_view error);
// AUTH (Postfix's words, 4.7.0 unless said otherwise; never negative feedback: see trouble.cc).
// Cyrus could not start or continue the exchange ("no mechanism available").
Verdict auth_unavailable_verdict(std::string_view peer, std::string_view reason);
// smtp_sasl_mechanism_filter left none of the offered mechanisms.
Verdict auth_no_mechanism_verdict(std::string_view peer);
// The same credentials failed with this server not long ago (smtp_sasl_auth_cache_name): `dsn`
// and `said` are that 535's, soft-bounced like a live one.
Verdict auth_remembered_verdict(std::string_view peer, std::string_view dsn, std::string_view said,
                                bool auth_soft_bounce);
// More than 100 challenges (4.3.0).
Verdict auth_loop_verdict(std::string_view peer);
// The initial response waited for an empty challenge and the server sent something else.
Verdict auth_initial_challenge_verdict(std::string_view peer, std::string_view mechanism,
                                       std::string_view challenge);

}  // namespace ringrelay::proto
