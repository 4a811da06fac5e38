// The connection driver: connect with a linked timeout, one receive and at most one sendmsg in
// flight, the session's actions carried out in order, and a close that waits for every operation
// to come back before the listener may free the object.
#include "engine/delivery/smtp_connection.hh"

#include "engine/runtime/socket_errors.hh"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ringrelay::engine {
namespace {

constexpr std::size_t kMaxIovecs = 512;
// Plaintext encrypted per send: enough to keep the socket busy, small enough to bound memory.
constexpr std::size_t kTlsSendChunk = 256 * 1024;
constexpr std::size_t kTlsRecord = 16 * 1024;

// The session acts on the policy's level only: none, opportunistic, or required.
proto::SessionSettings with_tls_mode(proto::SessionSettings settings, const TlsPlan& plan) {
  using tls::SecurityLevel;
  if (plan.context == nullptr || plan.plaintext || !plan.policy.uses_tls()) {
    settings.tls = proto::TlsMode::none;
  } else if (plan.policy.mandatory()) {
    settings.tls = proto::TlsMode::required;
  } else {
    settings.tls = proto::TlsMode::may;
  }
  return settings;
}

}  // namespace

SmtpConnection::SmtpConnection(Ring& ring, Timers& timers, ConnectionListener& listener,
                               ServerAddress server, proto::SessionSettings settings,
                               ConnectOptions options, TlsPlan tls, AuthPlan auth)
    : ring_(ring),
      timers_(timers),
      listener_(&listener),
      server_(std::move(server)),
      options_(std::move(options)),
      tls_(std::move(tls)),
      auth_plan_(std::move(auth)),
      auth_(make_auth_client(auth_plan_)),
      session_(with_tls_mode(std::move(settings), tls_), server_.name_address(), auth_.get()),
      created_(timers.now()) {
  established_.policy = tls_.policy;
  if (tls_.plaintext) established_.policy.level = tls::SecurityLevel::may;
  tls_outcome_.configured_level = std::string(tls::name_of(tls_.configured_level));
  tls_outcome_.level = std::string(tls::name_of(tls_.policy.level));
  tls_outcome_.downgrade = tls_.downgrade;
  for (Op* op : {&connect_op_, &recv_op_, &send_op_}) op->owner = this;
  connect_op_.handler = &SmtpConnection::on_connect_complete;
  recv_op_.handler = &SmtpConnection::on_recv_complete;
  send_op_.handler = &SmtpConnection::on_send_complete;
}

