// One delivery request as the feed hands it to a shard: the message (envelope and body spans), the
// next hop, where the body bytes live (a mapped spool region or an inline copy), and how many of
// its recipients still wait for a result. Shared by the jobs that carry parts of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/mapped_file.hh"
#include "engine/timers.hh"
#include "proto/message.hh"

namespace ringrelay::engine {

struct DeliveryRequest {
  std::string id;                 // the queue manager's id (Postfix's queue id in logs)
  std::uint64_t feed_client = 0;  // the feed connection that sent it (0: none)
  std::string nexthop;            // explicit next hop, or empty to route by recipient domain
  proto::Message message;         // body spans point into `inline_body` or `spool`
  std::string inline_body;
  MappedFile spool;
  Clock::time_point received = Clock::now();
  double queued_seconds = 0;   // time spent with the queue manager before it reached us
  std::size_t unfinished = 0;  // recipients without a final result
  std::size_t sent = 0, deferred = 0, bounced = 0;
};

using RequestPointer = std::shared_ptr<DeliveryRequest>;

}  // namespace ringrelay::engine
