// Reply rules: the action syntax, errors at start naming file and line, and the starter rule file
// in deploy/ against the big providers' throttling and blocking replies in Postfix's one-line form.
#include "engine/config/reply_rules.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/config/config.hh"

namespace ringrelay::engine {
namespace {

using namespace std::chrono_literals;

std::string action_error(const std::string& text) {
  std::string error;
  return parse_reply_action(text, error) ? "(parsed)" : error;
}

TEST(ReplyAction, ParsesEachActionOnce) {
  std::string error;
  auto a = parse_reply_action("backoff=2 suspend=10m noreuse=30s close defer", error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->backoff_steps, 2u);
  EXPECT_EQ(a->suspend, 600s);
  EXPECT_EQ(a->no_reuse, 30s);
  EXPECT_TRUE(a->close);
  EXPECT_TRUE(a->defer);
  auto b = parse_reply_action("backoff", error);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->backoff_steps, 1u);
  EXPECT_EQ(b->suspend, 0s);
  EXPECT_FALSE(b->defer);
  EXPECT_EQ(b->text, "backoff");
}

TEST(ReplyAction, RefusesWhatItDoesNotKnow) {
  EXPECT_EQ(action_error(""), "no action");
  EXPECT_EQ(action_error("backoff backoff=2"), "\"backoff\" given twice");
  EXPECT_EQ(action_error("backoff=0"),
            "\"backoff=0\": expected backoff or backoff=N with N from 1 to 10");
  EXPECT_EQ(action_error("backoff=11").substr(0, 12), "\"backoff=11\"");
  EXPECT_EQ(action_error("suspend").substr(0, 29), "\"suspend\": expected suspend=T");
  EXPECT_EQ(action_error("suspend=0s").substr(0, 14), "\"suspend=0s\": ");
  EXPECT_EQ(action_error("suspend=31d"),
            "\"suspend=31d\": expected suspend=TIME (a whole number with an optional unit s "
            "(seconds), m, h, d or w, from 1s to 30d)");
  EXPECT_EQ(action_error("noreuse=99999999999w").substr(0, 24), "\"noreuse=99999999999w\": ");
  EXPECT_EQ(action_error("noreuse=soon").substr(0, 16), "\"noreuse=soon\": ");
  EXPECT_EQ(action_error("close=yes").substr(0, 27), "unknown action \"close=yes\" ");
  EXPECT_EQ(action_error("bounce").substr(0, 24), "unknown action \"bounce\" ");
}

class RuleFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ringrelay-rules-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string load_error(const std::string& spec) {
    try {
      ReplyRules rules({spec});
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(loaded)";
  }
  std::string dir_;
};

TEST_F(RuleFiles, BadActionsAndTableTypesFailAtStartWithFileAndLine) {
  std::string path = file("r", "/^421 / backoff\n\n/^450 / slow down\n");
  EXPECT_EQ(load_error("pcre:" + path),
            "pcre:" + path + ", line 3: unknown action \"slow\" (expected backoff, backoff=N, " +
                "suspend=TIME, noreuse=TIME, close, defer)");
  std::string fixed = file("t", "421 backoff\n");
  EXPECT_EQ(load_error("texthash:" + fixed),
            "reply_rules = texthash:" + fixed +
                ": expected a regexp: or pcre: table (replies are matched by patterns)");
  EXPECT_EQ(load_error("cidr:" + file("c", "192.0.2.0/24 backoff\n")).substr(0, 19),
            "reply_rules = cidr:");
  // Inside if/endif too.
  std::string nested = file("n", "if /^4/\n/4\\.7\\.28/ backoff=x\nendif\n");
  EXPECT_EQ(load_error("regexp:" + nested).rfind("regexp:" + nested + ", line 2: ", 0), 0u);
}

TEST_F(RuleFiles, FirstMatchingRuleGivesTheActions) {
  ReplyRules rules({"pcre:" + file("r",
                                   "/^421[ -]4\\.7\\.28 / backoff\n"
                                   "/blocked/ defer suspend=1h\n")});
  EXPECT_FALSE(rules.empty());
  auto throttle = rules.match("421-4.7.28 rate limited 421 4.7.28 try later");
  ASSERT_TRUE(throttle);
  EXPECT_EQ(throttle->backoff_steps, 1u);
  auto block = rules.match("554 5.7.1 Client host BLOCKED using zen.spamhaus.org");
  ASSERT_TRUE(block);
  EXPECT_TRUE(block->defer);
  EXPECT_EQ(block->suspend, 3600s);
  EXPECT_FALSE(rules.match("450 4.2.0 Mailbox busy"));
  EXPECT_TRUE(ReplyRules().empty());
}

// The starter file loads, and sorts the providers' published replies (as Postfix's one-line form
// joins a multi-line reply) into backoff, suspension and deferral; ordinary refusals match nothing.
TEST(StarterReplyRules, KnowTheBigProvidersReplies) {
  ReplyRules rules({"pcre:" RINGRELAY_SOURCE_DIR "/deploy/reply-rules.pcre"});
  auto actions = [&](const std::string& reply) {
    auto a = rules.match(reply);
    if (!a) return std::string("none");
    std::string s;
    if (a->backoff_steps > 0) s += "backoff ";
    if (a->suspend > 0s) s += "suspend ";
    if (a->defer) s += "defer ";
    return s;
  };
  // Google
  EXPECT_EQ(actions("421-4.7.28 [192.0.2.1 15] Gmail has detected an unusual rate of unsolicited "
                    "mail originating from your IP address. To protect our users from spam, mail "
                    "sent from your IP address has been temporarily rate limited. 421 4.7.28 "
                    "https://support.google.com/mail/?p=UnsolicitedRateLimitError - gsmtp"),
            "backoff ");
  EXPECT_EQ(actions("421-4.7.0 Try again later, closing connection. (EHLO) 421 4.7.0 "
                    "https://support.google.com/a/answer/3221692 - gsmtp"),
            "backoff ");
  EXPECT_EQ(actions("550-5.7.1 [192.0.2.1] Our system has detected an unusual rate of unsolicited "
                    "mail originating from your IP address. To protect our users from spam, mail "
                    "sent from your IP address has been blocked. 550 5.7.1 gsmtp"),
            "suspend defer ");
  EXPECT_EQ(actions("450-4.2.1 The user you are trying to contact is receiving mail at a rate "
                    "that prevents additional messages from being delivered. 450 4.2.1 gsmtp"),
            "none");  // one mailbox, not the site
  EXPECT_EQ(actions("550-5.1.1 The email account that you tried to reach does not exist. 550 "
                    "5.1.1 gsmtp"),
            "none");
  // Microsoft
  EXPECT_EQ(actions("421 RP-001 (BAY004-MC1F63) Unfortunately, some messages from 192.0.2.1 "
                    "weren't sent. Please try again. We have limits for how many messages can be "
                    "sent per hour and per day."),
            "backoff ");
  EXPECT_EQ(actions("451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77714) "
                    "[DM6NAM12FT045.eop-nam12.prod.protection.outlook.com]"),
            "backoff ");
  EXPECT_EQ(actions("550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please "
                    "contact your Internet service provider since part of their network is on our "
                    "block list (S3140)."),
            "suspend defer ");
  EXPECT_EQ(actions("550 5.5.0 Requested action not taken: mailbox unavailable"), "none");
  // Yahoo
  EXPECT_EQ(actions("421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to "
                    "unexpected volume or user complaints - 4.16.55.1; see "
                    "https://postmaster.yahooinc.com/error-codes"),
            "backoff ");
  EXPECT_EQ(actions("421 4.7.0 [TSS09] All messages from 192.0.2.1 will be permanently deferred; "
                    "Retrying will NOT succeed. See https://postmaster.yahooinc.com/error-codes"),
            "suspend ");
  EXPECT_EQ(
      actions("553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because "
              "the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"),
      "suspend defer ");
  EXPECT_EQ(actions("554 5.7.9 Message not accepted for policy reasons."), "none");
  // Anyone
  EXPECT_EQ(actions("450 4.7.1 Client rate limit exceeded, try later"), "backoff ");
  EXPECT_EQ(actions("421 4.7.0 Too many connections"), "none");  // the window's business
}

}  // namespace
}  // namespace ringrelay::engine
