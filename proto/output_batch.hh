// Bytes for the engine to write, as a list of segments for one scatter/gather write: views into
// memory the caller keeps alive (the message body, static text), pieces the batch owns, and copy
// buffers that gather many short pieces into one segment.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <list>
#include <memory>
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
    std::memcpy(copy_space(bytes.size(), capacity_hint), bytes.data(), bytes.size());
    commit_copy(bytes.size());
  }
  // Room for `bytes` more at the end of the open copy buffer (a new one, sized as add_copy says,
  // when none is open or it has too little room): the caller writes there, then commit_copy()
  // says how much it wrote. For the encoder's inner loop: a line and its CRLF in one step.
  char* copy_space(std::size_t bytes, std::size_t capacity_hint) {
    if (copy_open_ && copies_.back().capacity - copies_.back().size >= bytes) {
      return copies_.back().bytes.get() + copies_.back().size;
    }
    std::size_t capacity =
        std::max(bytes, std::min({capacity_hint, kMaxCopyBuffer,
                                  std::max(kFirstCopyBuffer, 2 * last_copy_capacity_)}));
    CopyBuffer& buffer = copies_.emplace_back();
    buffer.bytes = std::make_unique_for_overwrite<char[]>(capacity);
    buffer.capacity = capacity;
    last_copy_capacity_ = capacity;
    segments_.emplace_back(buffer.bytes.get(), 0);
    last_owned_ = true;
    copy_open_ = true;
    return buffer.bytes.get();
  }
  void commit_copy(std::size_t bytes) {
    CopyBuffer& buffer = copies_.back();
    buffer.size += bytes;
    total_ += bytes;
    segments_.back() = std::string_view(buffer.bytes.get(), buffer.size);
  }
  // Whether add_copy() would extend the last segment (the encoder then copies what it inserts).
  bool copy_open() const { return copy_open_; }
  // Bytes that fit in the open copy buffer after what is in it (0 when none is open): after
  // copy_space(n), at least n.
  std::size_t copy_room() const {
    return copy_open_ ? copies_.back().capacity - copies_.back().size : 0;
  }
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
    copies_.splice(copies_.end(), other.copies_);
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
  // A copy buffer: written in place, never reallocated (segments point into it).
  struct CopyBuffer {
    std::unique_ptr<char[]> bytes;
    std::size_t size = 0, capacity = 0;
  };
  std::list<std::string> owned_;  // list: nodes never move, so views into them stay valid
  std::list<CopyBuffer> copies_;
  std::size_t total_ = 0;
  bool last_owned_ = false;
  bool copy_open_ = false;  // the last segment is copies_.back()
  std::size_t last_copy_capacity_ = 0;
};

}  // namespace ringrelay::proto
