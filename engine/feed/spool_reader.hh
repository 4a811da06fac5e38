// Reading message bodies from queue managers' spool files, the feed's trust boundary for files: a
// path must resolve beneath one of spool_directories (openat2 RESOLVE_BENEATH, no symlink as the
// last component), be a regular file, and is opened without blocking. The bytes are copied into
// memory at once, so a file that is truncated or rewritten later can neither crash the process
// (no mapping, no SIGBUS) nor change what is sent. Not here: parsing requests (feed_protocol).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrelay::engine {

// A body read from a spool file. The bytes of all SpoolBody objects together are counted, so that
// the feed can stop reading requests while they hold feed_body_memory_limit.
class SpoolBody {
 public:
  SpoolBody() = default;
  ~SpoolBody();
  SpoolBody(SpoolBody&& other) noexcept;
  SpoolBody& operator=(SpoolBody&& other) noexcept;

  std::string_view bytes() const { return {data_.get(), size_}; }
  // Bytes held by every SpoolBody of the process (requests are freed on any shard: atomic).
  static std::uint64_t bytes_held();

 private:
  friend class SpoolReader;
  void release();
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0;
};

class SpoolReader {
 public:
  // Opens each directory once. Directories that cannot be opened are left out and named in
  // `warnings` (a request under them is refused, saying so).
  SpoolReader(const std::vector<std::string>& directories, std::vector<std::string>& warnings);
  ~SpoolReader();
  SpoolReader(const SpoolReader&) = delete;
  SpoolReader& operator=(const SpoolReader&) = delete;

  struct Problem {
    bool about_path = false;  // where the path leads ("body.path"), or what was found ("body")
    std::string message;
  };
  // Reads [offset, offset + size) of `path` into `body`; nullopt on success, else why not.
  std::optional<Problem> read(const std::string& path, std::uint64_t offset, std::uint64_t size,
                              SpoolBody& body) const;

 private:
  struct Directory {
    std::string path;  // normalised, without a trailing slash
    int fd = -1;
  };
  std::vector<Directory> directories_;
  std::string names_;  // for messages: "/var/spool/a, /var/spool/b"
};

}  // namespace ringrelay::engine
