// The feed protocol: every request field's validation and its error text, and the result records.
#include <gtest/gtest.h>

#include <cmath>

#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/delivery/delivery_log.hh"
#include "engine/feed/feed_protocol.hh"

namespace ringrelay::engine {
namespace {

FeedError error_of(const std::string& line) {
  FeedError e;
  EXPECT_FALSE(parse_feed_line(line, e).has_value()) << line;
  return e;
}

const std::string kGood =
    R"({"type":"deliver","id":"Q1","sender":"s@example.org","recipients":["a@example.com"],"body_inline":"x"})";

std::string with(const std::string& field_json) {
  std::string line = kGood;
  line.insert(line.size() - 1, "," + field_json);
  return line;
}

TEST(FeedProtocol, ParsesAFullRequest) {
  FeedError e;
  auto c = parse_feed_line(
      R"({"type":"deliver","id":"Q1","sender":"","recipients":[{"address":"a@example.com","orcpt":"rfc822;A@example.com","notify":"success,failure"},"b@example.net"],"nexthop":"[127.0.0.1]:2525","envid":"E1","ret":"hdrs","encoding":"8bit","smtputf8":true,"queued_seconds":2.5,"priority":9,"pool":"Bulk","tenant":"Shop-2.eu_x","body_inline":"Subject: x\n\nbody\n"})",
      e);
  ASSERT_TRUE(c.has_value()) << e.field << ": " << e.message;
  const DeliveryRequest& r = *c->request;
  EXPECT_EQ(r.id, "Q1");
  EXPECT_EQ(r.message.sender, "");
  ASSERT_EQ(r.message.recipients.size(), 2u);
  EXPECT_EQ(r.message.recipients[0].notify, "SUCCESS,FAILURE");
  EXPECT_EQ(r.message.recipients[0].orcpt, "rfc822;A@example.com");
  EXPECT_EQ(r.message.recipients[1].address, "b@example.net");
  EXPECT_EQ(r.nexthop, "[127.0.0.1]:2525");
  EXPECT_EQ(r.message.ret, proto::DsnReturn::headers);
  EXPECT_EQ(r.message.encoding, proto::BodyEncoding::eight_bit);
  EXPECT_TRUE(r.message.smtputf8);
  EXPECT_EQ(r.queued_seconds, 2.5);
  EXPECT_EQ(r.priority, 9);
  EXPECT_EQ(r.pool, "bulk");
  EXPECT_EQ(r.tenant, "shop-2.eu_x");
  EXPECT_EQ(r.unfinished, 2u);
  ASSERT_EQ(r.message.body.size(), 1u);
  EXPECT_EQ(r.message.body[0], "Subject: x\n\nbody\n");
}

TEST(FeedProtocol, BodyByReferenceIsKeptForTheSpoolReader) {
  // Parsing opens no file: the feed server reads the body through SpoolReader (trust boundary).
  FeedError e;
  auto c = parse_feed_line(
      R"({"type":"deliver","id":"Q2","sender":"s@x","recipients":["a@x"],"body":{"path":"/etc/shadow","offset":7,"size":17}})",
      e);
  ASSERT_TRUE(c.has_value()) << e.message;
  ASSERT_TRUE(c->request->spool_reference.has_value());
  EXPECT_EQ(c->request->spool_reference->path, "/etc/shadow");
  EXPECT_EQ(c->request->spool_reference->offset, 7u);
  EXPECT_EQ(c->request->spool_reference->size, 17u);
  EXPECT_TRUE(c->request->spool.bytes().empty());
}

TEST(FeedProtocol, Version2HelloAckAndCollect) {
  FeedError e;
  auto hello = parse_feed_line(R"({"type":"hello","protocol":2,"client":"qm-1.a_b"})", e);
  ASSERT_TRUE(hello.has_value()) << e.message;
  EXPECT_EQ(hello->protocol, 2);
  EXPECT_EQ(hello->client, "qm-1.a_b");
  auto ack = parse_feed_line(R"({"type":"ack","upto":18446744073709551615})", e);
  ASSERT_TRUE(ack.has_value()) << e.message;
  EXPECT_EQ(ack->upto, UINT64_MAX);
  EXPECT_EQ(error_of(R"({"type":"ack"})").field, "upto");
  EXPECT_EQ(error_of(R"({"type":"ack","upto":-1})").field, "upto");
  EXPECT_EQ(error_of(R"({"type":"hello","protocol":1,"client":"qm"})").message,
            "a client name needs protocol 2");
  EXPECT_EQ(error_of(R"({"type":"hello","protocol":2,"client":"a b"})").field, "client");
  EXPECT_EQ(error_of(R"({"type":"hello","protocol":2,"client":""})").field, "client");
  EXPECT_EQ(error_of(R"({"type":"hello","protocol":3})").message,
            "this server speaks protocols 1 and 2");
  EXPECT_EQ(format_collected(3, 1), "{\"count\":3,\"done\":1,\"type\":\"collected\"}\n");
}

TEST(FeedProtocol, ClientAttributesForXforward) {
  FeedError e;
  auto c = parse_feed_line(
      with(R"("client":{"client_name":"mx.client.example","client_address":"2001:db8::7",)"
           R"("client_port":587,"helo":"[192.0.2.1]","protocol":"ESMTPSA","ident":"QM-1",)"
           R"("source":"local"})"),
      e);
  ASSERT_TRUE(c.has_value()) << e.field << ": " << e.message;
  const proto::ClientAttributes& client = c->request->message.client;
  EXPECT_EQ(client.name, "mx.client.example");
  EXPECT_EQ(client.address, "2001:db8::7");
  EXPECT_EQ(client.port, "587");
  EXPECT_EQ(client.helo, "[192.0.2.1]");
  EXPECT_EQ(client.protocol, "ESMTPSA");
  EXPECT_EQ(client.ident, "QM-1");
  EXPECT_EQ(client.source, "LOCAL");
  EXPECT_EQ(error_of(with(R"("client":"x")")).field, "client");
  EXPECT_EQ(error_of(with(R"("client":{"helo":"two words"})")).field, "client.helo");
  EXPECT_EQ(error_of(with(R"("client":{"helo":"a\r\nMAIL"})")).field, "client.helo");
  EXPECT_EQ(error_of(with(R"("client":{"client_port":"70000"})")).field, "client.client_port");
  EXPECT_EQ(error_of(with(R"("client":{"source":"elsewhere"})")).field, "client.source");
  EXPECT_EQ(error_of(with(R"("client":{"client_nmae":"typo"})")).message, "unknown attribute");
  EXPECT_EQ(
      error_of(with(R"("client":{"ident":)" + std::string("\"") + std::string(256, 'x') + "\"}"))
          .field,
      "client.ident");
}

TEST(FeedProtocol, EveryFieldIsCheckedAndNamed) {
  EXPECT_EQ(error_of("nonsense").message, "not a JSON object");
  EXPECT_EQ(error_of("{}").field, "type");
  EXPECT_EQ(error_of(R"({"type":"frobnicate"})").message,
            "unknown type \"frobnicate\": expected hello, deliver, ack or collect");
  EXPECT_EQ(error_of(R"({"type":"deliver"})").field, "id");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"has space"})").field, "id");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q"})").field, "sender");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"a\r\nRCPT TO:<x>"})").message,
            "contains forbidden characters");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"s","recipients":[]})").field,
            "recipients");
  auto e = error_of(
      R"({"type":"deliver","id":"Q","sender":"s","recipients":["a@x",{"address":"b>@x"}]})");
  EXPECT_EQ(e.field, "recipients[1].address");
  EXPECT_EQ(e.id, "Q");
  EXPECT_EQ(
      error_of(
          R"({"type":"deliver","id":"Q","sender":"s","recipients":[{"address":"a@x","orcpt":"noseparator"}]})")
          .field,
      "recipients[0].orcpt");
  EXPECT_EQ(
      error_of(
          R"({"type":"deliver","id":"Q","sender":"s","recipients":[{"address":"a@x","notify":"NEVER,SUCCESS"}]})")
          .field,
      "recipients[0].notify");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"s","recipients":[7]})").field,
            "recipients[0]");
  EXPECT_EQ(error_of(with(R"("nexthop":"[broken")")).message, "missing ']' in next hop");
  EXPECT_EQ(error_of(with(R"("ret":"most")")).field, "ret");
  EXPECT_EQ(error_of(with(R"("encoding":"base64")")).field, "encoding");
  EXPECT_EQ(error_of(with(R"("smtputf8":"yes")")).field, "smtputf8");
  EXPECT_EQ(error_of(with(R"("queued_seconds":-1)")).field, "queued_seconds");
  EXPECT_EQ(error_of(with(R"("body":{"path":"/x","size":1})")).message,
            "give exactly one of \"body\" {path, offset, size} and \"body_inline\"");
  EXPECT_EQ(
      error_of(
          R"({"type":"deliver","id":"Q","sender":"s","recipients":["a@x"],"body":{"path":"relative","size":1}})")
          .message,
      "must be an absolute path");
  EXPECT_EQ(
      error_of(
          R"({"type":"deliver","id":"Q","sender":"s","recipients":["a@x"],"body":{"path":"/x"}})")
          .field,
      "body.size");
  // A field given twice is refused, not read as the first or the last: a proxy in front of the
  // feed could check one and ringrelay use the other.
  auto twice = error_of(
      R"({"type":"deliver","id":"Q","sender":"s","sender":"t","recipients":["a@x"],"body_inline":"x"})");
  EXPECT_EQ(twice.field, "sender");
  EXPECT_EQ(twice.message, "given twice");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"s","recipients":["a@x"],)"
                     R"("body":{"path":"/x","size":1,"size":2}})")
                .field,
            "body.size");
  EXPECT_EQ(error_of(with(R"("client":{"helo":"a","helo":"b"})")).field, "client.helo");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"s","recipients":)"
                     R"([{"address":"a@x","address":"b@x"}],"body_inline":"x"})")
                .field,
            "recipients[0].address");
  // Numbers: a size must be a non-negative integer that fits; a fraction or a sign is named.
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"s","recipients":["a@x"],)"
                     R"("body":{"path":"/x","size":1.5}})")
                .field,
            "body.size");
  EXPECT_EQ(error_of(R"({"type":"deliver","id":"Q","sender":"s","recipients":["a@x"],)"
                     R"("body":{"path":"/x","size":-1}})")
                .field,
            "body.size");
  EXPECT_EQ(error_of(R"({"type":"ack","upto":-3})").field, "upto");
  EXPECT_EQ(error_of(with(R"("priority":10)")).message,
            "must be an integer from 0 (lowest) to 9 (highest)");
  EXPECT_EQ(error_of(with(R"("priority":"high")")).field, "priority");
  EXPECT_EQ(error_of(with(R"("pool":7)")).field, "pool");
  EXPECT_EQ(error_of(with(R"("pool":"")")).field, "pool");
  EXPECT_EQ(error_of(with(R"("tenant":"")")).field, "tenant");
  EXPECT_EQ(error_of(with(R"("tenant":"a b")")).field, "tenant");
  EXPECT_EQ(error_of(with(R"("tenant":")" + std::string(65, 't') + "\"")).field, "tenant");
  EXPECT_EQ(error_of(with(R"("priority":2.5)")).field, "priority");
  EXPECT_EQ(error_of(R"({"type":"hello","protocol":2.0})").field, "protocol");
  EXPECT_EQ(error_of(R"({"type":"hello","protocol":99999999999999999999})").message,
            "not a JSON object");  // beyond 64 bits: simdjson refuses the number, so the line
  // Invalid UTF-8 and truncated lines are not JSON.
  EXPECT_EQ(error_of("{\"type\":\"hello\",\"client\":\"\xff\"}").message, "not a JSON object");
  EXPECT_EQ(error_of(R"({"type":"hello")").message, "not a JSON object");
  // Deeply nested input is refused, not followed.
  EXPECT_EQ(error_of(std::string(100000, '[') + std::string(100000, ']')).message,
            "not a JSON object");
}

