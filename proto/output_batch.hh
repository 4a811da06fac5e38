// Bytes for the engine to write, as a list of segments for one scatter/gather write: views into
// memory the caller keeps alive (the message body, static text) and small pieces the batch owns.
#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

class OutputBatch {
 public:
  // A segment that refers to memory outlived by the write (message spans, string literals).
  void add_view(std::string_view bytes) {
    if (bytes.empty()) return;
    // Adjacent views into one buffer become one segment: the clean body is a single iovec.
    if (!segments_.empty() && !last_owned_ &&
        segments_.back().data() + segments_.back().size() == bytes.data()) {
      segments_.back() =
          std::string_view(segments_.back().data(), segments_.back().size() + bytes.size());
    } else {
      segments_.push_back(bytes);
    }
    last_owned_ = false;
    total_ += bytes.size();
  }
  // A segment the batch keeps (commands, BDAT headers).
  void add_owned(std::string bytes) {
    if (bytes.empty()) return;
    total_ += bytes.size();
    owned_.push_back(std::move(bytes));
    segments_.push_back(owned_.back());
    last_owned_ = true;
  }
  void append(OutputBatch&& other) {
    for (auto segment : other.segments_) segments_.push_back(segment);
    owned_.splice(owned_.end(), other.owned_);
    total_ += other.total_;
    last_owned_ = true;  // never merge across batches
    other = OutputBatch{};
  }

  const std::vector<std::string_view>& segments() const { return segments_; }
  std::size_t size() const { return total_; }
  bool empty() const { return total_ == 0; }
  // All bytes in one string: for tests and logs, never on the hot path.
  std::string flatten() const {
    std::string out;
    out.reserve(total_);
    for (auto s : segments_) out += s;
    return out;
  }

 private:
  std::vector<std::string_view> segments_;
  std::list<std::string> owned_;  // list: nodes never move, so views into them stay valid
  std::size_t total_ = 0;
  bool last_owned_ = false;
};

}  // namespace ringrelay::proto