SmtpConnection::~SmtpConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void SmtpConnection::start() {
  state_ = State::connecting;
  // Postfix skips such a server with this warning; the recipients are deferred with it.
  if (session_.settings().tls_wrapper && session_.settings().tls != proto::TlsMode::required) {
    session_.on_connect_failed(server_.name_address_port(),
                               std::string(session_.settings().lmtp ? "lmtp" : "smtp") +
                                   "_tls_wrappermode requires \"" +
                                   (session_.settings().lmtp ? "lmtp" : "smtp") +
                                   "_tls_security_level = encrypt\" (or stronger)");
    run_actions();
    begin_close();
    return;
  }
  if (!tls_.refusal.empty()) {  // dane-only without DANE, a failed TLSA lookup: never connect
    session_.on_tls_refused(tls_.refusal);
    run_actions();
    begin_close();
    return;
  }
  if (!session_.settings().tls_wrapper && server_.port == 465) {  // Postfix's helpful note
    std::string protocol = session_.settings().lmtp ? "lmtp" : "smtp";
    listener_->on_notice(*this, "SMTPS wrappermode (TCP port 465) requires setting \"" + protocol +
                                    "_tls_wrappermode = yes\", and \"" + protocol +
                                    "_tls_security_level = encrypt\" (or stronger)");
  }
  fd_ = ::socket(server_.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    fail_connect(errno);
    return;
  }
  if (server_.family() != AF_UNIX) {
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const std::optional<ServerAddress>& source =
        server_.family() == AF_INET6 ? options_.source6 : options_.source;
    if (source && source->family() == server_.family()) {
      // The port is chosen at connect(), per destination: thousands of connections from one
      // source address do not use up its ephemeral ports (IP_BIND_ADDRESS_NO_PORT, Linux 4.2).
      ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    }
    if (source && source->family() == server_.family() &&
        ::bind(fd_, reinterpret_cast<const sockaddr*>(&source->storage), source->length) != 0) {
      if (options_.bind_enforce) {
        int error = errno;
        bind_failure_ = source->address + ": " + std::strerror(error);
        fail_connect(error);
        return;
      }
      // Postfix's smtp_bind_address_enforce = no: a warning, and the kernel picks the source.
      listener_->on_notice(*this, "warning: bind " + source->address + ": " + std::strerror(errno) +
                                      "; connecting to " + server_.name_address_port() +
                                      " from any local address");
    }
  }
  io_uring_sqe* sqe = ring_.prepare(&connect_op_);
  io_uring_prep_connect(sqe, fd_, reinterpret_cast<const sockaddr*>(&server_.storage),
                        server_.length);
  connect_op_.in_flight = true;
  if (options_.connect_timeout.count() > 0) {
    sqe->flags |= IOSQE_IO_LINK;
    // Read by the kernel at submission, which happens later in the loop: keep it in the object.
    connect_timeout_spec_.tv_sec = options_.connect_timeout.count();
    connect_timeout_spec_.tv_nsec = 0;
    io_uring_prep_link_timeout(ring_.prepare_untracked(), &connect_timeout_spec_, 0);
  }
}

void SmtpConnection::deliver(const proto::Message& message, bool final_server) {
  session_.start_transaction(message, final_server);
  run_actions();
}

void SmtpConnection::quit() {
  if (state_ == State::closing || state_ == State::closed) return;
  if (session_.idle()) {
    session_.quit();
    run_actions();
  } else {
    cut_off("ringrelay is shutting down");
  }
}

void SmtpConnection::cut_off(const std::string& why) {
  if (state_ == State::closing || state_ == State::closed) return;
  if (state_ == State::open || state_ == State::connecting) {
    session_.on_cut_off(why);
    run_actions();
  }
  if (close_reason_.empty()) close_reason_ = why;
  begin_close();
}

void SmtpConnection::abort(const std::string& why) {
  if (state_ == State::closing || state_ == State::closed) return;
  if (state_ == State::open || state_ == State::connecting) {
    // The session turns this into results for whatever is pending (lost connection).
    session_.on_connection_lost();
    run_actions();
  }
  if (close_reason_.empty()) close_reason_ = why;
  begin_close();
}

void SmtpConnection::fail_connect(int error) {
  session_.on_connect_failed(server_.name_address_port(), connect_error_words(error));
  run_actions();
  begin_close();
}

void SmtpConnection::on_connect_complete(Completion& c, int result, std::uint32_t) {
  auto& self = *static_cast<Op&>(c).owner;
  self.connect_op_.in_flight = false;
  if (self.state_ != State::connecting) {
    self.finish_if_quiet();
    return;
  }
  if (result < 0) {
    self.fail_connect(-result);
    return;
  }
  self.state_ = State::open;
  self.connected_at_ = self.timers_.now();
  self.session_.on_connected();
  self.arm_recv();
  self.run_actions();
}

