// Who may use the feed, and that only one ringrelay serves a feed socket: the socket's group and
// mode (and the admin socket's), the peer checks (SO_PEERCRED against feed_allowed_users/groups),
// the TCP listener's shared secret, and the instance lock taken before anything is unlinked.
// docs/security.md has the model. Not here: the protocol (feed_protocol) or the connections
// (feed_server).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "engine/config/config.hh"

namespace ringrelay::engine {

struct EngineSettings;

// Reads and checks the feed_* and control_socket* access parameters into `settings`; throws
// ConfigError naming the parameter (an unknown user or group, a bad mode, a TCP listener that is
// not loopback, a secret file that is missing or readable by others).
void feed_access_settings(const Config& config, EngineSettings& settings);

// Held for the life of serve: "<feed_socket>.lock", flock'ed. Throws InstanceLocked when another
// ringrelay holds it (its pid in the message), std::runtime_error for other failures.
class InstanceLock {
 public:
  explicit InstanceLock(const std::string& feed_socket);
  ~InstanceLock();
  InstanceLock(const InstanceLock&) = delete;
  InstanceLock& operator=(const InstanceLock&) = delete;

 private:
  int fd_ = -1;
};

class InstanceLocked : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Creates the UNIX feed socket at `path` with the configured group and mode (no moment with wider
// permissions). Returns the listening descriptor; throws std::runtime_error.
int listen_feed_socket(const EngineSettings& settings);

// Whether the peer of a UNIX connection may use the feed; on refusal, `who` names it for the log.
bool peer_allowed(int fd, const EngineSettings& settings, std::string& who);

// Compares secrets in constant time.
bool secret_matches(std::string_view given, std::string_view expected);

}  // namespace ringrelay::engine
