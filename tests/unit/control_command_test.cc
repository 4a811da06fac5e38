// The admin socket's language and the hold set: what `ringrelay ctl` may say, what is refused and
// why, and how holds match, replace, expire and are removed.
#include <gtest/gtest.h>

#include "engine/control/control_command.hh"
#include "engine/control/hold_state.hh"

namespace ringrelay::engine {
namespace {

ControlCommand parsed(std::string_view line) {
  std::string error;
  auto c = parse_control_command(line, error);
  EXPECT_TRUE(c) << line << ": " << error;
  return c.value_or(ControlCommand{});
}

std::string refusal(std::string_view line) {
  std::string error;
  EXPECT_FALSE(parse_control_command(line, error)) << line;
  return error;
}

TEST(ControlCommand, ParsesEveryCommand) {
  EXPECT_EQ(parsed("sites").verb, ControlCommand::Verb::sites);
  EXPECT_EQ(parsed("sites [127.0.0.1]:2525").name, "[127.0.0.1]:2525");
  EXPECT_EQ(parsed("holds").verb, ControlCommand::Verb::holds);

  ControlCommand s = parsed("suspend site MX.Example.COM for 30m defer reason postmaster asked  ");
  EXPECT_EQ(s.verb, ControlCommand::Verb::suspend);
  EXPECT_EQ(s.kind, HoldKind::site);
  EXPECT_EQ(s.name, "mx.example.com");
  EXPECT_EQ(s.duration, std::chrono::seconds(1800));
  EXPECT_TRUE(s.defer);
  EXPECT_EQ(s.reason, "postmaster asked");

  ControlCommand t = parsed("suspend tenant campaigns");
  EXPECT_EQ(t.kind, HoldKind::tenant);
  EXPECT_FALSE(t.duration);
  EXPECT_FALSE(t.defer);
  EXPECT_EQ(parsed("resume pool bulk").kind, HoldKind::pool);
  EXPECT_EQ(parsed("resume source ip2").kind, HoldKind::source);
  EXPECT_EQ(parsed("suspend domain yahoo.com").kind, HoldKind::domain);

  ControlCommand b = parsed("bounce mx.example.com reason list withdrawn");
  EXPECT_EQ(b.verb, ControlCommand::Verb::bounce);
  EXPECT_EQ(b.reason, "list withdrawn");
  EXPECT_EQ(parsed("defer mx.example.com").verb, ControlCommand::Verb::defer);
}

TEST(ControlCommand, RefusesWithAReason) {
  EXPECT_NE(refusal("").find("commands: sites"), std::string::npos);
  EXPECT_NE(refusal("explode").find("unknown command \"explode\""), std::string::npos);
  EXPECT_NE(refusal("suspend planet x").find("expected site, source"), std::string::npos);
  EXPECT_NE(refusal("suspend site").find("expected a name"), std::string::npos);
  EXPECT_NE(refusal("suspend site x for ever").find("expected a time"), std::string::npos);
  EXPECT_NE(refusal("suspend site x for 0s").find("expected a time"), std::string::npos);
  EXPECT_NE(refusal("suspend site x soon").find("unexpected \"soon\""), std::string::npos);
  EXPECT_NE(refusal("suspend site x reason").find("reason: expected"), std::string::npos);
  EXPECT_NE(refusal("resume site x for 1h").find("unexpected"), std::string::npos);
  EXPECT_NE(refusal("holds now").find("no arguments"), std::string::npos);
  EXPECT_NE(refusal("bounce").find("expected a site name"), std::string::npos);
  EXPECT_NE(refusal("bounce x because").find("expected reason TEXT"), std::string::npos);
  EXPECT_NE(refusal("suspend site a\"b").find("expected a name"), std::string::npos);
  EXPECT_NE(refusal("suspend site x\x01").find("control or non-ASCII"), std::string::npos);
  EXPECT_NE(refusal("suspend site " + std::string(300, 'a')).find("expected a name"),
            std::string::npos);
  EXPECT_NE(refusal("suspend site x reason " + std::string(600, 'a')).find("reason longer"),
            std::string::npos);
  EXPECT_NE(refusal(std::string(5000, 'a')).find("longer than 4096"), std::string::npos);
}

TEST(HoldSet, MatchesReplacesExpiresAndRemoves) {
  using namespace std::chrono;
  std::string error;
  HoldSet set;
  Hold site{HoldKind::site, "mx.example.com", system_clock::time_point::max(), false, "a"};
  Hold tenant{HoldKind::tenant, "campaigns", system_clock::now() - seconds(1), true, ""};
  set = *set.with(site, error);
  set = *set.with(tenant, error);
  EXPECT_EQ(set.match({.site = "mx.example.com"})->kind, HoldKind::site);
  EXPECT_EQ(set.match({.site = "other", .tenant = "campaigns"})->kind, HoldKind::tenant);
  EXPECT_EQ(set.match({.site = "other", .domain = "mx.example.com"}), nullptr);  // kinds apart
  EXPECT_EQ(set.match({}), nullptr);
  // A site by one of its MX hosts too (not by a part of a name).
  EXPECT_NE(set.match({.site = "alt1.example.com,mx.example.com:2525"}), nullptr);
  EXPECT_NE(set.match({.site = "lmtp:mx.example.com"}), nullptr);
  EXPECT_EQ(set.match({.site = "mx.example.com.evil,other"}), nullptr);

  site.reason = "b";  // the same kind and name: replaced, not added
  set = *set.with(site, error);
  ASSERT_EQ(set.holds().size(), 2u);
  EXPECT_EQ(set.match({.site = "mx.example.com"})->reason, "b");

  EXPECT_EQ(set.next_expiry(), tenant.until);
  std::vector<Hold> expired;
  HoldSet kept = set.without_expired(system_clock::now(), expired);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].name, "campaigns");
  EXPECT_EQ(kept.holds().size(), 1u);
  EXPECT_FALSE(kept.next_expiry());

