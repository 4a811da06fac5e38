// Feed protocol parsing and formatting, with nlohmann::json. Every rejection names the field.
#include "engine/feed_protocol.hh"

#include <nlohmann/json.hpp>

#include "engine/delivery_log.hh"

namespace ringrelay::engine {
namespace {

using nlohmann::json;

bool fail(FeedError& e, std::string field, std::string message) {
  e.field = std::move(field);
  e.message = std::move(message);
  return false;
}

// Envelope text may not smuggle in line breaks, angle brackets or other control characters.
bool clean_address(const std::string& text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f || c == '<' || c == '>') return false;
  }
  return text.size() <= 998;
}

bool optional_string(const json& j, const char* key, std::string& out, FeedError& e) {
  if (!j.contains(key) || j[key].is_null()) return true;
  if (!j[key].is_string()) return fail(e, key, "must be a string");
  out = j[key].get<std::string>();
  return true;
}

bool valid_notify(const std::string& notify) {
  if (notify == "NEVER") return true;
  std::size_t start = 0;
  while (start <= notify.size()) {
    std::size_t end = notify.find(',', start);
    std::string word = notify.substr(start, end - start);
    if (word != "SUCCESS" && word != "FAILURE" && word != "DELAY") return false;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return !notify.empty();
}

bool parse_deliver(const json& j, DeliveryRequest& r, FeedError& e) {
  if (!j.contains("id") || !j["id"].is_string() || j["id"].get<std::string>().empty()) {
    return fail(e, "id", "required: a non-empty string");
  }
  r.id = j["id"].get<std::string>();
  e.id = r.id;
  if (r.id.size() > 256 || !clean_address(r.id) || r.id.find(' ') != std::string::npos) {
    return fail(e, "id", "at most 256 printable characters without spaces");
  }
  if (!j.contains("sender") || !j["sender"].is_string()) {
    return fail(e, "sender", "required: a string (empty for the null sender)");
  }
  r.message.sender = j["sender"].get<std::string>();
  if (!clean_address(r.message.sender)) return fail(e, "sender", "contains forbidden characters");
  if (!j.contains("recipients") || !j["recipients"].is_array() || j["recipients"].empty()) {
    return fail(e, "recipients", "required: a non-empty array");
  }
  if (j["recipients"].size() > kMaxRecipientsPerRequest) {
    return fail(e, "recipients",
                "at most " + std::to_string(kMaxRecipientsPerRequest) + " per request");
  }
  std::size_t index = 0;
  for (const json& rj : j["recipients"]) {
    std::string field = "recipients[" + std::to_string(index++) + "]";
    proto::Recipient recipient;
    if (rj.is_string()) {
      recipient.address = rj.get<std::string>();
    } else if (rj.is_object() && rj.contains("address") && rj["address"].is_string()) {
      recipient.address = rj["address"].get<std::string>();
      if (!optional_string(rj, "orcpt", recipient.orcpt, e))
        return fail(e, field + ".orcpt", e.message);
      if (!optional_string(rj, "notify", recipient.notify, e))
        return fail(e, field + ".notify", e.message);
    } else {
      return fail(e, field, "must be an address or an object with \"address\"");
    }
    if (recipient.address.empty() || !clean_address(recipient.address)) {
      return fail(e, field + ".address",
                  "must be a non-empty address without <, > or control characters");
    }
    if (!recipient.orcpt.empty() &&
        (recipient.orcpt.find(';') == std::string::npos || !clean_address(recipient.orcpt))) {
      return fail(e, field + ".orcpt",
                  "must be \"type;address\", e.g. \"rfc822;user@example.com\"");
    }
    for (char& c : recipient.notify)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (!recipient.notify.empty() && !valid_notify(recipient.notify)) {
      return fail(e, field + ".notify", "must be NEVER or a list of SUCCESS, FAILURE, DELAY");
    }
    r.message.recipients.push_back(std::move(recipient));
  }
  if (!optional_string(j, "nexthop", r.nexthop, e)) return false;
  if (!r.nexthop.empty()) {
    std::string why;
    if (!dns::parse_nexthop(r.nexthop, &why)) return fail(e, "nexthop", why);
  }
  if (!optional_string(j, "envid", r.message.envid, e)) return false;
  if (!clean_address(r.message.envid) || r.message.envid.size() > 100) {
    return fail(e, "envid", "at most 100 printable characters");
  }
  std::string ret, encoding;
  if (!optional_string(j, "ret", ret, e) || !optional_string(j, "encoding", encoding, e))
    return false;
  if (ret == "full")
    r.message.ret = proto::DsnReturn::full;
  else if (ret == "hdrs")
    r.message.ret = proto::DsnReturn::headers;
  else if (!ret.empty())
    return fail(e, "ret", "must be \"full\" or \"hdrs\"");
  if (encoding == "7bit")
    r.message.encoding = proto::BodyEncoding::seven_bit;
  else if (encoding == "8bit")
    r.message.encoding = proto::BodyEncoding::eight_bit;
  else if (encoding == "binary")
    r.message.encoding = proto::BodyEncoding::binary;
  else if (!encoding.empty())
    return fail(e, "encoding", "must be \"7bit\", \"8bit\" or \"binary\"");
  if (j.contains("smtputf8")) {
    if (!j["smtputf8"].is_boolean()) return fail(e, "smtputf8", "must be true or false");
    r.message.smtputf8 = j["smtputf8"].get<bool>();
  }
  if (j.contains("queued_seconds")) {
    if (!j["queued_seconds"].is_number() || j["queued_seconds"].get<double>() < 0) {
      return fail(e, "queued_seconds", "must be a non-negative number");
    }
    r.queued_seconds = j["queued_seconds"].get<double>();
  }
  bool by_reference = j.contains("body"), inline_body = j.contains("body_inline");
  if (by_reference == inline_body) {
    return fail(e, "body", "give exactly one of \"body\" {path, offset, size} and \"body_inline\"");
  }
  if (inline_body) {
    if (!j["body_inline"].is_string()) return fail(e, "body_inline", "must be a string");
    r.inline_body = j["body_inline"].get<std::string>();
    r.message.body = {r.inline_body};
  } else {
    const json& b = j["body"];
    if (!b.is_object() || !b.contains("path") || !b["path"].is_string()) {
      return fail(e, "body.path", "required: the spool file's absolute path");
    }
    std::string path = b["path"].get<std::string>();
    if (path.empty() || path[0] != '/') return fail(e, "body.path", "must be an absolute path");
    auto number = [&](const char* key, std::uint64_t& out) {
      if (!b.contains(key)) return true;
      if (!b[key].is_number_unsigned())
        return fail(e, std::string("body.") + key, "must be a non-negative integer");
      out = b[key].get<std::uint64_t>();
      return true;
    };
    std::uint64_t offset = 0, size = 0;
    if (!number("offset", offset) || !number("size", size)) return false;
    if (!b.contains("size")) return fail(e, "body.size", "required: the message's size in bytes");
    std::string why = r.spool.map(path, offset, size);
    if (!why.empty()) return fail(e, "body", why);
    r.message.body = {r.spool.bytes()};
  }
  r.unfinished = r.message.recipients.size();
  return true;
}

}  // namespace

