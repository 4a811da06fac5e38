// The engine's per-message bookkeeping, without sockets: the scheduler taking a request for a
// destination and settling it (here against a lookup that fails at once, so no connection is
// opened), the connection cache's take and return, and a cross-shard mailbox round trip between
// two threads, and a connection's timer re-armed among a shard's others. Each reports operations
// per second. Also the content rules' cost on a message no rule matches (smtp_header_checks,
// smtp_body_checks), and the feed's parse of a request line and its numbering of a result record.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "cache/idle_connections.hh"
#include "engine/config/config.hh"
#include "engine/config/engine_settings.hh"
#include "engine/config/lookup_table.hh"
#include "engine/delivery/scheduler.hh"
#include "engine/delivery/smtp_connection.hh"
#include "engine/feed/feed_protocol.hh"
#include "engine/runtime/mailbox.hh"
#include "engine/runtime/timers.hh"
#include "proto/content_checks.hh"

namespace {

using namespace ringrelay;
using namespace ringrelay::engine;

// "r7@example.com" (built up in one string: GCC 12 warns falsely about "x" + std::string).
std::string numbered(std::string_view prefix, std::size_t n, std::string_view suffix) {
  std::string text(prefix);
  text += std::to_string(n);
  text += suffix;
  return text;
}

// A lookup that fails at once: the scheduler queues, dispatches and reports without connecting.
class FailingResolver : public Resolver {
 public:
  void resolve(const dns::Nexthop&, std::function<void(ResolveAnswer)> done) override {
    ResolveAnswer answer;
    answer.dsn = "4.4.3";
    answer.text = "Host not found, try again";
    answer.expires = Clock::now() + std::chrono::hours(1);
    done(std::move(answer));
  }
};

class CountingSink : public ResultSink {
 public:
  void report(ResultRecord) override { ++results; }
  std::size_t results = 0;
};

void BM_SchedulerSubmitAndSettle(benchmark::State& state) {
  Config config{HostFacts{"bench.example"}};
  EngineSettings settings = engine_settings(config);
  settings.tls.default_policy.level = tls::SecurityLevel::none;  // no CA loading at start
  Ring ring(64);
  Timers timers;
  FailingResolver resolver;
  CountingSink sink;
  RingNetwork network(ring, timers);
  Scheduler scheduler(network, timers, settings, resolver, sink);
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "bench";
  request->message.sender = "s@example.org";
  auto recipients = static_cast<std::size_t>(state.range(0));
  std::vector<std::size_t> indices;
  for (std::size_t i = 0; i < recipients; ++i) {
    request->message.recipients.push_back({numbered("r", i, "@example.com"), "", ""});
    indices.push_back(i);
  }
  dns::Nexthop hop = *dns::parse_nexthop("example.com");
  for (auto _ : state) scheduler.submit(request, hop, indices);
  state.SetItemsProcessed(static_cast<int64_t>(sink.results));  // recipients settled
}
BENCHMARK(BM_SchedulerSubmitAndSettle)->Arg(1)->Arg(50);

cache::EndpointKey endpoint(int i) {
  std::string address = "192.0.2.";
  address += std::to_string(i % 250);
  return cache::EndpointKey{address, 25, "", "relay.example", ""};
}

// Take the warmest connection of a next hop and put it back, with 1,000 cached over 100 hops.
void BM_CacheTakeReturn(benchmark::State& state) {
  cache::IdleConnections<int> cache;
  std::vector<std::string> hops;
  for (int i = 0; i < 100; ++i) hops.push_back(numbered("d", i, ".example"));
  for (int i = 0; i < 1000; ++i) cache.put(i, hops[i % 100], endpoint(i % 100));
  std::size_t n = 0;
  for (auto _ : state) {
    const std::string& hop = hops[n++ % 100];
    auto handle = cache.take_by_nexthop(hop, [](int) { return true; });
    cache.put(*handle, hop, endpoint(*handle % 100));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CacheTakeReturn);

// A request from one shard to another and the answer back, through two SPSC mailboxes (each
// thread spins on its mailbox; the engine sleeps in its ring and is woken by MSG_RING instead).
void BM_MailboxRoundTrip(benchmark::State& state) {
  SpscQueue<std::uint64_t> to_worker(1024), to_home(1024);
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      if (auto v = to_worker.try_pop()) {
        while (!to_home.try_push(std::move(*v))) {
        }
      }
    }
  });
  std::uint64_t sent = 0;
  for (auto _ : state) {
    while (!to_worker.try_push(std::uint64_t{sent})) {
    }
    std::optional<std::uint64_t> back;
    while (!(back = to_home.try_pop())) {
    }
    ++sent;
  }
  stop = true;
  worker.join();
  state.SetItemsProcessed(static_cast<int64_t>(sent));
}
BENCHMARK(BM_MailboxRoundTrip)->UseRealTime();

}  // namespace

