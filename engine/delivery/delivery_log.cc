// Delivery log lines in Postfix's format (or JSON), with a syslog-style prefix.
#include "engine/delivery/delivery_log.hh"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/feed/feed_protocol.hh"

namespace ringrelay::engine {
namespace {

std::string json_text(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

DeliveryLog::DeliveryLog(const std::string& path, bool json, std::string syslog_name,
                         std::string hostname, int facility, std::string syslog_socket)
    : json_(json), syslog_name_(std::move(syslog_name)), hostname_(std::move(hostname)) {
  if (path.empty()) {
    syslog_ =
        std::make_unique<SyslogWriter>(syslog_name_ + "/smtp", facility, std::move(syslog_socket));
  } else if (path == "/dev/stdout") {
    file_ = stdout;
  } else if (path == "/dev/stderr") {
    file_ = stderr;
  } else {
    file_ = std::fopen(path.c_str(), "a");
    own_file_ = file_ != nullptr;
    if (own_file_) std::setvbuf(file_, nullptr, _IOFBF, 1 << 16);
    if (file_ == nullptr) {
      std::fprintf(stderr, "ringrelay: warning: maillog_file %s: cannot open, logging to stderr\n",
                   path.c_str());
      file_ = stderr;
    }
  }
}

DeliveryLog::~DeliveryLog() {
  if (own_file_) std::fclose(file_);
}

std::string DeliveryLog::format_delay(double seconds) {
  // Postfix's precision: whole seconds from 10 s, tenths from 1 s, hundredths below, truncated,
  // trailing zeros dropped. Integer arithmetic: two of these per result, four more in delays=.
  if (!(seconds >= 0)) seconds = 0;   // negative or NaN
  seconds = std::min(seconds, 1e15);  // fits the integer below
  char text[32];
  char* end = text + sizeof text;
  char* out = text;
  auto digits = [&](std::uint64_t value) { out = std::to_chars(out, end, value).ptr; };
  if (seconds >= 10) {
    digits(static_cast<std::uint64_t>(seconds));
  } else if (seconds >= 1) {
    auto tenths = static_cast<std::uint64_t>(seconds * 10);
    digits(tenths / 10);
    if (tenths % 10 != 0) {
      *out++ = '.';
      *out++ = static_cast<char>('0' + tenths % 10);
    }
  } else {
    auto hundredths = static_cast<std::uint64_t>(seconds * 100);
    *out++ = '0';
    if (hundredths != 0) {
      *out++ = '.';
      *out++ = static_cast<char>('0' + hundredths / 10);
      if (hundredths % 10 != 0) *out++ = static_cast<char>('0' + hundredths % 10);
    }
  }
  return std::string(text, out);
}

std::string DeliveryLog::postfix_line(const ResultRecord& r) {
  const auto& recipient = r.request->message.recipients[r.recipient];
  std::string status = r.result.status == proto::DeliveryStatus::sent      ? "sent"
                       : r.result.status == proto::DeliveryStatus::bounced ? "bounced"
                                                                           : "deferred";
  std::string line = r.request->id + ": to=<" + recipient.address + ">";
  if (!recipient.orcpt.empty() && recipient.orcpt.starts_with("rfc822;") &&
      recipient.orcpt.substr(7) != recipient.address) {
    line += ", orig_to=<" + recipient.orcpt.substr(7) + ">";
  }
  line += ", relay=" + r.relay;
  if (!r.source.empty()) line += ", source=" + r.source;  // only with egress pools
  if (r.connection_use > 1) line += ", conn_use=" + std::to_string(r.connection_use);
  line += ", delay=" + format_delay(r.delay) + ", delays=" + format_delay(r.delays[0]) + "/" +
          format_delay(r.delays[1]) + "/" + format_delay(r.delays[2]) + "/" +
          format_delay(r.delays[3]);
  line += ", dsn=" + r.result.dsn + ", status=" + status + " (" + r.result.text + ")";
  return line;
}

void DeliveryLog::result(const ResultRecord& r) {
  const std::string program = "smtp";
  if (!json_) {
    write(program, postfix_line(r));
    return;
  }
  // The feed's result record (one formatter for both, and formatted once when the feed did it
  // already), after the fields a log line needs.
  std::string formatted;
  std::string_view record = r.unnumbered_record;
  if (record.empty()) record = formatted = format_result(r, 0);
  if (!record.empty() && record.back() == '\n') record.remove_suffix(1);
  emit(json_start() + "\"sender\":" + json_text(r.request->message.sender) + "," +
       std::string(record.substr(1)));
}

void DeliveryLog::notice(const std::string& text) {
  // Notices are few (start, stop, connection and TLS events): each is written at once, and
  // carries out any result lines buffered before it.
  if (!json_) {
    write("smtp", text);
  } else {
    emit(json_start() + "\"type\":\"notice\",\"text\":" + json_text(text) + "}");
  }
  flush();
}

std::string DeliveryLog::json_start() const {
  static const int pid = static_cast<int>(::getpid());
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm tm{};
  gmtime_r(&now.tv_sec, &tm);
  char stamp[48];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%06ldZ", now.tv_nsec / 1000);
  return std::string("{\"time\":\"") + stamp + "\",\"host\":" + json_text(hostname_) +
         ",\"program\":" + json_text(syslog_name_ + "/smtp") + ",\"pid\":" + std::to_string(pid) +
         ",";
}

void DeliveryLog::connection_notice(const std::string& id, const std::string& peer,
                                    const std::string& text) {
  if (!json_) {
    notice(id.empty() ? text : id + ": " + text);
    return;
  }
  std::string line = json_start() + "\"type\":\"notice\",";
  if (!id.empty()) line += "\"id\":" + json_text(id) + ",";
  line += "\"peer\":" + json_text(peer) + ",\"text\":" + json_text(text) + "}";
  emit(line);
  flush();
}

void DeliveryLog::emit(const std::string& line) {
  if (syslog_) {
    syslog_->add(line);
    return;
  }
  std::fprintf(file_, "%s\n", line.c_str());
}

void DeliveryLog::flush() {
  if (syslog_) syslog_->flush();
  if (file_ != nullptr) std::fflush(file_);
}

void DeliveryLog::write(const std::string& program, const std::string& text) {
  if (syslog_) {
    syslog_->add(text);  // the writer stamps it as syslog(3) would; the daemon adds the host
    return;
  }
  static const int pid = static_cast<int>(::getpid());
  std::string_view stamp = syslog_time_stamp();
  std::fprintf(file_, "%.*s %s %s/%s[%d]: %s\n", static_cast<int>(stamp.size()), stamp.data(),
               hostname_.c_str(), syslog_name_.c_str(), program.c_str(), pid, text.c_str());
}

}  // namespace ringrelay::engine
