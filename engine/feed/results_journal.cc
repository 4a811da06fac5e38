// Results journal segments: "<directory>/results.<index>", frames of [u32 length][u32 crc32]
// payload, little-endian as the machine writes them.
#include "engine/feed/results_journal.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "engine/feed/feed_access.hh"

namespace ringrelay::engine {
namespace {

constexpr std::uint32_t kMaxEntryBytes = 64u << 20;

std::string system_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

void put_u32(std::string& out, std::uint32_t value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

std::uint32_t get_u32(const char* p) {
  std::uint32_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

std::uint32_t checksum(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())));
}

}  // namespace

std::vector<std::string_view> journal_fields(std::string_view entry) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    std::size_t tab = entry.find('\t', start);
    fields.push_back(entry.substr(start, tab - start));
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return fields;
}

ResultsJournal::ResultsJournal(Options options) : options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) {
    throw std::runtime_error("results_journal " + options_.directory + ": " + ec.message());
  }
  ::chmod(options_.directory.c_str(), 0700);
  std::string lock = options_.directory + "/lock";
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) throw std::runtime_error("results_journal " + system_error(lock));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw InstanceLocked("results_journal " + options_.directory +
                         ": in use by another ringrelay (already running)");
  }
  write_op_.journal = this;
  write_op_.handler = &ResultsJournal::on_write;
}

