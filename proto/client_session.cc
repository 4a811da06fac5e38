// The client session: handshake (greeting, EHLO/HELO/LHLO, STARTTLS, AUTH), then transactions run
// as Postfix's smtp_loop does, with two cursors over one command list (what was sent, what was
// answered). Every failure is judged by proto/trouble; this file only applies the verdicts.
#include "proto/client_session.hh"

#include "proto/content_checks.hh"
#include "proto/envelope.hh"

#include <algorithm>
#include <utility>

namespace ringrelay::proto {

std::string timer_parameter(TimerName name, bool lmtp) {
  static constexpr std::string_view kNames[kTimerCount] = {
      "helo",      "starttls",  "mail", "rcpt", "data_init",
      "data_xfer", "data_done", "rset", "quit", "xforward"};
  std::string_view base = kNames[static_cast<std::size_t>(name)];
  if (lmtp && name == TimerName::helo) return "lmtp_lhlo_timeout";
  return std::string(lmtp ? "lmtp_" : "smtp_") + std::string(base) + "_timeout";
}

namespace {

enum class CommandKind { xforward, mail, rcpt, data, end_of_data, bdat };

bool positive(const Reply& r) {
  return r.code >= 200 && r.code < 300;
}

}  // namespace

struct ClientSession::Transaction {
  struct Command {
    CommandKind kind;
    std::size_t recipient = 0;  // rcpt
    bool last = false;          // bdat: BDAT ... LAST
  };

  const Message* message = nullptr;
  bool final_server = true;
  bool started = false;
  bool use_bdat = false;
  bool binary_mime = false;
  bool smtputf8 = false;  // MAIL FROM asked for SMTPUTF8
  std::vector<Command> commands;
  std::vector<std::string> xforward;  // the XFORWARD commands, by Command::recipient
  std::size_t sent = 0;               // commands written
  std::size_t answered = 0;           // commands whose reply was read
  std::vector<bool> has_result;
  std::vector<std::size_t> accepted;  // recipients accepted by RCPT, in order (LMTP replies)
  std::size_t lmtp_replies = 0;       // end-of-data replies read so far (LMTP)
  std::size_t rcpts_answered = 0;
  bool mail_rejected = false;
  bool data_accepted = false;       // DATA got 354: the end of data may (and must) be sent
  bool nothing_to_deliver = false;  // send only "." after 354
  bool failed = false;              // DATA/BDAT/end of data failed: abort with RSET
  bool body_queued = false;         // the end of data (or BDAT LAST) was handed to the engine
  bool body_written = false;        // the engine reported the end of data as written
  bool hold_dot = false;            // PIX delay_dotcrlf: the body goes without its final "."
  bool dot_due = false;             // ... the body was handed over; the "." follows after a delay
  bool dot_waiting = false;         // ... and that delay runs
  bool delivered_any = false;
  bool downgraded = false;                   // the body was converted to 7 bits for this server
  std::string flattened;                     // a multi-span body, joined for the converter
  std::string header_source;                 // a multi-span message, joined for content rules
  OutputBatch rewritten;                     // the message as content rules changed it
  std::optional<std::string> sender;         // the envelope as smtp_generic_maps rewrote it
  std::vector<std::string> recipients;       // (empty: as the message has them)
  std::optional<DowngradeResult> converted;  // owns the converted pieces
  std::vector<std::string_view> body;        // what the encoder reads: the message or `converted`
  std::optional<BodyEncoder> encoder;

