// The connection driver: connect with a linked timeout, one receive and at most one sendmsg in
// flight, the session's actions carried out in order, and a close that waits for every operation
// to come back before the listener may free the object.
#include "engine/smtp_connection.hh"

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

std::string error_text(int error) {
  if (error == ETIMEDOUT || error == ECANCELED) return "Connection timed out";
  return std::strerror(error);
}

}  // namespace

SmtpConnection::SmtpConnection(Ring& ring, Timers& timers, ConnectionListener& listener,
                               ServerAddress server, proto::SessionSettings settings,
                               ConnectOptions options)
    : ring_(ring),
      timers_(timers),
      listener_(&listener),
      server_(std::move(server)),
      options_(std::move(options)),
      session_(std::move(settings), server_.name_address()) {
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
    if (source && source->family() == server_.family() &&
        ::bind(fd_, reinterpret_cast<const sockaddr*>(&source->storage), source->length) != 0) {
      fail_connect(errno);
      return;
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
    abort("shutting down");
  }
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
  session_.on_connect_failed(server_.name_address_port(), error_text(error));
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
  self.connected_at_ = Clock::now();
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
    if (result == -ENOBUFS || result == -EINTR || result == -EAGAIN) {
      self.arm_recv();
      return;
    }
    self.session_.on_connection_lost();
    self.run_actions();
    self.begin_close();
    return;
  }
  self.session_.on_received(bytes);
  give_back();
  self.arm_recv();  // only when the multishot ended
  self.run_actions();
}

void SmtpConnection::kick_send() {
  if (send_op_.in_flight || send_queue_.empty() || state_ == State::closed) return;
  if (state_ != State::open && !(state_ == State::closing && close_after_send_)) return;
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
    if (result == -EINTR || result == -EAGAIN) {
      self.kick_send();
      return;
    }
    self.send_queue_.clear();
    if (self.state_ == State::open) {
      self.session_.on_connection_lost();
      self.run_actions();
    }
    self.begin_close();
    self.finish_if_quiet();
    return;
  }
  // Drop what was written: whole batches, then part of the next one.
  std::size_t written = static_cast<std::size_t>(result) + self.send_offset_;
  while (!self.send_queue_.empty() && written >= self.send_queue_.front().size()) {
    written -= self.send_queue_.front().size();
    self.send_queue_.pop_front();
  }
  self.send_offset_ = self.send_queue_.empty() ? 0 : written;
  if (!self.send_queue_.empty()) {
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

void SmtpConnection::run_actions() {
  for (;;) {
    auto actions = session_.take_actions();
    if (actions.empty()) break;
    for (auto& action : actions) {
      if (auto* w = std::get_if<proto::WriteAction>(&action)) {
        send_queue_.push_back(std::move(w->bytes));
        kick_send();
      } else if (auto* t = std::get_if<proto::ArmTimerAction>(&action)) {
        timer_.arm(timers_, std::chrono::seconds(t->seconds), [this] {
          session_.on_timeout();
          run_actions();
        });
      } else if (std::holds_alternative<proto::CancelTimerAction>(action)) {
        timer_.cancel();
      } else if (std::holds_alternative<proto::StartTlsAction>(action)) {
        // TLS is not wired into the engine yet; the engine never asks for it (TlsMode::none).
        session_.on_tls_failed("TLS is not available in this build");
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
        close_after_send_ = !send_queue_.empty();
        begin_close();
      }
    }
    if (!handshake_seen_ && session_.handshake_done()) {
      handshake_seen_ = true;
      handshake_done_at_ = Clock::now();
    }
  }
}

void SmtpConnection::begin_close() {
  if (state_ == State::closed) return;
  if (state_ != State::closing) {
    state_ = State::closing;
    timer_.cancel();
  }
  if (close_after_send_ && (send_op_.in_flight || !send_queue_.empty())) return;  // QUIT first
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
