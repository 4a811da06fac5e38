// Mapping spool-file regions (page-aligned underneath, exact bytes on top).
#include "engine/mapped_file.hh"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace ringrelay::engine {

MappedFile::~MappedFile() {
  release();
}

MappedFile::MappedFile(MappedFile&& other) noexcept {
  *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    view_ = std::exchange(other.view_, {});
  }
  return *this;
}

void MappedFile::release() {
  if (base_ != nullptr) ::munmap(base_, length_);
  base_ = nullptr;
  length_ = 0;
  view_ = {};
}

std::string MappedFile::map(const std::string& path, std::uint64_t offset, std::uint64_t size) {
  release();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path + ": " + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return "cannot stat " + path + ": " + std::strerror(e);
  }
  auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (offset > file_size || size > file_size - offset) {
    ::close(fd);
    return path + " is " + std::to_string(file_size) + " bytes, but the request says offset " +
           std::to_string(offset) + " size " + std::to_string(size) + " (truncated spool file?)";
  }
  if (size == 0) {
    ::close(fd);
    return {};
  }
  std::uint64_t page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  std::uint64_t aligned = offset - offset % page;
  length_ = static_cast<std::size_t>(size + (offset - aligned));
  base_ = ::mmap(nullptr, length_, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(aligned));
  int e = errno;
  ::close(fd);
  if (base_ == MAP_FAILED) {
    base_ = nullptr;
    length_ = 0;
    return "cannot map " + path + ": " + std::strerror(e);
  }
  view_ = std::string_view(static_cast<const char*>(base_) + (offset - aligned), size);
  return {};
}

}  // namespace ringrelay::engine