  EXPECT_FALSE(kept.without(HoldKind::domain, "mx.example.com", error));
  EXPECT_EQ(error, "no domain mx.example.com is suspended");
  EXPECT_TRUE(kept.without(HoldKind::site, "mx.example.com", error)->empty());

  HoldSet full;
  for (std::size_t i = 0; i < HoldSet::kHoldLimit; ++i) {
    full = *full.with({HoldKind::domain, "d" + std::to_string(i), {}, false, ""}, error);
  }
  EXPECT_FALSE(full.with({HoldKind::domain, "one-more", {}, false, ""}, error));
  EXPECT_NE(error.find("too many holds"), std::string::npos);
}

// control_state_file: holds survive a restart as written; a damaged line is left out and named.
TEST(HoldState, RoundTripsAndNamesDamagedLines) {
  using namespace std::chrono;
  std::string error;
  HoldSet set;
  set = *set.with({HoldKind::site, "[127.0.0.1]:2525", system_clock::time_point::max(), false,
                   "checking\ta complaint"},
                  error);
  set = *set.with(
      {HoldKind::tenant, "shop", system_clock::time_point(seconds(1900000000)), true, ""}, error);
  std::string text = format_holds(set);
  EXPECT_EQ(text,
            "site\t[127.0.0.1]:2525\t-\tkeep\tchecking a complaint\n"
            "tenant\tshop\t1900000000\tdefer\t\n");
  std::vector<std::string> problems;
  HoldSet back =
      parse_holds(text + "planet\tx\t-\tkeep\t\nsite\tx\tsoon\tkeep\t\nshort\n", problems);
  ASSERT_EQ(back.holds().size(), 2u);
  EXPECT_EQ(back.holds()[0].reason, "checking a complaint");
  EXPECT_EQ(back.holds()[0].until, system_clock::time_point::max());
  EXPECT_TRUE(back.holds()[1].defer);
  EXPECT_EQ(back.holds()[1].until, system_clock::time_point(seconds(1900000000)));
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0], "line 3: not a hold");
  EXPECT_EQ(problems[1], "line 4: \"soon\" is not a time");
  EXPECT_EQ(problems[2], "line 5: expected 5 tab-separated fields, found 1");

  std::string path = testing::TempDir() + "/holds-state";
  save_holds(path, set);
  problems.clear();
  EXPECT_EQ(format_holds(load_holds(path, problems)), text);
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(load_holds(path + ".missing", problems).empty());
}

}  // namespace
}  // namespace ringrelay::engine