std::optional<FeedCommand> parse_feed_line(std::string_view line, FeedError& error) {
  error = FeedError{};
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    fail(error, "", "not a JSON object");
    return std::nullopt;
  }
  if (!j.contains("type") || !j["type"].is_string()) {
    fail(error, "type", "required: \"hello\", \"deliver\" or \"collect\"");
    return std::nullopt;
  }
  std::string type = j["type"].get<std::string>();
  FeedCommand command;
  if (type == "hello") {
    if (j.contains("protocol") &&
        (!j["protocol"].is_number_integer() || j["protocol"].get<int>() != kFeedProtocolVersion)) {
      fail(error, "protocol",
           "this server speaks protocol " + std::to_string(kFeedProtocolVersion));
      return std::nullopt;
    }
    command.type = FeedCommand::Type::hello;
    return command;
  }
  if (type == "collect") {
    command.type = FeedCommand::Type::collect;
    return command;
  }
  if (type != "deliver") {
    fail(error, "type", "unknown type \"" + type + "\": expected hello, deliver or collect");
    return std::nullopt;
  }
  command.type = FeedCommand::Type::deliver;
  command.request = std::make_shared<DeliveryRequest>();
  if (!parse_deliver(j, *command.request, error)) return std::nullopt;
  return command;
}

std::string format_hello(const std::string& version) {
  json j = {{"type", "hello"},
            {"server", "ringrelay"},
            {"version", version},
            {"protocol", kFeedProtocolVersion},
            {"max_line_bytes", kMaxFeedLineBytes}};
  return j.dump() + "\n";
}

static json tls_json(const TlsOutcome& tls) {
  return {{"protocol", tls.protocol},
          {"cipher", tls.cipher},
          {"verification", tls.trust},
          {"resumed", tls.resumed}};
}

std::string format_result(const ResultRecord& r, bool retained) {
  const auto& recipient = r.request->message.recipients[r.recipient];
  json j = {
      {"type", "result"},
      {"id", r.request->id},
      {"recipient", recipient.address},
      {"index", r.recipient},
      {"status", std::string(proto::status_name(r.result.status))},
      {"dsn", r.result.dsn},
      {"reply", r.result.reply},
      {"text", r.result.text},
      {"stage", std::string(proto::stage_name(r.result.stage))},
      {"relay", r.relay},
      {"delay", r.delay},
      {"delays",
       DeliveryLog::format_delay(r.delays[0]) + "/" + DeliveryLog::format_delay(r.delays[1]) + "/" +
           DeliveryLog::format_delay(r.delays[2]) + "/" + DeliveryLog::format_delay(r.delays[3])},
      {"conn_use", r.connection_use}};
  if (r.result.reply_code != 0) j["reply_code"] = r.result.reply_code;
  if (!r.tls.protocol.empty()) j["tls"] = tls_json(r.tls);
  if (retained) j["retained"] = true;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string format_done(const DeliveryRequest& r) {
  json j = {{"type", "done"},
            {"id", r.id},
            {"sent", r.sent},
            {"deferred", r.deferred},
            {"bounced", r.bounced}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string format_error(const FeedError& e) {
  json j = {{"type", "error"}, {"field", e.field}, {"message", e.message}};
  j["id"] = e.id.empty() ? json(nullptr) : json(e.id);
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace ringrelay::engine
