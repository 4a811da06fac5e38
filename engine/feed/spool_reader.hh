// Reading message bodies from queue managers' spool files, the feed's trust boundary for files: a
// path must resolve beneath one of spool_directories (openat2 RESOLVE_BENEATH, no symlink as the
// last component), be a regular file, and is opened without blocking. The bytes are copied into
// memory, so a file that is truncated or rewritten later can neither crash the process (no
// mapping, no SIGBUS) nor change a transaction under way. The feed opens and checks the file when
// it accepts a request; the bytes are copied when the first delivery starts, on the shard that
// delivers them (the file stays open until then), so that the copy is fresh in the cache when it
// is sent and shard 0 does not copy every body. Not here: parsing requests (feed_protocol).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::engine {

// A body from a spool file: read, or still waiting in its open file to be read by load(). The
// bytes of all SpoolBody objects together (read or to be read) are counted, so that the feed can
// stop reading requests while they hold feed_body_memory_limit.
class SpoolBody {
 public:
  SpoolBody() = default;
  ~SpoolBody();
  SpoolBody(SpoolBody&& other) noexcept;
  SpoolBody& operator=(SpoolBody&& other) noexcept;

  // The bytes; empty while waiting() (not thread-safe against load(): the caller serialises).
  std::string_view bytes() const { return {data_.get(), data_ ? size_ : 0}; }
  // The file is open and its bytes not yet read.
  bool waiting() const { return fd_ >= 0; }
  // Reads the bytes of a waiting body and closes its file: nullopt, or why not (the file was
  // truncated or cannot be read since the feed checked it).
  std::optional<std::string> load();
  // Bytes held or promised by every SpoolBody of the process (requests are freed on any shard:
  // atomic), and files held open waiting.
  static std::uint64_t bytes_held();
  static std::uint64_t files_waiting();

 private:
  friend class SpoolReader;
  void release();
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;  // counted in bytes_held() from the feed's checks on
  int fd_ = -1;           // while waiting
  std::uint64_t offset_ = 0;
  std::string path_;  // for messages
};

class SpoolReader {
 public:
  // Opens each directory once. Directories that cannot be opened are left out and named in
  // `warnings` (a request under them is refused, saying so).
  // At most `max_files_waiting` bodies wait in open files at once (and never more than a quarter
  // of RLIMIT_NOFILE: sessions need descriptors too); beyond that a body is read at once.
  static constexpr std::uint64_t kMaxFilesWaiting = 8192;
  SpoolReader(const std::vector<std::string>& directories, std::vector<std::string>& warnings,
              std::uint64_t max_files_waiting = kMaxFilesWaiting);
  ~SpoolReader();
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;

  struct Problem {
    bool about_path = false;  // where the path leads ("body.path"), or what was found ("body")
    std::string message;
  };
  // Checks [offset, offset + size) of `path` and leaves `body` waiting in its open file for
  // load(), or reads it now when too many files wait already. nullopt, or why not.
  std::optional<Problem> read(const std::string& path, std::uint64_t offset, std::uint64_t size,
                              SpoolBody& body) const;

 private:
  struct Directory {
    std::string path;  // normalised, without a trailing slash
    int fd = -1;
  };
  std::vector<Directory> directories_;
  std::string names_;  // for messages: "/var/spool/a, /var/spool/b"
  std::uint64_t max_files_waiting_;
  // Opened with O_NOATIME until the kernel refuses it once (files of another user, no
  // CAP_FOWNER).
  mutable std::atomic<bool> no_atime_{true};
};

}  // namespace ringrelay::engine
