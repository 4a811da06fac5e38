// Part of a spool file in memory, read-only: the body bytes are sent from here without further
// copying. Large regions are mapped; small ones are read, because for them a mapping costs more
// than the copy (page faults, and munmap's TLB shootdown across the shard threads). Fails with a
// clear reason when the file is missing or shorter than the request says.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ringrelay::engine {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  // Regions up to this size are read rather than mapped, while all read copies together stay
  // within the budget (requests wait in memory until delivered: the budget bounds that memory;
  // past it, regions are mapped and cost page cache instead).
  static constexpr std::uint64_t kReadLimit = 64 * 1024;
  static constexpr std::uint64_t kReadBudget = 128ull * 1024 * 1024;
  // Bytes held in read copies by all MappedFiles of the process.
  static std::uint64_t bytes_read_held();

  // Maps (or reads) [offset, offset + size) of `path`. Returns an empty string on success, or
  // the reason.
  std::string map(const std::string& path, std::uint64_t offset, std::uint64_t size);
  std::string_view bytes() const { return view_; }

 private:
  void release();
  std::unique_ptr<char[]> copy_;  // a small region, read
  void* base_ = nullptr;          // a large region, mapped
  std::size_t length_ = 0;
  std::string_view view_;
};

}  // namespace ringrelay::engine
