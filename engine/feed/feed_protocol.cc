// Feed protocol parsing (simdjson) and formatting (by hand, nlohmann::json for the rare escapes and
// the few non-result lines). Every rejection names the field.
#include "engine/feed/feed_protocol.hh"

#include <simdjson.h>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "engine/config/egress.hh"
#include "engine/delivery/delivery_log.hh"
#include "engine/delivery/result_category.hh"
#include "engine/delivery/site_queue.hh"
#include "engine/runtime/invariant.hh"
#include "proto/ascii.hh"

namespace ringrelay::engine {
namespace {

using nlohmann::json;

// A tenant's name: what `ringrelay ctl suspend tenant NAME` can type.
bool valid_tenant(std::string_view name) {
  if (name.empty() || name.size() > kTenantNameLimit) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

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

// Requests are read with simdjson's DOM: one reused parser per thread, no allocation per value
// (nlohmann's DOM cost ~8 µs per request, a fifth of the feed shard's time per message).
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// A field of an object, or nothing when it is absent.
std::optional<element> field(const object& o, std::string_view key) {
  element e;
  if (o[key].get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

// A field that is a string, or nothing when it is absent or not a string.
std::optional<std::string_view> string_field(const object& o, std::string_view key) {
  std::string_view text;
  if (o[key].get_string().get(text) != simdjson::SUCCESS) return std::nullopt;
  return text;
}

std::string text_of(const element& e) {
  return std::string(std::string_view(e.get_string().value_unsafe()));
}

// Each key at most once: a line that names a field twice is ambiguous (one reader takes the first,
// another the last), so it is refused rather than read one way.
bool unique_keys(const object& o, const std::string& prefix, FeedError& e) {
  std::vector<std::string_view> keys;
  keys.reserve(o.size());
  for (const auto& kv : o) keys.push_back(kv.key);
  std::sort(keys.begin(), keys.end());
  auto twice = std::adjacent_find(keys.begin(), keys.end());
  if (twice == keys.end()) return true;
  return fail(e, prefix + std::string(*twice), "given twice");
}

bool optional_string(const object& o, const char* key, std::string& out, FeedError& e) {
  auto value = field(o, key);
  if (!value || value->is_null()) return true;
  if (!value->is_string()) return fail(e, key, "must be a string");
  out = text_of(*value);
  return true;
}

bool valid_client_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxClientNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
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

// "client": what the queue manager knows of the message's original client, for XFORWARD. Values
// go on the wire (xtext-encoded), so each is short printable text.
bool parse_client(const element& value, proto::ClientAttributes& client, FeedError& e) {
  object c;
  if (value.get_object().get(c) != simdjson::SUCCESS) return fail(e, "client", "must be an object");
  if (!unique_keys(c, "client.", e)) return false;
  static constexpr std::pair<const char*, std::string proto::ClientAttributes::*> kFields[] = {
      {"client_name", &proto::ClientAttributes::name},
      {"client_address", &proto::ClientAttributes::address},
      {"client_port", &proto::ClientAttributes::port},
      {"helo", &proto::ClientAttributes::helo},
      {"protocol", &proto::ClientAttributes::protocol},
      {"ident", &proto::ClientAttributes::ident},
      {"source", &proto::ClientAttributes::source}};
  for (const auto& [key, member] : kFields) {
    std::string& text = client.*member;
    std::uint64_t port = 0;
    auto given = field(c, key);
    if (std::string_view(key) == "client_port" && given &&
        given->get_uint64().get(port) == simdjson::SUCCESS) {
      text = std::to_string(port);
    } else if (!optional_string(c, key, text, e)) {
      return fail(e, std::string("client.") + key, e.message);
    }
    bool printable = std::all_of(text.begin(), text.end(), [](char ch) {
      return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7f;
    });
    if (!printable || text.size() > 255) {
      return fail(e, std::string("client.") + key,
                  "at most 255 printable ASCII characters without spaces");
    }
  }
  if (!client.port.empty() && (client.port.find_first_not_of("0123456789") != std::string::npos ||
                               client.port.size() > 5 || std::stoul(client.port) > 65535)) {
    return fail(e, "client.client_port", "must be a port number (0 to 65535)");
  }
  for (char& ch : client.source)
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  if (!client.source.empty() && client.source != "LOCAL" && client.source != "REMOTE") {
    return fail(e, "client.source", "must be \"local\" or \"remote\"");
  }
  for (const auto& kv : c) {
    bool known = std::any_of(std::begin(kFields), std::end(kFields),
                             [&](const auto& f) { return kv.key == f.first; });
    if (!known) return fail(e, "client." + std::string(kv.key), "unknown attribute");
  }
  return true;
}

bool parse_recipient(const element& rj, std::size_t index, proto::Recipient& recipient,
                     FeedError& e) {
  auto field_name = [index] {
    std::string name = "recipients[";
    name += std::to_string(index);
    name += ']';
    return name;
  };
  object ro;
  std::optional<std::string_view> address;
  if (rj.is_string()) {
    recipient.address = text_of(rj);
  } else if (rj.get_object().get(ro) == simdjson::SUCCESS &&
             (address = string_field(ro, "address"))) {
    if (!unique_keys(ro, field_name() + ".", e)) return false;
    recipient.address = std::string(*address);
    if (!optional_string(ro, "orcpt", recipient.orcpt, e))
      return fail(e, field_name() + ".orcpt", e.message);
    if (!optional_string(ro, "notify", recipient.notify, e))
      return fail(e, field_name() + ".notify", e.message);
  } else {
    return fail(e, field_name(), "must be an address or an object with \"address\"");
  }
  if (recipient.address.empty() || !clean_address(recipient.address)) {
    return fail(e, field_name() + ".address",
                "must be a non-empty address without <, > or control characters");
  }
  if (!recipient.orcpt.empty() &&
      (recipient.orcpt.find(';') == std::string::npos || !clean_address(recipient.orcpt))) {
    return fail(e, field_name() + ".orcpt",
                "must be \"type;address\", e.g. \"rfc822;user@example.com\"");
  }
  for (char& c : recipient.notify)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (!recipient.notify.empty() && !valid_notify(recipient.notify)) {
    return fail(e, field_name() + ".notify", "must be NEVER or a list of SUCCESS, FAILURE, DELAY");
  }
  return true;
}

bool parse_body_reference(const element& value, DeliveryRequest& r, FeedError& e) {
  object b;
  std::optional<std::string_view> given_path;
  if (value.get_object().get(b) != simdjson::SUCCESS || !(given_path = string_field(b, "path"))) {
    return fail(e, "body.path", "required: the spool file's absolute path");
  }
  if (!unique_keys(b, "body.", e)) return false;
  std::string path(*given_path);
  if (path.empty() || path[0] != '/') return fail(e, "body.path", "must be an absolute path");
  // Whether `key` was given; false with `e` filled when it is not a non-negative integer.
  auto number = [&](const char* key, std::uint64_t& out, bool& given) {
    auto number_field = field(b, key);
    given = number_field.has_value();
    if (given && number_field->get_uint64().get(out) != simdjson::SUCCESS)
      return fail(e, std::string("body.") + key, "must be a non-negative integer");
    return true;
  };
  std::uint64_t offset = 0, size = 0;
  bool has_offset = false, has_size = false;
  if (!number("offset", offset, has_offset) || !number("size", size, has_size)) return false;
  if (!has_size) return fail(e, "body.size", "required: the message's size in bytes");
  r.spool_reference = DeliveryRequest::SpoolReference{std::move(path), offset, size};
  return true;
}

bool parse_deliver(const object& j, DeliveryRequest& r, FeedError& e) {
  auto id = field(j, "id");
  if (!id || !id->is_string() || text_of(*id).empty()) {
    return fail(e, "id", "required: a non-empty string");
  }
  r.id = text_of(*id);
  e.id = r.id;
  if (r.id.size() > 256 || !clean_address(r.id) || r.id.find(' ') != std::string::npos) {
    return fail(e, "id", "at most 256 printable characters without spaces");
  }
  auto sender = field(j, "sender");
  if (!sender || !sender->is_string()) {
    return fail(e, "sender", "required: a string (empty for the null sender)");
  }
  r.message.sender = text_of(*sender);
  if (!clean_address(r.message.sender)) return fail(e, "sender", "contains forbidden characters");
  auto recipients_field = field(j, "recipients");
  array recipients;
  if (!recipients_field || recipients_field->get_array().get(recipients) != simdjson::SUCCESS ||
      recipients.size() == 0) {
    return fail(e, "recipients", "required: a non-empty array");
  }
  if (recipients.size() > kMaxRecipientsPerRequest) {
    return fail(e, "recipients",
                "at most " + std::to_string(kMaxRecipientsPerRequest) + " per request");
  }
  r.message.recipients.reserve(recipients.size());
  std::size_t index = 0;
  for (element rj : recipients) {
    proto::Recipient recipient;
    if (!parse_recipient(rj, index++, recipient, e)) return false;
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
  if (auto smtputf8 = field(j, "smtputf8")) {
    bool on = false;
    if (smtputf8->get_bool().get(on) != simdjson::SUCCESS)
      return fail(e, "smtputf8", "must be true or false");
    r.message.smtputf8 = on;
  }
  if (auto client = field(j, "client"); client && !parse_client(*client, r.message.client, e))
    return false;
  if (auto queued = field(j, "queued_seconds")) {
    double seconds = 0;
    if (queued->get_double().get(seconds) != simdjson::SUCCESS || !(seconds >= 0)) {
      return fail(e, "queued_seconds", "must be a non-negative number");
    }
    r.queued_seconds = seconds;
  }
  if (auto priority = field(j, "priority")) {
    std::int64_t level = 0;
    if (priority->get_int64().get(level) != simdjson::SUCCESS || level < kLowestPriority ||
        level > kHighestPriority) {
      return fail(e, "priority", "must be an integer from 0 (lowest) to 9 (highest)");
    }
    r.priority = static_cast<int>(level);
  }
  if (auto pool = field(j, "pool")) {
    std::string_view name;
    if (pool->get_string().get(name) != simdjson::SUCCESS || name.empty() ||
        name.size() > kEgressNameLimit) {
      return fail(e, "pool", "must be the name of an egress pool or source");
    }
    r.pool = proto::ascii_lower(name);
  }
  if (auto tenant = field(j, "tenant")) {
    std::string_view name;
    if (tenant->get_string().get(name) != simdjson::SUCCESS || !valid_tenant(name)) {
      return fail(
          e, "tenant",
          "must be a name of 1 to 64 letters, digits, '.', '_' or '-' (ctl suspend tenant)");
    }
    r.tenant = proto::ascii_lower(name);
  }
  auto body = field(j, "body"), body_inline = field(j, "body_inline");
  if (body.has_value() == body_inline.has_value()) {
    return fail(e, "body", "give exactly one of \"body\" {path, offset, size} and \"body_inline\"");
  }
  if (body_inline) {
    if (!body_inline->is_string()) return fail(e, "body_inline", "must be a string");
    r.inline_body = text_of(*body_inline);
    r.message.body = {r.inline_body};
  } else if (!parse_body_reference(*body, r, e)) {
    return false;
  }
  r.unfinished = r.message.recipients.size();
  return true;
}

// The thread's parser: its buffers grow to the longest line seen (at most kMaxFeedLineBytes) and
// are reused. simdjson reads up to SIMDJSON_PADDING bytes past the end, so the line is copied into
// a padded buffer first (a copy of a few hundred bytes, cheaper than the allocation simdjson's own
// copy would make).
struct LineParser {
  simdjson::dom::parser parser;
  std::string padded;
};
thread_local LineParser line_parser;

}  // namespace

std::optional<FeedCommand> parse_feed_line(std::string_view line, FeedError& error) {
  error = FeedError{};
  LineParser& lp = line_parser;
  lp.padded.assign(line);
  lp.padded.resize(line.size() + simdjson::SIMDJSON_PADDING);
  element document;
  object j;
  if (line.size() > kMaxFeedLineBytes ||
      lp.parser.parse(lp.padded.data(), line.size(), false).get(document) != simdjson::SUCCESS ||
      document.get_object().get(j) != simdjson::SUCCESS) {
    fail(error, "", "not a JSON object");
    return std::nullopt;
  }
  if (!unique_keys(j, "", error)) return std::nullopt;
  auto type_field = field(j, "type");
  if (!type_field || !type_field->is_string()) {
    fail(error, "type", "required: \"hello\", \"deliver\", \"ack\" or \"collect\"");
    return std::nullopt;
  }
  std::string type = text_of(*type_field);
  FeedCommand command;
  if (type == "hello") {
    command.type = FeedCommand::Type::hello;
    if (auto protocol = field(j, "protocol")) {
      std::int64_t number = 0;
      if (protocol->get_int64().get(number) != simdjson::SUCCESS || number < 1 ||
          number > kFeedProtocolLatest) {
        fail(error, "protocol", "this server speaks protocols 1 and 2");
        return std::nullopt;
      }
      command.protocol = static_cast<int>(number);
    }
    if (auto client = field(j, "client")) {
      if (!client->is_string() || !valid_client_name(text_of(*client))) {
        fail(error, "client", "must be 1 to 64 characters of letters, digits, '.', '_' and '-'");
        return std::nullopt;
      }
      command.client = text_of(*client);
      if (command.protocol < 2) {
        fail(error, "client", "a client name needs protocol 2");
        return std::nullopt;
      }
    }
    if (auto secret = field(j, "secret")) {
      if (!secret->is_string()) {
        fail(error, "secret", "must be a string");
        return std::nullopt;
      }
      command.secret = text_of(*secret);
    }
    return command;
  }
  if (type == "collect") {
    command.type = FeedCommand::Type::collect;
    return command;
  }
  if (type == "ack") {
    auto upto = field(j, "upto");
    if (!upto || upto->get_uint64().get(command.upto) != simdjson::SUCCESS) {
      fail(error, "upto", "required: the highest sequence number received");
      return std::nullopt;
    }
    command.type = FeedCommand::Type::ack;
    return command;
  }
  if (type != "deliver") {
    fail(error, "type", "unknown type \"" + type + "\": expected hello, deliver, ack or collect");
    return std::nullopt;
  }
  command.type = FeedCommand::Type::deliver;
  command.request = std::make_shared<DeliveryRequest>();
  if (!parse_deliver(j, *command.request, error)) return std::nullopt;
  return command;
}

std::string format_hello(const std::string& version, bool journal) {
  json j = {{"type", "hello"},
            {"server", "ringrelay"},
            {"version", version},
            {"protocol", kFeedProtocolVersion},
            {"protocols", {1, 2}},
            {"journal", journal},
            {"max_line_bytes", kMaxFeedLineBytes}};
  return j.dump() + "\n";
}

std::string format_welcome(const std::string& client, std::size_t unacknowledged,
                           std::size_t in_flight) {
  json j = {{"type", "welcome"},
            {"protocol", 2},
            {"client", client},
            {"unacknowledged", unacknowledged},
            {"in_flight", in_flight}};
  return j.dump() + "\n";
}

std::string format_collected(std::size_t results, std::size_t done) {
  json j = {{"type", "collected"}, {"count", results}, {"done", done}};
  return j.dump() + "\n";
}

namespace {

// Result and done records are written directly, not built as a json tree: they go out once per
// recipient, and the tree's allocations were a tenth of the engine's CPU at 1 KiB messages.
// Keys stay in the order the json tree gave them (alphabetical).
class RecordWriter {
 public:
  explicit RecordWriter(std::size_t reserve) { out_.reserve(reserve); }

  RecordWriter& key(std::string_view name) {
    out_ += first_ ? "{\"" : ",\"";
    first_ = false;
    out_ += name;
    out_ += "\":";
    return *this;
  }
  RecordWriter& text(std::string_view value) {
    append_json_string(out_, value);
    return *this;
  }
  RecordWriter& number(std::uint64_t value) {
    out_ += std::to_string(value);
    return *this;
  }
  RecordWriter& number(double value) {
    char buffer[32];
    auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    out_.append(buffer, error == std::errc() ? end : buffer);
    if (value == std::floor(value) && std::abs(value) < 1e15) out_ += ".0";  // as json prints it
    return *this;
  }
  RecordWriter& boolean(bool value) {
    out_ += value ? "true" : "false";
    return *this;
  }
  RecordWriter& raw(std::string_view value) {
    out_ += value;
    return *this;
  }
  std::size_t size() const { return out_.size(); }
  std::string line() {
    out_ += "}\n";
    return std::move(out_);
  }

 private:
  std::string out_;
  bool first_ = true;
};

// `seq_offset`: where the "seq" key is (or would be, with seq 0).
std::string write_result(const ResultRecord& r, std::uint64_t seq, std::size_t& seq_offset) {
  const auto& recipient = r.request->message.recipients[r.recipient];
  std::string delays =
      DeliveryLog::format_delay(r.delays[0]) + "/" + DeliveryLog::format_delay(r.delays[1]) + "/" +
      DeliveryLog::format_delay(r.delays[2]) + "/" + DeliveryLog::format_delay(r.delays[3]);
  RecordWriter w(256 + r.result.text.size() + r.result.reply.size());
  bool sent = r.result.status == proto::DeliveryStatus::sent;
  // Postfix's DSN action for a success: the queue manager's success notice (RFC 3461 5.2) says it.
  if (sent) {
    w.key("action").text(r.result.final_delivery && !r.result.server_offered_dsn ? "delivered"
                                                                                 : "relayed");
  }
  if (r.result.ambiguous) w.key("ambiguous").boolean(true);
  w.key("category").text(category_name(categorize(r.result)));
  w.key("conn_use").number(static_cast<std::uint64_t>(r.connection_use));
  w.key("delay").number(r.delay);
  w.key("delays").text(delays);
  w.key("dsn").text(r.result.dsn);
  w.key("id").text(r.request->id);
  w.key("index").number(static_cast<std::uint64_t>(r.recipient));
  w.key("recipient").text(recipient.address);
  w.key("relay").text(r.relay);
  w.key("reply").text(r.result.reply);
  if (r.result.reply_code != 0)
    w.key("reply_code").number(static_cast<std::uint64_t>(r.result.reply_code));
  seq_offset = w.size();
  if (seq != 0) w.key("seq").number(seq);
  if (!r.site.empty()) w.key("site").text(r.site);
  if (!r.source.empty()) w.key("source").text(r.source);
  w.key("stage").text(r.stage_text ? std::string_view(r.stage_text)
                                   : proto::stage_name(r.result.stage));
  w.key("status").text(proto::status_name(r.result.status));
  // NOTIFY=SUCCESS to a server without DSN: nobody downstream will notify; the queue manager must.
  if (sent && !r.result.server_offered_dsn &&
      recipient.notify.find("SUCCESS") != std::string::npos) {
    w.key("success_notice_due").boolean(true);
  }
  w.key("text").text(r.result.text);
  // The TLS used, or a dane policy's outcome when it ended in plaintext ("no TLSA records found").
  bool dane_policy = r.tls.configured_level == "dane" || r.tls.configured_level == "dane-only";
  if (!r.tls.protocol.empty() || (dane_policy && !r.tls.level.empty())) {
    w.key("tls").raw("{\"authentication\":").text(r.tls.authentication);
    if (!r.tls.protocol.empty()) w.raw(",\"cipher\":").text(r.tls.cipher);
    if (!r.tls.downgrade.empty()) w.raw(",\"downgrade\":").text(r.tls.downgrade);
    if (!r.tls.level.empty()) w.raw(",\"level\":").text(r.tls.level);
    if (!r.tls.configured_level.empty()) w.raw(",\"policy\":").text(r.tls.configured_level);
    if (!r.tls.protocol.empty()) {
      w.raw(",\"protocol\":").text(r.tls.protocol);
      w.raw(",\"resumed\":").boolean(r.tls.resumed);
      w.raw(",\"verification\":").text(r.tls.trust);
    }
    w.raw("}");
  }
  w.key("type").text("result");
  return w.line();
}

}  // namespace

std::string format_result(const ResultRecord& r, std::uint64_t seq) {
  std::size_t seq_offset = 0;
  return write_result(r, seq, seq_offset);
}

UnnumberedRecord format_unnumbered_result(const ResultRecord& r) {
  UnnumberedRecord record;
  record.text = write_result(r, 0, record.seq_offset);
  return record;
}

std::string number_record(UnnumberedRecord record, std::uint64_t seq) {
  RINGRELAY_CHECK(record.seq_offset > 0 && record.seq_offset < record.text.size(),
                  "a sequence number goes inside the record");
  if (seq == 0) return std::move(record.text);
  std::string key = ",\"seq\":" + std::to_string(seq);
  record.text.insert(record.seq_offset, key);
  return std::move(record.text);
}

std::string format_done(const DeliveryRequest& r, std::uint64_t seq) {
  RecordWriter w(96 + r.id.size());
  w.key("bounced").number(static_cast<std::uint64_t>(r.bounced));
  w.key("deferred").number(static_cast<std::uint64_t>(r.deferred));
  w.key("id").text(r.id);
  w.key("sent").number(static_cast<std::uint64_t>(r.sent));
  if (seq != 0) w.key("seq").number(seq);
  w.key("type").text("done");
  return w.line();
}

// Printable ASCII without '"' or '\\' (nearly every value) is copied as it is; anything else goes
// through nlohmann's serializer (escapes, invalid UTF-8 replaced).
void append_json_string(std::string& out, std::string_view value) {
  bool plain = std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out += value;
    out += '"';
  } else {
    out += json(std::string(value)).dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

std::string format_error(const FeedError& e) {
  json j = {{"type", "error"}, {"field", e.field}, {"message", e.message}};
  j["id"] = e.id.empty() ? json(nullptr) : json(e.id);
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace ringrelay::engine
