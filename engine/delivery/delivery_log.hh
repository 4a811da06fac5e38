// The delivery log: one line per recipient in Postfix's format, so pflogsumm and log exporters read
// it unchanged ("QUEUEID: to=<...>, relay=..., delay=..., delays=a/b/c/d, dsn=..., status=..."), or
// one JSON object per line (log_format = json: a result carries the feed's result record fields,
// docs/feed-protocol.md, after time, host, program, pid and sender; a notice its text). As
// Postfix 3.4+: to maillog_file, to syslog (mail facility) when it is empty, to standard output or
// error with "/dev/stdout" or "/dev/stderr". Syslog lines are batched by a writer thread
// (runtime/syslog_writer), not one syslog(3) call per recipient on shard 0.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "engine/delivery/scheduler.hh"
#include "engine/runtime/syslog_writer.hh"

namespace ringrelay::engine {

class DeliveryLog {
 public:
  // `facility`: syslog's, used when `path` is empty (syslog_facility); `syslog_socket` the
  // daemon's socket then.
  DeliveryLog(const std::string& path, bool json, std::string syslog_name, std::string hostname,
              int facility = 2 << 3 /* LOG_MAIL */, std::string syslog_socket = "/dev/log");
  ~DeliveryLog();

  void result(const ResultRecord& record);
  void notice(const std::string& text);
  // A notice about a connection: "ID: text" in Postfix's format (the text names the peer), with
  // "id" and "peer" fields in JSON.
  void connection_notice(const std::string& id, const std::string& peer, const std::string& text);
  // Result lines are buffered; the feed shard flushes once per loop turn, before the results it
  // reported reach the queue manager, so a result is in the log before its record is sent.
  // Notices are written at once.
  void flush();

  // Postfix's delay notation: at most two decimals, trailing zeros dropped ("0.01", "1.2", "23").
  static std::string format_delay(double seconds);
  // The Postfix line for a result, without the syslog prefix.
  static std::string postfix_line(const ResultRecord& record);

 private:
  void write(const std::string& program, const std::string& text);
  void emit(const std::string& line);  // one JSON line
  // `{"time":...,"host":...,"program":...,"pid":N,` for a JSON line.
  std::string json_start() const;
  std::FILE* file_ = nullptr;
  bool own_file_ = false;
  std::unique_ptr<SyslogWriter> syslog_;  // when logging to syslog
  bool json_;
  std::string syslog_name_, hostname_;
};

}  // namespace ringrelay::engine