  bool aborting() const {
    bool all_rcpts_rejected = rcpts_answered == message->recipients.size() && accepted.empty();
    return mail_rejected || all_rcpts_rejected || failed;
  }
};

ClientSession::ClientSession(SessionSettings settings, std::string peer, AuthClient* auth)
    : settings_(std::move(settings)),
      peer_(std::move(peer)),
      auth_client_(auth),
      parser_(ReplyLimits{}, settings_.reply_filter) {}

ClientSession::~ClientSession() = default;

std::vector<Action> ClientSession::take_actions() {
  return std::exchange(actions_, {});
}

// ---- events ---------------------------------------------------------------------------------

void ClientSession::on_connected() {
  if (phase_ != Phase::connecting) return;
  if (settings_.tls_wrapper) {  // SMTPS: the handshake comes before the greeting
    phase_ = Phase::tls_handshake;
    actions_.emplace_back(StartTlsAction{});
    arm(TimerName::starttls);
    return;
  }
  phase_ = Phase::greeting;
  arm(TimerName::helo);
}

void ClientSession::on_connect_failed(std::string_view peer_with_port, std::string_view reason) {
  if (phase_ != Phase::connecting) return;
  fail_session(connect_verdict(peer_with_port, reason), Stage::connect, false);
}

void ClientSession::on_received(std::string_view bytes) {
  // Bytes that arrive are progress: while a reply is still due, per_io starts the armed timer
  // again (unless what they completed armed one of its own); per_request lets it run on.
  std::uint64_t arms_before = arms_;
  parse_replies(bytes);
  bool reply_due =
      parser_.mid_reply() || (transaction_ && transaction_->answered < transaction_->sent);
  if (settings_.deadline_mode == DeadlineMode::per_io && !bytes.empty() && reply_due && armed_ &&
      arms_ == arms_before && phase_ != Phase::closed) {
    arm(*armed_);
  }
}

void ClientSession::parse_replies(std::string_view bytes) {
  while (!bytes.empty() && phase_ != Phase::closed) {
    Reply reply;
    auto status = parser_.parse(bytes, reply);
    if (status == ReplyParser::Status::need_more) return;
    if (status == ReplyParser::Status::malformed) {
      fail_session(io_verdict(IoProblem::malformed_reply, waiting_stage(), peer_,
                              reply.lines.empty() ? "" : reply.lines.back()),
                   waiting_stage(), false);
      return;
    }
    if (settings_.transcript) {
      for (const std::string& line : reply.lines) {
        actions_.emplace_back(NoticeAction{"< " + peer_ + ": " + line});
      }
    }
    handle_reply(reply);
    // After the 220 to STARTTLS, anything the server sent in plaintext must not be trusted.
    if (phase_ == Phase::tls_handshake) {
      parser_.reset();
      return;
    }
  }
}

void ClientSession::on_written() {
  Transaction* t = transaction_.get();
  if (phase_ != Phase::transaction || t == nullptr || t->body_written) return;
  // PIX delay_dotcrlf: the body has left without its "."; wait, then send the "." alone.
  if (t->dot_due && !t->dot_waiting && !t->body_queued) {
    t->dot_waiting = true;
    armed_.reset();  // no progress restarts this wait
    actions_.emplace_back(ArmTimerAction{TimerName::data_xfer, settings_.pix_delay_seconds});
    return;
  }
  // Once the whole body has left, the wait is for the end-of-data reply (smtp_data_done_timeout).
  if (t->body_queued) {
    t->body_written = true;
    arm(waiting_timer());
  }
}

void ClientSession::on_tls_ready(bool peer_verified) {
  if (phase_ != Phase::tls_handshake) return;
  tls_active_ = true;
  tls_verified_ = peer_verified;
  caps_ = Capabilities{};
  if (settings_.tls_wrapper) {  // the only handshake: the greeting comes next
    phase_ = Phase::greeting;
    arm(TimerName::helo);
    return;
  }
  send_ehlo();
}

void ClientSession::on_tls_failed(std::string_view reason) {
  if (phase_ != Phase::tls_handshake) return;
  // Opportunistic TLS: the engine retries this server in plaintext, so the recipients come back
  // to it (try_next_server) even from the last server of the list.
  if (settings_.tls == TlsMode::may && transaction_) transaction_->final_server = false;
  fail_session(tls_handshake_verdict(peer_, reason, settings_.tls == TlsMode::required),
               Stage::tls_handshake, false);
}

void ClientSession::on_tls_refused(std::string_view why) {
  if (phase_ != Phase::connecting) return;
  fail_session(tls_peer_verdict(why), Stage::connect, false);
}

void ClientSession::on_tls_rejected(std::string_view failure) {
  if (phase_ != Phase::tls_handshake) return;
  fail_session(tls_peer_verdict(failure), Stage::tls_handshake, false);
}

void ClientSession::on_timeout() {
  if (phase_ == Phase::closed || phase_ == Phase::ready || phase_ == Phase::connecting) return;
  if (phase_ == Phase::transaction && transaction_ && transaction_->dot_waiting) {
    transaction_->dot_waiting = false;
    transaction_->body_queued = true;
    OutputBatch dot;
    dot.add_view(BodyEncoder::terminator());
    actions_.emplace_back(WriteAction{std::move(dot)});
    arm(TimerName::data_xfer);
    return;
  }
  if (phase_ == Phase::quitting) {
    close("timed out waiting for the QUIT reply");
    return;
  }
  Stage stage = waiting_stage();
  fail_session(io_verdict(IoProblem::timed_out, stage, peer_), stage, false);
}

void ClientSession::on_connection_lost() {
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::ready || phase_ == Phase::quitting || phase_ == Phase::connecting) {
    close(phase_ == Phase::ready ? "server closed an idle connection" : "connection closed");
    return;
  }
  Stage stage = waiting_stage();
  fail_session(io_verdict(IoProblem::lost_connection, stage, peer_), stage, false);
}

void ClientSession::on_cut_off(std::string_view why) {
  if (phase_ == Phase::closed) return;
  if (phase_ == Phase::ready || phase_ == Phase::quitting || phase_ == Phase::connecting) {
    close(std::string(why));
    return;
  }
  Stage stage = waiting_stage();
  fail_session(io_verdict(IoProblem::cut_off_locally, stage, peer_, why), stage, false);
}

// ---- work from the engine -------------------------------------------------------------------

void ClientSession::start_transaction(const Message& message, bool final_server) {
  if (transaction_ || phase_ == Phase::closed || phase_ == Phase::quitting) return;
  transaction_ = std::make_unique<Transaction>();
  transaction_->message = &message;
  transaction_->final_server = final_server;
  transaction_->has_result.assign(message.recipients.size(), false);
  recipients_refused_after_ = 0;
  if (phase_ == Phase::ready) begin_transaction();
}

