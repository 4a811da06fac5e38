// The admin socket: accepting `ringrelay ctl` connections, one command each, holds kept and
// published here, answers gathered from every shard.
#include "engine/control/control_server.hh"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "engine/control/hold_state.hh"
#include "engine/runtime/unix_socket.hh"

namespace ringrelay::engine {
namespace {

using nlohmann::json;
using SystemClock = std::chrono::system_clock;

std::string utc_time(SystemClock::time_point when) {
  std::time_t t = SystemClock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string peer_of(int fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) return "unknown peer";
  return "uid " + std::to_string(cred.uid) + " pid " + std::to_string(cred.pid);
}

std::string error_line(const std::string& error) {
  return json{{"ok", false}, {"error", error}}.dump();
}

std::string what_is_held(const Hold& h) {
  return std::string(hold_kind_name(h.kind)) + " " + h.name;
}

json hold_json(const Hold& h) {
  json j{
      {"kind", hold_kind_name(h.kind)}, {"name", h.name}, {"defer", h.defer}, {"reason", h.reason}};
  j["until"] = h.until == SystemClock::time_point::max() ? json(nullptr) : json(utc_time(h.until));
  return j;
}

json site_json(const SiteState& s) {
  return json{{"site", s.name},
              {"source", s.source},
              {"window", s.window},
              {"active", s.active},
              {"connections", s.connections},
              {"queued", s.queued},
              {"held", s.held},
              {"backoff_step", s.backoff_step},
              {"message_rate", s.message_rate},
              {"connection_rate", s.connection_rate},
              {"dead", s.dead},
              {"suspended", s.suspended},
              {"last_rule", s.last_rule}};
}

}  // namespace

ControlServer::ControlServer(Ring& ring, Timers& timers, const EngineSettings& settings,
                             DeliveryLog& log)
    : timers_(timers),
      settings_(settings),
      log_(log),
      server_(ring, timers, {kConnectionLimit, kControlLineLimit, kCommandTime}) {
  server_.request_length = [](std::string_view received) -> std::size_t {
    auto newline = received.find('\n');
    return newline == std::string_view::npos ? 0 : newline + 1;
  };
  server_.on_request = [this](std::uint64_t id, int fd, std::string_view line) {
    line.remove_suffix(1);  // the newline
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    execute(id, peer_of(fd), line);
  };
  server_.too_long_answer =
      error_line("request longer than " + std::to_string(kControlLineLimit) + " bytes") + "\n";
  server_.busy_answer =
      error_line("busy: " + std::to_string(kConnectionLimit) + " admin connections are open") +
      "\n";
  server_.log = [this](const std::string& text) {
    log_.notice("control: " + text + " on " + path_);
  };
}

ControlServer::~ControlServer() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

void ControlServer::listen() {
  state_path_ = settings_.control_state_file;
  if (!state_path_.empty()) {
    std::vector<std::string> problems;
    holds_ = std::make_shared<const HoldSet>(load_holds(state_path_, problems));
    for (const std::string& p : problems) {
      log_.notice("warning: control_state_file " + state_path_ + ", " + p + ": left out");
    }
    if (!holds_->empty()) {
      log_.notice("control: " + std::to_string(holds_->holds().size()) + " holds restored from " +
                  state_path_);
      if (publish_holds) publish_holds(holds_);
      expire_holds();  // those whose time passed while ringrelay was down end now, logged
    }
  }
  if (settings_.control_socket.empty()) return;
  int fd = listen_unix_socket(settings_.control_socket, settings_.control_socket_group,
                              settings_.control_socket_mode, "control_socket");
  path_ = settings_.control_socket;
  server_.listen(fd);
}

void ControlServer::execute(std::uint64_t c, const std::string& peer, std::string_view line) {
  std::string error;
  auto parsed = parse_control_command(line, error);
  if (!parsed) {
    answer(c, error_line(error));
    return;
  }
  auto command = std::make_shared<const ControlCommand>(std::move(*parsed));
  switch (command->verb) {
    case ControlCommand::Verb::holds: {
      json list = json::array();
      for (const Hold& h : holds_->holds()) list.push_back(hold_json(h));
      answer(c, json{{"ok", true}, {"holds", list}}.dump());
      return;
    }
    case ControlCommand::Verb::suspend:
    case ControlCommand::Verb::resume:
      change_holds(c, peer, *command);
      return;
    case ControlCommand::Verb::bounce:
    case ControlCommand::Verb::defer:
      log_.notice("control: " + peer + ": " + std::string(line));
      break;
    case ControlCommand::Verb::sites:
      break;
  }
  auto asked = std::make_unique<Asked>();
  asked->connection = c;
  asked->command = command;
  ask_every_shard(std::move(asked));
}

void ControlServer::gather_sites(SitesDone done) {
  auto asked = std::make_unique<Asked>();
  asked->command = std::make_shared<const ControlCommand>();  // "sites": every site
  asked->done = std::move(done);
  ask_every_shard(std::move(asked));
}

void ControlServer::ask_every_shard(std::unique_ptr<Asked> asked) {
  // Every shard's part: this one's now, the others' through take_reply.
  std::uint64_t id = next_id_++;
  const auto& command = asked->command;
  if (answer_here) asked->replies.push_back(answer_here(*command, id));
  asked->waiting = ask_others ? ask_others(command, id) : 0;
  Asked& ref = *asked;
  asked_[id] = std::move(asked);
  if (ref.waiting == 0) {
    finish(id);
    return;
  }
  ref.deadline.arm(timers_, kAnswerTime, [this, id] { finish(id); });
}

void ControlServer::take_reply(ControlReply reply) {
  auto it = asked_.find(reply.id);
  if (it == asked_.end()) return;  // answered without it (the time was up)
  Asked& asked = *it->second;
  asked.replies.push_back(std::move(reply));
  if (asked.waiting > 0 && --asked.waiting == 0) finish(it->first);
}

void ControlServer::finish(std::uint64_t asked_id) {
  auto it = asked_.find(asked_id);
  if (it == asked_.end()) return;
  std::unique_ptr<Asked> asked = std::move(it->second);
  asked_.erase(it);
  const ControlCommand& command = *asked->command;
  bool partial = asked->waiting > 0;
  std::vector<SiteState> sites;
  for (auto& r : asked->replies) {
    for (auto& s : r.sites) sites.push_back(std::move(s));
  }
  if (asked->done) {
    asked->done(std::move(sites), partial);
    return;
  }
  json reply{{"ok", true}};
  if (partial) reply["partial"] = "a shard did not answer in time";
  if (command.verb == ControlCommand::Verb::sites) {
    std::sort(sites.begin(), sites.end(), [](const SiteState& a, const SiteState& b) {
      std::size_t wa = a.queued + a.held + a.active, wb = b.queued + b.held + b.active;
      if (wa != wb) return wa > wb;
      return std::tie(a.name, a.source) < std::tie(b.name, b.source);
    });
    json list = json::array();
    for (const SiteState& s : sites) list.push_back(site_json(s));
    reply["sites"] = list;
  } else {
    std::size_t recipients = 0;
    for (const auto& r : asked->replies) recipients += r.recipients;
    const char* done = command.verb == ControlCommand::Verb::bounce ? "bounced" : "deferred";
    std::string message =
        std::to_string(recipients) + " recipients queued for site " + command.name + " " + done;
    log_.notice("control: " + message);
    reply["recipients"] = recipients;
    reply["message"] = message;
  }
  answer(asked->connection, reply.dump());
}

void ControlServer::change_holds(std::uint64_t c, const std::string& peer,
                                 const ControlCommand& command) {
  std::string error;
  std::optional<HoldSet> changed;
  std::string message;
  if (command.verb == ControlCommand::Verb::suspend) {
    // Sources and pools are configured: a name that is not one is a typo, not a hold.
    if (command.kind == HoldKind::source && settings_.egress.source(command.name) == nullptr) {
      answer(c, error_line("no egress source named " + command.name + " (egress_source_maps)"));
      return;
    }
    if (command.kind == HoldKind::pool && settings_.egress.pool(command.name) == nullptr) {
      answer(c, error_line("no egress pool or source named " + command.name +
                           " (egress_pool_maps, egress_source_maps)"));
      return;
    }
    Hold hold;
    hold.kind = command.kind;
    hold.name = command.name;
    if (command.duration) hold.until = SystemClock::now() + *command.duration;
    hold.defer = command.defer;
    hold.reason = command.reason;
    message = what_is_held(hold) + " suspended" +
              (command.duration ? " until " + utc_time(hold.until) : " until resumed") +
              (hold.defer ? "; its mail is deferred at once" : "; its mail is kept back") +
              (hold.reason.empty() ? "" : " (" + hold.reason + ")");
    changed = holds_->with(std::move(hold), error);
  } else {
    message = std::string(hold_kind_name(command.kind)) + " " + command.name + " resumed";
    changed = holds_->without(command.kind, command.name, error);
  }
  if (!changed) {
    answer(c, error_line(error));
    return;
  }
  holds_ = std::make_shared<const HoldSet>(std::move(*changed));
  log_.notice("control: " + peer + ": " + message);
  if (publish_holds) publish_holds(holds_);
  arm_expiry();
  if (std::string warning = persist(); !warning.empty()) message += " (" + warning + ")";
  answer(c, json{{"ok", true}, {"message", message}}.dump());
}

void ControlServer::expire_holds() {
  std::vector<Hold> expired;
  HoldSet kept = holds_->without_expired(SystemClock::now(), expired);
  if (!expired.empty()) {
    holds_ = std::make_shared<const HoldSet>(std::move(kept));
    for (const Hold& h : expired) {
      log_.notice("control: " + what_is_held(h) + " resumed: its suspension ended");
    }
    if (publish_holds) publish_holds(holds_);
    persist();
  }
  arm_expiry();
}

std::string ControlServer::persist() {
  if (state_path_.empty()) return "";
  try {
    save_holds(state_path_, *holds_);
    return "";
  } catch (const std::exception& e) {
    std::string warning =
        std::string("warning: the holds could not be saved to control_state_file: ") + e.what();
    log_.notice(warning);
    return warning;
  }
}

void ControlServer::arm_expiry() {
  auto next = holds_->next_expiry();
  if (!next) {
    expiry_timer_.cancel();
    return;
  }
  auto wait = std::max(SystemClock::duration::zero(), *next - SystemClock::now());
  // A little late rather than early: the wall clock and the loop's clock tick apart.
  expiry_timer_.arm(
      timers_, std::chrono::duration_cast<Clock::duration>(wait) + std::chrono::milliseconds(5),
      [this] { expire_holds(); });
}

void ControlServer::answer(std::uint64_t connection, std::string json_line) {
  server_.answer(connection, std::move(json_line) + "\n");
}

void ControlServer::end_of_turn() {
  server_.end_of_turn();
}

}  // namespace ringrelay::engine
