// sd_notify messages for the service manager.
#include "engine/runtime/service_notify.hh"

#include <systemd/sd-daemon.h>

#include <ctime>

namespace ringrelay::engine {
namespace {

// A status is one line: newlines would start another assignment.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

void send(const std::string& message) {
  sd_notify(0, message.c_str());
}

}  // namespace

void notify_ready(const std::string& status) {
  send("READY=1\nSTATUS=" + one_line(status));
}

void notify_reloading() {
  // systemd 253 and later want the monotonic time of the reload's start with RELOADING=1.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) +
       "\nSTATUS=reloading the configuration");
}

void notify_stopping(const std::string& status) {
  send("STOPPING=1\nSTATUS=" + one_line(status));
}

void notify_status(const std::string& status) {
  send("STATUS=" + one_line(status));
}

}  // namespace ringrelay::engine