void ClientSession::quit() {
  if (phase_ != Phase::ready || transaction_) return;
  write("QUIT\r\n");
  if (settings_.skip_quit_response) {
    close("QUIT sent");
  } else {
    phase_ = Phase::quitting;
    arm(TimerName::quit);
  }
}

// ---- handshake ------------------------------------------------------------------------------

void ClientSession::handle_reply(const Reply& reply) {
  switch (phase_) {
    case Phase::greeting:
    case Phase::ehlo:
    case Phase::helo:
    case Phase::starttls:
      handle_handshake_reply(reply);
      break;
    case Phase::auth:
      handle_auth_reply(reply);
      break;
    case Phase::transaction:
      handle_transaction_reply(reply);
      break;
    case Phase::rset:
      if (positive(reply)) {
        enter_ready();
      } else {
        write("QUIT\r\n");
        close("RSET was refused: " + reply.text());
      }
      break;
    case Phase::quitting:
      close("QUIT answered");
      break;
    case Phase::ready:
      // Nothing was asked: a cached connection the server is closing (421), or garbage.
      close(reply.code == 421 ? "server closed an idle connection: " + reply.text()
                              : "unexpected reply on an idle connection: " + reply.text());
      break;
    default:
      break;
  }
}

// Postfix's test: a greeting of nothing but "2", "0", spaces and asterisks is a PIX firewall's.
void ClientSession::detect_pix(const Reply& greeting) {
  if (settings_.lmtp || settings_.pix_workarounds.empty()) return;
  std::string text = greeting.text();
  if (text.find_first_not_of("20 *\t") != std::string::npos) return;
  std::string enabled;
  for (const std::string& word : settings_.pix_workarounds) {
    if (word == "disable_esmtp") {
      pix_disable_esmtp_ = true;
    } else if (word == "delay_dotcrlf") {
      pix_delay_dotcrlf_ = true;
    } else {
      continue;
    }
    enabled += (enabled.empty() ? "" : ", ") + word;
  }
  if (!enabled.empty()) {
    actions_.emplace_back(NoticeAction{"enabling PIX workarounds: " + enabled + " for " + peer_});
  }
}

void ClientSession::send_ehlo() {
  if (settings_.lmtp) {
    write("LHLO " + settings_.helo_name + "\r\n");
    phase_ = Phase::ehlo;
  } else if (settings_.never_send_ehlo) {
    write("HELO " + settings_.helo_name + "\r\n");
    phase_ = Phase::helo;
  } else {
    write("EHLO " + settings_.helo_name + "\r\n");
    phase_ = Phase::ehlo;
  }
  arm(TimerName::helo);
}

void ClientSession::handle_handshake_reply(const Reply& reply) {
  switch (phase_) {
    case Phase::greeting: {
      greeting_received_ = true;
      if (!positive(reply)) {
        Verdict v = reply_verdict(reply, Stage::greeting, peer_, settings_.skip_5xx_greeting,
                                  settings_.auth_soft_bounce);
        fail_session(v, Stage::greeting, reply.code != 421);
        return;
      }
      bool esmtp_greeting = reply.text().find("ESMTP") != std::string::npos;
      detect_pix(reply);
      if (!settings_.lmtp &&
          ((!settings_.never_send_ehlo && !settings_.always_send_ehlo && !esmtp_greeting) ||
           pix_disable_esmtp_)) {
        write("HELO " + settings_.helo_name + "\r\n");
        phase_ = Phase::helo;
        arm(TimerName::helo);
      } else {
        send_ehlo();
      }
      return;
    }
    case Phase::ehlo: {
      if (positive(reply)) {
        caps_ = parse_capabilities(reply, settings_.discard_ehlo_keywords);
        after_capabilities();
        return;
      }
      // Postfix falls back to HELO when EHLO is refused, except with 421 (and in LMTP).
      if (reply.code == 421 || settings_.lmtp) {
        Stage stage = settings_.lmtp ? Stage::lhlo : Stage::ehlo;
        fail_session(reply_verdict(reply, stage, peer_, false, false), stage, reply.code != 421);
        return;
      }
      write("HELO " + settings_.helo_name + "\r\n");
      phase_ = Phase::helo;
      arm(TimerName::helo);
      return;
    }
    case Phase::helo: {
      if (!positive(reply)) {
        fail_session(reply_verdict(reply, Stage::helo, peer_, false, false), Stage::helo,
                     reply.code != 421);
        return;
      }
      caps_ = Capabilities{};
      after_capabilities();
      return;
    }
    case Phase::starttls: {
      if (positive(reply)) {
        phase_ = Phase::tls_handshake;
        actions_.emplace_back(StartTlsAction{});
        return;
      }
      if (settings_.tls == TlsMode::required || reply.code == 421) {
        fail_session(tls_refused_verdict(reply, peer_), Stage::starttls, reply.code != 421);
        return;
      }
      // Opportunistic TLS: carry on in plaintext, as Postfix does.
      caps_.starttls = false;
      after_capabilities();
      return;
    }
    default:
      return;
  }
}

