// Telling systemd where serve is (Type=notify units): READY once the feed socket listens,
// RELOADING and READY again around a SIGHUP reload (with the outcome in STATUS), STOPPING at
// SIGTERM. Through libsystemd's sd_notify; nothing happens when NOTIFY_SOCKET is not set.
#pragma once

#include <string>

namespace ringrelay::engine {

void notify_ready(const std::string& status);
void notify_reloading();
void notify_stopping(const std::string& status);
void notify_status(const std::string& status);

}  // namespace ringrelay::engine