TEST(FeedProtocol, SuccessRecordsCarryPostfixsDsnAction) {
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "Q8";
  request->message.recipients.push_back({"a@example.com", "", "SUCCESS,FAILURE"});
  request->message.recipients.push_back({"b@example.com", "", ""});
  ResultRecord r;
  r.request = request;
  r.result.status = proto::DeliveryStatus::sent;
  r.result.dsn = "2.0.0";
  auto record = [&](std::size_t recipient) {
    r.recipient = recipient;
    return nlohmann::json::parse(format_result(r, 0));
  };
  // A server without DSN: "relayed", and the queue manager owes the NOTIFY=SUCCESS notice.
  EXPECT_EQ(record(0)["action"], "relayed");
  EXPECT_EQ(record(0)["success_notice_due"], true);
  EXPECT_FALSE(record(1).contains("success_notice_due"));  // no NOTIFY=SUCCESS asked
  // A server that offers DSN takes the notice over.
  r.result.server_offered_dsn = true;
  EXPECT_EQ(record(0)["action"], "relayed");
  EXPECT_FALSE(record(0).contains("success_notice_due"));
  // LMTP with lmtp_assume_final and no DSN: final delivery.
  r.result.server_offered_dsn = false;
  r.result.final_delivery = true;
  EXPECT_EQ(record(0)["action"], "delivered");
  r.result.status = proto::DeliveryStatus::deferred;
  EXPECT_FALSE(record(0).contains("action"));
  EXPECT_FALSE(record(0).contains("success_notice_due"));
}