void ClientSession::after_capabilities() {
  if (!tls_active_ && settings_.tls != TlsMode::none) {
    if (caps_.starttls) {
      write("STARTTLS\r\n");
      phase_ = Phase::starttls;
      arm(TimerName::starttls);
      return;
    }
    if (settings_.tls == TlsMode::required) {
      fail_session(tls_not_offered_verdict(peer_), Stage::starttls, true);
      return;
    }
  }
  if (settings_.auth && auth_client_ != nullptr && !authenticated_) {
    if (caps_.auth) {
      begin_auth();
      return;
    }
    // Postfix talks to such a server as a stranger, silently; an operator wants to know why the
    // credentials were not used when the server then refuses to relay.
    actions_.emplace_back(NoticeAction{"server " + peer_ +
                                       " offered no AUTH: delivering without SASL authentication"});
  }
  enter_ready();
}

// Postfix's smtp_sasl_helo_login and smtp_sasl_authenticate: the mechanisms the filter lets
// through, a failure remembered for these credentials, then Cyrus's choice under the security
// options of this connection's protection.
void ClientSession::begin_auth() {
  std::vector<std::string> usable = auth_client_->usable(caps_.auth_mechanisms);
  if (usable.empty()) {
    fail_session(auth_no_mechanism_verdict(peer_), Stage::auth, true);
    return;
  }
  if (auto remembered = auth_client_->remembered_failure()) {
    fail_session(auth_remembered_verdict(peer_, remembered->dsn, remembered->text,
                                         settings_.auth_soft_bounce),
                 Stage::auth, true);
    return;
  }
  AuthSecurity security = !tls_active_    ? AuthSecurity::plaintext
                          : tls_verified_ ? AuthSecurity::tls_verified
                                          : AuthSecurity::tls;
  std::string why;
  std::optional<AuthStart> start = auth_client_->start(usable, security, why);
  if (!start) {
    fail_session(auth_unavailable_verdict(peer_, why), Stage::auth, true);
    return;
  }
  std::string command = "AUTH " + start->mechanism;
  auth_mechanism_ = start->mechanism;
  auth_steps_ = 0;
  deferred_initial_response_.reset();
  if (start->initial_response) {
    std::string encoded = start->initial_response->empty()
                              ? std::string("=")
                              : base64_encode(*start->initial_response);
    // RFC 4954: the AUTH command stays within 512 octets; a longer initial response waits for
    // the server's empty challenge.
    if (command.size() + 1 + encoded.size() + 2 <= 512) {
      command += ' ' + encoded;
    } else {
      deferred_initial_response_ = std::move(encoded);
    }
  }
  write(command + "\r\n",
        "AUTH " + auth_mechanism_ +
            (command.size() > 5 + auth_mechanism_.size() ? " [initial response]" : ""));
  phase_ = Phase::auth;
  arm(TimerName::mail);
}

void ClientSession::handle_auth_reply(const Reply& reply) {
  if (reply.code / 100 == 3) {
    if (++auth_steps_ > kAuthStepLimit) {
      write("*\r\n");
      fail_session(auth_loop_verdict(peer_), Stage::auth, true);
      return;
    }
    std::string_view line = reply.line_text(reply.lines.size() - 1);
    if (deferred_initial_response_) {
      // Both sides want to go first: a protocol violation.
      if (!line.empty()) {
        write("*\r\n");
        fail_session(auth_initial_challenge_verdict(peer_, auth_mechanism_, line), Stage::auth,
                     true);
        return;
      }
      write(*deferred_initial_response_ + "\r\n", "[initial response]");
      deferred_initial_response_.reset();
      arm(TimerName::mail);
      return;
    }
    std::optional<std::string> challenge = base64_decode(line);
    std::string why = "malformed SASL challenge from server";
    std::optional<std::string> response;
    if (challenge) response = auth_client_->step(*challenge, why);
    if (!response) {
      write("*\r\n");  // RFC 4954: the client cancels the exchange
      fail_session(auth_unavailable_verdict(peer_, why), Stage::auth, true);
      return;
    }
    write(base64_encode(*response) + "\r\n", "[SASL response]");
    arm(TimerName::mail);
    return;
  }
  if (reply.code / 100 == 2) {
    authenticated_ = true;
    enter_ready();
    return;
  }
  // Only a 535 says these credentials are wrong; other failures may pass.
  if (reply.code == 535) auth_client_->remember_failure({reply.enhanced, reply.text()});
  fail_session(reply_verdict(reply, Stage::auth, peer_, false, settings_.auth_soft_bounce),
               Stage::auth, reply.code != 421);
}

void ClientSession::enter_ready() {
  phase_ = Phase::ready;
  handshake_done_ = true;
  if (transaction_) {
    begin_transaction();
    return;
  }
  cancel_timer();
  actions_.emplace_back(IdleAction{});
}

