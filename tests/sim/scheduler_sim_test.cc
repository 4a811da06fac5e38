// The delivery core under the deterministic simulator: windows, Postfix's feedback, dead sites and
// recovery, the MX walk, reuse limits and the learnt per-connection message limit, MX sites, and
// shutdown, each against scripted servers in virtual time; then a seeded random run over many
// sites and faults asserting one result per recipient, bounded tables, and the same run per seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/engine_settings.hh"
#include "engine/config/sasl_settings.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/delivery/site_key.hh"
#include "tests/sim/sim_harness.hh"

namespace ringrelay::sim {
namespace {

// 200 messages at once to a server taking 0.3 s per message: a standing backlog opens the whole
// window (20), as Postfix's qmgr does, instead of staying at the initial concurrency (5).
TEST(SchedulerSim, StandingBacklogGrowsTheWindowToTheLimit) {
  Harness h;
  SimServer& server = h.network.add_server("192.0.2.10", {.data_delay = 300ms});
  h.resolver.add_mx("slow.example", {{"mx.slow.example", "192.0.2.10"}});
  Clock::time_point start = h.world.now;
  for (int i = 0; i < 200; ++i) h.submit("slow.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 200u);
  EXPECT_EQ(server.stats.sessions_max, 20u);
  // At 5 sessions it would take 12 s; at 20, about 3 s of virtual time.
  EXPECT_LT(h.world.now - start, 6s);
}

// A server allowing 3 sessions and answering "421 Too many connections" beyond: Postfix's
// feedback (1/window per failure, measured before shrinking, reset by each delivery) keeps the
// site alive; the turned-away messages wait for the working connections instead of being
// deferred, and the site stays at what the server took, so 421s stay occasional.
TEST(SchedulerSim, SessionLimitedServerKeepsGettingMail) {
  Harness h(1, [](engine::EngineSettings& s) { s.feedback_debug = true; });
  SimServer& server = h.network.add_server("192.0.2.11", {.session_limit = 3, .data_delay = 10ms});
  h.resolver.add_mx("three.example", {{"mx.three.example", "192.0.2.11"}});
  for (int i = 0; i < 2000; ++i) h.submit("three.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.containing("delivery temporarily suspended"), 0u);
  EXPECT_EQ(h.logged("throttled"), 0u);
  // Sessions greeted with 421 give negative feedback, and their messages wait in the queue for
  // the connections that work (Postfix would defer them to its deferred queue).
  EXPECT_GT(server.stats.too_many, 0u);
  EXPECT_LE(server.stats.too_many, 10u);
  EXPECT_LE(server.stats.sessions_max, 6u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 2000u);
  // destination_concurrency_feedback_debug: each window change and each cap, in words.
  EXPECT_GT(h.logged("feedback: site mx.three.example: window "), 0u);
  EXPECT_GT(h.logged("(positive feedback"), 0u);
  EXPECT_GT(h.logged("(negative feedback"), 0u);
  EXPECT_GT(h.logged("a new connection was turned away with"), 0u);
}

// Priorities at one site that takes one message at a time: a campaign of 300 at priority 2 is
// queued, then 10 password resets at 9 arrive. The resets go next (each level's turn comes 2^p
// times per turn of level 0; level 9 against 2: 128 to 1), and the campaign is not starved: while
// both levels wait, it still gets its turns.
TEST(SchedulerSim, HigherPriorityGoesFirstWithoutStarvingLowerOnes) {
  auto one_at_a_time = [](engine::EngineSettings& s) {
    s.smtp.concurrency_limit = 1;
    s.smtp.initial_concurrency = 1;
  };
  Harness h(1, one_at_a_time);
  h.network.add_server("192.0.2.60", {.data_delay = 50ms});
  h.resolver.add_mx("busy.example", {{"mx.busy.example", "192.0.2.60"}});
  for (int i = 0; i < 300; ++i) h.submit("busy.example", 1, "news@sim.example", 2);
  h.idle(1s);  // some of the campaign has gone
  std::size_t campaign_before = h.sink.order.size();
  ASSERT_GT(campaign_before, 5u);
  ASSERT_LT(campaign_before, 100u);
  for (int i = 0; i < 10; ++i) h.submit("busy.example", 1, "reset@sim.example", 9);
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  // Once queued, every reset is delivered within the next 12 results (the one or two in flight,
  // and at most one campaign turn).
  std::size_t last_reset = 0;
  for (std::size_t i = 0; i < h.sink.order.size(); ++i) {
    if (h.sink.order[i] == 9) last_reset = i;
  }
  EXPECT_LT(last_reset, campaign_before + 12) << "resets waited behind the campaign";
  EXPECT_EQ(std::count(h.sink.order.begin(), h.sink.order.end(), 9), 10);

  // Both levels backlogged from the start: level 5 gets one turn per 16 of level 9, never none.
  Harness both(2, one_at_a_time);
  both.network.add_server("192.0.2.61", {.data_delay = 10ms});
  both.resolver.add_mx("both.example", {{"mx.both.example", "192.0.2.61"}});
  for (int i = 0; i < 400; ++i) both.submit("both.example", 1, "a@sim.example", 9);
  for (int i = 0; i < 40; ++i) both.submit("both.example", 1, "b@sim.example", 5);
  ASSERT_TRUE(both.settle());
  EXPECT_TRUE(both.sink.exactly_once());
  auto first = both.sink.order.begin();
  auto fives_in_first_340 = std::count(first, first + 340, 5);
  EXPECT_GE(fives_in_first_340, 18);  // 340 / 17 = 20, give or take the job in flight
  EXPECT_LE(fives_in_first_340, 22);
}

// smtp_destination_rate_delay = 1s, Postfix's semantics: deliveries to the site one at a time,
// each starting a second after the previous one ended, whatever the window; the connection waits
// in the cache meanwhile (cache time limit 2s) and is reused. Another site is not held up.
TEST(SchedulerSim, RateDelaySpacesDeliveriesToASite) {
  Harness h(1, [](engine::EngineSettings& s) { s.smtp.pace.rate_delay = 1s; });
  SimServer& paced = h.network.add_server("192.0.2.62", {.data_delay = 100ms});
  h.resolver.add_mx("paced.example", {{"mx.paced.example", "192.0.2.62"}});
  Clock::time_point start = h.world.now;
  for (int i = 0; i < 10; ++i) h.submit("paced.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 10u);
  EXPECT_EQ(paced.stats.sessions_max, 1u);
  EXPECT_EQ(paced.stats.connections, 1u);  // reused across the pauses
  // Nine pauses of a second between ten deliveries, each a little over 0.1 s.
  EXPECT_GE(h.world.now - start, 9s + 10 * 100ms);
  EXPECT_LT(h.world.now - start, 13s);

  // Without the delay the same ten go in parallel, in well under a second.
  Harness fast;
  SimServer& unpaced = fast.network.add_server("192.0.2.63", {.data_delay = 100ms});
  fast.resolver.add_mx("fast.example", {{"mx.fast.example", "192.0.2.63"}});
  Clock::time_point fast_start = fast.world.now;
  for (int i = 0; i < 10; ++i) fast.submit("fast.example");
  ASSERT_TRUE(fast.settle());
  EXPECT_LT(fast.world.now - fast_start, 1s);
  EXPECT_GT(unpaced.stats.sessions_max, 1u);
}

// Connections refused: failed cohorts make the site dead; queued and new work is deferred at once
// with the reason, logged once; after minimal_backoff_time the site takes mail again.
TEST(SchedulerSim, DeadSiteDefersAtOnceAndRecovers) {
  Harness h;
  SimServer& server = h.network.add_server("192.0.2.12", {.refuse_connections = true});
  h.resolver.add_mx("down.example", {{"mx.down.example", "192.0.2.12"}});
  for (int i = 0; i < 50; ++i) h.submit("down.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 50u);
  EXPECT_GT(h.sink.containing("delivery temporarily suspended"), 0u);
  EXPECT_EQ(h.logged("throttled for 300s"), 1u);
  std::size_t attempts = server.stats.connections;
  h.submit("down.example");  // still dead: deferred without a connection
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.containing("delivery temporarily suspended"),
            h.sink.count(DeliveryStatus::deferred) - 5);
  server.script.refuse_connections = false;
  h.idle(301s);
  h.submit("down.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 1u);
  EXPECT_EQ(attempts, 0u);  // refused connections never reached the server
}

// OpenSMTPD's per-connection limit: the 101st MAIL FROM on a connection gets "452 4.5.3 Too many
// messages sent". That message goes to a fresh connection (not deferred), the refused connection
// closes, and the site's connections carry at most 100 messages from then on.
TEST(SchedulerSim, LearntPerConnectionMessageLimit) {
  Harness h(1, [](engine::EngineSettings& s) { s.smtp.concurrency_limit = 5; });
  SimServer& server =
      h.network.add_server("192.0.2.13", {.messages_per_connection = 100, .data_delay = 5ms});
  h.resolver.add_mx("limited.example", {{"mx.limited.example", "192.0.2.13"}});
  for (int i = 0; i < 1000; ++i) h.submit("limited.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 1000u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 0u);
  EXPECT_LE(server.stats.max_messages_on_one_connection, 100u);
  EXPECT_EQ(h.logged("now carry at most 100 messages"), 1u);
  // Once learnt, connections close at 100 instead of being refused again: a few refusals only
  // (those already in progress when the first one came).
  EXPECT_LE(server.stats.refused_messages, 20u);
}

// A server that takes 10 recipients per transaction ("452 4.5.3 Too many recipients" beyond, as
// RFC 5321 says): the refused recipients go in the next transaction on the same connection (none
// deferred, even with one server, no new connection needed), and from then on the site's
// transactions carry at most 10, so later messages are split before they are sent instead of
// refused.
TEST(SchedulerSim, LearntPerTransactionRecipientLimit) {
  Harness h(1, [](engine::EngineSettings& s) { s.smtp.concurrency_limit = 2; });
  SimServer& server = h.network.add_server("192.0.2.14", {.recipients_per_transaction = 10});
  h.resolver.add_mx("few.example", {{"mx.few.example", "192.0.2.14"}});
  h.submit("few.example", 45);
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.refused_recipients, 35u);  // the first transaction's 35: then learnt
  EXPECT_LE(server.stats.connections, 2u);  // the retry reuses it; the backlog opens the window
  EXPECT_EQ(h.logged("transactions to the site now carry at most 10 recipients"), 1u);
  for (int i = 0; i < 20; ++i) h.submit("few.example", 50);
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 45u + 20 * 50);
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 0u);
  EXPECT_EQ(server.stats.refused_recipients, 35u);  // no more refusals once learnt
  EXPECT_EQ(server.stats.max_recipients_in_one_transaction, 10u);
  EXPECT_EQ(server.stats.messages, 5u + 20 * 5);
}

// 2,000 domains whose MX records name one host are one site: one window (the server never sees
// more than 20 sessions) and shared connections; a domain with another MX set is its own site.
TEST(SchedulerSim, DomainsWithOneMxSetShareOneSite) {
  Harness h;
  SimServer& shared = h.network.add_server("192.0.2.20", {.data_delay = 50ms});
  SimServer& other = h.network.add_server("192.0.2.21", {.data_delay = 50ms});
  for (int i = 0; i < 2000; ++i) {
    h.resolver.add_mx("d" + std::to_string(i) + ".example",
                      {{"mx1.provider.example", "192.0.2.20"}});
  }
  h.resolver.add_mx("elsewhere.example", {{"mx.elsewhere.example", "192.0.2.21"}});
  for (int i = 0; i < 2000; ++i) h.submit("d" + std::to_string(i) + ".example");
  for (int i = 0; i < 100; ++i) h.submit("elsewhere.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 2100u);
  EXPECT_LE(shared.stats.sessions_max, 20u);
  EXPECT_LE(shared.stats.connections, 40u);  // reused across domains
  EXPECT_EQ(h.max_sites, 2u);
  EXPECT_EQ(other.stats.messages, 100u);
  EXPECT_GT(other.stats.sessions_max, 1u);  // its own window, not starved by the big site
  // Results name the site where it is not the next hop itself.
  EXPECT_EQ(h.sink.results.begin()->second.front().site, "mx1.provider.example");
}

// Two shards: a shard that resolves a next hop whose site the other owns hands the work over,
// with its answer (no second lookup); every connection to the site comes from the owner.
TEST(SchedulerSim, WorkIsHandedToTheShardThatOwnsTheSite) {
  Harness h;  // its scheduler is shard 0 of 1; two more make a pair of shards
  Sink sink;
  auto settings = h.settings;
  std::unique_ptr<engine::Scheduler> shards[2];
  std::size_t handed[2] = {0, 0};
  for (std::size_t i = 0; i < 2; ++i) {
    shards[i] = std::make_unique<engine::Scheduler>(h.network, h.world.timers, settings, h.resolver,
                                                    sink, engine::ShardPlace{i, 2});
  }
  for (std::size_t i = 0; i < 2; ++i) {
    shards[i]->hand_over = [&, i](std::size_t owner, const RequestPointer& request,
                                  const dns::Nexthop& hop, std::vector<std::size_t> recipients,
                                  std::shared_ptr<const engine::ResolveAnswer> answer) {
      EXPECT_NE(owner, i);
      ++handed[i];
      shards[owner]->submit(request, hop, recipients, true, std::move(answer));
    };
  }
  SimServer& server = h.network.add_server("192.0.2.70", {.data_delay = 20ms});
  for (int i = 0; i < 200; ++i) {
    h.resolver.add_mx("h" + std::to_string(i) + ".example", {{"mx.hosted.example", "192.0.2.70"}});
  }
  std::size_t expected = 0;
  std::size_t lookups_before = h.resolver.lookups;
  for (int i = 0; i < 200; ++i) {
    auto request = std::make_shared<engine::DeliveryRequest>();
    request->id = "H" + std::to_string(i);
    request->received = h.world.now;
    request->inline_body = "Subject: x\r\n\r\nhello\r\n";
    request->message.body = {request->inline_body};
    std::string domain = "h" + std::to_string(i) + ".example";
    request->message.recipients.push_back({"u@" + domain, "", ""});
    ++expected;
    // As shard 0 routes before any lookup: by the next hop's hash.
    dns::Nexthop hop = *dns::parse_nexthop(domain);
    shards[engine::owner_shard(hop.key(), 2)]->submit(request, hop, {0});
  }
  ASSERT_TRUE(h.world.run([&] { return sink.finished >= expected; }, 1h,
                          [&] {
                            for (auto& s : shards) s->collect_garbage();
                          }));
  EXPECT_TRUE(sink.exactly_once());
  EXPECT_EQ(sink.count(DeliveryStatus::sent), 200u);
  EXPECT_GT(handed[0] + handed[1], 0u);
  EXPECT_TRUE(handed[0] == 0 || handed[1] == 0);         // only toward the owner
  EXPECT_EQ(h.resolver.lookups - lookups_before, 200u);  // one lookup per domain, not two
  EXPECT_LE(server.stats.sessions_max, 20u);
  std::size_t owner = engine::owner_shard("mx.hosted.example", 2);
  EXPECT_EQ(shards[1 - owner]->tables().sites, 0u);
  h.idle(10s);
  for (auto& s : shards) s->shutdown(std::chrono::seconds(1));
  h.idle(5s);
}

// The MX walk: addresses of the destination until smtp_mx_session_limit sessions (2), then the
// fallback relay; a refused connection is not a session.
TEST(SchedulerSim, MxWalkStopsAtTheSessionLimitThenFallbackRelay) {
  Harness h;
  SimServer& a1 = h.network.add_server("192.0.2.31", {.greeting_defer = 1.0});
  SimServer& a2 = h.network.add_server("192.0.2.32", {.refuse_connections = true});
  SimServer& a3 = h.network.add_server("192.0.2.33", {.greeting_defer = 1.0});
  SimServer& a4 = h.network.add_server("192.0.2.34", {.greeting_defer = 1.0});
  SimServer& fallback = h.network.add_server("192.0.2.40", {});
  engine::ResolveAnswer answer;
  for (const char* address : {"192.0.2.31", "192.0.2.32", "192.0.2.33", "192.0.2.34"}) {
    auto a = engine::numeric_address(address, 25);
    a->hostname = "mx.walk.example";
    answer.addresses.push_back(*a);
  }
  auto relay = engine::numeric_address("192.0.2.40", 25);
  relay->site = 1;
  answer.addresses.push_back(*relay);
  h.resolver.add_answer("walk.example", answer);
  h.submit("walk.example", 3);
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 3u);
  EXPECT_EQ(a1.stats.connections, 1u);
  EXPECT_EQ(a2.stats.connections, 0u);
  EXPECT_EQ(a3.stats.connections, 1u);
  EXPECT_EQ(a4.stats.connections, 0u);  // two sessions reached: on to the fallback relay
  EXPECT_EQ(fallback.stats.recipients, 3u);
}

// Reuse limits: smtp_connection_reuse_count_limit, smtp_connection_reuse_time_limit, and the idle
// limit (smtp_connection_cache_time_limit) each close a connection when Postfix would.
TEST(SchedulerSim, ReuseCountTimeAndIdleLimits) {
  {
    Harness h(1, [](engine::EngineSettings& s) {
      s.reuse_count_limit = 10;
      s.smtp.concurrency_limit = 1;
      s.smtp.initial_concurrency = 1;
    });
    SimServer& server = h.network.add_server("192.0.2.50", {});
    h.resolver.add_mx("count.example", {{"mx.count.example", "192.0.2.50"}});
    for (int i = 0; i < 100; ++i) h.submit("count.example");
    ASSERT_TRUE(h.settle());
    EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 100u);
    EXPECT_EQ(server.stats.max_messages_on_one_connection, 10u);
    EXPECT_EQ(server.stats.connections, 10u);
  }
  {
    Harness h(1, [](engine::EngineSettings& s) {
      s.reuse_time_limit = std::chrono::seconds(30);
      s.smtp.concurrency_limit = 1;
      s.smtp.initial_concurrency = 1;
    });
    SimServer& server = h.network.add_server("192.0.2.51", {.data_delay = 1s});
    h.resolver.add_mx("time.example", {{"mx.time.example", "192.0.2.51"}});
    for (int i = 0; i < 100; ++i) h.submit("time.example");
    ASSERT_TRUE(h.settle());
    EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 100u);
    EXPECT_LE(server.stats.max_messages_on_one_connection, 31u);
    EXPECT_GE(server.stats.connections, 4u);
  }
  {
    Harness h;
    SimServer& server = h.network.add_server("192.0.2.52", {});
    h.resolver.add_mx("idle.example", {{"mx.idle.example", "192.0.2.52"}});
    h.submit("idle.example");
    ASSERT_TRUE(h.settle());
    h.idle(1s);
    h.submit("idle.example");  // within the 2 s idle limit: the cached connection
    ASSERT_TRUE(h.settle());
    EXPECT_EQ(server.stats.connections, 1u);
    h.idle(3s);
    h.submit("idle.example");  // past it: the connection was closed, a new one
    ASSERT_TRUE(h.settle());
    EXPECT_EQ(server.stats.connections, 2u);
    EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 3u);
  }
}

// Shutdown: what is queued is deferred at once saying so, transactions in flight get the grace
// period, and the core ends quiet with one result per recipient.
TEST(SchedulerSim, ShutdownDefersWhatIsQueued) {
  Harness h;
  h.network.add_server("192.0.2.60", {.data_delay = 20s});
  h.resolver.add_mx("slow.example", {{"mx.slow.example", "192.0.2.60"}});
  for (int i = 0; i < 100; ++i) h.submit("slow.example", 2);
  h.idle(1s);
  h.scheduler->shutdown(std::chrono::seconds(10));
  ASSERT_TRUE(h.settle(1min));
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.finished, 200u);
  EXPECT_EQ(h.sink.containing("ringrelay is shutting down"), 200u);
  EXPECT_EQ(h.network.open_connections, 0u);
  EXPECT_TRUE(h.scheduler->quiet());
  EXPECT_EQ(h.scheduler->tables().connections, 0u);
}