TEST(FeedProtocol, RecordsAreOneLineOfJson) {
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "Q9";
  request->message.recipients.push_back({"a@example.com", "", ""});
  request->sent = 1;
  ResultRecord r;
  r.request = request;
  r.result.status = proto::DeliveryStatus::bounced;
  r.result.dsn = "5.1.1";
  r.result.text = "host mx[192.0.2.1] said: 550 5.1.1 no (in reply to RCPT TO command)";
  r.result.reply = "550 5.1.1 no";
  r.result.reply_code = 550;
  r.result.stage = proto::Stage::rcpt;
  r.relay = "mx[192.0.2.1]:25";
  r.delays[2] = 0.25;
  std::string line = format_result(r, 0);
  EXPECT_EQ(line.find("\"seq\""), std::string::npos);
  EXPECT_EQ(line.find("ambiguous"), std::string::npos);
  ASSERT_TRUE(line.ends_with("\n"));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["status"], "bounced");
  EXPECT_EQ(j["reply"], "550 5.1.1 no");
  EXPECT_EQ(j["stage"], "rcpt");
  EXPECT_EQ(j["delays"], "0/0/0.25/0");
  EXPECT_EQ(format_done(*request, 0),
            "{\"bounced\":0,\"deferred\":0,\"id\":\"Q9\",\"sent\":1,\"type\":\"done\"}\n");
  EXPECT_EQ(
      format_done(*request, 42),
      "{\"bounced\":0,\"deferred\":0,\"id\":\"Q9\",\"sent\":1,\"seq\":42,\"type\":\"done\"}\n");
  r.result.ambiguous = true;
  auto numbered = nlohmann::json::parse(format_result(r, 7));
  EXPECT_EQ(numbered["seq"], 7);
  EXPECT_EQ(numbered["ambiguous"], true);
  EXPECT_EQ(format_error({"Q9", "recipients[0].address", "bad"}),
            "{\"field\":\"recipients[0].address\",\"id\":\"Q9\",\"message\":\"bad\",\"type\":"
            "\"error\"}\n");
}

