// One delivery request as the feed hands it to a shard: the message (envelope and body spans), the
// next hop, where the body bytes live (read from a spool file, or an inline copy), and how many of
// its recipients still wait for a result. Shared by the jobs that carry parts of it, on any shard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/delivery/site_queue.hh"
#include "engine/feed/spool_reader.hh"
#include "engine/runtime/timers.hh"
#include "proto/message.hh"

namespace ringrelay::engine {

inline constexpr std::size_t kTenantNameLimit = 64;

struct DeliveryRequest {
  std::string id;                 // the queue manager's id (Postfix's queue id in logs)
  std::uint64_t feed_client = 0;  // the feed connection that sent it (0: none)
  std::size_t feed_shard = 0;     // the shard whose feed server took it: its results go there
  std::string nexthop;            // explicit next hop, or empty to route by recipient domain
  proto::Message message;         // body spans point into `inline_body` or `spool`
  std::string inline_body;
  // The body by reference, as the request gave it; the feed reads it into `spool` (SpoolReader).
  struct SpoolReference {
    std::string path;
    std::uint64_t offset = 0, size = 0;
  };
  std::optional<SpoolReference> spool_reference;
  SpoolBody spool;
  // Set by the feed before the request is dispatched, then constant: the spool body waits in its
  // file (a large body), and `message.body` stays empty; deliveries take body_for_delivery().
  bool body_waiting = false;
  std::string feed_client_name;  // the client identity its results belong to (feed protocol v2)
  Clock::time_point received = Clock::now();
  double queued_seconds = 0;        // time spent with the queue manager before it reached us
  int priority = kDefaultPriority;  // 0 (lowest) to 9 (highest): its turn in its site's queue
  std::string pool;    // the egress pool (or source) it leaves from, lower case; empty: the default
  std::string tenant;  // the queue manager's customer or stream, lower case: for ctl suspend
  std::size_t unfinished = 0;  // recipients without a final result
  std::vector<bool> reported;  // per recipient: its final result was reported (feed's shard only)
  std::size_t sent = 0, deferred = 0, bounced = 0;

  // The body spans a delivery sends: `message.body`, or for a waiting body its bytes, read by the
  // first delivery to start (on whichever shard). False, with why, when it could not be read.
  bool body_for_delivery(std::vector<std::string_view>& spans, std::string& problem);

 private:
  std::mutex body_mutex_;     // serialises the read of a waiting body across shards
  std::string body_problem_;  // why it could not be read, once tried
};

using RequestPointer = std::shared_ptr<DeliveryRequest>;

}  // namespace ringrelay::engine
