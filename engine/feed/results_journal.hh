// The results journal: an append-only log, on disk, of what the feed has promised — final results
// and done records not yet acknowledged, requests accepted and not yet finished — so that a restart
// after a crash offers every unacknowledged result again and names the recipients whose outcome
// was never recorded. Entries are framed (length, CRC-32) and group-committed: all that was
// appended during a loop turn goes out in one io_uring write (RWF_DSYNC when results_journal_sync
// is on); what waits for durability is released by position. Compaction writes the live state into
// a new segment and deletes the old ones. Not here: what the entries mean to clients (feed_server).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

class ResultsJournal {
 public:
  struct Options {
    std::string directory;
    bool sync = true;                           // RWF_DSYNC: survive power loss, not only a crash
    std::uint64_t segment_bytes = 64ull << 20;  // compact once the active segment is this large
    // Commits start at most this often: larger batches, fewer synced writes, later results.
    std::chrono::milliseconds commit_delay{0};
  };
  // What a previous run left: the entries of every segment, oldest first, up to the first torn or
  // corrupt frame of each (a crash can leave half an entry at the end).
  struct Recovered {
    std::vector<std::string> entries;
    std::vector<std::string> problems;  // for the log: torn tails, unreadable segments
  };

  // Creates the directory (0700) if needed and takes its lock; throws std::runtime_error naming
  // the directory and the reason (another instance holds it, no permission, ...).
  explicit ResultsJournal(Options options);
  ~ResultsJournal();
  ResultsJournal(const ResultsJournal&) = delete;
  ResultsJournal& operator=(const ResultsJournal&) = delete;

  // Reads what earlier runs wrote. Call once, before start().
  Recovered recover();
  // Starts a fresh segment whose first entries are `live` (the state recovered and re-derived),
  // written and synced at once, then deletes the old segments. Throws std::runtime_error.
  void start(Ring& ring, const std::string& live);

  // Adds one framed entry to `out` (for start() and live_state): the entry itself, or its fields
  // joined by tabs (no intermediate string).
  static void frame(std::string& out, std::string_view entry);
  static void frame_fields(std::string& out, std::initializer_list<std::string_view> fields);
  // Appends what `write` frames into the pending buffer (frame / frame_fields); returns the
  // position durable() must reach, as append() does.
  template <class Write>
  std::uint64_t append_with(Write&& write) {
    std::size_t before = pending_.size();
    write(pending_);
    return appended(pending_.size() - before);
  }
  // Appends one entry (committed with the next commit()). Returns the position that durable() must
  // reach for it to be on disk.
  std::uint64_t append(std::string_view entry);
  std::uint64_t appended() const { return appended_; }
  std::uint64_t durable() const { return durable_; }
  // Writes what was appended since the last commit, unless a write is already in flight (then it
  // goes with the next one: group commit) or commit_delay has not passed since the last one (then
  // it returns when to call again). Compacts first when the segment is full, asking `live_state`
  // for the entries that must survive.
  std::optional<Clock::time_point> commit();
  bool idle() const { return !writing_ && pending_.empty(); }
  const std::string& directory() const { return options_.directory; }

  std::function<std::string()> live_state;
  std::function<void()> on_durable;  // durable() advanced
  std::function<void(const std::string&)> log_notice;

 private:
  struct WriteOp : Completion {
    ResultsJournal* journal = nullptr;
  };
  static void on_write(Completion& c, int result, std::uint32_t flags);
  std::string segment_path(std::uint64_t index) const;
  std::vector<std::uint64_t> segment_indexes() const;
  void open_segment(std::uint64_t index);
  void write_now(const std::string& data);  // synchronous, for start and compaction
  void fail(const std::string& why);
  void compact();
  void sync_directory() const;
  std::uint64_t appended(std::size_t bytes);  // accounts for bytes just framed into pending_

  Options options_;
  Ring* ring_ = nullptr;
  int lock_fd_ = -1;
  int fd_ = -1;
  std::uint64_t segment_index_ = 0;
  std::uint64_t segment_size_ = 0;
  std::uint64_t compacted_bytes_ = 0;  // the live state written by the last compaction
  std::string pending_, writing_buffer_;
  std::uint64_t appended_ = 0, durable_ = 0, writing_end_ = 0;
  bool writing_ = false;
  Clock::time_point last_commit_{};
  bool broken_ = false;  // a write failed: results are kept in memory only
  WriteOp write_op_;
};

// Entry payloads are text: a type letter, then tab-separated fields. One place builds and splits
// them, for the feed server and its tests.
std::vector<std::string_view> journal_fields(std::string_view entry);

}  // namespace ringrelay::engine