// ---- transaction ----------------------------------------------------------------------------

void ClientSession::begin_transaction() {
  Transaction& t = *transaction_;
  const Message& m = *t.message;
  t.started = true;
  phase_ = Phase::transaction;

  // Limits known before sending anything.
  if (m.smtputf8 && settings_.smtputf8_enable && !caps_.smtputf8) {
    fail_pending(smtputf8_not_offered_verdict(peer_), Stage::mail);
    finish_transaction();
    return;
  }
  if (caps_.size_limit > 0 && m.body_size() > caps_.size_limit) {
    fail_pending(size_exceeded_verdict(m.body_size(), caps_.size_limit, peer_), Stage::mail);
    finish_transaction();
    return;
  }
  if (m.recipients.empty()) {
    finish_transaction();
    return;
  }

  t.body = m.body;
  // Content rules: only a message that a rule changes is copied (the lines it changes).
  if (settings_.content_rules) {
    std::string_view whole = m.body.size() == 1 ? m.body[0] : std::string_view{};
    if (m.body.size() > 1) {
      for (auto span : m.body) t.header_source += span;
      whole = t.header_source;
    }
    ContentRewrite rewrite = apply_content_rules(whole, *settings_.content_rules, settings_.mime);
    for (std::string& notice : rewrite.notices) {
      actions_.emplace_back(NoticeAction{std::move(notice) + " to " + peer_});
    }
    if (rewrite.changed) {
      t.rewritten = std::move(rewrite.output);
      t.body = t.rewritten.segments();
    }
    if (settings_.content_rules->generic) {
      auto rewrite_address = [&](const std::string& address) {
        std::optional<std::string> mapped;
        if (!address.empty()) mapped = settings_.content_rules->generic(address);
        return mapped ? *mapped : address;
      };
      t.sender = rewrite_address(m.sender);
      for (const Recipient& r : m.recipients) t.recipients.push_back(rewrite_address(r.address));
    }
  }
  // 8-bit content for a server without 8BITMIME: convert, unless the operator turned that off
  // (then it goes as is, as Postfix sends it).
  if (!caps_.eight_bit_mime && !settings_.disable_mime_output_conversion &&
      std::any_of(t.body.begin(), t.body.end(), [](std::string_view s) { return has_8bit(s); })) {
    std::string_view whole = t.body.size() == 1 ? t.body[0] : std::string_view{};
    if (t.body.size() != 1) {
      for (auto span : t.body) t.flattened += span;
      whole = t.flattened;
    }
    t.converted = downgrade_to_7bit(whole, settings_.mime);
    for (const auto& note : t.converted->notes) {
      actions_.emplace_back(NoticeAction{"8BIT to 7BIT conversion for " + peer_ + ": " + note});
    }
    if (t.converted->fatal) {
      fail_pending(mime_verdict(t.converted->error), Stage::mail);
      finish_transaction();
      return;
    }
    t.downgraded = true;
    t.body = t.converted->output.segments();
  }

  t.smtputf8 = m.smtputf8 && caps_.smtputf8 && settings_.smtputf8_enable;
  t.use_bdat = caps_.chunking && settings_.use_chunking;
  t.binary_mime = t.use_bdat && caps_.binary_mime && m.encoding == BodyEncoding::binary;
  if (settings_.send_xforward && caps_.xforward) {
    t.xforward = format_xforward(m.client, caps_);
    for (std::size_t i = 0; i < t.xforward.size(); ++i) {
      t.commands.push_back({CommandKind::xforward, i});
    }
  }
  t.commands.push_back({CommandKind::mail});
  for (std::size_t i = 0; i < m.recipients.size(); ++i) {
    t.commands.push_back({CommandKind::rcpt, i});
  }
  if (t.use_bdat) {
    t.commands.push_back({CommandKind::bdat});
    t.encoder.emplace(t.body, BodyEncoder::Mode::bdat,
                      t.binary_mime ? 0 : settings_.line_length_limit);
  } else {
    t.commands.push_back({CommandKind::data});
    t.commands.push_back({CommandKind::end_of_data});
    t.hold_dot = pix_delay_dotcrlf_ &&
                 m.queued_seconds > static_cast<double>(settings_.pix_threshold_seconds);
    t.encoder.emplace(t.body, BodyEncoder::Mode::data, settings_.line_length_limit, t.hold_dot);
  }
  pump();
}

