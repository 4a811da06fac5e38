// Egress sources and pools under the deterministic simulator: a pool's weights split a site's
// mail exactly, each (site, source) pair is throttled on its own, a source whose address is not
// on the host is set aside (its mail goes to the others, nothing is lost), a source reaches only
// servers of its address families. Every run asserts one result per recipient.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/sim/sim_harness.hh"

namespace ringrelay::sim {
namespace {

constexpr const char* kAddressA = "198.51.100.1";
constexpr const char* kAddressB = "198.51.100.2";

engine::EgressSource source(const std::string& name, const std::string& value) {
  std::string error;
  auto parsed = engine::parse_egress_source(name, value, error);
  EXPECT_TRUE(parsed) << error;
  return parsed.value_or(engine::EgressSource{});
}

// Pool "bulk" of sources a and b (IPv4 only) with these weights.
void pool_of_two(engine::EngineSettings& s, unsigned weight_a, unsigned weight_b) {
  s.egress.sources = {source("a", std::string("address=") + kAddressA + " helo=a.sim.example"),
                      source("b", std::string("address=") + kAddressB + " helo=b.sim.example")};
  s.egress.pools["bulk"].members = {{0, weight_a}, {1, weight_b}};
  s.egress.pools["a"].members = {{0, 1}};
  s.egress.pools["b"].members = {{1, 1}};
}

std::size_t results_from(const Harness& h, const std::string& name) {
  std::size_t n = 0;
  for (const auto& [key, list] : h.sink.results) n += list.front().source == name;
  return n;
}

// Weights 3:1 over 400 messages: exactly 300 and 100, each source on connections of its own
// (its address bound, its EHLO name), and each result says which source carried it.
TEST(EgressSim, PoolWeightsSplitASiteExactly) {
  Harness h(1, [](engine::EngineSettings& s) { pool_of_two(s, 3, 1); });
  h.pool = "bulk";
  SimServer& server = h.network.add_server("192.0.2.90", {.data_delay = 20ms});
  h.resolver.add_mx("pooled.example", {{"mx.pooled.example", "192.0.2.90"}});
  for (int i = 0; i < 400; ++i) h.submit("pooled.example");
  ASSERT_TRUE(h.settle());
  auto states = h.scheduler->site_states();
  ASSERT_EQ(states.size(), 2u);  // one (site, source) pair each
  for (const auto& state : states) EXPECT_EQ(state.name, "mx.pooled.example");
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 400u);
  EXPECT_EQ(server.stats.messages_by_source[kAddressA], 300u);
  EXPECT_EQ(server.stats.messages_by_source[kAddressB], 100u);
  EXPECT_EQ(server.stats.messages_by_source[""], 0u);
  EXPECT_EQ(results_from(h, "a"), 300u);
  EXPECT_EQ(results_from(h, "b"), 100u);

