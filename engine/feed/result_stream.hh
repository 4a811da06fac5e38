// The results that queue managers have not acknowledged yet, per client identity, in the order they
// are sent: the feed's promise that no result is lost. A record stays until its client acknowledges
// it (protocol 2: a cumulative "ack"; protocol 1: when the line is written), across disconnects;
// retention limits (count and age) drop the oldest and say which, for the log. No I/O here: the
// feed server moves records to sockets, the results journal makes them durable.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace ringrelay::engine {

// The pool that protocol-1 clients "collect" from: results whose connection went away.
inline constexpr const char* kAnonymousPool = "";

struct StreamRecord {
  std::uint64_t seq = 0;
  std::string line;  // the record as sent the first time, ending in "}\n"
  std::chrono::system_clock::time_point when;
  bool is_result = true;     // a result, not a done record
  bool sent_before = false;  // written (maybe only partly) to some connection: resent, it says so
};

class ResultStreams {
 public:
  using Clock = std::chrono::system_clock;
  ResultStreams(std::size_t retention_limit, std::chrono::seconds retention_time)
      : retention_limit_(retention_limit), retention_time_(retention_time) {}

  // Called for each record that a retention limit drops (why: "limit" or "expired").
  std::function<void(const std::string& client, const StreamRecord&, const char* why)> on_drop;

  // Appends a record to `client`'s stream (created on demand).
  void add(const std::string& client, StreamRecord record);
  // Removes `client`'s records with seq <= `upto` (a stream is in seq order). The caller limits
  // `upto` to what it really sent: a client cannot acknowledge what it has not seen. Returns how
  // many were removed.
  std::size_t acknowledge(const std::string& client, std::uint64_t upto);
  // The records of `client`, oldest first (empty when it has none).
  std::deque<StreamRecord>& records(const std::string& client);
  bool has(const std::string& client) const { return streams_.count(client) > 0; }
  void forget_if_empty(const std::string& client);
  // Applies retention: the count limit, then age.
  void expire();

  std::size_t total() const { return total_; }
  std::size_t streams() const { return streams_.size(); }
  // Every record with its client, for a journal snapshot.
  void for_each(const std::function<void(const std::string&, const StreamRecord&)>& visit) const;

 private:
  void drop_oldest(const char* why);
  std::size_t retention_limit_;
  std::chrono::seconds retention_time_;
  std::map<std::string, std::deque<StreamRecord>> streams_;
  std::size_t total_ = 0;
};

// Marks a record line as a resend ("redelivered":true) or a collected one ("retained":true).
std::string with_flag(const std::string& line, std::string_view flag);

}  // namespace ringrelay::engine
