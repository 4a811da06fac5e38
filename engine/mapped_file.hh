// A read-only mapping of part of a spool file: the body bytes are sent from here without copying.
// Fails with a clear reason when the file is missing or shorter than the request says.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringrelay::engine {

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;

  // Maps [offset, offset + size) of `path`. Returns an empty string on success, or the reason.
  std::string map(const std::string& path, std::uint64_t offset, std::uint64_t size);
  std::string_view bytes() const { return view_; }

 private:
  void release();
  void* base_ = nullptr;
  std::size_t length_ = 0;
  std::string_view view_;
};

}  // namespace ringrelay::engine
