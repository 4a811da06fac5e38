// Creating a listening UNIX socket with its group and mode set before anyone can connect.
#include "engine/runtime/unix_socket.hh"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace ringrelay::engine {

int listen_unix_socket(const std::string& path, const std::string& group_name, int mode,
                       const std::string& parameter) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    throw std::runtime_error(parameter + " " + path + ": path too long for a UNIX socket");
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  ::unlink(path.c_str());  // a stale socket of an earlier run: the instance lock is ours
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  mode_t old_mask = ::umask(0177);  // created owner-only, widened to the configured mode below
  int bound = fd < 0 ? -1 : ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  int e = errno;
  ::umask(old_mask);
  if (fd < 0 || bound != 0 || ::listen(fd, 128) != 0) {
    e = bound != 0 ? e : errno;
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(parameter + " " + path + ": " + std::strerror(e));
  }
  if (!group_name.empty()) {
    std::vector<char> buffer(16384);
    ::group entry{}, *found = nullptr;
    if (::getgrnam_r(group_name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        !found || ::chown(path.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0) {
      e = errno;
      ::close(fd);
      throw std::runtime_error(parameter + "_group " + group_name + ": " + std::strerror(e));
    }
  }
  if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    e = errno;
    ::close(fd);
    throw std::runtime_error(parameter + "_mode for " + path + ": " + std::strerror(e));
  }
  return fd;
}

}  // namespace ringrelay::engine
