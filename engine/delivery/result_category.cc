// The category table (docs/feed-protocol.md, "Categories"): one ordered list of rules for results
// with a server reply, one for results ringrelay decided without one. The first match wins.
#include "engine/delivery/result_category.hh"

#include <array>
#include <cctype>
#include <initializer_list>
#include <string>

namespace ringrelay::engine {
namespace {

// An enhanced status code, RFC 3463: class.subject.detail ("5.1.1"); -1 where absent.
struct StatusCode {
  int subject = -1, detail = -1;
  bool is(int s, int d = -1) const { return subject == s && (d < 0 || detail == d); }
};

StatusCode parse_status(std::string_view dsn) {
  StatusCode code;
  std::array<int, 3> parts{-1, -1, -1};
  std::size_t part = 0;
  for (char c : dsn) {
    if (c == '.') {
      if (++part >= parts.size()) return {};
    } else if (std::isdigit(static_cast<unsigned char>(c)) && parts[part] < 1000) {
      parts[part] = (parts[part] < 0 ? 0 : parts[part] * 10) + (c - '0');
    } else {
      return {};
    }
  }
  if (part != 2 || parts[0] < 2 || parts[0] > 5) return {};
  code.subject = parts[1];
  code.detail = parts[2];
  return code;
}

// The reply's words, lower-cased, for matching at the start of words: "throttl" matches
// "throttled" and "throttling", "listed" does not match "unlisted".
class Words {
 public:
  explicit Words(std::string_view text) : text_(text.size(), ' ') {
    for (std::size_t i = 0; i < text.size(); ++i)
      text_[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  }
  bool any(std::initializer_list<std::string_view> starts) const {
    for (std::string_view start : starts) {
      for (std::size_t at = text_.find(start); at != std::string::npos;
           at = text_.find(start, at + 1)) {
        if (at == 0 || !std::isalnum(static_cast<unsigned char>(text_[at - 1]))) return true;
      }
    }
    return false;
  }

 private:
  std::string text_;
};

bool conversation_start(proto::Stage stage) {
  using proto::Stage;
  return stage == Stage::connect || stage == Stage::greeting || stage == Stage::ehlo ||
         stage == Stage::helo || stage == Stage::lhlo;
}

bool tls_stage(proto::Stage stage) {
  return stage == proto::Stage::starttls || stage == proto::Stage::tls_handshake;
}

// x.7.4 security features not supported, x.7.5 cryptographic failure, x.7.10 encryption needed,
// x.7.11 encryption required for this mechanism.
bool tls_status(const StatusCode& code) {
  return code.is(7, 4) || code.is(7, 5) || code.is(7, 10) || code.is(7, 11);
}

ResultCategory without_server(const proto::RecipientResult& r, const StatusCode& code) {
  Words words(r.text);
  if (tls_stage(r.stage) || tls_status(code)) return ResultCategory::tls_failure;
  if (code.is(4, 3) || code.is(4, 4) || words.any({"name service error", "host or domain name"}))
    return ResultCategory::dns_failure;
  if (code.is(1)) return ResultCategory::invalid_recipient;  // the domain's null MX
  if (code.is(4, 6) || code.is(3, 5)) return ResultCategory::routing;
  if (code.is(4, 1) || code.is(4, 2) || code.is(4, 7) ||
      words.any({"connect to", "lost connection", "timed out", "connection closed"}))
    return ResultCategory::connection;
  return ResultCategory::other;
}

ResultCategory from_server(const proto::RecipientResult& r, const StatusCode& code) {
  Words words(r.reply.empty() ? r.text : r.reply);
  bool permanent_class = r.reply_code >= 500;
  if (tls_stage(r.stage) || tls_status(code) ||
      words.any({"starttls", "tls required", "encryption required", "must issue a starttls"}))
    return ResultCategory::tls_failure;
  // Gmail's 4.7.28/5.7.28: "unusual rate of unsolicited mail" from this IP or domain.
  if (code.is(7, 28)) return ResultCategory::reputation;
  if (code.is(2, 2)) return ResultCategory::mailbox_full;
  if (code.subject != 7 &&
      words.any({"mailbox full", "mailbox is full", "over quota", "quota exceeded",
                 "exceeded storage", "mailbox size limit", "user is over"}))
    return ResultCategory::mailbox_full;
  // Addressing (x.1.x) at RCPT; at MAIL it is the sender's address (policy below).
  if ((code.is(1) && r.stage != proto::Stage::mail && !code.is(1, 7) && !code.is(1, 8)) ||
      code.is(2, 1))
    return ResultCategory::invalid_recipient;
  if (code.subject != 7 &&
      words.any({"user unknown", "unknown user", "no such user", "no such mailbox",
                 "no such recipient", "mailbox not found", "mailbox unavailable",
                 "mailbox does not exist", "does not exist", "recipient unknown",
                 "unknown recipient", "invalid recipient", "recipient not found",
                 "not a valid mailbox", "account disabled", "account is disabled",
                 "account has been disabled", "recipnotfound"}))
    return ResultCategory::invalid_recipient;
  // Microsoft's directory-based edge blocking: "550 5.4.1 Recipient address rejected: Access
  // denied" is its answer for a recipient that does not exist.
  if (code.is(4, 1) && r.stage == proto::Stage::rcpt && words.any({"recipient address rejected"}))
    return ResultCategory::invalid_recipient;
  if (code.is(5, 3) || code.is(3, 4) || code.is(2, 3) || code.is(3, 1) ||
      words.any({"too many recipients", "too many messages", "message size", "size exceeds",
                 "exceeds size", "too large", "too big", "message length exceeds",
                 "insufficient system storage"}))
    return ResultCategory::quota;
  if (words.any({"rate limit",
                 "rate-limit",
                 "ratelimit",
                 "rate of",
                 "too many connections",
                 "throttl",
                 "temporarily deferred",
                 "deferred due to",
                 "blocked using",
                 "blacklist",
                 "blocklist",
                 "block list",
                 "spamhaus",
                 "spamcop",
                 "dnsbl",
                 "rbl",
                 "reputation",
                 "listed",
                 "complaints",
                 "sender score",
                 "banned"}) ||
      (r.reply_code == 421 && code.is(7) && words.any({"try again later", "try later"})))
    return ResultCategory::reputation;
  if (code.is(6) || words.any({"spam", "virus", "malware", "phish", "content", "infected",
                               "suspicious", "attachment", "url"}))
    return ResultCategory::content;
  if (code.is(4, 6) || code.is(3, 5) || code.is(4, 4) ||
      words.any({"relay access denied", "relaying denied", "relay not permitted",
                 "not permitted to relay", "relaying not allowed", "unable to relay", "loops back",
                 "mail loop", "too many hops"}))
    return ResultCategory::routing;
  if (code.is(7) ||
      (permanent_class && (r.stage == proto::Stage::mail || conversation_start(r.stage))) ||
      words.any(
          {"policy", "not authorized", "unauthenticated", "spf", "dkim", "dmarc", "access denied"}))
    return ResultCategory::policy;
  if (conversation_start(r.stage) || code.is(4)) return ResultCategory::connection;
  return ResultCategory::other;
}

}  // namespace

std::string_view category_name(ResultCategory category) {
  switch (category) {
    case ResultCategory::delivered:
      return "delivered";
    case ResultCategory::invalid_recipient:
      return "invalid_recipient";
    case ResultCategory::mailbox_full:
      return "mailbox_full";
    case ResultCategory::quota:
      return "quota";
    case ResultCategory::content:
      return "content";
    case ResultCategory::policy:
      return "policy";
    case ResultCategory::reputation:
      return "reputation";
    case ResultCategory::dns_failure:
      return "dns_failure";
    case ResultCategory::tls_failure:
      return "tls_failure";
    case ResultCategory::connection:
      return "connection";
    case ResultCategory::routing:
      return "routing";
    case ResultCategory::other:
      return "other";
  }
  return "other";
}

ResultCategory categorize(const proto::RecipientResult& result) {
  if (result.status == proto::DeliveryStatus::sent) return ResultCategory::delivered;
  StatusCode code = parse_status(result.dsn);
  return result.reply_code == 0 ? without_server(result, code) : from_server(result, code);
}

}  // namespace ringrelay::engine
