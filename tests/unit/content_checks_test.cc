// Content rules at the last hop: header_checks' actions on primary headers, MIME and nested
// header checks on the headers Postfix gives them, body checks on every other line (boundaries
// too), generic maps on address headers, and no copy when nothing changes.
#include "proto/content_checks.hh"

#include <gtest/gtest.h>

#include <map>

namespace ringrelay::proto {
namespace {

// A rule table: the first prefix that a header or line starts with gives the action.
ContentLookup table(std::vector<std::pair<std::string, std::string>> rules,
                    std::vector<std::string>* seen = nullptr) {
  return [rules, seen](std::string_view text) -> std::optional<std::string> {
    if (seen) seen->emplace_back(text);
    for (const auto& [prefix, action] : rules) {
      if (text.starts_with(prefix)) return action;
    }
    return std::nullopt;
  };
}

std::string sent(std::string_view message, const ContentRewrite& r) {
  return r.changed ? r.output.flatten() : std::string(message);
}

ContentRewrite run(std::string_view message, const ContentRules& rules) {
  return apply_content_rules(message, rules, MimeLimits{});
}

TEST(ContentChecks, HeaderActionsOnPrimaryHeadersOnly) {
  std::string_view message =
      "Received: from a\r\n\tby b\r\nSubject: hello\r\nX-Mailer: m\r\nFrom: f@example.org\r\n"
      "\r\nReceived: in the body stays\r\n";
  std::vector<std::string> seen;
  ContentRules rules;
  rules.header = table({{"Received:", "IGNORE"},
                        {"Subject:", "REPLACE Subject: [ext] hello"},
                        {"X-Mailer:", "PREPEND X-Relayed: yes"},
                        {"From:", "WARN sender seen"}},
                       &seen);
  auto r = run(message, rules);
  ASSERT_TRUE(r.changed);
  EXPECT_EQ(sent(message, r),
            "Subject: [ext] hello\nX-Relayed: yes\nX-Mailer: m\r\nFrom: f@example.org\r\n"
            "\r\nReceived: in the body stays\r\n");
  EXPECT_EQ(seen.front(), "Received: from a\n\tby b");  // a folded header is seen whole
  EXPECT_EQ(seen.size(), 4u);                           // the body is not looked at
  std::vector<std::string> expected = {"replace: header Subject: hello: Subject: [ext] hello",
                                       "prepend: header X-Mailer: m: X-Relayed: yes",
                                       "warning: header From: f@example.org: sender seen"};
  EXPECT_EQ(r.notices, expected);
}

TEST(ContentChecks, NothingChangedMeansNoCopy) {
  std::string_view message = "Subject: a\nFrom: b\n\nbody\n";
  ContentRules rules;
  rules.header = table({{"Subject:", "DUNNO"}, {"From:", "INFO noted"}});
  rules.body = table({{"body", "OK"}});
  auto r = run(message, rules);
  EXPECT_FALSE(r.changed);
  EXPECT_TRUE(r.output.empty());
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "info: header From: b: noted");
}

TEST(ContentChecks, UnchangedLinesAreViewsIntoTheMessage) {
  std::string message = "Subject: a\nX-Drop: 1\n\n" + std::string(100000, 'x') + "\n";
  ContentRules rules;
  rules.header = table({{"X-Drop:", "IGNORE"}});
  auto r = run(message, rules);
  ASSERT_TRUE(r.changed);
  // The kept header and the whole body after the dropped one: two views, no copy of the body.
  ASSERT_EQ(r.output.segments().size(), 2u);
  EXPECT_EQ(r.output.segments()[1].data(), message.data() + 21);
  EXPECT_EQ(r.output.size(), message.size() - 10);
}

TEST(ContentChecks, ActionsThatCannotApplyAreSaidAndChangeNothing) {
  std::string_view message = "Subject: a\n\nbody\n";
  for (std::string action :
       {"REJECT no", "REDIRECT x@y", "REPLACE not a header", "FROBNICATE", "REPLACE", "PREPEND"}) {
    ContentRules rules;
    rules.header = table({{"Subject:", action}});
    auto r = run(message, rules);
    EXPECT_FALSE(r.changed) << action;
    ASSERT_EQ(r.notices.size(), 1u) << action;
    EXPECT_EQ(r.notices[0].rfind("warning: ", 0), 0u) << r.notices[0];
    EXPECT_NE(r.notices[0].find("smtp_header_checks"), std::string::npos) << r.notices[0];
  }
}

TEST(ContentChecks, StripIsLoggedAndRemoves) {
  std::string_view message = "Subject: a\nX-Secret: s\n\nbody\n";
  ContentRules rules;
  rules.header = table({{"X-Secret:", "STRIP internal"}});
  auto r = run(message, rules);
  EXPECT_EQ(sent(message, r), "Subject: a\n\nbody\n");
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "strip: header X-Secret: s: internal");
}

TEST(ContentChecks, AMessageWithoutBodyOrBlankLine) {
  std::string_view message = "Subject: a\nX-Drop: 1";
  ContentRules rules;
  rules.header = table({{"X-Drop:", "IGNORE"}});
  auto r = run(message, rules);
  ASSERT_TRUE(r.changed);
  EXPECT_EQ(sent(message, r), "Subject: a\n");
}

