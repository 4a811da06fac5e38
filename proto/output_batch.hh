// Bytes for the engine to write, as a list of segments for one scatter/gather write: views into
// memory the caller keeps alive (the message body, static text), pieces the batch owns, and copy
// buffers that gather many short pieces into one segment.
#pragma once

#include <algorithm>
#include <cstddef>
#include <list>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::proto {

class OutputBatch {
 public:
  // Segments point into owned_: a copy would point into the original's buffers.
  OutputBatch() = default;
  OutputBatch(const OutputBatch&) = delete;
  OutputBatch& operator=(const OutputBatch&) = delete;
  OutputBatch(OutputBatch&&) = default;
  OutputBatch& operator=(OutputBatch&&) = default;

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
    copy_open_ = false;
    total_ += bytes.size();
  }
  // A segment the batch keeps (commands, BDAT headers).
  void add_owned(std::string bytes) {
    if (bytes.empty()) return;
    total_ += bytes.size();
    owned_.push_back(std::move(bytes));
    segments_.push_back(owned_.back());
    last_owned_ = true;
    copy_open_ = false;
  }
  // Bytes copied to the end of the last segment when it is a copy buffer with room, else into a
  // new copy buffer: 4 KiB, then twice the previous one, up to 64 KiB, never more than
  // `capacity_hint` (what the caller still has to copy) nor less than `bytes`. Many short pieces
  // (the lines of a body with bare LFs, each followed by an inserted CRLF) become a few segments:
  // iovecs for the kernel instead of two per line.
  static constexpr std::size_t kFirstCopyBuffer = 4 * 1024;
  static constexpr std::size_t kMaxCopyBuffer = 64 * 1024;
  void add_copy(std::string_view bytes, std::size_t capacity_hint) {
    if (bytes.empty()) return;
    total_ += bytes.size();
    if (copy_open_ && owned_.back().capacity() - owned_.back().size() >= bytes.size()) {
      std::string& buffer = owned_.back();
      buffer.append(bytes);  // within the capacity: the segment's data pointer stays valid
      segments_.back() = std::string_view(buffer.data(), buffer.size());
      return;
    }
    std::size_t capacity = std::min(
        {capacity_hint, kMaxCopyBuffer, std::max(kFirstCopyBuffer, 2 * last_copy_capacity_)});
    std::string& buffer = owned_.emplace_back();
    buffer.reserve(std::max(bytes.size(), capacity));
    last_copy_capacity_ = buffer.capacity();
    buffer.append(bytes);
    segments_.push_back(buffer);
    last_owned_ = true;
    copy_open_ = true;
  }
  // Whether add_copy() would extend the last segment (the encoder then copies what it inserts).
  bool copy_open() const { return copy_open_; }
  // Bytes that outlive the write (inserted static text): into the open copy buffer, so that it
  // stays one segment, else a view.
  void add_piece(std::string_view bytes, std::size_t capacity_hint) {
    if (copy_open_)
      add_copy(bytes, capacity_hint);
    else
      add_view(bytes);
  }
  void append(OutputBatch&& other) {
    for (auto segment : other.segments_) segments_.push_back(segment);
    owned_.splice(owned_.end(), other.owned_);
    total_ += other.total_;
    last_owned_ = true;  // never merge across batches
    copy_open_ = false;
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
  bool copy_open_ = false;  // the last segment is owned_.back(), a copy buffer
  std::size_t last_copy_capacity_ = 0;
};

}  // namespace ringrelay::proto
