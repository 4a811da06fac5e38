// A listening TCP socket on a configured "address:port" ("127.0.0.1:9464", "[::1]:9464"): the
// feed's TCP listener and the metrics listener.
#pragma once

#include <optional>
#include <string>

#include "engine/runtime/address.hh"

namespace ringrelay::engine {

// The address and port of "127.0.0.1:9464" or "[::1]:9464"; nullopt when `spec` is not an IP
// literal, a colon and a port from 1 to 65535. One reading for the checks at start and the bind.
std::optional<ServerAddress> listen_address(const std::string& spec);

// Binds and listens (SO_REUSEADDR, close-on-exec). `parameter` names the setting in errors.
// Returns the descriptor; throws std::runtime_error naming the setting and the reason.
int listen_tcp_socket(const std::string& spec, const std::string& parameter);

}  // namespace ringrelay::engine