constexpr std::string_view kMultipart =
    "From: a@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble\n"
    "--outer\n"
    "Content-Type: text/plain\n"
    "X-Part: 1\n"
    "\n"
    "first part\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: attached\n"
    "Content-Type: text/plain\n"
    "\n"
    "attached body\n"
    "--outer--\n"
    "epilogue\n";

TEST(ContentChecks, EachHeaderGoesToItsClassAsPostfixSortsThem) {
  std::vector<std::string> primary, mime, nested, body;
  ContentRules rules;
  rules.header = table({}, &primary);
  rules.mime_header = table({}, &mime);
  rules.nested_header = table({}, &nested);
  rules.body = table({}, &body);
  auto r = run(kMultipart, rules);
  EXPECT_FALSE(r.changed);
  // MIME headers go to mime_header_checks wherever they are, other part headers too.
  EXPECT_EQ(primary, std::vector<std::string>{"From: a@example.org"});
  EXPECT_EQ(mime, (std::vector<std::string>{
                      "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"outer\"",
                      "Content-Type: text/plain", "X-Part: 1", "Content-Type: message/rfc822",
                      "Content-Type: text/plain"}));
  EXPECT_EQ(nested, std::vector<std::string>{"Subject: attached"});
  // Every other line is body, boundaries and empty lines included.
  EXPECT_EQ(body, (std::vector<std::string>{"", "preamble", "--outer", "", "first part", "--outer",
                                            "", "", "attached body", "--outer--", "epilogue"}));
}

TEST(ContentChecks, WithoutMimeRulesPartHeadersAreNotChecked) {
  std::vector<std::string> primary;
  ContentRules rules;
  rules.header = table({}, &primary);
  run(kMultipart, rules);
  EXPECT_EQ(primary, std::vector<std::string>{"From: a@example.org"});
}

TEST(ContentChecks, BodyActions) {
  std::string_view message = "Subject: s\n\nkeep\nsecret line\nold text\nnote\n";
  ContentRules rules;
  rules.body =
      table({{"secret", "IGNORE"}, {"old", "REPLACE new text"}, {"note", "PREPEND added line"}});
  auto r = run(message, rules);
  EXPECT_EQ(sent(message, r), "Subject: s\n\nkeep\nnew text\nadded line\nnote\n");
}

TEST(ContentChecks, LongBodyLinesAreCheckedInRecords) {
  std::string message = "Subject: s\n\n" + std::string(3000, 'a') + "\n";
  std::vector<std::string> seen;
  ContentRules rules;
  rules.body = table({}, &seen);
  run(message, rules);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].size(), 2048u);
  EXPECT_EQ(seen[2].size(), 952u);
}

TEST(ContentChecks, GenericMapsRewriteAddressHeadersOnly) {
  std::string_view message =
      "From: \"Joe\" <joe@internal.example> (comment)\r\n"
      "To: a@internal.example,\r\n b@elsewhere.example, Group: c@internal.example;\r\n"
      "Subject: joe@internal.example stays\r\n"
      "Message-ID: <x@internal.example>\r\n"
      "\r\n"
      "From: joe@internal.example in the body\r\n";
  ContentRules rules;
  rules.generic = [](std::string_view address) -> std::optional<std::string> {
    if (address.ends_with("@internal.example")) {
      return std::string(address.substr(0, address.find('@'))) + "@example.com";
    }
    return std::nullopt;
  };
  auto r = run(message, rules);
  EXPECT_EQ(sent(message, r),
            "From: \"Joe\" <joe@example.com> (comment)\r\n"
            "To: a@example.com,\r\n b@elsewhere.example, Group: c@example.com;\r\n"
            "Subject: joe@internal.example stays\r\n"
            "Message-ID: <x@internal.example>\r\n"
            "\r\n"
            "From: joe@internal.example in the body\r\n");
}

TEST(HeaderAddresses, FindsAddrSpecsAndSkipsTheRest) {
  auto found = [](std::string_view value) {
    std::vector<std::string> out;
    for (const auto& a : find_header_addresses(value)) out.push_back(a.address);
    return out;
  };
  EXPECT_EQ(found(" \"Smith, J\" <j@x.org>, k@y.org (K)"),
            (std::vector<std::string>{"j@x.org", "k@y.org"}));
  EXPECT_EQ(found(" \"a b\"@x.org"), std::vector<std::string>{"a b@x.org"});
  EXPECT_EQ(found(" <@route,@r2:u@z.org>"), std::vector<std::string>{"u@z.org"});
  EXPECT_EQ(found(" undisclosed-recipients:;"), std::vector<std::string>{});
  EXPECT_EQ(found(" <>"), std::vector<std::string>{});
  EXPECT_EQ(found(" Joe Bloggs"), std::vector<std::string>{});  // a phrase, not an address
  EXPECT_EQ(found(" u@[192.0.2.1]"), std::vector<std::string>{"u@[192.0.2.1]"});
  EXPECT_EQ(found(" \"unterminated <a@b>"), std::vector<std::string>{});
}

TEST(HeaderAddresses, RewrittenAddressesAreQuotedWhenNeeded) {
  auto rewritten = rewrite_header_addresses(
      " Joe <joe@x.org>", [](std::string_view) { return std::string("joe smith@y.org"); });
  ASSERT_TRUE(rewritten);
  EXPECT_EQ(*rewritten, " Joe <\"joe smith\"@y.org>");
}

}  // namespace
}  // namespace ringrelay::proto