  // A request naming one source by its own name uses only that one.
  h.pool = "b";
  for (int i = 0; i < 10; ++i) h.submit("pooled.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.messages_by_source[kAddressB], 110u);
  EXPECT_TRUE(h.sink.exactly_once());
}

// The server rate-limits source a only (60 a minute, Gmail's 421 4.7.28 beyond); a backoff rule.
// a's pair is stepped down, b's is not and keeps its full share: the pairs have their own state.
TEST(EgressSim, TwoSourcesAtOneSiteAreThrottledIndependently) {
  Harness h(3, [](engine::EngineSettings& s) {
    pool_of_two(s, 1, 1);
    std::string path = testing::TempDir() + "/egress-throttle.pcre";
    std::ofstream(path) << "/^421[ -]4\\.7\\.28 / backoff\n";
    s.reply_rules = engine::ReplyRules({"pcre:" + path});
  });
  h.pool = "bulk";
  SimServer& server = h.network.add_server(
      "192.0.2.91",
      {.data_delay = 50ms, .messages_per_minute = 60, .rate_limited_source = kAddressA});
  h.resolver.add_mx("limits.example", {{"mx.limits.example", "192.0.2.91"}});
  for (int second = 0; second < 10 * 60; ++second) {
    for (int i = 0; i < 4; ++i) h.submit("limits.example");  // 240 a minute, 120 per source
    h.idle(1s);
  }
  std::size_t step_a = 99, step_b = 99;
  for (const auto& state : h.scheduler->site_states()) {
    (state.source == "a" ? step_a : step_b) = state.backoff_step;
  }
  EXPECT_GE(step_a, 1u);
  EXPECT_EQ(step_b, 0u);
  EXPECT_EQ(h.logged("site mx.limits.example via a: reply rule"), h.logged("reply rule"));
  EXPECT_GT(h.logged("reply rule"), 0u);
  // b took its whole half (1,200 offered over ten minutes, less what is still on its way).
  EXPECT_GE(server.stats.messages_by_source[kAddressB], 1190u);
  EXPECT_LE(server.stats.messages_by_source[kAddressA], 60u * 11);
  ASSERT_TRUE(h.settle(3h));
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.finished, 2400u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent) + h.sink.count(DeliveryStatus::deferred), 2400u);
  EXPECT_EQ(results_from(h, "b"), 1200u);
}

