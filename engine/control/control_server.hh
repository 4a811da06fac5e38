// The admin socket on shard 0: `ringrelay ctl` connects to a UNIX stream socket (control_socket,
// owner-only by default; runtime/request_server), sends one command line and reads one JSON line
// back. Holds live here and are published to every shard as one snapshot (they survive SIGHUP,
// and a restart when control_state_file is set: hold_state.hh); sites and flushes are asked of
// every shard and the answers gathered (at most kAnswerTime; the metrics gather sites the same
// way). Every change is logged with the peer's uid and pid. The language: control_command.hh.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/engine_settings.hh"
#include "engine/control/control_command.hh"
#include "engine/control/shard_answer.hh"
#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/holds.hh"
#include "engine/runtime/request_server.hh"
#include "engine/runtime/ring.hh"
#include "engine/runtime/timers.hh"

namespace ringrelay::engine {

class ControlServer {
 public:
  ControlServer(Ring& ring, Timers& timers, const EngineSettings& settings, DeliveryLog& log);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The holds changed: to every shard, this one included.
  std::function<void(const HoldSetPointer&)> publish_holds;
  // This shard's part of a command, and asking the others for theirs (they come back through
  // take_reply); ask_others returns how many will answer.
  std::function<ControlReply(const ControlCommand&, std::uint64_t id)> answer_here;
  std::function<std::size_t(const std::shared_ptr<const ControlCommand>&, std::uint64_t id)>
      ask_others;

  // Listens on settings.control_socket (nothing when it is empty). Throws std::runtime_error.
  void listen();
  void take_reply(ControlReply reply);
  // Every shard's sites, for the metrics: `done` runs on this thread once every shard answered or
  // kAnswerTime passed (partial).
  using SitesDone = std::function<void(std::vector<SiteState> sites, bool partial)>;
  void gather_sites(SitesDone done);
  void end_of_turn();  // frees connections that closed
  // A connection waits at most this long for its command line, a command for the shards.
  static constexpr std::chrono::seconds kCommandTime{10};
  static constexpr std::chrono::seconds kAnswerTime{5};
  static constexpr std::size_t kConnectionLimit = 16;

 private:
  // A command waiting for the other shards' answers.
  struct Asked {
    std::uint64_t connection = 0;  // the request server's id for the asking connection
    std::shared_ptr<const ControlCommand> command;
    std::size_t waiting = 0;
    std::vector<ControlReply> replies;
    SitesDone done;  // asked for the metrics, not by a connection
    Timer deadline;
  };

  void execute(std::uint64_t connection, const std::string& peer, std::string_view line);
  // Answers `command` here and asks the other shards; finish() sees the answers.
  void ask_every_shard(std::unique_ptr<Asked> asked);
  void change_holds(std::uint64_t connection, const std::string& peer,
                    const ControlCommand& command);
  void finish(std::uint64_t asked_id);  // every shard answered, or the time is up
  void answer(std::uint64_t connection, std::string json_line);
  void expire_holds();
  void arm_expiry();
  // Writes the holds to control_state_file (when set); "" or a warning for the log and answer.
  std::string persist();

  Timers& timers_;
  const EngineSettings& settings_;
  DeliveryLog& log_;
  RequestServer server_;
  std::string path_;        // the socket, removed at the end
  std::string state_path_;  // control_state_file, as at start; empty: holds are not saved
  std::map<std::uint64_t, std::unique_ptr<Asked>> asked_;
  std::uint64_t next_id_ = 1;
  HoldSetPointer holds_ = std::make_shared<const HoldSet>();
  Timer expiry_timer_;
};

}  // namespace ringrelay::engine
