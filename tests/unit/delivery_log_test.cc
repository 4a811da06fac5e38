// The delivery log with log_format = json: one object per line, a result with the feed record's
// fields after time, host, program, pid and sender; a notice with its text; both parse as JSON.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/delivery/delivery_log.hh"

namespace ringrelay::engine {
namespace {

std::vector<nlohmann::json> json_lines(const std::string& path) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(DeliveryLog, JsonLinesCarryTheResultRecordsFields) {
  std::string path = ::testing::TempDir() + "delivery_log_test.json";
  std::remove(path.c_str());
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "Q1";
  request->message.sender = "news@example.org";
  proto::Recipient to;
  to.address = "a\"b@example.com";
  request->message.recipients.push_back(to);
  ResultRecord r;
  r.request = request;
  r.result.status = proto::DeliveryStatus::bounced;
  r.result.dsn = "5.1.1";
  r.result.text = "host mx[192.0.2.1] said: 550 5.1.1 no such user";
  r.result.reply = "550 5.1.1 no such user";
  r.result.reply_code = 550;
  r.result.stage = proto::Stage::rcpt;
  r.relay = "mx[192.0.2.1]:25";
  r.connection_use = 2;
  r.tls.protocol = "TLSv1.3";
  r.tls.cipher = "TLS_AES_128_GCM_SHA256";
  r.tls.trust = "Untrusted";
  r.tls.level = "may";
  {
    DeliveryLog log(path, true, "ringrelay", "relay.test");
    log.result(r);
    log.notice("Untrusted TLS connection established to mx[192.0.2.1]:25: \"quoted\"\nnext");
    log.connection_notice("Q2", "mx[192.0.2.1]:25", "Untrusted TLS connection established");
    log.connection_notice("", "mx[192.0.2.1]:25", "Host offered STARTTLS: [mx]");
  }
  auto lines = json_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  const auto& result = lines[0];
  EXPECT_EQ(result["type"], "result");
  EXPECT_EQ(result["host"], "relay.test");
  EXPECT_EQ(result["program"], "ringrelay/smtp");
  EXPECT_GT(result["pid"].get<int>(), 0);
  EXPECT_EQ(result["time"].get<std::string>().size(), 27u);  // 2026-12-05T11:20:00.123456Z
  EXPECT_EQ(result["sender"], "news@example.org");
  EXPECT_EQ(result["id"], "Q1");
  EXPECT_EQ(result["recipient"], "a\"b@example.com");
  EXPECT_EQ(result["status"], "bounced");
  EXPECT_EQ(result["category"], "invalid_recipient");
  EXPECT_EQ(result["dsn"], "5.1.1");
  EXPECT_EQ(result["reply_code"], 550);
  EXPECT_EQ(result["stage"], "rcpt");
  EXPECT_EQ(result["conn_use"], 2);
  EXPECT_EQ(result["tls"]["protocol"], "TLSv1.3");
  EXPECT_EQ(result["tls"]["verification"], "Untrusted");
  EXPECT_FALSE(result.contains("seq"));  // a log line is not a numbered feed record
  EXPECT_EQ(lines[1]["type"], "notice");
  EXPECT_EQ(lines[1]["text"],
            "Untrusted TLS connection established to mx[192.0.2.1]:25: \"quoted\"\nnext");
  EXPECT_EQ(lines[2]["id"], "Q2");
  EXPECT_EQ(lines[2]["peer"], "mx[192.0.2.1]:25");
  EXPECT_EQ(lines[2]["text"], "Untrusted TLS connection established");
  EXPECT_FALSE(lines[3].contains("id"));
  EXPECT_EQ(lines[3]["peer"], "mx[192.0.2.1]:25");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace ringrelay::engine
