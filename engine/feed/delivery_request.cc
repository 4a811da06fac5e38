// A delivery request's body for the shards that deliver it: a waiting spool body is read once,
// by the first delivery that starts, under a lock (deliveries of one request may start on several
// shards at once).
#include "engine/feed/delivery_request.hh"

namespace ringrelay::engine {

bool DeliveryRequest::body_for_delivery(std::vector<std::string_view>& spans,
                                        std::string& problem) {
  if (!body_waiting) {
    spans = message.body;
    return true;
  }
  std::lock_guard lock(body_mutex_);
  if (spool.waiting()) {
    if (auto failed = spool.load()) body_problem_ = std::move(*failed);
  }
  if (!body_problem_.empty()) {
    problem = body_problem_;
    return false;
  }
  spans = {spool.bytes()};
  return true;
}

}  // namespace ringrelay::engine