// Content rules over a 10 KiB message that no rule matches: the walk alone (a lookup that
// answers nothing), and a pcre: table with one rule, for header rules and for body rules.
namespace content_rules_bench {

std::string ten_kib_message() {
  std::string m = "From: a@example.org\nTo: b@example.com\nSubject: report\n\n";
  while (m.size() < 10240) m += std::string(71, 'x') + "\n";
  return m;
}

std::string pcre_table(const char* rule) {
  static int n = 0;
  std::string path =
      "/tmp/ringrelay-bench-rules-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  std::ofstream(path) << rule;
  return "pcre:" + path;
}

void run(benchmark::State& state, ringrelay::proto::ContentRules rules) {
  std::string message = ten_kib_message();
  for (auto _ : state) {
    auto r = ringrelay::proto::apply_content_rules(message, rules, {});
    benchmark::DoNotOptimize(r.changed);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * message.size()));
}

void BM_BodyRulesWalkOnly(benchmark::State& state) {
  ringrelay::proto::ContentRules rules;
  rules.body = [](std::string_view) { return std::optional<std::string>(); };
  run(state, rules);
}
BENCHMARK(BM_BodyRulesWalkOnly);

void BM_HeaderRulesPcre(benchmark::State& state) {
  ringrelay::engine::LookupTable table(pcre_table("/^X-Never-Seen:/ IGNORE\n"));
  ringrelay::proto::ContentRules rules;
  rules.header = [table](std::string_view text) { return table.find(text); };
  run(state, rules);
}
BENCHMARK(BM_HeaderRulesPcre);

void BM_BodyRulesPcre(benchmark::State& state) {
  ringrelay::engine::LookupTable table(pcre_table("/^NEVER MATCHES THIS LINE$/ IGNORE\n"));
  ringrelay::proto::ContentRules rules;
  rules.body = [table](std::string_view text) { return table.find(text); };
  run(state, rules);
}
BENCHMARK(BM_BodyRulesPcre);

}  // namespace content_rules_bench

// The feed's per-message work on shard 0 without sockets: parsing a `deliver` line as a queue
// manager sends it (one recipient, a spool reference, client attributes), and numbering a result
// record that the delivering shard formatted.
namespace feed_bench {

using namespace ringrelay;
using namespace ringrelay::engine;

const std::string kDeliverLine =
    R"({"type":"deliver","id":"4Xq9Lz1mKbz7Tf","sender":"bounces+1234@news.example.com",)"
    R"("recipients":[{"address":"someone.else@example.net","notify":"FAILURE"}],)"
    R"("envid":"c1234-5678","ret":"hdrs","queued_seconds":0.25,)"
    R"("client":{"client_name":"app1.example.com","client_address":"192.0.2.10","helo":"app1"},)"
    R"("body":{"path":"/var/spool/mail-queue/4X/4Xq9Lz1mKbz7Tf","offset":0,"size":10240}})";

void BM_FeedParseDeliverLine(benchmark::State& state) {
  FeedError error;
  for (auto _ : state) {
    auto command = parse_feed_line(kDeliverLine, error);
    if (!command) state.SkipWithError(error.message.c_str());
    benchmark::DoNotOptimize(command);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kDeliverLine.size()));
}
BENCHMARK(BM_FeedParseDeliverLine);

ResultRecord sample_result() {
  auto request = std::make_shared<DeliveryRequest>();
  request->id = "4Xq9Lz1mKbz7Tf";
  request->message.recipients.push_back({"someone.else@example.net", "", "FAILURE"});
  ResultRecord r;
  r.request = request;
  r.result.status = proto::DeliveryStatus::sent;
  r.result.dsn = "2.0.0";
  r.result.reply = "250 2.0.0 Ok: queued as 4Xq9M01";
  r.result.reply_code = 250;
  r.result.text = "250 2.0.0 Ok: queued as 4Xq9M01";
  r.relay = "mx1.example.net[192.0.2.25]:25";
  r.delay = 0.42;
  r.delays[1] = 0.2;
  r.delays[3] = 0.22;
  return r;
}

// What shard 0 did per recipient before: the whole record.
void BM_FeedFormatResultRecord(benchmark::State& state) {
  ResultRecord r = sample_result();
  std::uint64_t seq = 1733300000000000;
  for (auto _ : state) benchmark::DoNotOptimize(format_result(r, ++seq));
}
BENCHMARK(BM_FeedFormatResultRecord);

// What it does now: the number, inserted into the text the delivering shard formatted (the copy
// of that text stands in for the one the shard moves across).
void BM_FeedNumberPreformattedRecord(benchmark::State& state) {
  UnnumberedRecord formatted = format_unnumbered_result(sample_result());
  std::uint64_t seq = 1733300000000000;
  for (auto _ : state) benchmark::DoNotOptimize(number_record(formatted, ++seq));
}
BENCHMARK(BM_FeedNumberPreformattedRecord);

}  // namespace feed_bench

namespace timer_bench {

using namespace ringrelay::engine;

// A connection re-arming its timer (each command and reply does) among 1,000 other armed timers
// of the shard: the real clock read, the map's erase and insert, the handler's move.
void BM_TimerRearm(benchmark::State& state) {
  Timers timers;
  std::vector<std::unique_ptr<Timer>> others;
  for (int i = 0; i < 1000; ++i) {
    others.push_back(std::make_unique<Timer>());
    others.back()->arm(timers, std::chrono::seconds(1 + i % 300), [] {});
  }
  Timer connection;
  void* owner = &connection;
  for (auto _ : state) {
    connection.arm(timers, std::chrono::seconds(300), [owner] { benchmark::DoNotOptimize(owner); });
  }
}
BENCHMARK(BM_TimerRearm);

}  // namespace timer_bench