// A DNS failure ends every recipient with the resolver's words, soft or hard.
TEST(SchedulerSim, LookupFailuresGiveTheResolversWords) {
  Harness h;
  h.resolver.add_failure("soft.example", false, "4.4.3", "Host not found, try again");
  h.submit("soft.example", 3);
  h.submit("nowhere.example", 2);
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 3u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::bounced), 2u);
  EXPECT_EQ(h.sink.containing("Host or domain name not found"), 2u);
}

// SMTP AUTH settings from main.cf lines (the password tables inline).
void with_sasl(engine::EngineSettings& settings, const std::string& lines) {
  std::vector<std::string> warnings, notices;
  engine::Config c = engine::Config::parse(
      "smtp_sasl_auth_enable = yes\nsmtp_sasl_security_options = noanonymous\n" + lines, "main.cf",
      engine::HostFacts{"sim.example"}, warnings);
  settings.smtp.sasl = engine::sasl_settings(c, false, notices);
  settings.smtp.session.auth = true;
}

// Two senders with their own logins to one AUTH-requiring site, interleaved: connections are
// cached and reused, but each message reaches the server under its own sender's login.
TEST(SchedulerSim, SaslLoginsNeverMixOnCachedConnections) {
  Harness h(7, [](engine::EngineSettings& s) {
    with_sasl(s,
              "smtp_sender_dependent_authentication = yes\n"
              "smtp_sasl_password_maps = inline:{ alice@one.example=alice:a-pw, "
              "@two.example=bob:b-pw }\n");
  });
  SimServer& server = h.network.add_server(
      "192.0.2.30", {.data_delay = 50ms, .logins = {{"alice", "a-pw"}, {"bob", "b-pw"}}});
  h.resolver.add_mx("auth.example", {{"mx.auth.example", "192.0.2.30"}});
  for (int i = 0; i < 400; ++i) {
    h.submit("auth.example", 1, i % 2 == 0 ? "alice@one.example" : "carol@two.example");
  }
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 400u);
  using Key = std::pair<std::string, std::string>;
  std::map<Key, std::size_t> expected = {{{"alice", "alice@one.example"}, 200},
                                         {{"bob", "carol@two.example"}, 200}};
  EXPECT_EQ(server.stats.messages_by_login, expected);
  // Reused: far fewer logins than messages, one per connection.
  EXPECT_EQ(server.stats.logins_accepted, server.stats.connections);
  EXPECT_LT(server.stats.connections, 100u);
}

