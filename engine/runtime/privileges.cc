// setgroups/setgid/setuid to ringrelay_user, and the checks that follow.
#include "engine/runtime/privileges.hh"

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

namespace ringrelay::engine {
namespace {

std::runtime_error failure(const std::string& user, const std::string& what) {
  return std::runtime_error("ringrelay_user " + user + ": " + what);
}

}  // namespace

std::string drop_privileges(const std::string& user,
                            const std::vector<std::string>& writable_directories) {
  if (user.empty()) {
    return ::geteuid() == 0 ? "warning: running as root: set ringrelay_user (main.cf.sample: "
                              "ringrelay) so that serve gives up root once its sockets are bound"
                            : "";
  }
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  int rc = ::getpwnam_r(user.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    throw failure(user, rc != 0 ? std::strerror(rc) : "no such user");
  }
  if (found->pw_uid == 0) throw failure(user, "is root; name an unprivileged user");
  if (::geteuid() != 0) {
    if (::geteuid() == found->pw_uid) return "";
    return "warning: ringrelay_user " + user + " ignored: not started as root";
  }
  uid_t uid = found->pw_uid;
  gid_t gid = found->pw_gid;
  for (const std::string& directory : writable_directories) {
    if (directory.empty()) continue;
    std::error_code ec;
    std::vector<std::string> paths{directory};
    for (const auto& file : std::filesystem::directory_iterator(directory, ec)) {
      if (file.is_regular_file(ec)) paths.push_back(file.path().string());
    }
    for (const std::string& path : paths) {
      if (::lchown(path.c_str(), uid, gid) != 0) {
        throw failure(user, "chown " + path + ": " + std::strerror(errno));
      }
    }
  }
  if (::initgroups(user.c_str(), gid) != 0)
    throw failure(user, std::string("initgroups: ") + std::strerror(errno));
  if (::setresgid(gid, gid, gid) != 0)
    throw failure(user, std::string("setresgid: ") + std::strerror(errno));
  if (::setresuid(uid, uid, uid) != 0)
    throw failure(user, std::string("setresuid: ") + std::strerror(errno));
  // No way back: a process that can become root again has not dropped anything.
  if (::setuid(0) == 0 || ::seteuid(0) == 0) throw failure(user, "root could still be regained");
  uid_t r = 0, e = 0, s = 0;
  ::getresuid(&r, &e, &s);
  if (r != uid || e != uid || s != uid) throw failure(user, "the user ids did not all change");
  return "running as " + user + " (uid " + std::to_string(uid) + ", gid " + std::to_string(gid) +
         ")";
}

std::string check_writable_directory(const std::string& directory, const std::string& what) {
  if (directory.empty() || ::access(directory.c_str(), W_OK | X_OK) == 0) return "";
  return what + ": the directory " + directory +
         " is not writable by the user ringrelay runs as (" + std::strerror(errno) +
         "): make ringrelay_user its owner";
}

}  // namespace ringrelay::engine
