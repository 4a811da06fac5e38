// Spool bodies: openat2 beneath a spool directory's descriptor and fstat when a request arrives,
// pread into memory when its first delivery starts (or at once when too many files wait).
#include "engine/feed/spool_reader.hh"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace ringrelay::engine {
namespace {

std::atomic<std::uint64_t> bytes_held_total{0};
std::atomic<std::uint64_t> files_waiting_total{0};

std::string normalised(const std::string& path) {
  std::string text = std::filesystem::path(path).lexically_normal().string();
  while (text.size() > 1 && text.back() == '/') text.pop_back();
  return text;
}

// Opens `relative` beneath `directory_fd`: no "..", absolute symlink or magic link may lead out of
// it, the last component may not be a symlink, and a FIFO or device does not block the open.
// `no_atime`: reading it does not update its access time (an inode write and, on ext4, a journal
// entry per message); only for the file's owner or with CAP_FOWNER, EPERM otherwise.
int open_beneath(int directory_fd, const std::string& relative, bool no_atime) {
  open_how how{};
  how.flags =
      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (no_atime ? O_NOATIME : 0);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0; attempt < 8; ++attempt) {
    long fd = ::syscall(SYS_openat2, directory_fd, relative.c_str(), &how, sizeof how);
    if (fd >= 0 || (errno != EAGAIN && errno != EINTR)) return static_cast<int>(fd);
  }
  return -1;
}

}  // namespace

SpoolBody::~SpoolBody() {
  release();
}

SpoolBody::SpoolBody(SpoolBody&& other) noexcept {
  *this = std::move(other);
}

SpoolBody& SpoolBody::operator=(SpoolBody&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
    offset_ = other.offset_;
    path_ = std::move(other.path_);
  }
  return *this;
}

void SpoolBody::release() {
  if (size_ > 0) bytes_held_total.fetch_sub(size_, std::memory_order_relaxed);
  if (fd_ >= 0) {
    ::close(fd_);
    files_waiting_total.fetch_sub(1, std::memory_order_relaxed);
  }
  data_.reset();
  size_ = 0;
  fd_ = -1;
}

std::uint64_t SpoolBody::bytes_held() {
  return bytes_held_total.load(std::memory_order_relaxed);
}

std::uint64_t SpoolBody::files_waiting() {
  return files_waiting_total.load(std::memory_order_relaxed);
}

std::optional<std::string> SpoolBody::load() {
  if (fd_ < 0) return std::nullopt;
  auto data = std::make_unique_for_overwrite<char[]>(std::max<std::size_t>(size_, 1));
  std::optional<std::string> problem;
  std::size_t done = 0;
  while (done < size_) {
    ssize_t n = ::pread(fd_, data.get() + done, size_ - done, static_cast<off_t>(offset_ + done));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      problem = n == 0 ? path_ + " ended early (truncated while being read?)"
                       : "cannot read " + path_ + ": " + std::strerror(errno);
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd_);
  fd_ = -1;
  files_waiting_total.fetch_sub(1, std::memory_order_relaxed);
  if (!problem) data_ = std::move(data);
  return problem;
}

SpoolReader::SpoolReader(const std::vector<std::string>& directories,
                         std::vector<std::string>& warnings, std::uint64_t max_files_waiting)
    : max_files_waiting_(max_files_waiting) {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    max_files_waiting_ = std::min<std::uint64_t>(max_files_waiting_, files.rlim_cur / 4);
  }
  for (const auto& d : directories) {
    std::string path = normalised(d);
    if (!names_.empty()) names_ += ", ";
    names_ += path;
    if (path.empty() || path[0] != '/') {
      warnings.push_back("spool_directories: " + d + ": not an absolute path; left out");
      continue;
    }
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      warnings.push_back("spool_directories: " + path + ": " + std::strerror(errno) +
                         "; bodies by path under it are refused");
      continue;
    }
    directories_.push_back({path, fd});
  }
}

SpoolReader::~SpoolReader() {
  for (auto& d : directories_) ::close(d.fd);
}

std::optional<SpoolReader::Problem> SpoolReader::read(const std::string& path, std::uint64_t offset,
                                                      std::uint64_t size, SpoolBody& body) const {
  body.release();
  // No lexical normalisation: a ".." that leads out is refused by the kernel (RESOLVE_BENEATH).
  const std::string& wanted = path;
  const Directory* beneath = nullptr;
  for (const auto& d : directories_) {
    if (wanted.size() > d.path.size() + 1 && wanted.compare(0, d.path.size(), d.path) == 0 &&
        (wanted[d.path.size()] == '/' || d.path == "/")) {
      beneath = &d;
      break;
    }
  }
  if (beneath == nullptr) {
    return Problem{true, path + " is not under spool_directories (" +
                             (names_.empty() ? "none" : names_) + ")"};
  }
  std::string relative = wanted.substr(beneath->path == "/" ? 1 : beneath->path.size() + 1);
  int fd = open_beneath(beneath->fd, relative, no_atime_.load(std::memory_order_relaxed));
  if (fd < 0 && errno == EPERM && no_atime_.load(std::memory_order_relaxed)) {
    // Not the files' owner (the queue manager's user): access times are updated from now on.
    no_atime_.store(false, std::memory_order_relaxed);
    fd = open_beneath(beneath->fd, relative, false);
  }
  if (fd < 0) {
    int e = errno;
    if (e == EXDEV) return Problem{true, path + " resolves outside spool_directories"};
    if (e == ELOOP) return Problem{true, path + " is a symbolic link"};
    return Problem{false, "cannot open " + path + ": " + std::strerror(e)};
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    ::close(fd);
    if (S_ISREG(st.st_mode) || st.st_mode == 0) {
      return Problem{false, "cannot stat " + path + ": " + std::strerror(e)};
    }
    return Problem{true, path + " is not a regular file"};
  }
  auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (offset > file_size || size > file_size - offset) {
    ::close(fd);
    return Problem{false, path + " is " + std::to_string(file_size) +
                              " bytes, but the request says offset " + std::to_string(offset) +
                              " size " + std::to_string(size) + " (truncated spool file?)"};
  }
  body.fd_ = fd;
  body.offset_ = offset;
  body.size_ = static_cast<std::size_t>(size);
  body.path_ = path;
  bytes_held_total.fetch_add(size, std::memory_order_relaxed);
  files_waiting_total.fetch_add(1, std::memory_order_relaxed);
  if (SpoolBody::files_waiting() <= max_files_waiting_) return std::nullopt;
  if (auto problem = body.load()) {
    body.release();
    return Problem{false, std::move(*problem)};
  }
  return std::nullopt;
}

}  // namespace ringrelay::engine