// A wrong password with smtp_sasl_auth_cache_name: the first connections' 535s are remembered and
// the rest of the mail is deferred without logging in again; after the cache time it is tried anew.
TEST(SchedulerSim, FailedLoginIsRememberedInsteadOfRetriedPerMessage) {
  Harness h(8, [](engine::EngineSettings& s) {
    with_sasl(s,
              "smtp_sasl_password_maps = inline:{ mx.auth.example=alice:wrong }\n"
              "smtp_sasl_auth_cache_name = memory\nsmtp_sasl_auth_cache_time = 1h\n");
  });
  SimServer& server = h.network.add_server("192.0.2.31", {.logins = {{"alice", "right"}}});
  h.resolver.add_mx("auth.example", {{"mx.auth.example", "192.0.2.31"}});
  for (int i = 0; i < 100; ++i) h.submit("auth.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 100u);
  // Only the connections opened before the first 535 came back tried to log in.
  EXPECT_GE(server.stats.logins_refused, 1u);
  EXPECT_LE(server.stats.logins_refused, h.settings.smtp.initial_concurrency);
  EXPECT_EQ(h.sink.containing("SASL [CACHED] authentication failed; server mx.auth.example"),
            100u - server.stats.logins_refused);
  // An hour later the memory has expired: one more real attempt.
  h.idle(61min);
  std::size_t before = server.stats.logins_refused;
  h.submit("auth.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.logins_refused, before + 1);
}

// Many sites, random faults, 100,000 recipients: every recipient ends with exactly one result, no
// table outgrows its bound, idle tables are freed, and a seed always gives the same run.
struct RandomRun {
  std::uint64_t digest = 0;
  Clock::duration took{};
  std::size_t sent = 0;
};

RandomRun random_run(std::uint64_t seed) {
  Harness h(seed);
  constexpr int kSites = 12, kDomains = 60;
  std::mt19937_64 pick(seed);
  std::vector<SimServer*> servers;
  for (int s = 0; s < kSites; ++s) {
    std::uniform_real_distribution<double> p(0, 1);
    ServerScript script;
    script.reply_delay = std::chrono::milliseconds(1 + pick() % 20);
    script.data_delay = std::chrono::milliseconds(pick() % 200);
    script.rcpt_defer = p(pick) < 0.3 ? 0.05 : 0;
    script.rcpt_reject = p(pick) < 0.3 ? 0.05 : 0;
    script.mail_defer = p(pick) < 0.2 ? 0.02 : 0;
    script.drop_in_data = p(pick) < 0.2 ? 0.01 : 0;
    script.stall = p(pick) < 0.1 ? 0.0005 : 0;
    script.session_limit = p(pick) < 0.3 ? 2 + pick() % 6 : 0;
    script.messages_per_connection = p(pick) < 0.3 ? 5 + pick() % 50 : 0;
    script.refuse_connections = p(pick) < 0.08;
    script.greeting_defer = p(pick) < 0.1 ? 0.1 : 0;
    std::string address = "198.51.100." + std::to_string(s + 1);
    servers.push_back(&h.network.add_server(address, script));
  }
  for (int d = 0; d < kDomains; ++d) {
    std::string domain = "r" + std::to_string(d) + ".example";
    if (d % 17 == 16) {
      h.resolver.add_failure(domain, d % 2 == 0, "4.4.3", "Host not found, try again");
      continue;
    }
    int first = static_cast<int>(pick() % kSites), second = static_cast<int>(pick() % kSites);
    std::vector<std::pair<std::string, std::string>> mx = {
        {"mx" + std::to_string(first) + ".sim", servers[first]->address}};
    if (second != first)
      mx.push_back({"mx" + std::to_string(second) + ".sim", servers[second]->address});
    h.resolver.add_mx(domain, mx);
  }
  // 100,000 recipients in bursts, with virtual time passing between them.
  std::size_t submitted = 0;
  while (submitted < 100000) {
    for (int i = 0; i < 500 && submitted < 100000; ++i) {
      std::size_t recipients = 1 + pick() % 8;
      h.submit("r" + std::to_string(pick() % kDomains) + ".example", recipients);
      submitted += recipients;
    }
    h.world.run([] { return false; }, std::chrono::milliseconds(pick() % 2000), [&] { h.turn(); });
  }
  Clock::time_point start = h.world.now;
  EXPECT_TRUE(h.settle(6h));
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.finished, h.expected);
  EXPECT_EQ(h.sink.reported, h.expected);
  EXPECT_LE(h.max_destinations, static_cast<std::size_t>(kDomains));
  EXPECT_LE(h.max_sites, static_cast<std::size_t>(kDomains));
  // Idle: connections close, and destinations and sites are freed.
  h.idle(10min);
  engine::SchedulerTables t = h.scheduler->tables();
  EXPECT_EQ(t.connections, 0u);
  EXPECT_EQ(t.destinations, 0u);
  EXPECT_EQ(t.sites, 0u);
  EXPECT_EQ(h.network.open_connections, 0u);
  return {h.sink.digest, h.world.now - start, h.sink.count(DeliveryStatus::sent)};
}

TEST(SchedulerSim, RandomFaultsManySitesOneResultEachAndTheSameRunPerSeed) {
  RandomRun first = random_run(42);
  RandomRun again = random_run(42);
  EXPECT_EQ(first.digest, again.digest);
  EXPECT_EQ(first.took, again.took);
  EXPECT_GT(first.sent, 25000u);
  RandomRun other = random_run(7);
  EXPECT_NE(first.digest, other.digest);
}

}  // namespace
}  // namespace ringrelay::sim
