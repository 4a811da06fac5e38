// Operator holds and flushes (ringrelay ctl) under the deterministic simulator: a suspended site
// keeps its mail without connecting and a resume drains it; holds by domain and tenant keep
// back only their jobs; a deferring hold gives results at once; bounce and defer empty a site's
// queue; shutdown gives held mail its results. Every run asserts one result per recipient.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/sim/sim_harness.hh"

namespace ringrelay::sim {
namespace {

engine::HoldSetPointer holding(std::initializer_list<engine::Hold> holds) {
  engine::HoldSet set;
  std::string error;
  for (const engine::Hold& h : holds) {
    auto next = set.with(h, error);
    EXPECT_TRUE(next) << error;
    set = *next;
  }
  return std::make_shared<const engine::HoldSet>(std::move(set));
}

engine::Hold hold(engine::HoldKind kind, std::string name, bool defer = false) {
  engine::Hold h;
  h.kind = kind;
  h.name = std::move(name);
  h.defer = defer;
  h.reason = "checking a complaint";
  return h;
}

std::size_t held_at(const Harness& h) {
  std::size_t n = 0;
  for (const auto& state : h.scheduler->site_states()) n += state.held;
  return n;
}

// A suspended site queues without connecting, however long; resume drains it all. The site is
// named by one of its MX hosts, as an operator knows a provider.
TEST(HoldsSim, SuspendedSiteQueuesWithoutConnectingAndResumeDrainsIt) {
  Harness h;
  SimServer& server = h.network.add_server("192.0.2.70", {.data_delay = 10ms});
  h.resolver.add_mx("held.example",
                    {{"mx1.held.example", "192.0.2.70"}, {"mx2.held.example", "192.0.2.70"}});
  h.scheduler->set_holds(holding({hold(engine::HoldKind::site, "mx2.held.example")}));
  for (int i = 0; i < 50; ++i) h.submit("held.example", 2);
  h.idle(2h);
  EXPECT_EQ(server.stats.connections, 0u);
  EXPECT_EQ(h.sink.reported, 0u);
  EXPECT_EQ(held_at(h), 50u);
  EXPECT_EQ(h.scheduler->tables().queued_jobs, 50u);

  h.scheduler->set_holds(holding({}));
  ASSERT_TRUE(h.settle());
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 100u);
  EXPECT_EQ(server.stats.recipients, 100u);
  EXPECT_EQ(held_at(h), 0u);
}

// Holds by domain and tenant keep back their own jobs; the rest of the site is delivered.
TEST(HoldsSim, DomainAndTenantHoldsKeepBackOnlyTheirJobs) {
  Harness h;
  SimServer& server = h.network.add_server("192.0.2.71", {.data_delay = 10ms});
  h.resolver.add_mx("one.example", {{"mx.shared.example", "192.0.2.71"}});
  h.resolver.add_mx("two.example", {{"mx.shared.example", "192.0.2.71"}});
  h.scheduler->set_holds(holding({hold(engine::HoldKind::domain, "two.example"),
                                  hold(engine::HoldKind::tenant, "campaigns")}));
  for (int i = 0; i < 10; ++i) h.submit("one.example");
  for (int i = 0; i < 10; ++i) h.submit("two.example");
  h.tenant = "campaigns";
  for (int i = 0; i < 5; ++i) h.submit("one.example");
  h.tenant = "";
  h.idle(10min);
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 10u);
  EXPECT_EQ(server.stats.messages, 10u);
  EXPECT_EQ(held_at(h), 15u);

  // Resuming the domain alone delivers its mail; the tenant's stays.
  h.scheduler->set_holds(holding({hold(engine::HoldKind::tenant, "campaigns")}));
  h.idle(10min);
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 20u);
  EXPECT_EQ(held_at(h), 5u);
  h.scheduler->set_holds(nullptr);
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::sent), 25u);
  EXPECT_TRUE(h.sink.exactly_once());
}

// A hold that defers gives the site's mail its result at once, with the operator's words.
TEST(HoldsSim, DeferringHoldGivesResultsAtOnce) {
  Harness h;
  SimServer& server = h.network.add_server("192.0.2.72", {});
  h.resolver.add_mx("deferred.example", {{"mx.deferred.example", "192.0.2.72"}});
  h.scheduler->set_holds(
      holding({hold(engine::HoldKind::site, "mx.deferred.example", /*defer=*/true)}));
  for (int i = 0; i < 8; ++i) h.submit("deferred.example");
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(server.stats.connections, 0u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 8u);
  EXPECT_EQ(h.sink.containing("suspended by the operator (site mx.deferred.example): checking a "
                              "complaint"),
            8u);
  EXPECT_TRUE(h.sink.exactly_once());
}

// Bounce and defer empty a site's queue, held jobs included; other sites are untouched.
TEST(HoldsSim, FlushGivesASitesQueueItsResults) {
  Harness h;
  h.network.add_server("192.0.2.73", {});
  h.network.add_server("192.0.2.74", {});
  h.resolver.add_mx("gone.example", {{"mx.gone.example", "192.0.2.73"}});
  h.resolver.add_mx("kept.example", {{"mx.kept.example", "192.0.2.74"}});
  h.scheduler->set_holds(holding({hold(engine::HoldKind::site, "mx.gone.example"),
                                  hold(engine::HoldKind::site, "mx.kept.example")}));
  for (int i = 0; i < 6; ++i) h.submit("gone.example", 2);
  for (int i = 0; i < 4; ++i) h.submit("kept.example");
  h.idle(1min);
  EXPECT_EQ(h.scheduler->flush_site("mx.nothing.example", true, ""), 0u);
  EXPECT_EQ(h.scheduler->flush_site("mx.gone.example", /*bounce=*/true, "list withdrawn"), 12u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::bounced), 12u);
  EXPECT_EQ(h.sink.containing("bounced by the operator: list withdrawn"), 12u);
  EXPECT_EQ(h.scheduler->flush_site("mx.gone.example", true, ""), 0u);
  EXPECT_EQ(h.scheduler->flush_site("mx.kept.example", /*bounce=*/false, ""), 4u);
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 4u);
  EXPECT_EQ(held_at(h), 0u);
  EXPECT_TRUE(h.scheduler->quiet());
  EXPECT_TRUE(h.sink.exactly_once());
}

// Shutdown gives held mail its results (deferred), as for anything else still queued.
TEST(HoldsSim, ShutdownDefersHeldMail) {
  Harness h;
  h.network.add_server("192.0.2.75", {});
  h.resolver.add_mx("paused.example", {{"mx.paused.example", "192.0.2.75"}});
  h.scheduler->set_holds(holding({hold(engine::HoldKind::domain, "paused.example")}));
  for (int i = 0; i < 5; ++i) h.submit("paused.example");
  h.idle(1min);
  EXPECT_FALSE(h.scheduler->quiet());
  h.scheduler->shutdown(std::chrono::seconds(10));
  ASSERT_TRUE(h.settle());
  EXPECT_EQ(h.sink.count(DeliveryStatus::deferred), 5u);
  EXPECT_TRUE(h.sink.exactly_once());
  EXPECT_TRUE(h.scheduler->quiet());
}

}  // namespace
}  // namespace ringrelay::sim