void ClientSession::pump() {
  Transaction& t = *transaction_;
  const Message& m = *t.message;
  OutputBatch batch;
  while (t.sent < t.commands.size()) {
    Transaction::Command& command = t.commands[t.sent];
    std::size_t in_flight = t.sent - t.answered;
    if (in_flight > 0 && (!caps_.pipelining || in_flight >= settings_.pipeline_command_limit)) {
      break;
    }
    if (command.kind == CommandKind::end_of_data) {
      // DATA is a synchronisation point: the body goes only after 354.
      if (!t.data_accepted) break;
      if (t.nothing_to_deliver) {
        batch.add_view(".\r\n");
        t.body_queued = true;
      } else {
        t.encoder->produce(batch, static_cast<std::size_t>(-1));
        log_sent(t.hold_dot ? "[message content]" : "[message content] .");
        t.body_queued = !t.hold_dot;
        t.dot_due = t.hold_dot;
      }
      ++t.sent;
      continue;
    }
    if (t.aborting()) break;
    if (command.kind == CommandKind::bdat) {
      // The first chunk rides with MAIL/RCPT only when the whole message fits in it (little is
      // lost if every recipient is refused); otherwise it waits for the RCPT replies.
      bool first = t.commands[t.sent - 1].kind == CommandKind::rcpt;
      bool all_rcpts_answered = t.rcpts_answered == m.recipients.size();
      if (first && !all_rcpts_answered && m.body_size() > settings_.bdat_chunk_size) break;
      OutputBatch chunk;
      std::size_t size = t.encoder->produce(chunk, settings_.bdat_chunk_size);
      command.last = t.encoder->done();
      bool last = command.last;
      t.body_queued |= last;  // `command` dangles once the list grows
      batch.add_owned("BDAT " + std::to_string(size) + (last ? " LAST\r\n" : "\r\n"));
      log_sent(batch.segments().back());
      batch.append(std::move(chunk));
      ++t.sent;
      if (!last) t.commands.push_back({CommandKind::bdat});
      continue;
    }
    switch (command.kind) {
      case CommandKind::xforward:
        batch.add_owned(t.xforward[command.recipient]);
        log_sent(t.xforward[command.recipient]);
        break;
      case CommandKind::mail:
        batch.add_owned(
            format_mail_from(m, caps_, settings_.quote_rfc821_envelope,
                             {.sender = t.sender ? &*t.sender : nullptr,
                              .announce_size = !t.downgraded,
                              .smtputf8 = settings_.smtputf8_enable,
                              .binary_mime = t.binary_mime,
                              .dummy_auth = settings_.dummy_mail_auth && authenticated_}));
        break;
      case CommandKind::rcpt:
        if (t.recipients.empty()) {
          batch.add_owned(format_rcpt_to(m.recipients[command.recipient], caps_,
                                         settings_.quote_rfc821_envelope, t.smtputf8));
        } else {
          Recipient rewritten = m.recipients[command.recipient];
          rewritten.address = t.recipients[command.recipient];
          batch.add_owned(
              format_rcpt_to(rewritten, caps_, settings_.quote_rfc821_envelope, t.smtputf8));
        }
        break;
      default:
        batch.add_owned("DATA\r\n");
        break;
    }
    if (command.kind == CommandKind::mail || command.kind == CommandKind::rcpt ||
        command.kind == CommandKind::data) {
      log_sent(batch.segments().back());
    }
    ++t.sent;
  }
  if (!batch.empty()) actions_.emplace_back(WriteAction{std::move(batch)});
  if (t.sent > t.answered) arm(waiting_timer());
}