void SmtpConnection::arm_recv() {
  if (recv_op_.in_flight || state_ != State::open) return;
  // One multishot receive stays armed for the connection's life; the kernel picks a buffer from
  // the shard's pool only when data arrives, so an idle connection holds none.
  io_uring_sqe* sqe = ring_.prepare(&recv_op_);
  io_uring_prep_recv_multishot(sqe, fd_, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = ring_.receive_buffers().group();
  recv_op_.in_flight = true;
}

void SmtpConnection::on_recv_complete(Completion& c, int result, std::uint32_t flags) {
  auto& self = *static_cast<Op&>(c).owner;
  bool more = flags & IORING_CQE_F_MORE;
  if (!more) self.recv_op_.in_flight = false;
  std::string_view bytes;
  unsigned buffer = 0;
  bool has_buffer = flags & IORING_CQE_F_BUFFER;
  if (has_buffer) {
    buffer = flags >> IORING_CQE_BUFFER_SHIFT;
    if (result > 0)
      bytes = self.ring_.receive_buffers().data(buffer, static_cast<std::size_t>(result));
  }
  // The session copies what it keeps (the reply parser's line buffer): the buffer goes back first
  // thing after, whatever happens next.
  auto give_back = [&] {
    if (has_buffer) self.ring_.receive_buffers().recycle(buffer);
    has_buffer = false;
  };
  if (self.state_ != State::open) {
    give_back();
    self.finish_if_quiet();
    return;
  }
  if (result <= 0) {
    give_back();
    // The pool ran dry (the kernel ended the multishot) or a passing error: arm again.
    if (result < 0 && transfer_error_is_passing(-result) &&
        ++self.passing_errors_ <= kPassingErrorLimit) {
      self.arm_recv();
      return;
    }
    if (result < 0 && self.close_reason_.empty())
      self.close_reason_ = "lost connection: " + transfer_error_words(-result);
    if (self.channel_ && !self.channel_->handshake_done() && !self.tls_failed_opportunistically_)
      self.tls_failed("lost connection during the TLS handshake");
    else
      self.session_.on_connection_lost();
    self.run_actions();
    self.begin_close();
    return;
  }
  self.passing_errors_ = 0;
  self.receive(bytes);
  give_back();
  self.arm_recv();  // only when the multishot ended
  self.run_actions();
}

void SmtpConnection::kick_send() {
  if (send_op_.in_flight || state_ == State::closed) return;
  if (state_ != State::open && !(state_ == State::closing && close_after_send_)) return;
  if (channel_ && raw_batches_ == 0) {
    send_encrypted();
    return;
  }
  if (send_queue_.empty()) return;
  send_was_encrypted_ = false;
  iov_.clear();
  std::size_t skip = send_offset_;
  for (const auto& batch : send_queue_) {
    for (std::string_view segment : batch.segments()) {
      if (skip >= segment.size()) {
        skip -= segment.size();
        continue;
      }
      iov_.push_back({const_cast<char*>(segment.data() + skip), segment.size() - skip});
      skip = 0;
      if (iov_.size() == kMaxIovecs) break;
    }
    if (iov_.size() == kMaxIovecs) break;
  }
  msg_ = msghdr{};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = iov_.size();
  io_uring_sqe* sqe = ring_.prepare(&send_op_);
  io_uring_prep_sendmsg(sqe, fd_, &msg_, MSG_NOSIGNAL);
  send_op_.in_flight = true;
}

void SmtpConnection::on_send_complete(Completion& c, int result, std::uint32_t) {
  auto& self = *static_cast<Op&>(c).owner;
  self.send_op_.in_flight = false;
  if (self.state_ == State::closed) return;
  if (result < 0) {
    if (transfer_error_is_passing(-result) && ++self.passing_errors_ <= kPassingErrorLimit) {
      self.kick_send();
      return;
    }
    if (self.close_reason_.empty())
      self.close_reason_ = "lost connection: " + transfer_error_words(-result);
    self.send_queue_.clear();
    if (self.state_ == State::open) {
      self.session_.on_connection_lost();
      self.run_actions();
    }
    self.begin_close();
    self.finish_if_quiet();
    return;
  }
  self.passing_errors_ = 0;
  if (self.send_was_encrypted_) {
    self.tls_out_offset_ += static_cast<std::size_t>(result);
  } else {
    // Drop what was written: whole batches, then part of the next one.
    std::size_t written = static_cast<std::size_t>(result) + self.send_offset_;
    while (!self.send_queue_.empty() && written >= self.send_queue_.front().size()) {
      written -= self.send_queue_.front().size();
      self.send_queue_.pop_front();
      if (self.raw_batches_ > 0) --self.raw_batches_;
    }
    self.send_offset_ = self.send_queue_.empty() ? 0 : written;
  }
  if (self.output_pending()) {
    if (self.state_ == State::open) {
      self.session_.on_write_progress(static_cast<std::size_t>(result));
      self.run_actions();
    }
    self.kick_send();
    return;
  }
  if (self.state_ == State::closing) {
    self.close_after_send_ = false;
    self.begin_close();
    return;
  }
  self.session_.on_written();
  self.run_actions();
}

void SmtpConnection::arm_session_timer(Clock::duration after) {
  timer_.arm(timers_, after, [this] {
    // A handshake that stalls fails like any other (at "may": plaintext retry).
    if (channel_ && !channel_->handshake_done() && !tls_failed_opportunistically_)
      tls_failed("timed out during the TLS handshake");
    else
      session_.on_timeout();
    run_actions();
  });
}

void SmtpConnection::run_actions() {
  for (;;) {
    auto actions = session_.take_actions();
    if (actions.empty()) break;
    for (auto& action : actions) {
      if (auto* w = std::get_if<proto::WriteAction>(&action)) {
        send_queue_.push_back(std::move(w->bytes));
        kick_send();
      } else if (auto* t = std::get_if<proto::ArmTimerAction>(&action)) {
        arm_session_timer(std::chrono::seconds(t->seconds));
      } else if (auto* e = std::get_if<proto::ExtendTimerAction>(&action)) {
        if (timer_.armed()) {
          arm_session_timer(timer_.deadline() - timers_.now() +
                            std::chrono::microseconds(e->microseconds));
        }
      } else if (std::holds_alternative<proto::CancelTimerAction>(action)) {
        timer_.cancel();
      } else if (std::holds_alternative<proto::StartTlsAction>(action)) {
        start_tls();
      } else if (auto* r = std::get_if<proto::RecipientResult>(&action)) {
        listener_->on_result(*this, *r);
      } else if (auto* d = std::get_if<proto::TransactionDone>(&action)) {
        listener_->on_transaction_done(*this, *d);
      } else if (auto* n = std::get_if<proto::NoticeAction>(&action)) {
        listener_->on_notice(*this, n->text);
      } else if (std::holds_alternative<proto::IdleAction>(action)) {
        listener_->on_idle(*this);
      } else if (auto* x = std::get_if<proto::CloseAction>(&action)) {
        if (close_reason_.empty()) close_reason_ = x->reason;
        close_after_send_ = output_pending();
        begin_close();
      }
    }
    if (setup_times_.greeting == Clock::time_point{} && session_.greeting_received()) {
      setup_times_.greeting = timers_.now();
    }
    if (!handshake_seen_ && session_.handshake_done()) {
      handshake_seen_ = true;
      handshake_done_at_ = timers_.now();
      // smtp_tls_note_starttls_offer, in Postfix's words: a server offering what was not used.
      if (tls_.note_starttls_offer && !session_.tls_active() && session_.capabilities().starttls) {
        listener_->on_notice(*this, "Host offered STARTTLS: [" + server_.hostname + "]");
      }
    }
  }
}

void SmtpConnection::receive(std::string_view bytes) {
  if (!channel_) {
    session_.on_received(bytes);
    return;
  }
  channel_->receive(bytes);
  if (!channel_->handshake_done()) {
    continue_handshake();
    if (!channel_ || !channel_->handshake_done()) return;
  }
  read_plaintext();
}

std::string SmtpConnection::tls_session_key() const {
  return tls::session_key(server_.address_port(), tls_.policy.servername, tls_.policy);
}

void SmtpConnection::start_tls() {
  setup_times_.tls_started = timers_.now();
  if (tls_.context == nullptr) {
    session_.on_tls_failed("TLS is not configured");
    return;
  }
  try {
    channel_ = std::make_unique<tls::Channel>(*tls_.context);
  } catch (const tls::ContextError& e) {
    session_.on_tls_failed(e.what());
    return;
  }
  // SNI as smtp_tls_servername says: none, the server's host name, the next hop, or a name.
  const std::string& choice = tls_.policy.servername;
  std::string server_name = choice == "hostname"  ? tls_.names.hostname
                            : choice == "nexthop" ? tls_.names.nexthop
                                                  : choice;
  if (!channel_->configure(tls_.policy, server_name)) {
    tls_failed(channel_->error());
    return;
  }
  // DANE and trust anchors check the chain itself, which a resumed handshake does not send.
  if (tls_.sessions != nullptr && !tls_.policy.dane_authenticated() && !tls_.policy.anchored())
    channel_->resume(tls_.sessions->find(tls_session_key(), timers_.now()));
  raw_batches_ = send_queue_.size();  // STARTTLS itself may still be on its way out
  continue_handshake();
}

void SmtpConnection::continue_handshake() {
  tls::Channel::Status status = channel_->handshake();
  kick_send();  // the handshake's own messages
  if (status == tls::Channel::Status::want_read) return;
  if (status != tls::Channel::Status::ok) {
    tls_failed(channel_->error());
    return;
  }
  finish_handshake();
}

void SmtpConnection::tls_failed(const std::string& reason) {
  // Postfix: no plaintext retry when the connection would send credentials (a server that offers
  // AUTH only over TLS would then refuse the mail as relay access).
  tls_failed_opportunistically_ = !tls_.policy.mandatory() && !auth_plan_.authenticates();
  session_.on_tls_failed(reason);
}

void SmtpConnection::finish_handshake() {
  tls::PeerCertificate certificate = channel_->peer_certificate(tls_.digest);
  tls::Judgement judgement = tls::judge(tls_.policy, certificate, tls_.names);
  setup_times_.tls_done = timers_.now();
  tls_outcome_.protocol = channel_->protocol();
  tls_outcome_.cipher = channel_->cipher();
  tls_outcome_.trust = std::string(tls::trust_word(judgement.trust));
  tls_outcome_.resumed = channel_->resumed();
  // Postfix's words, so that log tools find them; a resumed session says so at the end.
  int bits = channel_->cipher_bits();
  bool dane = tls_.policy.dane_authenticated();
  if (tls_.loglevel >= 1)
    listener_->on_notice(*this, tls_outcome_.trust + " TLS connection established to " +
                                    server_.name_address_port() + ": " + tls_outcome_.protocol +
                                    " with cipher " + tls_outcome_.cipher + " (" +
                                    std::to_string(bits) + "/" + std::to_string(bits) + " bits)" +
                                    (tls_outcome_.resumed ? " (session resumed)" : "") +
                                    (dane && judgement.acceptable ? " (DANE)" : ""));
  if (tls_.loglevel >= 2 && !judgement.matched.empty())
    listener_->on_notice(*this, server_.name_address_port() + ": " + judgement.matched);
  tls_outcome_.authentication = std::string(tls::authentication_name(tls_.policy, judgement));
  if (!judgement.acceptable) {
    listener_->on_notice(*this, "server certificate verification failed for " +
                                    server_.name_address_port() + ": " + judgement.detail);
    session_.on_tls_rejected(judgement.failure);
    return;
  }
  established_.tls = true;
  established_.protocol = tls_outcome_.protocol;
  established_.cipher_suite = channel_->cipher_suite();
  established_.certificate = std::move(certificate);
  session_.on_tls_ready(judgement.trust == tls::Trust::verified);
}

void SmtpConnection::read_plaintext() {
  char buffer[kTlsRecord];
  for (;;) {
    std::size_t produced = 0;
    tls::Channel::Status status = channel_->read(buffer, sizeof buffer, produced);
    if (status == tls::Channel::Status::want_read) break;
    if (status != tls::Channel::Status::ok) {
      session_.on_connection_lost();
      break;
    }
    // TLS 1.3 tickets come after the handshake: the session is complete once data has come.
    if (!session_saved_ && tls_.sessions != nullptr) {
      session_saved_ = true;
      tls_.sessions->put(tls_session_key(), channel_->resumable(), timers_.now());
    }
    session_.on_received(std::string_view(buffer, produced));
  }
  kick_send();
}

bool SmtpConnection::output_pending() const {
  return !send_queue_.empty() || tls_out_offset_ < tls_out_.size() ||
         (channel_ && channel_->has_output());
}

bool SmtpConnection::encrypt_queued() {
  // Small commands and body pieces are gathered into full records before encryption, in one
  // scratch buffer per shard thread (not per connection: idle connections hold none).
  thread_local std::string record;
  record.clear();
  record.reserve(kTlsRecord);
  std::size_t budget = kTlsSendChunk;
  auto flush = [&] {
    if (record.empty()) return true;
    bool ok = channel_->write(record) == tls::Channel::Status::ok;
    record.clear();
    return ok;
  };
  while (!send_queue_.empty() && budget > 0) {
    const proto::OutputBatch& batch = send_queue_.front();
    std::size_t skip = send_offset_;
    for (std::string_view segment : batch.segments()) {
      if (skip >= segment.size()) {
        skip -= segment.size();
        continue;
      }
      segment.remove_prefix(skip);
      skip = 0;
      while (!segment.empty() && budget > 0) {
        std::size_t n = std::min({segment.size(), kTlsRecord - record.size(), budget});
        record.append(segment.substr(0, n));
        segment.remove_prefix(n);
        send_offset_ += n;
        budget -= n;
        if (record.size() == kTlsRecord && !flush()) return false;
      }
      if (budget == 0) break;
    }
    if (send_offset_ < batch.size()) break;
    send_queue_.pop_front();
    send_offset_ = 0;
  }
  return flush();
}

void SmtpConnection::send_encrypted() {
  if (tls_out_offset_ >= tls_out_.size()) {
    tls_out_offset_ = 0;
    if (channel_->handshake_done() && !send_queue_.empty() && !encrypt_queued()) {
      abort(channel_->error());  // the channel is unusable: the session's results say so
      return;
    }
    channel_->swap_output(tls_out_);
  }
  if (tls_out_offset_ >= tls_out_.size()) return;
  io_uring_sqe* sqe = ring_.prepare(&send_op_);
  io_uring_prep_send(sqe, fd_, tls_out_.data() + tls_out_offset_, tls_out_.size() - tls_out_offset_,
                     MSG_NOSIGNAL);
  send_op_.in_flight = true;
  send_was_encrypted_ = true;
}

void SmtpConnection::begin_close() {
  if (state_ == State::closed) return;
  if (state_ != State::closing) {
    state_ = State::closing;
    timer_.cancel();
  }
  if (close_after_send_ && (send_op_.in_flight || output_pending())) return;  // QUIT first
  if (fd_ >= 0) {
    // Wakes the receive (it completes with 0) and cancels a connect still in flight.
    ::shutdown(fd_, SHUT_RDWR);
    if (connect_op_.in_flight) {
      io_uring_prep_cancel(ring_.prepare_untracked(), &connect_op_, 0);
    }
    if (recv_op_.in_flight) {
      io_uring_prep_cancel(ring_.prepare_untracked(), &recv_op_, 0);
    }
  }
  finish_if_quiet();
}

void SmtpConnection::finish_if_quiet() {
  if (state_ != State::closing) return;
  if (connect_op_.in_flight || recv_op_.in_flight || send_op_.in_flight) return;
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  state_ = State::closed;
  send_queue_.clear();
  listener_->on_closed(*this);  // may schedule this object's destruction
}

}  // namespace ringrelay::engine
