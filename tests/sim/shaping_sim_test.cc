// Traffic shaping under the deterministic simulator: message and connection rates held as token
// buckets over a virtual hour, and the reply rules' graded backoff against a server that
// rate-limits (stepped down while it complains, one step back up per quiet period once it stops),
// suspension, and a blocklist refusal deferred instead of bounced. Every run asserts one result per
// recipient.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/sim/sim_harness.hh"

namespace ringrelay::sim {
namespace {

// A pcre: table of reply rules written for the test.
engine::ReplyRules reply_rules(const std::string& name, const std::string& text) {
  std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return engine::ReplyRules({"pcre:" + path});
}

// 100/min for a virtual hour against 8,000 queued messages: within 5% of 100 per minute at every
// ten minutes on the way (no bursts, no shortfall); the rest is delivered once the rate is lifted.
TEST(ShapingSim, MessageRateHeldOverAVirtualHour) {
  Harness h(1, [](engine::EngineSettings& s) { s.smtp.pace.message_rate = 100.0 / 60; });
  SimServer& server = h.network.add_server("192.0.2.70", {.data_delay = 50ms});
  h.resolver.add_mx("rated.example", {{"mx.rated.example", "192.0.2.70"}});
  for (int i = 0; i < 8000; ++i) h.submit("rated.example");
  for (int minutes = 10; minutes <= 60; minutes += 10) {
    h.idle(10min);
    double expected = 100.0 * minutes;
    EXPECT_NEAR(static_cast<double>(server.stats.messages), expected, expected * 0.05)
        << "after " << minutes << " minutes";
  }
  EXPECT_EQ(server.stats.sessions_max, 1u);  // one a second and quick: one connection suffices
  h.settings.smtp.pace.message_rate = 0;     // settings are read per decision, as after a reload
  h.submit("rated.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 8001u);
}

// A domain's own rate inside its site (smtp_destination_rate_maps naming the domain): 60/min for
// slow.example while fast.example, on the same MX hosts, goes at the site's pace; over 10 minutes
// slow.example gets 600 (give or take the first second's token), and fast.example is not held
// behind it.
TEST(ShapingSim, DomainRateInsideASite) {
  Harness h(1, [](engine::EngineSettings& s) { s.rate_overrides["slow.example"].messages = 1.0; });
  h.network.add_server("192.0.2.76", {.data_delay = 20ms});
  for (const char* domain : {"slow.example", "fast.example"}) {
    h.resolver.add_mx(domain, {{"mx.shared-rate.example", "192.0.2.76"}});
  }
  for (int i = 0; i < 1000; ++i) h.submit("slow.example");
  for (int i = 0; i < 500; ++i) h.submit("fast.example");
  auto sent_to = [&](const std::string& domain) {
    std::size_t n = 0;
    for (const auto& [key, list] : h.sink.results) {
      const auto& r = list.front();
      n += r.result.status == DeliveryStatus::sent &&
           r.request->message.recipients[r.recipient].address.ends_with("@" + domain);
    }
    return n;
  };
  h.idle(1min);
  EXPECT_EQ(sent_to("fast.example"), 500u);  // not behind slow.example's queue
  h.idle(9min);
  EXPECT_NEAR(static_cast<double>(sent_to("slow.example")), 600.0, 2.0);
  ASSERT_EQ(h.scheduler->site_states().size(), 1u);  // one site: the rate is the domain's
  h.settings.rate_overrides.clear();
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 1500u);
}

// A domain's connection rate inside its site: with one message per connection, 100 messages at
// 0.5 connections a second take 200 s; after 60 s about 31 (the first token, then one per 2 s).
TEST(ShapingSim, DomainConnectionRateSpacesItsConnections) {
  Harness h(1, [](engine::EngineSettings& s) {
    s.rate_overrides["spaced.example"].connections = 0.5;
    s.reuse_count_limit = 1;
  });
  h.network.add_server("192.0.2.77", {.data_delay = 20ms});
  h.resolver.add_mx("spaced.example", {{"mx.spaced-site.example", "192.0.2.77"}});
  h.resolver.add_mx("other.example", {{"mx.spaced-site.example", "192.0.2.77"}});
  for (int i = 0; i < 100; ++i) h.submit("spaced.example");
  h.idle(60s);
  EXPECT_NEAR(static_cast<double>(h.sink.count(DeliveryStatus::sent)), 31.0, 1.5);
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 100u);
  EXPECT_TRUE(h.sink.exactly_once());
}

// A site's own reply rules (reply_rule_maps) come before the global ones: two sites refuse MAIL
// FROM with the same blocklist words; the rule for one site (named by an MX host) defers, the
// global one for every site suspends; only the named site's mail is deferred by its own rule, the
// other site's by the global rule's suspension.
TEST(ShapingSim, SiteReplyRulesComeBeforeTheGlobalOnes) {
  Harness h(1, [](engine::EngineSettings& s) {
    s.reply_rules = reply_rules("global-rules.pcre", "/blocked/ defer suspend=10m\n");
    s.site_reply_rules.emplace("mx.own-rules.example",
                               reply_rules("site-rules.pcre", "/blocked/ defer\n"));
  });
  std::string refusal = "550 5.7.1 Client host blocked";
  h.network.add_server("192.0.2.78", {.mail_refusal = refusal});
  h.network.add_server("192.0.2.79", {.mail_refusal = refusal});
  h.resolver.add_mx("own.example", {{"mx.own-rules.example", "192.0.2.78"}});
  h.resolver.add_mx("global.example", {{"mx.global-rules.example", "192.0.2.79"}});
  for (int i = 0; i < 5; ++i) h.submit("own.example");
  ASSERT_TRUE(h.settle());
  for (int i = 0; i < 5; ++i) h.submit("global.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 10u);
  bool own_suspended = false, global_suspended = false;
  for (const auto& state : h.scheduler->site_states()) {
    (state.name == "mx.own-rules.example" ? own_suspended : global_suspended) = state.suspended;
  }
  EXPECT_FALSE(own_suspended);  // its own rule only defers
  EXPECT_TRUE(global_suspended);
  EXPECT_GE(h.logged("reply rule \"defer suspend=10m\""), 1u);
  EXPECT_TRUE(h.sink.exactly_once());
}

// A fast rate lets a second's worth start at once, then holds: 10/s against 2,000 messages gives
// 200 in 20 s (give or take the first second's burst), on several connections.
TEST(ShapingSim, FastRateSpreadsOverSeveralConnections) {
  Harness h(1, [](engine::EngineSettings& s) { s.smtp.pace.message_rate = 10; });
  SimServer& server = h.network.add_server("192.0.2.71", {.data_delay = 400ms});
  h.resolver.add_mx("fast.example", {{"mx.fast.example", "192.0.2.71"}});
  for (int i = 0; i < 2000; ++i) h.submit("fast.example");
  h.idle(20s);
  EXPECT_GE(server.stats.messages, 190u);
  EXPECT_LE(server.stats.messages, 212u);
  EXPECT_GT(server.stats.sessions_max, 2u);  // 400 ms per message: one connection takes 2.5/s
}

// New connections at most 2/s with reuse impossible (one message per connection): 100 messages
// take about 50 s, and no second of it opens more than a burst of two.
TEST(ShapingSim, ConnectionRateSpacesNewConnections) {
  Harness h(1, [](engine::EngineSettings& s) {
    s.smtp.pace.connection_rate = 2;
    s.reuse_count_limit = 1;
  });
  SimServer& server = h.network.add_server("192.0.2.72", {.data_delay = 10ms});
  h.resolver.add_mx("conn.example", {{"mx.conn.example", "192.0.2.72"}});
  Clock::time_point start = h.world.now;
  for (int i = 0; i < 100; ++i) h.submit("conn.example");
  h.idle(10s);
  EXPECT_GE(server.stats.connections, 19u);
  EXPECT_LE(server.stats.connections, 22u);
  ASSERT_EQ(h.scheduler->site_states().size(), 1u);
  EXPECT_EQ(h.scheduler->site_states().front().connection_rate, 2.0);  // what ctl sites shows
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 100u);
  EXPECT_GE(h.world.now - start, 48s);
  EXPECT_LT(h.world.now - start, 55s);
}

// The site's backoff step, as an operator would inspect it (a site at rest and idle is freed).
std::size_t step_of(const Harness& h) {
  auto states = h.scheduler->site_states();
  return states.empty() ? 0 : states.front().backoff_step;
}

// Offered 300 messages a minute to a server that takes 120 per clock minute and answers Gmail's
// "421 4.7.28 ... rate limited" beyond. With the rule the site steps down (1: about 150/min and 10
// connections, 2: 75/min and 5, a step a minute at most), probes one step up after each quiet
// 5 minutes and is pushed back; it never goes deeper than 2. When the server stops limiting it
// climbs back a step per quiet period to step 0. Without the rule, most attempts are refused.
TEST(ShapingSim, RateLimitingSiteIsSteppedDownAndClimbsBack) {
  auto run = [](bool with_rule) -> std::size_t {
    Harness h(7, [&](engine::EngineSettings& s) {
      if (with_rule) {
        s.reply_rules = reply_rules("throttle.pcre", "/^421[ -]4\\.7\\.28 / backoff\n");
      }
    });
    SimServer& server =
        h.network.add_server("192.0.2.73", {.data_delay = 50ms, .messages_per_minute = 120});
    h.resolver.add_mx("limited.example", {{"mx.limited.example", "192.0.2.73"}});
    std::vector<std::size_t> steps;  // at the end of each minute
    for (int second = 0; second < 30 * 60; ++second) {
      for (int i = 0; i < 5; ++i) h.submit("limited.example");
      h.idle(1s);
      if (second % 60 == 59) steps.push_back(step_of(h));
    }
    std::size_t throttled = server.stats.rate_limited, accepted = server.stats.messages;
    EXPECT_LE(accepted, 120u * 31);  // nobody beats the server's limit
    if (with_rule) {
      // The trajectory: 1 in the first minute, 2 in the second, then 1 or 2 (probing up, pushed
      // back).
      EXPECT_EQ(steps[0], 1u);
      EXPECT_EQ(steps[1], 2u);
      EXPECT_EQ(*std::max_element(steps.begin(), steps.end()), 2u);
      EXPECT_EQ(std::count(steps.begin(), steps.end(), 0u), 0);
      EXPECT_EQ(h.logged("\": backoff step 1, at most 10 connections, 15"), 1u);  // 150 and a bit
      EXPECT_EQ(h.logged("\": backoff step 2, at most 5 connections, 7"),
                h.logged("reply rule") - 1);
      EXPECT_GE(h.logged("300s without a throttling reply: backoff step 1,"), 2u);
      EXPECT_EQ(h.logged("backoff step 3"), 0u);
      // The queue waits instead of being refused: a small share of attempts are throttled, and
      // the server takes close to what it allows (75 to 150 of its 120 a minute).
      EXPECT_LT(throttled * 10, accepted + throttled);
      EXPECT_GT(accepted, 75u * 30);
      // The server stops limiting: one step back up per quiet period.
      server.script.messages_per_minute = 0;
      h.idle(5min + 1s);
      EXPECT_LE(step_of(h), 1u);
      h.idle(5min);
      EXPECT_EQ(step_of(h), 0u);
      EXPECT_EQ(h.logged("300s without a throttling reply: backoff step 0, at most 20 connections"),
                1u);
    } else {
      EXPECT_EQ(std::count(steps.begin(), steps.end(), 0u), 30);
    }
    EXPECT_TRUE(h.settle(3h));
    EXPECT_TRUE(h.sink.exactly_once());
    EXPECT_EQ(h.sink.finished, 9000u);
    EXPECT_EQ(h.sink.count(DeliveryStatus::sent) + h.sink.count(DeliveryStatus::deferred), 9000u);
    if (with_rule) {
      EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), throttled);
    }
    return accepted;
  };
  // Without the rule, Postfix's feedback takes the 421s for a dead site: deferred for 5 minutes
  // at a time, the server idle meanwhile.
  std::size_t with_rule = run(true), without = run(false);
  EXPECT_GT(with_rule, 2 * without);
}

