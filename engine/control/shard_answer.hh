// What one shard answers to an admin command (its part of `ctl sites`, or how many recipients
// `ctl bounce`/`ctl defer` gave results to); shard 0 gathers the parts of every shard.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/control/control_command.hh"
#include "engine/delivery/scheduler.hh"

namespace ringrelay::engine {

struct ControlReply {
  std::uint64_t id = 0;  // the control server's number for the command
  std::vector<SiteState> sites;
  std::size_t recipients = 0;
};

ControlReply answer_on_shard(Scheduler& scheduler, const ControlCommand& command, std::uint64_t id);

}  // namespace ringrelay::engine