// A delivering shard formats the record without its number; the feed's shard numbers it. The
// result must be byte for byte what formatting on the feed's shard gives, with and without a site
// and TLS (keys after "seq") and a reply code (the key before it).
TEST(FeedProtocol, RecordsFormattedElsewhereAreNumberedIdentically) {
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "Q10";
  request->message.recipients.push_back({"a@example.com", "", ""});
  ResultRecord r;
  r.request = request;
  r.result.status = proto::DeliveryStatus::sent;
  r.result.dsn = "2.0.0";
  r.relay = "mx[192.0.2.1]:25";
  for (int variant = 0; variant < 4; ++variant) {
    r.result.reply_code = variant & 1 ? 250 : 0;
    r.site = variant & 2 ? "mx.example.com" : "";
    r.tls.protocol = variant & 2 ? "TLSv1.3" : "";
    for (std::uint64_t seq :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{1733300000123456}}) {
      EXPECT_EQ(number_record(format_unnumbered_result(r), seq), format_result(r, seq))
          << "variant " << variant << ", seq " << seq;
    }
  }
}

TEST(DeliveryLog, PostfixDelayNotationAndLine) {
  EXPECT_EQ(DeliveryLog::format_delay(0), "0");
  EXPECT_EQ(DeliveryLog::format_delay(0.004), "0");
  EXPECT_EQ(DeliveryLog::format_delay(0.05), "0.05");
  EXPECT_EQ(DeliveryLog::format_delay(0.1), "0.1");
  EXPECT_EQ(DeliveryLog::format_delay(1.27), "1.2");
  EXPECT_EQ(DeliveryLog::format_delay(23.7), "23");
  EXPECT_EQ(DeliveryLog::format_delay(0.5), "0.5");
  EXPECT_EQ(DeliveryLog::format_delay(0.999), "0.99");
  EXPECT_EQ(DeliveryLog::format_delay(1), "1");
  EXPECT_EQ(DeliveryLog::format_delay(9.99), "9.9");
  EXPECT_EQ(DeliveryLog::format_delay(10), "10");
  EXPECT_EQ(DeliveryLog::format_delay(86400.5), "86400");
  EXPECT_EQ(DeliveryLog::format_delay(-3), "0");
  EXPECT_EQ(DeliveryLog::format_delay(std::nan("")), "0");
  EXPECT_EQ(DeliveryLog::format_delay(HUGE_VAL), "1000000000000000");
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "4XyZ";
  request->message.recipients.push_back({"a@example.com", "rfc822;alias@example.com", ""});
  ResultRecord r;
  r.request = request;
  r.result.status = proto::DeliveryStatus::sent;
  r.result.dsn = "2.0.0";
  r.result.text = "250 2.0.0 Ok: queued as 123";
  r.relay = "mx.example.com[192.0.2.1]:25";
  r.connection_use = 3;
  r.delay = 1.27;
  r.delays[0] = 1;
  r.delays[3] = 0.27;
  EXPECT_EQ(
      DeliveryLog::postfix_line(r),
      "4XyZ: to=<a@example.com>, orig_to=<alias@example.com>, relay=mx.example.com[192.0.2.1]:25, "
      "conn_use=3, delay=1.2, delays=1/0/0/0.27, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as "
      "123)");
}

}  // namespace
}  // namespace ringrelay::engine
