// Feed access: names resolved once at start, SO_PEERCRED and getgrouplist per connection (feed
// connections are few and long-lived), flock for the instance lock.
#include "engine/feed/feed_access.hh"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "engine/config/engine_settings.hh"
#include "engine/runtime/tcp_socket.hh"
#include "engine/runtime/unix_socket.hh"

namespace ringrelay::engine {
namespace {

unsigned user_id(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{}, *found = nullptr;
  if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    throw ConfigError("feed_allowed_users: unknown user \"" + name + "\"");
  }
  return found->pw_uid;
}

unsigned group_id(const std::string& name, const char* parameter) {
  std::vector<char> buffer(16384);
  group entry{}, *found = nullptr;
  if (::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) {
    throw ConfigError(std::string(parameter) + ": unknown group \"" + name + "\"");
  }
  return found->gr_gid;
}

std::string read_secret(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw ConfigError("feed_tcp_secret_file " + path + ": " + std::strerror(errno));
  }
  if ((st.st_mode & 077) != 0 || st.st_uid != ::geteuid()) {
    throw ConfigError("feed_tcp_secret_file " + path +
                      ": must belong to ringrelay's user and be readable by it alone (mode 0600)");
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back())))
    secret.pop_back();
  if (secret.size() < 16) {
    throw ConfigError("feed_tcp_secret_file " + path +
                      ": the secret must be at least 16 characters");
  }
  return secret;
}

int octal_mode(const Config& c, const char* parameter) {
  std::string mode = c.value(parameter);
  char* end = nullptr;
  long bits = std::strtol(mode.c_str(), &end, 8);
  if (mode.empty() || *end != '\0' || bits < 0 || bits > 0777) {
    throw ConfigError(std::string(parameter) + ": \"" + mode +
                      "\" is not an octal mode such as 0660");
  }
  return static_cast<int>(bits);
}

}  // namespace

void feed_access_settings(const Config& c, EngineSettings& e) {
  e.feed_socket = c.value("feed_socket");
  e.feed_socket_mode = octal_mode(c, "feed_socket_mode");
  e.feed_socket_group = c.value("feed_socket_group");
  if (!e.feed_socket_group.empty()) group_id(e.feed_socket_group, "feed_socket_group");
  e.control_socket = c.value("control_socket");
  e.control_socket_mode = octal_mode(c, "control_socket_mode");
  e.control_socket_group = c.value("control_socket_group");
  e.control_state_file = c.value("control_state_file");
  if (!e.control_socket_group.empty()) group_id(e.control_socket_group, "control_socket_group");
  if (!e.control_socket.empty() && e.control_socket == e.feed_socket) {
    throw ConfigError("control_socket: must not be the feed socket " + e.feed_socket);
  }
  e.feed_allowed_users.clear();
  e.feed_allowed_groups.clear();
  for (const auto& user : c.list("feed_allowed_users"))
    e.feed_allowed_users.push_back(user_id(user));
  for (const auto& g : c.list("feed_allowed_groups"))
    e.feed_allowed_groups.push_back(group_id(g, "feed_allowed_groups"));

  e.feed_tcp_listen = c.value("feed_tcp_listen");
  e.feed_tcp_secret.clear();
  if (!e.feed_tcp_listen.empty()) {
    const std::string& spec = e.feed_tcp_listen;
    auto address = listen_address(spec);
    if (!address || !(address->address == "::1" || address->address.starts_with("127."))) {
      throw ConfigError("feed_tcp_listen = " + spec +
                        ": expected a loopback address and port, e.g. 127.0.0.1:2526");
    }
    std::string secret_file = c.value("feed_tcp_secret_file");
    if (secret_file.empty()) {
      throw ConfigError(
          "feed_tcp_listen needs feed_tcp_secret_file: TCP feed clients must authenticate");
    }
    e.feed_tcp_secret = read_secret(secret_file);
  }
}

InstanceLock::InstanceLock(const std::string& feed_socket) {
  std::string path = feed_socket + ".lock";
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) throw std::runtime_error(path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    std::string holder = n > 0 ? std::string(pid, static_cast<std::size_t>(n)) : "?";
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    throw InstanceLocked("already running (pid " + holder + "): " + path + " is locked");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) {
    [[maybe_unused]] ssize_t n = ::pwrite(fd_, pid.data(), pid.size(), 0);
  }
}

InstanceLock::~InstanceLock() {
  if (fd_ >= 0) ::close(fd_);  // the file stays: unlinking a lock file races with the next taker
}

int listen_feed_socket(const EngineSettings& settings) {
  return listen_unix_socket(settings.feed_socket, settings.feed_socket_group,
                            settings.feed_socket_mode, "feed_socket");
}

bool peer_allowed(int fd, const EngineSettings& settings, std::string& who) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    who = std::string("unknown peer (") + std::strerror(errno) + ")";
    return false;
  }
  who = "uid " + std::to_string(cred.uid) + " pid " + std::to_string(cred.pid);
  if (settings.feed_allowed_users.empty() && settings.feed_allowed_groups.empty()) return true;
  if (cred.uid == 0 || cred.uid == ::geteuid()) return true;
  auto& users = settings.feed_allowed_users;
  if (std::find(users.begin(), users.end(), cred.uid) != users.end()) return true;
  std::vector<gid_t> groups{cred.gid};
  std::vector<char> buffer(16384);
  passwd entry{}, *found = nullptr;
  if (::getpwuid_r(cred.uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) {
    int count = 64;
    std::vector<gid_t> more(static_cast<std::size_t>(count));
    if (::getgrouplist(found->pw_name, found->pw_gid, more.data(), &count) >= 0) {
      groups.insert(groups.end(), more.begin(), more.begin() + count);
    }
  }
  for (gid_t g : groups) {
    auto& allowed = settings.feed_allowed_groups;
    if (std::find(allowed.begin(), allowed.end(), g) != allowed.end()) return true;
  }
  return false;
}

bool secret_matches(std::string_view given, std::string_view expected) {
  unsigned char difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    difference |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  }
  return difference == 0;
}

}  // namespace ringrelay::engine
