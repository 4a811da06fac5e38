// Fuzzes the reply parser: arbitrary server bytes, fed in pieces whose split points come from the
// input itself. Checks the bounds hold and every complete reply is well formed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/reply_parser.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using ringrelay::proto::Reply;
  using ringrelay::proto::ReplyParser;
  if (size == 0) return 0;
  const ringrelay::proto::ReplyLimits limits{.max_line_length = 64, .max_lines = 4};
  ReplyParser parser(limits);
  // The first byte chooses the piece size, so split points vary across inputs.
  std::size_t piece = 1 + data[0] % 17;
  std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!all.empty()) {
    std::string_view input = all.substr(0, piece);
    all.remove_prefix(input.size());
    while (!input.empty()) {
      Reply reply;
      auto status = parser.parse(input, reply);
      if (status == ReplyParser::Status::need_more) break;
      if (reply.lines.size() > limits.max_lines) std::abort();
      for (const auto& line : reply.lines) {
        if (line.size() > limits.max_line_length) std::abort();
      }
      if (status == ReplyParser::Status::reply) {
        if (reply.code < 200 || reply.code > 599 || reply.enhanced.size() < 5) std::abort();
        if (reply.enhanced[0] != static_cast<char>('0' + reply.code / 100)) std::abort();
      }
    }
  }
  return 0;
}
