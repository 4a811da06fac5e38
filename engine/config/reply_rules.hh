// Rules by reply (reply_rules): regexp: or pcre: tables matched against a server's refusal in
// Postfix's one-line form ("421-4.7.28 first line 421 4.7.28 last line"), whose results are
// actions on the site (back off a step, suspend, stop reusing connections) and on the result
// (a permanent refusal deferred). Every rule's action is checked at start; matching is per refusal.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/lookup_table.hh"

namespace ringrelay::engine {

struct ReplyAction {
  std::size_t backoff_steps = 0;     // "backoff" (one step) or "backoff=N"
  std::chrono::seconds suspend{0};   // "suspend=TIME": the site's mail deferred at once that long
  std::chrono::seconds no_reuse{0};  // "noreuse=TIME": the site's connections carry one transaction
  bool close = false;                // "close": this connection closes after its transaction
  bool defer = false;                // "defer": a permanent refusal becomes a deferral (4.x.x)
  std::string text;                  // the action as written, for the log
};

// "backoff suspend=10m" and the like: words, each an action, none twice. Nothing and a message
// naming the word on anything else.
std::optional<ReplyAction> parse_reply_action(std::string_view text, std::string& error);

class ReplyRules {
 public:
  ReplyRules() = default;
  // Loads the tables; throws ConfigError for a table with fixed keys (a reply is matched by
  // patterns) and for a rule whose action does not parse, naming its file and line.
  explicit ReplyRules(const std::vector<std::string>& specs);
  bool empty() const { return tables_.empty(); }
  // The first table's answer for `reply`, parsed; nothing when no rule matches.
  std::optional<ReplyAction> match(std::string_view reply) const;

 private:
  std::vector<LookupTable> tables_;
};

}  // namespace ringrelay::engine
