// Syslog without a system call per line on the shards: lines are formatted as glibc's syslog(3)
// formats them ("<PRI>Mmm dd hh:mm:ss TAG[PID]: text") and queued; a writer thread sends what has
// queued, up to 256 lines per sendmmsg(2), to the syslog socket (/dev/log). A slow syslog daemon
// never blocks a shard: at most kMaxQueuedLines wait, lines beyond that are counted, and the count
// is logged ("N log lines dropped") as soon as there is room again.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace ringrelay::engine {

// "Dec  4 14:55:34": local time as syslog(3) stamps a line (no year, no host), formatted once a
// second per thread. The writer's lines and maillog_file's lines both carry it.
std::string_view syslog_time_stamp();

class SyslogWriter {
 public:
  static constexpr std::size_t kMaxQueuedLines = 65536;
  // `tag` as openlog's ("ringrelay/smtp"), `facility` as syslog(3)'s (LOG_MAIL), `socket_path` the
  // daemon's datagram socket.
  SyslogWriter(std::string tag, int facility, std::string socket_path = "/dev/log");
  // Sends every queued line, then stops the thread.
  ~SyslogWriter();
  SyslogWriter(const SyslogWriter&) = delete;
  SyslogWriter& operator=(const SyslogWriter&) = delete;

  // Queues one line at LOG_INFO (any thread). It goes out when flush() is called or within 50 ms.
  void add(std::string_view text);
  // Wakes the writer for what has been queued (any thread; the feed shard calls it once per loop
  // turn, so lines go out in batches).
  void flush();
  // Lines dropped so far because the queue was full (for tests and the stop notice).
  std::uint64_t dropped() const;

 private:
  std::string format(std::string_view text) const;  // "<PRI>stamp TAG[PID]: text"
  void run();
  void send_batch(std::deque<std::string>& batch);
  void connect_socket();

  const std::string tag_;
  const int priority_;
  const std::string socket_path_;
  const int pid_;
  int fd_ = -1;
  bool warned_ = false;  // a send failure was reported on stderr (once per failure episode)

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> queue_;
  std::uint64_t dropped_ = 0, dropped_reported_ = 0;
  bool flush_requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ringrelay::engine
