// The batching syslog writer against a datagram socket bound by the test, standing in for
// /dev/log: lines arrive whole, in order, in glibc's format; a restarted daemon is reconnected to;
// a daemon that stops reading costs lines that are counted and reported, never a blocked caller.
#include "engine/runtime/syslog_writer.hh"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace ringrelay::engine {
namespace {

struct FakeDaemon {
  std::string path;
  int fd = -1;
  explicit FakeDaemon(std::string p) : path(std::move(p)) { bind_socket(); }
  ~FakeDaemon() {
    if (fd >= 0) ::close(fd);
    ::unlink(path.c_str());
  }
  void bind_socket() {
    ::unlink(path.c_str());
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  }
  void restart() {
    ::close(fd);
    bind_socket();
  }
  // The next datagram, or "" after `wait` without one.
  std::string receive(std::chrono::milliseconds wait = std::chrono::milliseconds(2000)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return "";
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
  }
};

std::string socket_path(const char* name) {
  return ::testing::TempDir() + "/" + name + "-" + std::to_string(::getpid());
}

TEST(SyslogWriter, LinesArriveWholeInOrderInSyslogsFormat) {
  FakeDaemon daemon(socket_path("syslog-order"));
  SyslogWriter writer("ringrelay/smtp", LOG_MAIL, daemon.path);
  for (int i = 0; i < 1000; ++i) writer.add("Q" + std::to_string(i) + ": to=<a@example.com>");
  writer.flush();
  // <PRI> is LOG_MAIL|LOG_INFO (22), then syslog(3)'s stamp ("Dec  4 14:55:34 "), the tag, the pid.
  const std::string tag = "ringrelay/smtp[" + std::to_string(::getpid()) + "]: ";
  for (int i = 0; i < 1000; ++i) {
    std::string got = daemon.receive();
    ASSERT_GT(got.size(), 20u) << got;
    EXPECT_EQ(got.substr(0, 4), "<22>") << got;
    EXPECT_TRUE(std::isupper(static_cast<unsigned char>(got[4])) && got[7] == ' ' &&
                got[10] == ' ' && got[13] == ':' && got[16] == ':' && got[19] == ' ')
        << got;
    ASSERT_EQ(got.substr(20), tag + "Q" + std::to_string(i) + ": to=<a@example.com>");
  }
  EXPECT_EQ(writer.dropped(), 0u);
}

TEST(SyslogWriter, WithoutFlushLinesStillGoOutSoon) {
  FakeDaemon daemon(socket_path("syslog-soon"));
  SyslogWriter writer("t", LOG_MAIL, daemon.path);
  writer.add("a notice");
  EXPECT_NE(daemon.receive(std::chrono::milliseconds(1000)).find("t["), std::string::npos);
}

TEST(SyslogWriter, AfterTheDaemonRestartsLinesGoToTheNewSocket) {
  FakeDaemon daemon(socket_path("syslog-restart"));
  SyslogWriter writer("t", LOG_MAIL, daemon.path);
  writer.add("before");
  writer.flush();
  EXPECT_NE(daemon.receive().find("before"), std::string::npos);
  daemon.restart();
  writer.add("after");
  writer.flush();
  EXPECT_NE(daemon.receive().find("after"), std::string::npos);
}

TEST(SyslogWriter, WithoutADaemonLinesAreLostNotWaitedFor) {
  auto started = std::chrono::steady_clock::now();
  {
    SyslogWriter writer("t", LOG_MAIL, socket_path("no-daemon-here"));
    for (int i = 0; i < 100; ++i) writer.add("nobody listens");
    writer.flush();
  }  // the destructor sends what it can and returns
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST(SyslogWriter, ADaemonThatStopsReadingCostsCountedLinesNotABlockedCaller) {
  FakeDaemon daemon(socket_path("syslog-stuck"));
  SyslogWriter writer("t", LOG_MAIL, daemon.path);
  // The writer sends until the daemon's queue is full, then waits in sendmmsg.
  for (int i = 0; i < 2000; ++i) writer.add("first " + std::to_string(i));
  writer.flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // Meanwhile the shards go on: adding never blocks, the queue is bounded.
  auto started = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < SyslogWriter::kMaxQueuedLines + 10; ++i) writer.add("second");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_GE(writer.dropped(), 10u);
  std::uint64_t dropped = writer.dropped();
  // Read everything: the last line says how many were dropped.
  std::string last, got;
  std::size_t lines = 0;
  while (!(got = daemon.receive(std::chrono::milliseconds(1000))).empty()) {
    last = got;
    ++lines;
  }
  EXPECT_EQ(lines, 2000 + SyslogWriter::kMaxQueuedLines + 10 - dropped + 1);
  EXPECT_NE(last.find("warning: " + std::to_string(dropped) + " log lines dropped"),
            std::string::npos)
      << last;
}

}  // namespace
}  // namespace ringrelay::engine
