// The feed protocol (docs/feed-protocol.md): JSON objects, one per line, between queue managers and
// ringrelay. Parsing and validating requests, and formatting what ringrelay sends back. No I/O
// here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/delivery_request.hh"
#include "engine/scheduler.hh"

namespace ringrelay::engine {

inline constexpr int kFeedProtocolVersion = 1;
inline constexpr std::size_t kMaxFeedLineBytes = 1 << 20;
inline constexpr std::size_t kMaxRecipientsPerRequest = 10000;

struct FeedError {
  std::string id;     // the request's id when it could be read
  std::string field;  // "recipients[1].address", or empty for the line as a whole
  std::string message;
};

struct FeedCommand {
  enum class Type { hello, deliver, collect } type = Type::hello;
  RequestPointer request;  // deliver: parsed, body mapped or copied
};

// Parses one line. On failure returns nullopt and fills `error`.
std::optional<FeedCommand> parse_feed_line(std::string_view line, FeedError& error);

std::string format_hello(const std::string& version);
std::string format_result(const ResultRecord& record, bool retained);
std::string format_done(const DeliveryRequest& request);
std::string format_error(const FeedError& error);

}  // namespace ringrelay::engine
