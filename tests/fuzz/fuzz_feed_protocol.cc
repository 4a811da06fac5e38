// Fuzzes the feed protocol parser (protocols 1 and 2) with arbitrary lines: no crash, and a refused
// line always names what is wrong; an accepted delivery always has recipients and exactly one of
// an inline body and a spool reference (opened later, beneath spool_directories); a hello's client
// name is only ever accepted with protocol 2.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "engine/feed/feed_protocol.hh"

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
    bool inline_body = r.message.body.size() == 1 && !r.spool_reference;
    bool by_reference = r.message.body.empty() && r.spool_reference &&
                        !r.spool_reference->path.empty() && r.spool_reference->path[0] == '/';
    if (r.id.empty() || r.message.recipients.empty() || inline_body == by_reference) std::abort();
    if (r.unfinished != r.message.recipients.size()) std::abort();
  }
  if (command->type == ringrelay::engine::FeedCommand::Type::hello) {
    if (command->protocol < 1 || command->protocol > 2) std::abort();
    if (!command->client.empty() && (command->protocol != 2 || command->client.size() > 64))
      std::abort();
  }
  return 0;
}
