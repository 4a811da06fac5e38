// A listening TCP socket on a configured "address:port" ("127.0.0.1:9464", "[::1]:9464"): the
// feed's TCP listener and the metrics listener.
#pragma once

#include <string>

namespace ringrelay::engine {

// Binds and listens (SO_REUSEADDR, close-on-exec). `parameter` names the setting in errors.
// Returns the descriptor; throws std::runtime_error naming the setting and the reason.
int listen_tcp_socket(const std::string& spec, const std::string& parameter);

}  // namespace ringrelay::engine