// Source a's address is not on this host: its first connection cannot bind, a is set aside for
// egress_source_retry_time with one warning, and all mail leaves from b, none deferred. Once the
// address is back (and the time has passed) a takes its share again.
TEST(EgressSim, UnbindableSourceIsSetAsideAndItsMailGoesToTheOthers) {
  Harness h(1, [](engine::EngineSettings& s) { pool_of_two(s, 1, 1); });
  h.pool = "bulk";
  h.network.unbindable.insert(kAddressA);
  SimServer& server = h.network.add_server("192.0.2.92", {});
  h.resolver.add_mx("bind.example", {{"mx.bind.example", "192.0.2.92"}});
  for (int i = 0; i < 40; ++i) h.submit("bind.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 40u);
  EXPECT_EQ(server.stats.messages_by_source[kAddressB], 40u);
  EXPECT_EQ(h.logged("warning: egress source a: cannot bind 198.51.100.1: Cannot assign"), 1u);

  h.network.unbindable.clear();
  h.idle(61s);
  for (int i = 0; i < 40; ++i) h.submit("bind.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 80u);
  EXPECT_GE(server.stats.messages_by_source[kAddressA], 15u);
}

// Every source of the pool unbindable: deferred (4.3.0) with the reason, never sent from an
// address the pool did not name.
TEST(EgressSim, PoolWithNoBindableSourceDefers) {
  Harness h(1, [](engine::EngineSettings& s) { pool_of_two(s, 1, 1); });
  h.pool = "bulk";
  h.network.unbindable = {kAddressA, kAddressB};
  SimServer& server = h.network.add_server("192.0.2.93", {});
  h.resolver.add_mx("nobind.example", {{"mx.nobind.example", "192.0.2.93"}});
  for (int i = 0; i < 10; ++i) h.submit("nobind.example");
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 10u);
  EXPECT_EQ(server.stats.connections, 0u);
  EXPECT_GE(h.sink.containing("no source of egress pool bulk can be bound now"), 8u);
  for (const auto& [key, list] : h.sink.results)
    EXPECT_EQ(list.front().result.dsn.substr(0, 2), "4.");
}

// An IPv4-only source and an MX host with an IPv6 address first: the source's plan is its IPv4
// addresses only; a pool with no source of the servers' family defers saying so.
TEST(EgressSim, SourceReachesOnlyServersOfItsFamilies) {
  Harness h(1, [](engine::EngineSettings& s) {
    pool_of_two(s, 1, 1);
    s.egress.sources.push_back(source("six", "address6=2001:db8::99"));
    s.egress.pools["six"].members = {{2, 1}};
  });
  h.pool = "bulk";
  SimServer& six = h.network.add_server("2001:db8::93", {});
  SimServer& four = h.network.add_server("192.0.2.94", {});
  engine::ResolveAnswer answer;
  for (const char* address : {"2001:db8::93", "192.0.2.94"}) {
    auto a = engine::numeric_address(address, 25);
    a->hostname = "mx.dual.example";
    answer.addresses.push_back(*a);
  }
  h.resolver.add_answer("dual.example", answer);
  for (int i = 0; i < 10; ++i) h.submit("dual.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 10u);
  EXPECT_EQ(six.stats.connections, 0u);
  EXPECT_EQ(four.stats.messages, 10u);

  h.resolver.add_mx("v4only.example", {{"mx.v4only.example", "192.0.2.94"}});
  h.pool = "six";
  h.submit("v4only.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.containing("egress pool six has no source address of the family"), 1u);
  EXPECT_TRUE(h.sink.exactly_once());
}

// An operator's hold on one source of a pool (ctl suspend source a) takes it out of rotation: the
// pool's other source carries everything, queued mail included; with every source held the mail
// waits, and resuming one delivers it from that one.
TEST(EgressSim, SuspendedSourceLeavesItsPoolToTheOthers) {
  Harness h(1, [](engine::EngineSettings& s) { pool_of_two(s, 1, 1); });
  h.pool = "bulk";
  SimServer& server = h.network.add_server("192.0.2.93", {.data_delay = 20ms});
  h.resolver.add_mx("rotated.example", {{"mx.rotated.example", "192.0.2.93"}});
  auto holds = [](std::initializer_list<const char*> sources) {
    engine::HoldSet set;
    std::string error;
    for (const char* name : sources)
      set = *set.with({engine::HoldKind::source, name, {}, false, ""}, error);
    return std::make_shared<const engine::HoldSet>(std::move(set));
  };
  h.scheduler->set_holds(holds({"a"}));
  for (int i = 0; i < 40; ++i) h.submit("rotated.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.messages_by_source[kAddressA], 0u);
  EXPECT_EQ(server.stats.messages_by_source[kAddressB], 40u);

  h.scheduler->set_holds(holds({"a", "b"}));
  for (int i = 0; i < 10; ++i) h.submit("rotated.example");
  h.idle(10min);
  EXPECT_EQ(server.stats.messages, 40u);
  std::size_t held = 0;
  for (const auto& state : h.scheduler->site_states()) held += state.held;
  EXPECT_EQ(held, 10u);
  h.scheduler->set_holds(holds({"a"}));
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.messages_by_source[kAddressB], 50u);

  // A hold on the default pool holds requests that name no pool.
  h.settings.egress.default_pool = "bulk";
  h.pool = "";
  std::string error;
  auto pool_hold = engine::HoldSet{}.with({engine::HoldKind::pool, "bulk", {}, false, ""}, error);
  h.scheduler->set_holds(std::make_shared<const engine::HoldSet>(*pool_hold));
  h.submit("rotated.example");
  h.idle(1min);
  EXPECT_EQ(server.stats.messages, 50u);
  h.pool = "bulk";

  h.scheduler->set_holds(nullptr);
  for (int i = 0; i < 9; ++i) h.submit("rotated.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.messages_by_source[kAddressA], 5u);

  // Suspended with mail queued at it: what is already on a connection finishes from a, what is
  // still queued moves to b.
  for (int i = 0; i < 40; ++i) h.submit("rotated.example");
  std::size_t on_connections = 0, queued = 0;
  for (const auto& state : h.scheduler->site_states()) {
    if (state.source == "a") on_connections = state.active, queued = state.queued;
  }
  EXPECT_GT(queued, 0u);
  h.scheduler->set_holds(holds({"a"}));
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.messages_by_source[kAddressA], 5u + on_connections);
  EXPECT_EQ(server.stats.messages_by_source[kAddressB], 95u - on_connections);
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 100u);
}

}  // namespace
}  // namespace ringrelay::sim