void ClientSession::handle_transaction_reply(const Reply& reply) {
  Transaction& t = *transaction_;
  if (t.answered >= t.sent) {
    fail_session(io_verdict(IoProblem::malformed_reply, waiting_stage(), peer_,
                            "unexpected reply: " + reply.text()),
                 waiting_stage(), false);
    return;
  }
  const Transaction::Command command = t.commands[t.answered];
  Stage stage = waiting_stage();
  bool advance = true;

  if (command.kind == CommandKind::mail && refuses_more_messages(reply, transactions_done_)) {
    // The connection is used up, not the server troubled: every recipient goes to a fresh
    // connection (try_next_server even on the last server), and no negative feedback.
    refused_after_ = transactions_done_;
    Verdict verdict = reply_verdict(reply, Stage::mail, peer_, false, false);
    for (std::size_t i = 0; i < t.has_result.size(); ++i) {
      result(i, DeliveryStatus::try_next_server, verdict.dsn, verdict.text, Stage::mail,
             verdict.reply_code, verdict.reply);
    }
    transaction_.reset();
    ++transactions_done_;
    actions_.emplace_back(TransactionDone{false, false});
    write("QUIT\r\n");
    close("the server takes no more messages on this connection");
    return;
  }
  if (reply.code == 421) {
    fail_session(reply_verdict(reply, stage, peer_, false, false), stage, false);
    return;
  }
  switch (command.kind) {
    case CommandKind::xforward:
      // Postfix: a refusal is logged and the mail goes on.
      if (!positive(reply)) {
        actions_.emplace_back(NoticeAction{"warning: host " + peer_ + " said: " + reply.text() +
                                           " (in reply to XFORWARD command)"});
      }
      break;
    case CommandKind::mail:
      if (!positive(reply)) {
        fail_pending(reply_verdict(reply, Stage::mail, peer_, false, false), Stage::mail);
        t.mail_rejected = true;
      }
      break;
    case CommandKind::rcpt:
      ++t.rcpts_answered;
      if (t.mail_rejected) break;  // every recipient already has its result
      if (positive(reply)) {
        t.accepted.push_back(command.recipient);
      } else {
        Verdict v = reply_verdict(reply, Stage::rcpt, peer_, false, false);
        DeliveryStatus status = status_for(v, t.final_server);
        if (recipients_refused_after_ == 0 && refuses_more_recipients(reply, t.accepted.size())) {
          recipients_refused_after_ = t.accepted.size();
        }
        // Beyond the server's recipient limit: another transaction takes them, whatever server.
        if (recipients_refused_after_ > 0 && reply.code / 100 == 4) {
          status = DeliveryStatus::try_next_server;
        }
        result(command.recipient, status, v.dsn, v.text, Stage::rcpt, reply.code, v.reply);
      }
      break;
    case CommandKind::data:
      if (reply.code >= 300 && reply.code < 400) {
        t.data_accepted = true;
        t.nothing_to_deliver = t.mail_rejected || t.accepted.empty();
      } else {
        if (!t.mail_rejected && !t.accepted.empty()) {
          fail_pending(reply_verdict(reply, Stage::data, peer_, false, false), Stage::data);
        }
        t.failed = true;
        // The end of data will never be sent: drop it from the list.
        t.commands.pop_back();
      }
      break;
    case CommandKind::end_of_data:
    case CommandKind::bdat: {
      bool final_reply = command.kind == CommandKind::end_of_data || command.last;
      bool counts = !t.nothing_to_deliver && !t.mail_rejected && !t.accepted.empty() && !t.failed;
      if (!final_reply) {
        if (!positive(reply) && counts) {
          fail_pending(reply_verdict(reply, Stage::body, peer_, false, false), Stage::body);
          t.failed = true;
        }
        break;
      }
      if (!counts) break;
      if (settings_.lmtp) {
        // LMTP: one reply per accepted recipient, in RCPT order.
        std::size_t recipient = t.accepted[t.lmtp_replies++];
        if (positive(reply)) {
          result(recipient, DeliveryStatus::sent, reply.enhanced, reply.text(), Stage::end_of_data,
                 reply.code, reply.text());
        } else {
          Verdict v = reply_verdict(reply, Stage::end_of_data, peer_, false, false);
          result(recipient, status_for(v, t.final_server), v.dsn, v.text, Stage::end_of_data,
                 reply.code, v.reply);
        }
        advance = t.lmtp_replies == t.accepted.size();
      } else if (positive(reply)) {
        for (std::size_t recipient : t.accepted) {
          if (!t.has_result[recipient]) {
            result(recipient, DeliveryStatus::sent, reply.enhanced, reply.text(),
                   Stage::end_of_data, reply.code, reply.text());
          }
        }
      } else {
        fail_pending(reply_verdict(reply, Stage::end_of_data, peer_, false, false),
                     Stage::end_of_data);
      }
      break;
    }
  }
  if (advance) ++t.answered;
  if (phase_ != Phase::transaction) return;

  bool finished = t.answered == t.commands.size() && t.sent == t.commands.size() &&
                  (t.commands.back().kind == CommandKind::end_of_data ||
                   (t.commands.back().kind == CommandKind::bdat && t.commands.back().last));
  if (finished) {
    if (t.failed || t.nothing_to_deliver || t.mail_rejected || t.accepted.empty()) {
      maybe_abort();
    } else {
      finish_transaction();
    }
    return;
  }
  if (t.aborting()) {
    maybe_abort();
    return;
  }
  pump();
}

void ClientSession::maybe_abort() {
  Transaction& t = *transaction_;
  // Replies still due for commands already sent come first; a 354 still needs its ".".
  if (t.data_accepted && t.sent < t.commands.size() &&
      t.commands[t.sent].kind == CommandKind::end_of_data) {
    pump();
    return;
  }
  if (t.answered < t.sent) {
    arm(waiting_timer());
    return;
  }
  // Course correction, as Postfix: RSET (the connection stays usable), or QUIT when it fails.
  bool delivered = t.delivered_any;
  transaction_.reset();
  ++transactions_done_;
  actions_.emplace_back(TransactionDone{delivered, false});
  write("RSET\r\n");
  phase_ = Phase::rset;
  arm(TimerName::rset);
}

void ClientSession::finish_transaction() {
  Transaction& t = *transaction_;
  // Every recipient gets exactly one result; none may be left without one.
  for (std::size_t i = 0; i < t.has_result.size(); ++i) {
    if (!t.has_result[i]) {
      result(i, DeliveryStatus::deferred, "4.3.0", "internal error: no result from host " + peer_,
             Stage::end_of_data, 0);
    }
  }
  bool delivered = t.delivered_any;
  transaction_.reset();
  ++transactions_done_;
  actions_.emplace_back(TransactionDone{delivered, false});
  enter_ready();
}

// ---- results and failure --------------------------------------------------------------------

