// Mapping spool-file regions (page-aligned underneath, exact bytes on top).
#include "engine/mapped_file.hh"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ringrelay::engine {
namespace {

// Requests may be freed on any shard: the budget is shared, hence atomic.
std::atomic<std::uint64_t> read_held{0};

// Takes `size` bytes of the read budget; false (and nothing taken) when they do not fit.
bool reserve_read(std::uint64_t size) {
  if (size > MappedFile::kReadLimit) return false;
  if (read_held.fetch_add(size, std::memory_order_relaxed) + size <= MappedFile::kReadBudget)
    return true;
  read_held.fetch_sub(size, std::memory_order_relaxed);
  return false;
}

}  // namespace

std::uint64_t MappedFile::bytes_read_held() {
  return read_held.load(std::memory_order_relaxed);
}

MappedFile::~MappedFile() {
  release();
}

MappedFile::MappedFile(MappedFile&& other) noexcept {
  *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    copy_ = std::move(other.copy_);
    base_ = std::exchange(other.base_, nullptr);
    length_ = std::exchange(other.length_, 0);
    view_ = std::exchange(other.view_, {});
  }
  return *this;
}

void MappedFile::release() {
  if (base_ != nullptr) ::munmap(base_, length_);
  if (copy_) read_held.fetch_sub(view_.size(), std::memory_order_relaxed);
  copy_.reset();
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
  if (reserve_read(size)) {
    copy_ = std::make_unique_for_overwrite<char[]>(static_cast<std::size_t>(size));
    std::uint64_t done = 0;
    while (done < size) {
      ssize_t n = ::pread(fd, copy_.get() + done, static_cast<std::size_t>(size - done),
                          static_cast<off_t>(offset + done));
      if (n <= 0) {
        int e = n < 0 ? errno : EIO;
        if (n < 0 && e == EINTR) continue;
        ::close(fd);
        copy_.reset();
        read_held.fetch_sub(size, std::memory_order_relaxed);
        return n == 0 ? path + " ended early (truncated while being read?)"
                      : "cannot read " + path + ": " + std::strerror(e);
      }
      done += static_cast<std::uint64_t>(n);
    }
    ::close(fd);
    view_ = std::string_view(copy_.get(), static_cast<std::size_t>(size));
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
