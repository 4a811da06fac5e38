// Result streams: deques per client, a global count for the retention limit.
#include "engine/feed/result_stream.hh"
#include "engine/runtime/invariant.hh"

namespace ringrelay::engine {

void ResultStreams::add(const std::string& client, StreamRecord record) {
  if (retention_limit_ > 0 && total_ >= retention_limit_) drop_oldest("limit");
  streams_[client].push_back(std::move(record));
  ++total_;
}

std::size_t ResultStreams::acknowledge(const std::string& client, std::uint64_t upto) {
  auto it = streams_.find(client);
  if (it == streams_.end()) return 0;
  std::size_t removed = 0;
  auto& records = it->second;
  while (!records.empty() && records.front().seq <= upto) {
    records.pop_front();
    ++removed;
  }
  RINGRELAY_CHECK(total_ >= removed, "result stream byte count");
  total_ -= removed;
  return removed;
}

std::deque<StreamRecord>& ResultStreams::records(const std::string& client) {
  return streams_[client];
}

void ResultStreams::forget_if_empty(const std::string& client) {
  auto it = streams_.find(client);
  if (it != streams_.end() && it->second.empty()) streams_.erase(it);
}

void ResultStreams::drop_oldest(const char* why) {
  // Streams are few (one per queue manager): a scan for the oldest front is cheap.
  auto oldest = streams_.end();
  for (auto it = streams_.begin(); it != streams_.end(); ++it) {
    if (!it->second.empty() &&
        (oldest == streams_.end() || it->second.front().seq < oldest->second.front().seq))
      oldest = it;
  }
  if (oldest == streams_.end()) return;
  if (on_drop) on_drop(oldest->first, oldest->second.front(), why);
  oldest->second.pop_front();
  --total_;
}

void ResultStreams::expire() {
  while (retention_limit_ > 0 && total_ > retention_limit_) drop_oldest("limit");
  auto cutoff = Clock::now() - retention_time_;
  for (auto& [client, records] : streams_) {
    while (!records.empty() && records.front().when < cutoff) {
      if (on_drop) on_drop(client, records.front(), "expired");
      records.pop_front();
      --total_;
    }
  }
}

void ResultStreams::for_each(
    const std::function<void(const std::string&, const StreamRecord&)>& visit) const {
  for (const auto& [client, records] : streams_) {
    for (const auto& r : records) visit(client, r);
  }
}

std::string with_flag(const std::string& line, std::string_view flag) {
  std::string out = line;
  if (out.size() >= 2 && out[out.size() - 2] == '}') {
    out.insert(out.size() - 2, std::string(",\"") + std::string(flag) + "\":true");
  }
  return out;
}

}  // namespace ringrelay::engine
