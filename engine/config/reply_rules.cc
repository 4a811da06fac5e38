// Rules by reply: the action syntax and the tables that give actions for a server's refusal.
#include "engine/config/reply_rules.hh"

#include "engine/config/config.hh"
#include "engine/config/config_values.hh"

namespace ringrelay::engine {
namespace {

// The largest backoff=N a rule may ask for; reply_backoff_steps bounds the site's step anyway.
constexpr std::int64_t kMostStepsAtOnce = 10;
// The longest suspend= or noreuse= spell (a restart forgets it anyway).
constexpr std::chrono::seconds kLongestSpell = std::chrono::days(30);

std::optional<std::chrono::seconds> positive_time(std::string_view text) {
  auto seconds = parse_time_seconds(text, 's');
  if (!seconds || *seconds < 1 || *seconds > kLongestSpell.count()) return std::nullopt;
  return std::chrono::seconds(*seconds);
}

}  // namespace

std::optional<ReplyAction> parse_reply_action(std::string_view text, std::string& error) {
  ReplyAction action;
  action.text = std::string(text);
  std::vector<std::string> seen;
  std::vector<std::string> words = split_list(text);
  if (words.empty()) {
    error = "no action";
    return std::nullopt;
  }
  for (const std::string& word : words) {
    std::size_t equals = word.find('=');
    std::string name = word.substr(0, equals);
    std::string value = equals == std::string::npos ? std::string() : word.substr(equals + 1);
    for (const std::string& earlier : seen) {
      if (earlier == name) {
        error = "\"" + name + "\" given twice";
        return std::nullopt;
      }
    }
    seen.push_back(name);
    bool has_value = equals != std::string::npos;
    if (name == "backoff") {
      auto steps = has_value ? parse_integer(value) : std::optional<std::int64_t>(1);
      if (!steps || *steps < 1 || *steps > kMostStepsAtOnce) {
        error = "\"" + word + "\": expected backoff or backoff=N with N from 1 to " +
                std::to_string(kMostStepsAtOnce);
        return std::nullopt;
      }
      action.backoff_steps = static_cast<std::size_t>(*steps);
    } else if (name == "suspend" || name == "noreuse") {
      auto time = has_value ? positive_time(value) : std::nullopt;
      if (!time) {
        error = "\"" + word + "\": expected " + name + "=TIME (" + std::string(kExpectTime) +
                ", from 1s to 30d)";
        return std::nullopt;
      }
      (name == "suspend" ? action.suspend : action.no_reuse) = *time;
    } else if ((name == "close" || name == "defer") && !has_value) {
      (name == "close" ? action.close : action.defer) = true;
    } else {
      error = "unknown action \"" + word +
              "\" (expected backoff, backoff=N, suspend=TIME, noreuse=TIME, close, defer)";
      return std::nullopt;
    }
  }
  return action;
}

ReplyRules::ReplyRules(const std::vector<std::string>& specs) {
  for (const std::string& spec : specs) {
    LookupTable table(spec);
    if (table.has_fixed_keys() || table.name().starts_with("cidr:")) {
      throw ConfigError("reply_rules = " + spec +
                        ": expected a regexp: or pcre: table (replies are matched by patterns)");
    }
    for (const auto& [result, where] : table.rule_results()) {
      std::string error;
      if (!parse_reply_action(result, error)) throw ConfigError(where + ": " + error);
    }
    tables_.push_back(std::move(table));
  }
}

std::optional<ReplyAction> ReplyRules::match(std::string_view reply) const {
  std::optional<std::string> found = find_first(tables_, reply);
  if (!found) return std::nullopt;
  std::string error;
  return parse_reply_action(*found, error);  // checked at load; $n results may still fail
}

}  // namespace ringrelay::engine
