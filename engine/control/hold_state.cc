// Saving and restoring the operator's holds.
#include "engine/control/hold_state.hh"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ringrelay::engine {
namespace {

using SystemClock = std::chrono::system_clock;

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  for (;;) {
    std::size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
    if (tab == std::string_view::npos) return fields;
    start = tab + 1;
  }
}

// Tabs and line breaks never reach a reason (the ctl parser refuses them); kept out here too.
std::string clean(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

std::string format_holds(const HoldSet& holds) {
  std::string text;
  for (const Hold& h : holds.holds()) {
    text += hold_kind_name(h.kind);
    text += '\t' + clean(h.name) + '\t';
    if (h.until == SystemClock::time_point::max()) {
      text += '-';
    } else {
      text += std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(h.until.time_since_epoch()).count());
    }
    text += h.defer ? "\tdefer\t" : "\tkeep\t";
    text += clean(h.reason);
    text += '\n';
  }
  return text;
}

HoldSet parse_holds(std::string_view text, std::vector<std::string>& problems) {
  HoldSet holds;
  std::size_t number = 0;
  while (!text.empty()) {
    ++number;
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.empty()) continue;
    auto f = fields_of(line);
    auto problem = [&](const std::string& what) {
      problems.push_back("line " + std::to_string(number) + ": " + what);
    };
    if (f.size() != 5) {
      problem("expected 5 tab-separated fields, found " + std::to_string(f.size()));
      continue;
    }
    Hold h;
    auto kind = hold_kind(f[0]);
    if (!kind || f[1].empty() || (f[3] != "keep" && f[3] != "defer")) {
      problem("not a hold");
      continue;
    }
    h.kind = *kind;
    h.name = std::string(f[1]);
    if (f[2] != "-") {
      long long seconds = 0;
      auto [end, error] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), seconds);
      if (error != std::errc() || end != f[2].data() + f[2].size() || seconds < 0) {
        problem("\"" + std::string(f[2]) + "\" is not a time");
        continue;
      }
      h.until = SystemClock::time_point(std::chrono::seconds(seconds));
    }
    h.defer = f[3] == "defer";
    h.reason = std::string(f[4]);
    std::string error;
    auto next = holds.with(std::move(h), error);
    if (!next) {
      problem(error);
      continue;
    }
    holds = std::move(*next);
  }
  return holds;
}

void save_holds(const std::string& path, const HoldSet& holds) {
  std::string text = format_holds(holds);
  std::string temporary = path + ".tmp";
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error(temporary + ": " + std::strerror(errno));
  std::size_t written = 0;
  while (written < text.size()) {
    ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error(temporary + ": " + std::strerror(e));
    }
    written += static_cast<std::size_t>(n);
  }
  int synced = ::fsync(fd), e = errno;
  if (::close(fd) != 0 && synced == 0) synced = -1, e = errno;
  if (synced != 0) throw std::runtime_error(temporary + ": " + std::strerror(e));
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    throw std::runtime_error(path + ": " + std::strerror(errno));
  }
}

HoldSet load_holds(const std::string& path, std::vector<std::string>& problems) {
  std::error_code missing;
  if (!std::filesystem::exists(path, missing) && !missing) return HoldSet{};
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_holds(text.str(), problems);
}

}  // namespace ringrelay::engine
