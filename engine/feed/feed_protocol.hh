// The feed protocol (docs/feed-protocol.md): JSON objects, one per line, between queue managers and
// ringrelay. Parsing and validating requests, and formatting what ringrelay sends back. No I/O
// here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/delivery/scheduler.hh"
#include "engine/feed/delivery_request.hh"

namespace ringrelay::engine {

// Protocol 1: results at most once (kept for "collect" only when a write fails). Protocol 2: every
// record carries a sequence number and is kept until the client, named in its hello, acknowledges.
inline constexpr int kFeedProtocolVersion = 1;  // what a client that does not say speaks
inline constexpr int kFeedProtocolLatest = 2;
inline constexpr std::size_t kMaxClientNameBytes = 64;
inline constexpr std::size_t kMaxFeedLineBytes = 1 << 20;
inline constexpr std::size_t kMaxRecipientsPerRequest = 10000;

struct FeedError {
  std::string id;     // the request's id when it could be read
  std::string field;  // "recipients[1].address", or empty for the line as a whole
  std::string message;
};

struct FeedCommand {
  enum class Type { hello, deliver, collect, ack } type = Type::hello;
  RequestPointer request;  // deliver: parsed; a body by reference is read by the feed server
  int protocol = kFeedProtocolVersion;  // hello
  std::string client;                   // hello: the client identity (protocol 2), or empty
  std::string secret;                   // hello: the TCP listener's shared secret
  std::uint64_t upto = 0;               // ack: every record up to this sequence number
};

// Parses one line. On failure returns nullopt and fills `error`.
std::optional<FeedCommand> parse_feed_line(std::string_view line, FeedError& error);

std::string format_hello(const std::string& version, bool journal);
// The answer to a protocol-2 hello: what is waiting for the client.
std::string format_welcome(const std::string& client, std::size_t unacknowledged,
                           std::size_t in_flight);
// A result or done record; `seq` is its sequence number (0: none, protocol 1 without one).
std::string format_result(const ResultRecord& record, std::uint64_t seq);
// The same record without "seq", and where number_record puts it: the delivering shard formats,
// the feed's shard only numbers. number_record(format_unnumbered_result(r), n) is
// format_result(r, n).
struct UnnumberedRecord {
  std::string text;
  std::size_t seq_offset = 0;
};
UnnumberedRecord format_unnumbered_result(const ResultRecord& record);
std::string number_record(UnnumberedRecord record, std::uint64_t seq);
std::string format_done(const DeliveryRequest& request, std::uint64_t seq);
// The end of what a collect (or a protocol-2 hello) handed over: results and done records apart.
std::string format_collected(std::size_t results, std::size_t done);
std::string format_error(const FeedError& error);
// `value` as a JSON string appended to `out`, as every record writes its strings (invalid UTF-8
// replaced).
void append_json_string(std::string& out, std::string_view value);

}  // namespace ringrelay::engine
