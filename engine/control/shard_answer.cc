// One shard's part of an admin command.
#include "engine/control/shard_answer.hh"

#include <algorithm>

#include "engine/delivery/site_key.hh"

namespace ringrelay::engine {

ControlReply answer_on_shard(Scheduler& scheduler, const ControlCommand& command,
                             std::uint64_t id) {
  ControlReply reply;
  reply.id = id;
  switch (command.verb) {
    case ControlCommand::Verb::sites:
      reply.sites = scheduler.site_states();
      if (!command.name.empty()) {
        std::erase_if(reply.sites,
                      [&](const SiteState& s) { return !site_answers_to(s.name, command.name); });
      }
      break;
    case ControlCommand::Verb::bounce:
    case ControlCommand::Verb::defer:
      reply.recipients = scheduler.flush_site(
          command.name, command.verb == ControlCommand::Verb::bounce, command.reason);
      break;
    case ControlCommand::Verb::holds:
    case ControlCommand::Verb::suspend:
    case ControlCommand::Verb::resume:
      break;  // shard 0's control server answers these itself
  }
  return reply;
}

}  // namespace ringrelay::engine
