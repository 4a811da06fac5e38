// The lookup sequence and the rules for an answer (the first address of a list, "@domain").
#include "engine/config/address_map.hh"

#include <algorithm>

#include "proto/ascii.hh"

namespace ringrelay::engine {

AddressMap::AddressMap(std::vector<LookupTable> tables, std::vector<std::string> local_domains,
                       std::string recipient_delimiter)
    : tables_(std::move(tables)),
      local_domains_(std::move(local_domains)),
      delimiters_(std::move(recipient_delimiter)) {}

std::optional<std::string> AddressMap::find(std::string_view key, bool whole_key) const {
  for (const LookupTable& table : tables_) {
    if (!whole_key && !table.has_fixed_keys()) continue;  // patterns see whole addresses only
    if (auto value = table.find(key)) return value;
  }
  return std::nullopt;
}

std::optional<std::string> AddressMap::map(std::string_view address) const {
  std::size_t at = address.rfind('@');
  std::string_view local = at == std::string_view::npos ? address : address.substr(0, at);
  std::string_view domain = at == std::string_view::npos ? "" : address.substr(at + 1);
  // user+foo: the extension starts at the first delimiter that is not the first character.
  std::size_t ext =
      delimiters_.empty() ? std::string_view::npos : local.find_first_of(delimiters_, 1);
  std::string_view bare_local = local.substr(0, ext);

  std::optional<std::string> value = find(address, true);
  if (!value && ext != std::string_view::npos) {
    value = find(
        std::string(bare_local) + (at == std::string_view::npos ? "" : "@") + std::string(domain),
        false);
  }
  if (!value && at != std::string_view::npos &&
      std::find(local_domains_.begin(), local_domains_.end(), proto::ascii_lower(domain)) !=
          local_domains_.end()) {
    value = find(local, false);
    if (!value && ext != std::string_view::npos) value = find(bare_local, false);
  }
  if (!value && at != std::string_view::npos) value = find(address.substr(at), false);
  if (!value) return std::nullopt;

  // A list answers with its first address (Postfix warns and uses it too).
  std::string_view answer = proto::trim_blanks(*value);
  answer = proto::trim_blanks(answer.substr(0, answer.find(',')));
  if (answer.size() >= 2 && answer.front() == '<' && answer.back() == '>') {
    answer = answer.substr(1, answer.size() - 2);
  }
  std::string result;
  if (answer.starts_with("@")) result = std::string(bare_local);
  // An answer quoted in external form ("a b"@c) becomes the internal form (a b@c).
  std::size_t last_at = answer.rfind('@');
  std::string_view answer_local = answer.substr(0, last_at);
  if (answer_local.size() >= 2 && answer_local.front() == '"' && answer_local.back() == '"') {
    for (std::size_t i = 1; i + 1 < answer_local.size(); ++i) {
      if (answer_local[i] == '\\' && i + 2 < answer_local.size()) ++i;
      result += answer_local[i];
    }
    result += answer.substr(last_at == std::string_view::npos ? answer.size() : last_at);
  } else {
    result += answer;
  }
  if (result.empty()) return std::nullopt;
  return result;
}

}  // namespace ringrelay::engine