ResultsJournal::~ResultsJournal() {
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string ResultsJournal::segment_path(std::uint64_t index) const {
  char name[40];
  std::snprintf(name, sizeof name, "/results.%012llu", static_cast<unsigned long long>(index));
  return options_.directory + name;
}

std::vector<std::uint64_t> ResultsJournal::segment_indexes() const {
  std::vector<std::uint64_t> indexes;
  DIR* dir = ::opendir(options_.directory.c_str());
  if (dir == nullptr) return indexes;
  while (dirent* e = ::readdir(dir)) {
    std::string_view name = e->d_name;
    if (name.starts_with("results.") && name.size() == 20) {
      indexes.push_back(std::strtoull(e->d_name + 8, nullptr, 10));
    }
  }
  ::closedir(dir);
  std::sort(indexes.begin(), indexes.end());
  return indexes;
}

ResultsJournal::Recovered ResultsJournal::recover() {
  Recovered out;
  for (std::uint64_t index : segment_indexes()) {
    std::string path = segment_path(index);
    segment_index_ = std::max(segment_index_, index);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      out.problems.push_back(system_error(path));
      continue;
    }
    std::string data;
    char buffer[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
      data.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    std::size_t at = 0;
    while (at < data.size()) {
      if (data.size() - at < 8) break;
      std::uint32_t length = get_u32(data.data() + at);
      std::uint32_t crc = get_u32(data.data() + at + 4);
      if (length > kMaxEntryBytes || data.size() - at - 8 < length) break;
      std::string_view payload(data.data() + at + 8, length);
      if (checksum(payload) != crc) break;
      out.entries.emplace_back(payload);
      at += 8 + length;
    }
    if (at < data.size()) {
      out.problems.push_back(path + ": " + std::to_string(data.size() - at) +
                             " bytes after the last whole entry ignored (torn write)");
    }
  }
  return out;
}

void ResultsJournal::open_segment(std::uint64_t index) {
  std::string path = segment_path(index);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error("results_journal " + system_error(path));
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  segment_index_ = index;
  segment_size_ = 0;
}

void ResultsJournal::write_now(const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                         static_cast<off_t>(segment_size_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error("results_journal " + system_error(segment_path(segment_index_)));
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    throw std::runtime_error("results_journal " + system_error(segment_path(segment_index_)));
  }
  segment_size_ += data.size();
}

void ResultsJournal::start(Ring& ring, const std::string& live) {
  ring_ = &ring;
  std::vector<std::uint64_t> old = segment_indexes();
  open_segment(segment_index_ + 1);
  write_now(live);
  compacted_bytes_ = live.size();
  sync_directory();  // the new segment's name is on disk before the old ones go
  for (std::uint64_t index : old) ::unlink(segment_path(index).c_str());
}

void ResultsJournal::sync_directory() const {
  int dir = ::open(options_.directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void ResultsJournal::frame(std::string& out, std::string_view entry) {
  put_u32(out, static_cast<std::uint32_t>(entry.size()));
  put_u32(out, checksum(entry));
  out.append(entry);
}

void ResultsJournal::frame_fields(std::string& out,
                                  std::initializer_list<std::string_view> fields) {
  std::size_t start = out.size();
  out.append(8, '\0');  // length and CRC, filled in below
  bool first = true;
  for (std::string_view field : fields) {
    if (!first) out += '\t';
    out.append(field);
    first = false;
  }
  std::string_view payload = std::string_view(out).substr(start + 8);
  std::uint32_t header[2] = {static_cast<std::uint32_t>(payload.size()), checksum(payload)};
  std::memcpy(out.data() + start, header, sizeof header);
}

std::uint64_t ResultsJournal::append(std::string_view entry) {
  frame(pending_, entry);
  return appended(8 + entry.size());
}

std::uint64_t ResultsJournal::appended(std::size_t bytes) {
  appended_ += bytes;
  if (broken_) durable_ = appended_;
  return appended_;
}

std::optional<Clock::time_point> ResultsJournal::commit() {
  if (writing_ || pending_.empty() || ring_ == nullptr) return std::nullopt;
  if (broken_) {
    pending_.clear();
    return std::nullopt;
  }
  Clock::time_point now = Clock::now();
  if (now < last_commit_ + options_.commit_delay) return last_commit_ + options_.commit_delay;
  last_commit_ = now;
  // Compact when the segment is full, but not again before it has grown to twice the live state
  // (else a large live state would be rewritten on every commit).
  if (segment_size_ >= std::max(options_.segment_bytes, 2 * compacted_bytes_)) compact();
  if (broken_) return std::nullopt;
  writing_buffer_.swap(pending_);
  pending_.clear();
  writing_end_ = appended_;
  io_uring_sqe* sqe = ring_->prepare(&write_op_);
  io_uring_prep_write(sqe, fd_, writing_buffer_.data(),
                      static_cast<unsigned>(writing_buffer_.size()), segment_size_);
  if (options_.sync) sqe->rw_flags = RWF_DSYNC;
  writing_ = true;
  return std::nullopt;
}

void ResultsJournal::on_write(Completion& c, int result, std::uint32_t) {
  auto& self = *static_cast<WriteOp&>(c).journal;
  self.writing_ = false;
  if (result >= 0 && static_cast<std::size_t>(result) < self.writing_buffer_.size()) {
    self.fail(self.segment_path(self.segment_index_) + ": short write (" + std::to_string(result) +
              " of " + std::to_string(self.writing_buffer_.size()) + " bytes; disk full?)");
    return;
  }
  if (result < 0) {
    errno = -result;
    self.fail(system_error(self.segment_path(self.segment_index_)));
    return;
  }
  self.segment_size_ += self.writing_buffer_.size();
  self.writing_buffer_.clear();
  self.durable_ = self.writing_end_;
  if (self.on_durable) self.on_durable();
  self.commit();  // what was appended meanwhile
}

void ResultsJournal::fail(const std::string& why) {
  broken_ = true;
  writing_buffer_.clear();
  pending_.clear();
  durable_ = appended_;
  if (log_notice) {
    log_notice("results journal: write failed: " + why +
               "; results are now kept in memory only, a crash would lose them (restart "
               "ringrelay once the cause is fixed)");
  }
  if (on_durable) on_durable();
}

void ResultsJournal::compact() {
  // The live state (unacknowledged records, unfinished requests) becomes the start of a new
  // segment; what is pending follows it there. Then the old segments go.
  try {
    std::string live = live_state ? live_state() : std::string();
    std::uint64_t old = segment_index_;
    open_segment(old + 1);
    write_now(live);
    compacted_bytes_ = live.size();
    sync_directory();
    ::unlink(segment_path(old).c_str());
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

}  // namespace ringrelay::engine
