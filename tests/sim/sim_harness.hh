// The simulator's test harness: one Scheduler on a World with scripted servers and DNS, a sink
// that keeps every result by request and recipient (a recipient with two results is a failure),
// and helpers to submit mail and let virtual time run.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/config.hh"
#include "engine/config/engine_settings.hh"
#include "engine/delivery/scheduler.hh"
#include "tests/sim/sim_network.hh"

namespace ringrelay::sim {

using engine::RequestPointer;
using engine::ResultRecord;
using proto::DeliveryStatus;

// Every result, by request id and recipient: a recipient with two results is a failure.
class Sink : public engine::ResultSink {
 public:
  void report(ResultRecord record) override {
    auto& list = results[{record.request->id, record.recipient}];
    list.push_back(record);
    order.push_back(record.request->priority);
    if (list.size() == 1) ++finished;
    ++reported;
    std::size_t status = static_cast<std::size_t>(record.result.status);
    ++by_status[status];
    // The order of results is part of the run: the digest compares runs of one seed.
    digest = digest * 1000003u + std::hash<std::string>{}(record.request->id) +
             record.recipient * 31u + status;
  }
  std::size_t count(DeliveryStatus s) const {
    auto it = by_status.find(static_cast<std::size_t>(s));
    return it == by_status.end() ? 0 : it->second;
  }
  bool exactly_once() const {
    for (const auto& [key, list] : results) {
      if (list.size() != 1) return false;
    }
    return true;
  }
  std::size_t containing(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& [key, list] : results) {
      for (const auto& r : list) n += r.result.text.find(text) != std::string::npos;
    }
    return n;
  }

  std::map<std::pair<std::string, std::size_t>, std::vector<ResultRecord>> results;
  std::map<std::size_t, std::size_t> by_status;
  std::vector<int> order;  // the priority of each result, in the order they came
  std::size_t finished = 0, reported = 0;
  std::uint64_t digest = 0;
};

struct Harness {
  explicit Harness(std::uint64_t seed = 1, std::function<void(engine::EngineSettings&)> tune = {})
      : world(seed), network(world), resolver(world) {
    engine::Config config{engine::HostFacts{"sim.example"}};
    settings = engine::engine_settings(config);
    settings.tls.default_policy.level = tls::SecurityLevel::none;
    if (tune) tune(settings);
    scheduler =
        std::make_unique<engine::Scheduler>(network, world.timers, settings, resolver, sink);
    scheduler->log_notice = [this](const std::string& text) { log.push_back(text); };
  }

  // One message with `recipients` recipients at `domain`, submitted now.
  void submit(const std::string& domain, std::size_t recipients = 1,
              const std::string& sender = "sender@sim.example",
              int priority = engine::kDefaultPriority) {
    auto request = std::make_shared<engine::DeliveryRequest>();
    request->id = "Q" + std::to_string(++requests);
    request->priority = priority;
    request->pool = pool;
    request->tenant = tenant;
    request->received = world.now;
    request->inline_body = "Subject: simulated\r\n\r\nhello\r\n";
    request->message.sender = sender;
    request->message.body = {request->inline_body};
    std::vector<std::size_t> indices;
    for (std::size_t i = 0; i < recipients; ++i) {
      request->message.recipients.push_back({"r" + std::to_string(i) + "@" + domain, "", ""});
      indices.push_back(i);
    }
    expected += recipients;
    scheduler->submit(request, *dns::parse_nexthop(domain), indices);
  }

  // Until every recipient has a result and the core is quiet (or `limit` of virtual time).
  // Idle connections may stay cached.
  bool settle(Clock::duration limit = 1h) {
    return world.run(
        [this] {
          engine::SchedulerTables t = scheduler->tables();
          return sink.finished >= expected && t.queued_jobs == 0 &&
                 t.connections == t.idle_connections;
        },
        limit, [this] { turn(); });
  }
  // Lets virtual time pass (idle timers, sweeps).
  void idle(Clock::duration span) {
    Clock::time_point end = world.now + span;
    world.run([&] { return false; }, span, [this] { turn(); });
    world.now = std::max(world.now, end);
  }
  void turn() {
    scheduler->collect_garbage();
    engine::SchedulerTables t = scheduler->tables();
    max_connections = std::max(max_connections, t.connections);
    max_sites = std::max(max_sites, t.sites);
    max_destinations = std::max(max_destinations, t.destinations);
    ASSERT_LE(t.connections, settings.shard_session_limit);
  }
  std::size_t logged(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& line : log) n += line.find(text) != std::string::npos;
    return n;
  }

  World world;
  SimNetwork network;
  SimResolver resolver;
  engine::EngineSettings settings;
  Sink sink;
  std::unique_ptr<engine::Scheduler> scheduler;
  std::vector<std::string> log;
  std::size_t requests = 0, expected = 0;
  std::string pool;    // the egress pool submit() names; empty: the default
  std::string tenant;  // the tenant submit() names
  std::size_t max_connections = 0, max_sites = 0, max_destinations = 0;
};

}  // namespace ringrelay::sim
