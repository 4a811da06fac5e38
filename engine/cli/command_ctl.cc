// The ctl client: finds the admin socket (main.cf's control_socket, or --socket), sends the
// command words as one line, reads the one JSON line back and prints it for a person.
#include "engine/cli/command_ctl.hh"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/config/config.hh"

namespace ringrelay::engine {
namespace {

using nlohmann::json;

constexpr std::string_view kUsage =
    "usage: ringrelay ctl [-c PATH] [--socket PATH] [--json] COMMAND\n"
    "commands:\n"
    "  sites [SITE]                       sites with their window, queue, holds and backoff\n"
    "  holds                              what is suspended, until when, and why\n"
    "  suspend site|source|domain|pool|tenant NAME [for TIME] [defer] [reason TEXT...]\n"
    "                                     keep its mail back (defer: defer it at once)\n"
    "  resume site|source|domain|pool|tenant NAME\n"
    "  bounce SITE [reason TEXT...]       bounce everything queued for the site\n"
    "  defer SITE [reason TEXT...]        defer everything queued for the site\n";

constexpr std::size_t kAnswerLimit = 64u << 20;
constexpr int kAnswerTimeoutMs = 30000;

int usage(const std::string& problem) {
  std::cerr << "ringrelay ctl: " << problem << '\n' << kUsage;
  return EX_USAGE;
}

// The answer line, or nullopt with the reason printed.
std::optional<std::string> ask_server(const std::string& path, const std::string& line) {
  sockaddr_un address{};
  if (path.size() >= sizeof address.sun_path) {
    std::cerr << "ringrelay ctl: " << path << ": path too long for a UNIX socket\n";
    return std::nullopt;
  }
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::cerr << "ringrelay ctl: cannot connect to " << path << ": " << std::strerror(errno)
              << " (is ringrelay serve running, and may this user open its control_socket?)\n";
    if (fd >= 0) ::close(fd);
    return std::nullopt;
  }
  std::size_t sent = 0;
  while (sent < line.size()) {
    ssize_t n = ::send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::cerr << "ringrelay ctl: " << path << ": " << std::strerror(errno) << '\n';
      ::close(fd);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string answer;
  char buffer[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, kAnswerTimeoutMs);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      std::cerr << "ringrelay ctl: no answer from " << path << " within " << kAnswerTimeoutMs / 1000
                << "s\n";
      ::close(fd);
      return std::nullopt;
    }
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buffer, static_cast<std::size_t>(n));
    if (answer.size() > kAnswerLimit) break;
  }
  ::close(fd);
  auto newline = answer.find('\n');
  if (newline == std::string::npos) {
    std::cerr << "ringrelay ctl: " << path << " closed without a whole answer\n";
    return std::nullopt;
  }
  return answer.substr(0, newline);
}

std::string text_of(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  if (j[key].is_string()) {
    std::string s = j[key].get<std::string>();
    return s.empty() ? "-" : s;
  }
  return j[key].dump();
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << '\n';
  }
}

// Messages a minute, and with a connection rate "/ N conn/s".
std::string rate_text(double messages_per_second, double connections_per_second) {
  std::ostringstream out;
  out << std::setprecision(4);
  if (messages_per_second > 0) out << messages_per_second * 60 << "/min";
  if (connections_per_second > 0) {
    if (messages_per_second > 0) out << ' ';
    out << connections_per_second << " conn/s";
  }
  return out.str().empty() ? "-" : out.str();
}

void print_sites(const json& sites) {
  std::vector<std::vector<std::string>> rows{{"SITE", "SOURCE", "WINDOW", "ACTIVE", "CONN",
                                              "QUEUED", "HELD", "STEP", "RATE", "STATE",
                                              "LAST RULE"}};
  for (const json& s : sites) {
    std::string state = s.value("dead", false)        ? "dead"
                        : s.value("suspended", false) ? "suspended"
                        : s.value("held", 0) > 0      ? "held"
                                                      : "ok";
    rows.push_back({text_of(s, "site"), text_of(s, "source"), text_of(s, "window"),
                    text_of(s, "active"), text_of(s, "connections"), text_of(s, "queued"),
                    text_of(s, "held"), text_of(s, "backoff_step"),
                    rate_text(s.value("message_rate", 0.0), s.value("connection_rate", 0.0)), state,
                    text_of(s, "last_rule")});
  }
  print_table(rows);
}

void print_holds(const json& holds) {
  if (holds.empty()) {
    std::cout << "nothing is suspended\n";
    return;
  }
  std::vector<std::vector<std::string>> rows{{"KIND", "NAME", "UNTIL", "MAIL", "REASON"}};
  for (const json& h : holds) {
    rows.push_back({text_of(h, "kind"), text_of(h, "name"),
                    h["until"].is_null() ? "resumed" : text_of(h, "until"),
                    h.value("defer", false) ? "deferred" : "kept back", text_of(h, "reason")});
  }
  print_table(rows);
}

}  // namespace

int run_ctl_command(std::span<const std::string_view> args) {
  std::string config_path(kDefaultConfigPath), socket_path;
  bool explicit_config = false, raw = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    if (args[i] == "-c" && i + 1 < args.size()) {
      config_path = args[++i];
      explicit_config = true;
    } else if (args[i] == "--socket" && i + 1 < args.size()) {
      socket_path = args[++i];
    } else if (args[i] == "--json") {
      raw = true;
    } else if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (!args[i].empty() && args[i][0] == '-') {
      return usage("unknown option " + std::string(args[i]));
    } else {
      break;
    }
  }
  if (i == args.size()) return usage("no command");
  std::string line;
  for (; i < args.size(); ++i) {
    if (args[i].find_first_of("\r\n") != std::string_view::npos)
      return usage("a word with a line break");
    if (!line.empty()) line += ' ';
    line += args[i];
  }
  if (socket_path.empty()) {
    Config config(HostFacts::from_system());
    std::string error;
    std::vector<std::string> warnings;
    if (!load_main_cf(config_path, explicit_config, config, error, warnings)) {
      std::cerr << "ringrelay: fatal: " << error << '\n';
      return EX_CONFIG;
    }
    socket_path = config.value("control_socket");
    if (socket_path.empty()) {
      std::cerr << "ringrelay ctl: control_socket is empty in " << config_path
                << ": the admin socket is off\n";
      return EX_UNAVAILABLE;
    }
  }
  auto answer = ask_server(socket_path, line + "\n");
  if (!answer) return EX_UNAVAILABLE;
  json j = json::parse(*answer, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::cerr << "ringrelay ctl: not an answer: " << *answer << '\n';
    return EX_PROTOCOL;
  }
  if (raw) std::cout << *answer << '\n';
  if (!j.value("ok", false)) {
    std::cerr << "ringrelay ctl: " << j.value("error", std::string("refused")) << '\n';
    return 1;
  }
  if (raw) return 0;
  if (j.contains("partial"))
    std::cerr << "ringrelay ctl: partial: " << text_of(j, "partial") << '\n';
  if (j.contains("sites")) {
    print_sites(j["sites"]);
  } else if (j.contains("holds")) {
    print_holds(j["holds"]);
  } else {
    std::cout << text_of(j, "message") << '\n';
  }
  return 0;
}

}  // namespace ringrelay::engine
