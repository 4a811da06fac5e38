// Fuzzes the feed protocol parser with arbitrary lines: no crash, and a refused line always names
// what is wrong; an accepted delivery always has recipients and a body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/feed_protocol.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  ringrelay::engine::FeedError error;
  auto command = ringrelay::engine::parse_feed_line(line, error);
  if (!command) {
    if (error.message.empty()) std::abort();
    return 0;
  }
  if (command->type == ringrelay::engine::FeedCommand::Type::deliver) {
    const auto& r = *command->request;
    if (r.id.empty() || r.message.recipients.empty() || r.message.body.size() != 1) std::abort();
    if (r.unfinished != r.message.recipients.size()) std::abort();
  }
  return 0;
}
