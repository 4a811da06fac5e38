// smtp_header_checks' actions on a message's primary headers: IGNORE, REPLACE, PREPEND, WARN,
// INFO, DUNNO, folded headers seen whole, the body and MIME part headers untouched, and no copy
// when nothing changes.
#include "proto/header_checks.hh"

#include <gtest/gtest.h>

#include <map>

namespace ringrelay::proto {
namespace {

HeaderRewrite run(std::string_view message, std::map<std::string, std::string> actions) {
  return apply_header_checks(message, [&](std::string_view header) -> std::optional<std::string> {
    for (const auto& [prefix, action] : actions) {
      if (header.starts_with(prefix)) return action;
    }
    return std::nullopt;
  });
}

std::string sent(std::string_view message, const HeaderRewrite& r) {
  return r.changed ? r.headers + std::string(message.substr(r.rest_offset)) : std::string(message);
}

TEST(HeaderChecks, ActionsOnPrimaryHeadersOnly) {
  std::string_view message =
      "Received: from a\r\n\tby b\r\nSubject: hello\r\nX-Mailer: m\r\nFrom: f@example.org\r\n"
      "\r\nReceived: in the body stays\r\n";
  std::vector<std::string> seen;
  auto r = apply_header_checks(message, [&](std::string_view header) -> std::optional<std::string> {
    seen.emplace_back(header);
    if (header.starts_with("Received:")) return "IGNORE";
    if (header.starts_with("Subject:")) return "REPLACE Subject: [ext] hello";
    if (header.starts_with("X-Mailer:")) return "PREPEND X-Relayed: yes";
    if (header.starts_with("From:")) return "WARN sender seen";
    return std::nullopt;
  });
  ASSERT_TRUE(r.changed);
  EXPECT_EQ(sent(message, r),
            "Subject: [ext] hello\nX-Relayed: yes\nX-Mailer: m\r\nFrom: f@example.org\r\n"
            "\r\nReceived: in the body stays\r\n");
  EXPECT_EQ(seen.front(), "Received: from a\n\tby b");  // a folded header is seen whole
  EXPECT_EQ(seen.size(), 4u);                           // the body is not looked at
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "warning: header From: f@example.org: sender seen");
}

TEST(HeaderChecks, NothingChangedMeansNoCopy) {
  std::string_view message = "Subject: a\nFrom: b\n\nbody\n";
  auto r = run(message, {{"Subject:", "DUNNO"}, {"From:", "INFO noted"}});
  EXPECT_FALSE(r.changed);
  EXPECT_TRUE(r.headers.empty());
  ASSERT_EQ(r.notices.size(), 1u);
  EXPECT_EQ(r.notices[0], "info: header From: b: noted");
}

TEST(HeaderChecks, ActionsThatCannotApplyAreSaidAndChangeNothing) {
  std::string_view message = "Subject: a\n\nbody\n";
  for (std::string action : {"REJECT no", "REDIRECT x@y", "REPLACE not a header", "FROBNICATE"}) {
    auto r = run(message, {{"Subject:", action}});
    EXPECT_FALSE(r.changed) << action;
    ASSERT_EQ(r.notices.size(), 1u) << action;
    EXPECT_NE(r.notices[0].find("unsupported action"), std::string::npos) << r.notices[0];
  }
}

TEST(HeaderChecks, AMessageWithoutBodyOrBlankLine) {
  std::string_view message = "Subject: a\nX-Drop: 1";
  auto r = run(message, {{"X-Drop:", "IGNORE"}});
  ASSERT_TRUE(r.changed);
  EXPECT_EQ(sent(message, r), "Subject: a\n");
}

}  // namespace
}  // namespace ringrelay::proto
