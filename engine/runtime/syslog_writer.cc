// The batching syslog writer: glibc's line format, one writer thread, sendmmsg to /dev/log.
#include "engine/runtime/syslog_writer.hh"

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace ringrelay::engine {
namespace {

constexpr std::size_t kLinesPerSend = 256;

}  // namespace

std::string_view syslog_time_stamp() {
  thread_local std::time_t stamped = 0;
  thread_local char stamp[32] = "";
  thread_local std::size_t length = 0;
  std::time_t now = std::time(nullptr);
  if (now != stamped) {
    std::tm tm{};
    localtime_r(&now, &tm);
    length = std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
    stamped = now;
  }
  return {stamp, length};
}

SyslogWriter::SyslogWriter(std::string tag, int facility, std::string socket_path)
    : tag_(std::move(tag)),
      priority_((facility & LOG_FACMASK) | LOG_INFO),
      socket_path_(std::move(socket_path)),
      pid_(static_cast<int>(::getpid())) {
  connect_socket();  // as openlog(LOG_NDELAY): before any chroot or privilege change
  thread_ = std::thread([this] { run(); });
}

SyslogWriter::~SyslogWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

std::string SyslogWriter::format(std::string_view text) const {
  std::string line;
  line.reserve(text.size() + tag_.size() + 40);
  line += '<';
  line += std::to_string(priority_);
  line += '>';
  line += syslog_time_stamp();
  line += ' ';
  line += tag_;
  line += '[';
  line += std::to_string(pid_);
  line += "]: ";
  line += text;
  return line;
}

void SyslogWriter::add(std::string_view text) {
  std::string line = format(text);
  std::lock_guard lock(mutex_);
  if (queue_.size() >= kMaxQueuedLines) {
    ++dropped_;
    return;
  }
  queue_.push_back(std::move(line));
}

void SyslogWriter::flush() {
  {
    std::lock_guard lock(mutex_);
    if (queue_.empty()) return;
    flush_requested_ = true;
  }
  wake_.notify_one();
}

std::uint64_t SyslogWriter::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

void SyslogWriter::run() {
  pthread_setname_np(pthread_self(), "rr-syslog");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait_for(lock, std::chrono::milliseconds(50),
                   [this] { return stopping_ || flush_requested_; });
    flush_requested_ = false;
    if (queue_.empty()) {
      if (stopping_) return;
      continue;
    }
    std::deque<std::string> batch;
    batch.swap(queue_);
    std::uint64_t newly_dropped = dropped_ - dropped_reported_;
    dropped_reported_ = dropped_;
    lock.unlock();
    if (newly_dropped > 0) {
      batch.push_back(format("warning: " + std::to_string(newly_dropped) +
                             " log lines dropped: the syslog daemon did not keep up"));
    }
    send_batch(batch);
    lock.lock();
  }
}

void SyslogWriter::connect_socket() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path_.c_str(), sizeof address.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void SyslogWriter::send_batch(std::deque<std::string>& batch) {
  std::vector<iovec> pieces(std::min(batch.size(), kLinesPerSend));
  std::vector<mmsghdr> messages(pieces.size());
  std::size_t next = 0;
  bool reconnected = false;
  while (next < batch.size()) {
    if (fd_ < 0 && !reconnected) {
      connect_socket();  // the daemon restarted, or was not there at start
      reconnected = true;
    }
    if (fd_ < 0) break;
    std::size_t count = std::min(batch.size() - next, kLinesPerSend);
    for (std::size_t i = 0; i < count; ++i) {
      std::string& line = batch[next + i];
      pieces[i] = {line.data(), line.size()};
      messages[i] = {};
      messages[i].msg_hdr.msg_iov = &pieces[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = ::sendmmsg(fd_, messages.data(), static_cast<unsigned>(count), MSG_NOSIGNAL);
    if (sent > 0) {
      next += static_cast<std::size_t>(sent);
      warned_ = false;
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno == EMSGSIZE) {
      ++next;  // one line too long for a datagram: that line only
      continue;
    }
    if (!reconnected && sent < 0 &&
        (errno == ECONNREFUSED || errno == ENOTCONN || errno == ENOENT)) {
      ::close(fd_);
      fd_ = -1;
      continue;
    }
    break;
  }
  if (next < batch.size() && !warned_) {
    std::fprintf(stderr, "ringrelay: syslog: cannot send to %s: %s; %zu lines lost\n",
                 socket_path_.c_str(), fd_ < 0 ? "not connected" : std::strerror(errno),
                 batch.size() - next);
    warned_ = true;
  }
}

}  // namespace ringrelay::engine
