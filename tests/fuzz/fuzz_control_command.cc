// Fuzzes the admin socket's command parser (ringrelay ctl's language): no crash; a parsed command
// has a name of printable characters within its limit (for site lists, holds and the log), a
// reason within its limit, a positive duration only for suspend; a refusal always says why; and
// a hold made from it round-trips through a HoldSet.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/control/control_command.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ringrelay::engine;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  std::string error;
  auto command = parse_control_command(line, error);
  if (!command) {
    if (error.empty()) std::abort();
    return 0;
  }
  if (command->name.size() > kControlNameLimit || command->reason.size() > kControlReasonLimit)
    std::abort();
  for (char c : command->name) {
    if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || (c >= 'A' && c <= 'Z')) std::abort();
  }
  bool named =
      command->verb != ControlCommand::Verb::holds && command->verb != ControlCommand::Verb::sites;
  if (named && command->name.empty()) std::abort();
  if (command->duration &&
      (command->verb != ControlCommand::Verb::suspend || command->duration->count() <= 0))
    std::abort();
  if (command->verb == ControlCommand::Verb::suspend) {
    Hold hold{command->kind, command->name, {}, command->defer, command->reason};
    auto set = HoldSet{}.with(hold, error);
    if (!set || set->holds().size() != 1) std::abort();
    HeldFacts facts;
    std::string_view name = command->name;
    switch (command->kind) {
      case HoldKind::site:
        facts.site = name;
        break;
      case HoldKind::source:
        facts.source = name;
        break;
      case HoldKind::domain:
        facts.domain = name;
        break;
      case HoldKind::pool:
        facts.pool = name;
        break;
      case HoldKind::tenant:
        facts.tenant = name;
        break;
    }
    if (set->match(facts) == nullptr) std::abort();
    if (!set->without(command->kind, command->name, error) ||
        !set->without(command->kind, command->name, error)->empty())
      std::abort();
  }
  return 0;
}