// "defer suspend=10m" on a blocklist refusal: the 554 becomes a deferral (4.7.1; the sender's
// address is blocked, not the recipient), and the site's queued and new mail is deferred at once
// with the server's words, without another connection, until the spell ends.
TEST(ShapingSim, SuspendRuleDefersTheSiteUntilTheSpellEnds) {
  Harness h(1, [](engine::EngineSettings& s) {
    s.reply_rules =
        reply_rules("block.pcre", "/^5\\d\\d[ -]5\\.7\\.1 .*blocked/ defer suspend=10m\n");
    s.smtp.concurrency_limit = 1;
  });
  SimServer& server = h.network.add_server(
      "192.0.2.74",
      {.mail_refusal = "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using "
                       "zen.spamhaus.org"});
  h.resolver.add_mx("blocking.example", {{"mx.blocking.example", "192.0.2.74"}});
  for (int i = 0; i < 5; ++i) h.submit("blocking.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 5u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::bounced), 0u);
  EXPECT_EQ(h.sink.containing("(deferred by reply rule)"), 1u);
  EXPECT_EQ(h.sink.containing("delivery temporarily suspended: 554 5.7.1 Service unavailable"), 4u);
  EXPECT_EQ(server.stats.connections, 1u);
  EXPECT_EQ(h.logged("suspended for 600s"), 1u);
  auto state = h.scheduler->site_states().front();
  EXPECT_TRUE(state.suspended);
  EXPECT_NE(state.last_rule.find("defer suspend=10m"), std::string::npos);
  for (const auto& [key, results] : h.sink.results) {
    EXPECT_EQ(results.front().result.dsn, "4.7.1");
  }

  h.idle(9min);
  h.submit("blocking.example");  // still suspended
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.connections, 1u);
  server.script.mail_refusal.clear();
  h.idle(61s);
  h.submit("blocking.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 1u);
  EXPECT_EQ(server.stats.connections, 2u);
  EXPECT_TRUE(h.sink.exactly_once());
}

}  // namespace
}  // namespace ringrelay::sim
