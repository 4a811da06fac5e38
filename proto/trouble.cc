// Verdicts and their words. Postfix semantics (smtp_trouble.c, smtp_proto.c): 4xx defers, 5xx
// bounces; a 5xx greeting counts as 4xx with smtp_skip_5xx_greeting; soft problems let the engine
// try the next server; 421 and I/O trouble end the connection; session-level trouble throttles.
#include "proto/trouble.hh"

#include "proto/ascii.hh"

namespace ringrelay::proto {
namespace {

// Postfix's phrase after "while" in "lost connection with H[A] while ...".
std::string_view stage_phrase(Stage stage) {
  switch (stage) {
    case Stage::connect:
      return "connecting";
    case Stage::greeting:
      return "receiving the initial server greeting";
    case Stage::ehlo:
      return "performing the EHLO handshake";
    case Stage::helo:
      return "performing the HELO handshake";
    case Stage::lhlo:
      return "performing the LHLO handshake";
    case Stage::starttls:
      return "receiving the STARTTLS response";
    case Stage::tls_handshake:
      return "performing the TLS handshake";
    case Stage::auth:
      return "performing the SASL authentication";
    case Stage::xforward:
      return "sending XFORWARD";
    case Stage::mail:
      return "sending MAIL FROM";
    case Stage::rcpt:
      return "sending RCPT TO";
    case Stage::data:
      return "sending DATA command";
    case Stage::body:
      return "sending message body";
    case Stage::end_of_data:
      return "sending end of data -- message may be sent more than once";
    case Stage::rset:
      return "sending final RSET";
    case Stage::quit:
      return "sending QUIT";
  }
  return "talking";
}

// Postfix's "(in reply to ...)" words.
std::string_view stage_command(Stage stage) {
  switch (stage) {
    case Stage::ehlo:
      return "EHLO command";
    case Stage::helo:
      return "HELO command";
    case Stage::lhlo:
      return "LHLO command";
    case Stage::starttls:
      return "STARTTLS command";
    case Stage::auth:
      return "AUTH command";
    case Stage::xforward:
      return "XFORWARD command";
    case Stage::mail:
      return "MAIL FROM command";
    case Stage::rcpt:
      return "RCPT TO command";
    case Stage::data:
      return "DATA command";
    case Stage::body:
      return "BDAT command";
    case Stage::end_of_data:
      return "end of DATA command";
    case Stage::rset:
      return "RSET command";
    case Stage::quit:
      return "QUIT command";
    default:
      return "initial greeting";
  }
}

Verdict session_trouble(std::string dsn, std::string text) {
  Verdict v;
  v.soft = dsn.empty() || dsn[0] != '5';
  v.try_next_server = v.soft;
  v.throttle = true;
  v.dsn = std::move(dsn);
  v.text = std::move(text);
  return v;
}

}  // namespace

std::string_view stage_name(Stage stage) {
  switch (stage) {
    case Stage::connect:
      return "connect";
    case Stage::greeting:
      return "greeting";
    case Stage::ehlo:
      return "ehlo";
    case Stage::helo:
      return "helo";
    case Stage::lhlo:
      return "lhlo";
    case Stage::starttls:
      return "starttls";
    case Stage::tls_handshake:
      return "tls";
    case Stage::auth:
      return "auth";
    case Stage::xforward:
      return "xforward";
    case Stage::mail:
      return "mail";
    case Stage::rcpt:
      return "rcpt";
    case Stage::data:
      return "data";
    case Stage::body:
      return "body";
    case Stage::end_of_data:
      return "end-of-data";
    case Stage::rset:
      return "rset";
    case Stage::quit:
      return "quit";
  }
  return "unknown";
}

std::string_view status_name(DeliveryStatus status) {
  switch (status) {
    case DeliveryStatus::sent:
      return "sent";
    case DeliveryStatus::deferred:
      return "deferred";
    case DeliveryStatus::bounced:
      return "bounced";
    case DeliveryStatus::try_next_server:
      return "try-next-server";
  }
  return "unknown";
}

bool refuses_more_messages(const Reply& reply, std::size_t transactions_done) {
  if (transactions_done == 0 || reply.code / 100 != 4) return false;
  if (reply.code == 421 || reply.code == 452) return true;
  return ascii_lower(reply.text()).find("too many") != std::string::npos;
}

bool refuses_more_recipients(const Reply& reply, std::size_t accepted) {
  if (accepted == 0 || reply.code / 100 != 4) return false;
  if (reply.enhanced == "4.5.3") return true;
  return ascii_lower(reply.text()).find("too many recipients") != std::string::npos;
}

DeliveryStatus status_for(const Verdict& verdict, bool final_server) {
  if (verdict.try_next_server && !final_server) return DeliveryStatus::try_next_server;
  return verdict.soft ? DeliveryStatus::deferred : DeliveryStatus::bounced;
}

Verdict reply_verdict(const Reply& reply, Stage stage, std::string_view peer,
                      bool skip_5xx_greeting, bool auth_soft_bounce) {
  std::string said = reply.text();
  std::string dsn = reply.enhanced;
  Verdict v;
  v.reply_code = reply.code;
  switch (stage) {
    case Stage::greeting:
      // With smtp_skip_5xx_greeting a 5xx greeting means "try elsewhere, later", not a bounce.
      if (skip_5xx_greeting && !dsn.empty() && dsn[0] == '5') dsn[0] = '4';
      v = session_trouble(dsn, "host " + std::string(peer) + " refused to talk to me: " + said);
      break;
    case Stage::ehlo:
    case Stage::helo:
    case Stage::lhlo:
    case Stage::starttls:
    case Stage::quit:
      v = session_trouble(dsn, "host " + std::string(peer) + " said: " + said + " (in reply to " +
                                   std::string(stage_command(stage)) + ")");
      break;
    case Stage::auth:
      if (auth_soft_bounce && !dsn.empty() && dsn[0] == '5') dsn[0] = '4';
      v = session_trouble(
          dsn, "SASL authentication failed; server " + std::string(peer) + " said: " + said);
      v.throttle = false;
      break;
    case Stage::rcpt:
      [[fallthrough]];
    default:
      v.soft = dsn.empty() || dsn[0] != '5';
      v.try_next_server = v.soft;
      v.throttle = false;
      v.dsn = dsn;
      v.text = "host " + std::string(peer) + " said: " + said + " (in reply to " +
               std::string(stage_command(stage)) + ")";
      break;
  }
  v.reply_code = reply.code;
  v.reply = said;
  // 421: the server is closing the connection, whatever the command was.
  if (reply.code == 421) {
    v.throttle = true;
  }
  return v;
}

Verdict io_verdict(IoProblem problem, Stage stage, std::string_view peer, std::string_view detail) {
  std::string text;
  switch (problem) {
    case IoProblem::lost_connection:
      text = "lost connection with " + std::string(peer) + " while " +
             std::string(stage_phrase(stage));
      break;
    case IoProblem::timed_out:
      text = "conversation with " + std::string(peer) + " timed out while " +
             std::string(stage_phrase(stage));
      break;
    case IoProblem::malformed_reply:
      text = "host " + std::string(peer) + " sent a malformed reply while " +
             std::string(stage_phrase(stage)) + ": \"" + std::string(detail) + "\"";
      break;
    case IoProblem::cut_off_locally:
      text = "conversation with " + std::string(peer) + " cut off by ringrelay (" +
             std::string(detail) + ") while " + std::string(stage_phrase(stage));
      break;
  }
  Verdict v =
      session_trouble(problem == IoProblem::malformed_reply ? "4.5.0" : "4.4.2", std::move(text));
  if (problem == IoProblem::cut_off_locally) v.throttle = false;  // not the destination's doing
  if (stage == Stage::end_of_data) {
    v.ambiguous = true;
    v.try_next_server = false;
  }
  return v;
}

Verdict connect_verdict(std::string_view peer_with_port, std::string_view reason) {
  return session_trouble("4.4.1",
                         "connect to " + std::string(peer_with_port) + ": " + std::string(reason));
}

Verdict size_exceeded_verdict(std::uint64_t size, std::uint64_t limit, std::string_view peer) {
  Verdict v;
  v.soft = false;
  v.try_next_server = false;
  v.dsn = "5.3.4";
  v.text = "message size " + std::to_string(size) + " exceeds size limit " + std::to_string(limit) +
           " of server " + std::string(peer);
  return v;
}

Verdict smtputf8_not_offered_verdict(std::string_view peer) {
  // Postfix 3.10: hard, but try the other servers first; this connection does not suit the message.
  Verdict v;
  v.soft = false;
  v.try_next_server = true;
  v.dsn = "5.6.7";
  v.text =
      "message requires SMTPUTF8, but no server was found that supports SMTPUTF8. The last "
      "attempted server was " +
      std::string(peer);
  return v;
}

Verdict tls_not_offered_verdict(std::string_view peer) {
  return session_trouble("4.7.4",
                         "TLS is required, but was not offered by host " + std::string(peer));
}

Verdict tls_refused_verdict(const Reply& reply, std::string_view peer) {
  Verdict v = session_trouble(reply.enhanced, "TLS is required, but host " + std::string(peer) +
                                                  " refused to start TLS: " + reply.text());
  v.reply_code = reply.code;
  v.reply = reply.text();
  return v;
}

Verdict tls_handshake_verdict(std::string_view peer, std::string_view reason, bool required) {
  Verdict v =
      session_trouble("4.7.5", "Cannot start TLS: handshake failure with " + std::string(peer) +
                                   (reason.empty() ? "" : ": " + std::string(reason)));
  // Opportunistic TLS that fails must not starve the destination (Postfix does not throttle).
  v.throttle = required;
  return v;
}

Verdict tls_peer_verdict(std::string_view failure) {
  return session_trouble("4.7.5", std::string(failure));
}

Verdict mime_verdict(std::string_view error) {
  Verdict v;
  v.soft = false;
  v.try_next_server = false;
  v.dsn = "5.6.0";
  v.text = std::string(error);
  return v;
}

// Authentication failures are not the site's fault as a whole (with sender-dependent
// credentials other logins to the same server work), so unlike Postfix they give no negative
// feedback; the auth-failure cache keeps a wrong password from hammering the server instead.
namespace {
Verdict auth_trouble(std::string dsn, std::string text) {
  Verdict v = session_trouble(std::move(dsn), std::move(text));
  v.throttle = false;
  return v;
}
}  // namespace

Verdict auth_unavailable_verdict(std::string_view peer, std::string_view reason) {
  return auth_trouble("4.7.0", "SASL authentication failed; cannot authenticate to server " +
                                   std::string(peer) + ": " + std::string(reason));
}

Verdict auth_no_mechanism_verdict(std::string_view peer) {
  return auth_trouble("4.7.0", "SASL authentication failed: server " + std::string(peer) +
                                   " offered no compatible authentication mechanisms for this "
                                   "type of connection security");
}

Verdict auth_remembered_verdict(std::string_view peer, std::string_view dsn, std::string_view said,
                                bool auth_soft_bounce) {
  std::string code(dsn.empty() ? "5.7.8" : dsn);
  if (auth_soft_bounce && code[0] == '5') code[0] = '4';
  Verdict v = auth_trouble(code, "SASL [CACHED] authentication failed; server " +
                                     std::string(peer) + " said: " + std::string(said));
  v.reply = std::string(said);
  return v;
}

Verdict auth_loop_verdict(std::string_view peer) {
  return auth_trouble("4.3.0",
                      "SASL authentication failed; authentication protocol loop with "
                      "server " +
                          std::string(peer));
}

Verdict auth_initial_challenge_verdict(std::string_view peer, std::string_view mechanism,
                                       std::string_view challenge) {
  return auth_trouble("4.7.0", "SASL authentication failed; non-empty initial " +
                                   std::string(mechanism) + " challenge from server " +
                                   std::string(peer) + ": " + std::string(challenge));
}

}  // namespace ringrelay::proto
