// The submit client: blocking set-up, then a poll loop that writes requests and reads results at
// the same time, so a long batch never stalls on results it has not read yet.
#include "engine/cli/command_submit.hh"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <simdjson.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/config/config.hh"
#include "engine/feed/feed_protocol.hh"

namespace ringrelay::engine {
namespace {

using nlohmann::json;

// Batch lines and the server's records are read with simdjson (one reused parser and padded
// buffer): with nlohmann's DOM, parsing and re-serializing every line was half of this client's
// CPU, taken from the machine that also runs the server.
class LineReader {
 public:
  // The line as a JSON object, or nothing when it is not one.
  std::optional<simdjson::dom::object> object(std::string_view line) {
    padded_.assign(line);
    padded_.resize(line.size() + simdjson::SIMDJSON_PADDING);
    simdjson::dom::object o;
    if (parser_.parse(padded_.data(), line.size(), false).get_object().get(o) !=
        simdjson::SUCCESS) {
      return std::nullopt;
    }
    return o;
  }

 private:
  simdjson::dom::parser parser_;
  std::string padded_;
};

std::string_view string_member(const simdjson::dom::object& o, std::string_view key) {
  std::string_view text;
  if (o[key].get_string().get(text) != simdjson::SUCCESS) return {};
  return text;
}

// A result record as shown to the user: the record without its "type" and "seq".
std::string shown_result(const simdjson::dom::object& record) {
  std::string out = "{";
  for (auto member : record) {
    if (member.key == "type" || member.key == "seq") continue;
    if (out.size() > 1) out += ',';
    append_json_string(out, member.key);
    out += ':';
    out += simdjson::minify(member.value);
  }
  out += '}';
  return out;
}

constexpr std::string_view kUsage =
    "usage: ringrelay submit [-c PATH] [--socket PATH] -f SENDER -r RCPT [-r RCPT ...]\n"
    "         [--nexthop DEST] [--notify LIST] [--orcpt ADDR] [--envid ID] [--ret full|hdrs]\n"
    "         [--8bit|--7bit|--binary] [--smtputf8] [--priority 0-9]\n"
    "         [--pool NAME] [--tenant NAME] FILE...\n"
    "       ringrelay submit [-c PATH] [--socket PATH] --batch FILE.jsonl\n";

int usage(const std::string& why) {
  std::cerr << "ringrelay: submit: " << why << '\n' << kUsage;
  return EX_USAGE;
}

}  // namespace

int run_submit_command(std::span<const std::string_view> args) {
  std::string config_path(kDefaultConfigPath), socket_path, batch;
  bool explicit_config = false;
  std::string sender, nexthop, notify, envid, ret, encoding, priority, pool, tenant;
  bool sender_given = false, smtputf8 = false;
  json recipients = json::array();
  std::vector<std::string> files;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "-c") {
      if (!value(config_path)) return usage("-c needs a file");
      explicit_config = true;
    } else if (a == "--socket") {
      if (!value(socket_path)) return usage("--socket needs a path");
    } else if (a == "-f") {
      if (!value(sender)) return usage("-f needs a sender");
      sender_given = true;
    } else if (a == "-r") {
      if (!value(v)) return usage("-r needs a recipient");
      recipients.push_back({{"address", v}});
    } else if (a == "--orcpt") {
      if (!value(v) || recipients.empty()) return usage("--orcpt follows the -r it belongs to");
      recipients.back()["orcpt"] = v.find(';') == std::string::npos ? "rfc822;" + v : v;
    } else if (a == "--nexthop") {
      if (!value(nexthop)) return usage("--nexthop needs a destination");
    } else if (a == "--notify") {
      if (!value(notify)) return usage("--notify needs a list");
    } else if (a == "--envid") {
      if (!value(envid)) return usage("--envid needs an id");
    } else if (a == "--ret") {
      if (!value(ret) || (ret != "full" && ret != "hdrs")) return usage("--ret is full or hdrs");
    } else if (a == "--8bit" || a == "--7bit" || a == "--binary") {
      encoding = std::string(a.substr(2));
    } else if (a == "--smtputf8") {
      smtputf8 = true;
    } else if (a == "--priority") {
      if (!value(priority) || priority.size() != 1 || priority[0] < '0' || priority[0] > '9')
        return usage("--priority is 0 (lowest) to 9 (highest)");
    } else if (a == "--tenant") {
      if (!value(tenant) || tenant.empty()) return usage("--tenant needs a name");
    } else if (a == "--pool") {
      if (!value(pool) || pool.empty()) return usage("--pool needs an egress pool or source name");
    } else if (a == "--batch") {
      if (!value(batch)) return usage("--batch needs a file");
    } else if (a.starts_with("-") && a != "-") {
      return usage("unknown option " + std::string(a));
    } else {
      files.emplace_back(a);
    }
  }
  if (batch.empty() && (!sender_given || recipients.empty() || files.empty())) {
    return usage("give -f SENDER, at least one -r RCPT and at least one FILE (or --batch)");
  }
  if (socket_path.empty()) {
    std::vector<std::string> warnings;
    try {
      Config config(HostFacts::from_system());
      if (explicit_config || std::filesystem::exists(config_path)) {
        config = Config::load(config_path, HostFacts::from_system(), warnings);
      }
      socket_path = config.value("feed_socket");
    } catch (const ConfigError& e) {
      std::cerr << "ringrelay: fatal: " << e.what() << '\n';
      return EX_CONFIG;
    }
  }

  // The requests to send, one line each.
  std::vector<std::string> requests;
  std::set<std::string, std::less<>> waiting;
  LineReader reader;
  if (!batch.empty()) {
    std::ifstream in(batch);
    if (!in) {
      std::cerr << "ringrelay: submit: cannot open " << batch << '\n';
      return EX_NOINPUT;
    }
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      auto request = reader.object(line);
      std::string_view id;
      if (!request || (*request)["id"].get_string().get(id) != simdjson::SUCCESS) {
        std::cerr << "ringrelay: submit: " << batch << ", line " << number
                  << ": expected a JSON object with a string \"id\"\n";
        return EX_DATAERR;
      }
      waiting.emplace(id);
      // Sent as written, with "type" added when it is left out (the server checks the rest).
      if ((*request)["type"].error() == simdjson::NO_SUCH_FIELD) {
        line.insert(line.find('{') + 1, "\"type\":\"deliver\",");  // it has an "id" after
      }
      requests.push_back(line + "\n");
    }
  } else {
    for (std::size_t n = 0; n < files.size(); ++n) {
      std::error_code ec;
      auto path = std::filesystem::absolute(files[n], ec);
      struct stat st {};
      if (ec || ::stat(path.c_str(), &st) != 0) {
        std::cerr << "ringrelay: submit: " << files[n] << ": " << std::strerror(errno) << '\n';
        return EX_NOINPUT;
      }
      json r = {{"type", "deliver"},
                {"id", "submit-" + std::to_string(::getpid()) + "-" + std::to_string(n + 1)},
                {"sender", sender},
                {"recipients", recipients},
                {"body",
                 {{"path", path.string()},
                  {"offset", 0},
                  {"size", static_cast<std::uint64_t>(st.st_size)}}}};
      if (!notify.empty()) {
        for (auto& rcpt : r["recipients"]) rcpt["notify"] = notify;
      }
      if (!nexthop.empty()) r["nexthop"] = nexthop;
      if (!envid.empty()) r["envid"] = envid;
      if (!ret.empty()) r["ret"] = ret;
      if (!encoding.empty()) r["encoding"] = encoding;
      if (smtputf8) r["smtputf8"] = true;
      if (!priority.empty()) r["priority"] = priority[0] - '0';
      if (!pool.empty()) r["pool"] = pool;
      if (!tenant.empty()) r["tenant"] = tenant;
      waiting.insert(r["id"].get<std::string>());
      requests.push_back(r.dump() + "\n");
    }
  }

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    std::cerr << "ringrelay: submit: cannot connect to " << socket_path << ": "
              << std::strerror(errno) << " (is `ringrelay serve` running?)\n";
    return EX_UNAVAILABLE;
  }

  // Protocol 2: results are numbered and kept by the server until acknowledged, under this name.
  std::string client = "submit-" + std::to_string(::getpid());
  std::string out = "{\"type\":\"hello\",\"protocol\":2,\"client\":\"" + client + "\"}\n";
  for (auto& r : requests) out += r;
  std::uint64_t highest_seq = 0, acknowledged = 0;
  std::set<std::pair<std::string, std::uint64_t>> seen;  // (id, index): a redelivery is shown once
  std::size_t out_offset = 0;
  std::string in;
  bool any_bounced = false, any_deferred = false, any_error = false;
  char buffer[65536];
  while (!waiting.empty()) {
    pollfd p{fd, static_cast<short>(POLLIN | (out_offset < out.size() ? POLLOUT : 0)), 0};
    if (::poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((p.revents & POLLOUT) && out_offset < out.size()) {
      ssize_t n =
          ::send(fd, out.data() + out_offset, out.size() - out_offset, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) out_offset += static_cast<std::size_t>(n);
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        std::cerr << "ringrelay: submit: the server closed the connection with " << waiting.size()
                  << " request(s) unfinished; their results are kept for client \"" << client
                  << "\" until it connects again and acknowledges them\n";
        ::close(fd);
        return EX_TEMPFAIL;
      }
      if (n > 0) in.append(buffer, static_cast<std::size_t>(n));
      // The complete lines of this read, then what is left of a line moved to the front once
      // (erasing each line from the front moved the rest of the buffer once per line).
      std::size_t start = 0, newline;
      while ((newline = in.find('\n', start)) != std::string::npos) {
        std::string_view line(in.data() + start, newline - start);
        start = newline + 1;
        auto record = reader.object(line);
        if (!record) continue;
        std::string_view type = string_member(*record, "type");
        std::uint64_t seq = 0;
        if ((*record)["seq"].get_uint64().get(seq) == simdjson::SUCCESS) {
          highest_seq = std::max(highest_seq, seq);
        }
        std::string_view id = string_member(*record, "id");
        if (type == "result") {
          std::uint64_t index = 0;
          if ((*record)["index"].get_uint64().get(index) != simdjson::SUCCESS) index = 0;
          if (!seen.emplace(std::string(id), index).second) {
            continue;  // sent again after a reconnection or restart: shown once
          }
          std::string_view status = string_member(*record, "status");
          any_bounced |= status == "bounced";
          any_deferred |= status == "deferred";
          std::cout << shown_result(*record) << '\n';
        } else if (type == "done") {
          if (auto done = waiting.find(id); done != waiting.end()) waiting.erase(done);
        } else if (type == "error") {
          any_error = true;
          std::cerr << "ringrelay: submit: request "
                    << ((*record)["id"].is_string() ? std::string(id) : std::string("?"))
                    << " refused: " << string_member(*record, "field") << ": "
                    << string_member(*record, "message") << '\n';
          if (auto refused = waiting.find(id); refused != waiting.end()) waiting.erase(refused);
        }
      }
      in.erase(0, start);
      // The results of this read are shown now, in one write rather than one per result.
      std::cout << std::flush;
      // One cumulative acknowledgement per read, not one per result.
      if (highest_seq > acknowledged && !waiting.empty()) {
        if (out_offset == out.size()) {
          out.clear();
          out_offset = 0;
        }
        out += "{\"type\":\"ack\",\"upto\":" + std::to_string(highest_seq) + "}\n";
        acknowledged = highest_seq;
      }
    }
  }
  // The last acknowledgement, so that the server forgets what this run has shown.
  if (highest_seq > acknowledged) {
    std::string ack = "{\"type\":\"ack\",\"upto\":" + std::to_string(highest_seq) + "}\n";
    [[maybe_unused]] ssize_t n = ::send(fd, ack.data(), ack.size(), MSG_NOSIGNAL);
  }
  ::shutdown(fd, SHUT_WR);
  ::close(fd);
  if (any_error) return EX_DATAERR;
  if (any_bounced) return EX_UNAVAILABLE;
  if (any_deferred) return EX_TEMPFAIL;
  return 0;
}

}  // namespace ringrelay::engine
