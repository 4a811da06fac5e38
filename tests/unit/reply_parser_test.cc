// The reply parser: split input, multi-line replies, enhanced codes, limits, malformed lines.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/reply_parser.hh"

namespace ringrelay::proto {
namespace {

// Feeds `input` in pieces of `piece` bytes and collects every reply (or malformed line).
std::vector<Reply> parse_all(std::string_view input, size_t piece, ReplyLimits limits = {},
                             int* malformed = nullptr) {
  ReplyParser parser(limits);
  std::vector<Reply> replies;
  while (!input.empty()) {
    std::string_view chunk = input.substr(0, piece);
    input.remove_prefix(chunk.size());
    for (;;) {
      Reply r;
      auto status = parser.parse(chunk, r);
      if (status == ReplyParser::Status::need_more) break;
      if (status == ReplyParser::Status::malformed && malformed) ++*malformed;
      replies.push_back(std::move(r));
    }
  }
  return replies;
}

TEST(ReplyParser, SeveralRepliesSplitAnywhere) {
  std::string wire =
      "220 mx.example ESMTP\r\n"
      "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
      "550 5.1.1 <a@b>: Recipient address rejected\r\n";
  for (size_t piece = 1; piece <= wire.size(); ++piece) {
    auto replies = parse_all(wire, piece);
    ASSERT_EQ(replies.size(), 3u) << piece;
    EXPECT_EQ(replies[0].code, 220);
    EXPECT_EQ(replies[0].enhanced, "2.0.0");
    EXPECT_FALSE(replies[0].enhanced_from_server);
    EXPECT_EQ(replies[1].lines.size(), 3u);
    EXPECT_EQ(replies[1].line_text(1), "PIPELINING");
    EXPECT_EQ(replies[2].code, 550);
    EXPECT_EQ(replies[2].enhanced, "5.1.1");
    EXPECT_TRUE(replies[2].enhanced_from_server);
    EXPECT_TRUE(replies[2].permanent());
  }
}

TEST(ReplyParser, MultiLineTextJoinsAsPostfixLogsIt) {
  auto replies = parse_all("550-5.7.1 first line\r\n550 5.7.1 second line\r\n", 100);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].text(), "550-5.7.1 first line 550 5.7.1 second line");
}

TEST(ReplyParser, BareLfAndCodeOnlyLines) {
  auto replies = parse_all("250\n354 go ahead\n", 100);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[0].text(), "250");
  EXPECT_EQ(replies[1].code, 354);
}

TEST(ReplyParser, EnhancedCodeMustMatchTheReplyClass) {
  auto replies = parse_all("450 5.1.1 odd\r\n250 2.1.0 ok\r\n421 4.7.0x no\r\n", 100);
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].enhanced, "4.0.0");  // class 5 in a 4xx reply: synthesised
  EXPECT_EQ(replies[1].enhanced, "2.1.0");
  EXPECT_EQ(replies[2].enhanced, "4.0.0");  // "4.7.0x" is not a status code
  EXPECT_EQ(leading_enhanced_status("5.7.1234 x"), "");
  EXPECT_EQ(leading_enhanced_status("5.7.123 x"), "5.7.123");
}

TEST(ReplyParser, LongLinesAreCutNotBuffered) {
  std::string wire = "250 " + std::string(10000, 'x') + "\r\n221 bye\r\n";
  auto replies = parse_all(wire, 333, ReplyLimits{.max_line_length = 100, .max_lines = 5});
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_TRUE(replies[0].truncated);
  EXPECT_EQ(replies[0].lines[0].size(), 100u);
  EXPECT_EQ(replies[1].code, 221);
  EXPECT_FALSE(replies[1].truncated);
}

TEST(ReplyParser, ExtraLinesAreDropped) {
  std::string wire;
  for (int i = 0; i < 50; ++i) wire += "250-line\r\n";
  wire += "250 last\r\n";
  auto replies = parse_all(wire, 7, ReplyLimits{.max_line_length = 100, .max_lines = 5});
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].lines.size(), 5u);
  EXPECT_TRUE(replies[0].truncated);
}

TEST(ReplyParser, MalformedLinesAreReportedWithTheServersWords) {
  int malformed = 0;
  auto replies = parse_all("hello there\r\n25\r\n250x\r\n199 no\r\n250 ok\r\n", 4, {}, &malformed);
  EXPECT_EQ(malformed, 4);
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_EQ(replies[0].lines[0], "hello there");
  EXPECT_EQ(replies[4].code, 250);
}

TEST(ReplyParser, MidReplyTracksPartialInput) {
  ReplyParser parser;
  Reply r;
  std::string_view input = "250-a\r\n25";
  EXPECT_EQ(parser.parse(input, r), ReplyParser::Status::need_more);
  EXPECT_TRUE(parser.mid_reply());
  parser.reset();
  EXPECT_FALSE(parser.mid_reply());
}

TEST(ReplyParser, ReplyFilterRewritesEachLineBeforeParsing) {
  std::vector<std::string> seen;
  auto filter = std::make_shared<const ReplyLineFilter>(
      [&](std::string_view line) -> std::optional<std::string> {
        seen.emplace_back(line);
        if (line == "Hello, this is not SMTP") return "220 fixed greeting";
        if (line.starts_with("550")) return "450 4.7.1 " + std::string(line.substr(4));
        if (line == "250 long") return "250 " + std::string(96, 'x');
        return std::nullopt;
      });
  ReplyParser parser(ReplyLimits{32, 100}, filter);
  Reply r;
  std::string_view input = "Hello, this is not SMTP\r\n550 5.7.1 no\r\n250 long\r\n";
  ASSERT_EQ(parser.parse(input, r), ReplyParser::Status::reply);
  EXPECT_EQ(r.code, 220);
  ASSERT_EQ(parser.parse(input, r), ReplyParser::Status::reply);
  EXPECT_EQ(r.code, 450);
  EXPECT_EQ(r.enhanced, "4.7.1");
  ASSERT_EQ(parser.parse(input, r), ReplyParser::Status::reply);
  EXPECT_EQ(r.lines[0].size(), 32u);  // a replacement is held to the same line limit
  EXPECT_EQ(seen,
            (std::vector<std::string>{"Hello, this is not SMTP", "550 5.7.1 no", "250 long"}));
}

}  // namespace
}  // namespace ringrelay::proto
