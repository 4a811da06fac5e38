// A listening UNIX stream socket created with the configured group and mode and no moment with
// wider permissions: the feed's and the admin socket's protection (docs/security.md).
#pragma once

#include <string>

namespace ringrelay::engine {

// Creates the socket at `path` (its directory too; a stale socket is replaced: the caller holds
// the instance lock), chowns it to `group` (empty: the process's) and sets `mode`. `parameter`
// names the setting in errors. Returns the descriptor; throws std::runtime_error.
int listen_unix_socket(const std::string& path, const std::string& group, int mode,
                       const std::string& parameter);

}  // namespace ringrelay::engine