void ClientSession::result(std::size_t recipient, DeliveryStatus status, std::string dsn,
                           std::string text, Stage stage, int code, std::string reply) {
  Transaction& t = *transaction_;
  if (t.has_result[recipient]) return;
  t.has_result[recipient] = true;
  if (status == DeliveryStatus::sent) t.delivered_any = true;
  RecipientResult r{recipient, status, std::move(dsn),   std::move(text),
                    stage,     code,   std::move(reply), transactions_done_ + 1};
  r.server_offered_dsn = caps_.dsn;
  r.final_delivery = settings_.lmtp && settings_.assume_final;
  actions_.emplace_back(std::move(r));
}

void ClientSession::fail_pending(const Verdict& verdict, Stage stage) {
  Transaction& t = *transaction_;
  DeliveryStatus status = status_for(verdict, t.final_server);
  for (std::size_t i = 0; i < t.has_result.size(); ++i) {
    if (!t.has_result[i]) {
      result(i, status, verdict.dsn, verdict.text, stage, verdict.reply_code, verdict.reply);
      if (verdict.ambiguous) std::get<RecipientResult>(actions_.back()).ambiguous = true;
    }
  }
}

void ClientSession::fail_session(const Verdict& verdict, Stage stage, bool send_quit) {
  if (transaction_) {
    fail_pending(verdict, stage);
    transaction_.reset();
    ++transactions_done_;
    actions_.emplace_back(TransactionDone{false, verdict.throttle});
  }
  if (send_quit) write("QUIT\r\n");
  close(verdict.text);
}

Stage ClientSession::waiting_stage() const {
  switch (phase_) {
    case Phase::connecting:
      return Stage::connect;
    case Phase::greeting:
      return Stage::greeting;
    case Phase::ehlo:
      return settings_.lmtp ? Stage::lhlo : Stage::ehlo;
    case Phase::helo:
      return Stage::helo;
    case Phase::starttls:
      return Stage::starttls;
    case Phase::tls_handshake:
      return Stage::tls_handshake;
    case Phase::auth:
      return Stage::auth;
    case Phase::rset:
      return Stage::rset;
    case Phase::quitting:
      return Stage::quit;
    case Phase::ready:
    case Phase::closed:
      return Stage::quit;
    case Phase::transaction:
      break;
  }
  const Transaction& t = *transaction_;
  std::size_t index = std::min(t.answered, t.commands.empty() ? 0 : t.commands.size() - 1);
  if (t.commands.empty()) return Stage::mail;
  switch (t.commands[index].kind) {
    case CommandKind::xforward:
      return Stage::xforward;
    case CommandKind::mail:
      return Stage::mail;
    case CommandKind::rcpt:
      return Stage::rcpt;
    case CommandKind::data:
      return Stage::data;
    case CommandKind::end_of_data:
      return t.body_written ? Stage::end_of_data : Stage::body;
    case CommandKind::bdat:
      return t.commands[index].last && t.body_written ? Stage::end_of_data : Stage::body;
  }
  return Stage::mail;
}

TimerName ClientSession::waiting_timer() const {
  switch (waiting_stage()) {
    case Stage::xforward:
      return TimerName::xforward;
    case Stage::mail:
      return TimerName::mail;
    case Stage::rcpt:
      return TimerName::rcpt;
    case Stage::data:
      return TimerName::data_init;
    case Stage::body:
      return TimerName::data_xfer;
    case Stage::end_of_data:
      return TimerName::data_done;
    case Stage::rset:
      return TimerName::rset;
    case Stage::quit:
      return TimerName::quit;
    case Stage::starttls:
    case Stage::tls_handshake:
      return TimerName::starttls;
    case Stage::auth:
      return TimerName::mail;
    default:
      return TimerName::helo;
  }
}

void ClientSession::arm(TimerName timer) {
  armed_ = timer;
  ++arms_;
  actions_.emplace_back(ArmTimerAction{timer, settings_.timeout(timer)});
}

void ClientSession::cancel_timer() {
  armed_.reset();
  actions_.emplace_back(CancelTimerAction{});
}

void ClientSession::on_write_progress(std::size_t bytes) {
  if (!armed_ || phase_ == Phase::closed || bytes == 0) return;
  if (settings_.deadline_mode == DeadlineMode::per_io) {
    arm(*armed_);
  } else if (*armed_ == TimerName::data_xfer && settings_.min_data_rate > 0) {
    auto extension = static_cast<std::int64_t>(bytes * 1'000'000 / settings_.min_data_rate);
    actions_.emplace_back(ExtendTimerAction{extension});
  }
}

void ClientSession::log_sent(std::string_view line) {
  if (!settings_.transcript) return;
  while (line.ends_with("\n") || line.ends_with("\r")) line.remove_suffix(1);
  actions_.emplace_back(NoticeAction{"> " + peer_ + ": " + std::string(line)});
}

void ClientSession::write(std::string bytes, std::optional<std::string> shown) {
  log_sent(shown ? *shown : bytes);
  OutputBatch batch;
  batch.add_owned(std::move(bytes));
  actions_.emplace_back(WriteAction{std::move(batch)});
}

void ClientSession::close(std::string reason) {
  phase_ = Phase::closed;
  transaction_.reset();
  cancel_timer();
  actions_.emplace_back(CloseAction{std::move(reason)});
}

}  // namespace ringrelay::proto
