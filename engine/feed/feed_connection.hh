// A feed connection on its way from one shard to another: a named client's connection goes to
// the shard that holds its stream, an unnamed one to shard 0 (the collect pool). It moves at a
// line boundary, once everything queued for it was written; `carry` is what it sent that the
// shard it leaves did not handle (starting with the line that made it move).
#pragma once

#include <cstddef>
#include <string>

namespace ringrelay::engine {

struct FeedConnection {
  int fd = -1;
  bool tcp = false;
  bool authenticated = false;
  std::string carry;
  std::size_t target = 0;  // the shard that takes it
  int moves = 0;           // shards it went through: a bound against moving on for ever
};

}  // namespace ringrelay::engine
