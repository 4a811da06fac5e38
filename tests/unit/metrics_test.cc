// The Prometheus exposition: counters of several shards summed, histograms cumulative with a
// +Inf bucket equal to the count, results counted by status and category, the site cap with its
// "other" sum, label escaping, and the whole scrape accepted by promtool when it is installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/delivery/delivery_results.hh"
#include "engine/metrics/metrics_exposition.hh"

namespace ringrelay::engine {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

ResultRecord result(proto::DeliveryStatus status, int code, std::string dsn, std::string text) {
  ResultRecord r;
  r.result.status = status;
  r.result.reply_code = code;
  r.result.dsn = std::move(dsn);
  r.result.reply = std::to_string(code) + " " + r.result.dsn + " " + text;
  r.result.text = std::move(text);
  r.result.stage = proto::Stage::rcpt;
  r.relay = "mx.example[192.0.2.1]:25";
  r.delays[1] = 0.002;
  r.delays[2] = 0.01;
  r.delays[3] = 0.3;
  return r;
}

SiteState site(std::string name, std::size_t queued, std::size_t active, bool dead = false) {
  SiteState s;
  s.name = std::move(name);
  s.queued = queued;
  s.active = active;
  s.connections = active;
  s.window = 10;
  s.dead = dead;
  return s;
}

TEST(Metrics, HistogramBucketsAreCumulativeAndEndWithTheCount) {
  ShardMetrics a, b;
  a.delivery_seconds.observe(0.0005);  // first bucket (le 0.001)
  a.delivery_seconds.observe(0.3);     // le 0.5
  b.delivery_seconds.observe(1000);    // above the last bound: +Inf only
  b.delivery_seconds.observe(-1);      // a clock step counts as 0
  MetricsView view;
  view.shards = {&a, &b};
  std::string text = render_metrics(view);
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_bucket{le=\"0.001\"} 2")) << text;
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_bucket{le=\"0.25\"} 2"));
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_bucket{le=\"0.5\"} 3"));
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_bucket{le=\"120\"} 3"));
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_bucket{le=\"+Inf\"} 4"));
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_count 4"));
  EXPECT_TRUE(has_line(text, "ringrelay_delivery_seconds_sum 1000.3005"));
}

TEST(Metrics, ResultsAreCountedOnceByStatusAndCategoryAndSummedOverShards) {
  ShardMetrics a, b;
  count_result(a, result(proto::DeliveryStatus::sent, 250, "2.0.0", "ok"));
  count_result(b, result(proto::DeliveryStatus::sent, 250, "2.0.0", "ok"));
  count_result(b, result(proto::DeliveryStatus::bounced, 550, "5.1.1", "user unknown"));
  count_result(a, result(proto::DeliveryStatus::deferred, 452, "4.2.2", "mailbox full"));
  count_result(a, result(proto::DeliveryStatus::try_next_server, 421, "4.7.0", "try later"));
  MetricsView view;
  view.shards = {&a, &b};
  std::string text = render_metrics(view);
  EXPECT_TRUE(
      has_line(text, "ringrelay_recipients_total{status=\"sent\",category=\"delivered\"} 2"))
      << text;
  EXPECT_TRUE(has_line(
      text, "ringrelay_recipients_total{status=\"bounced\",category=\"invalid_recipient\"} 1"));
  EXPECT_TRUE(has_line(
      text, "ringrelay_recipients_total{status=\"deferred\",category=\"mailbox_full\"} 1"));
  // Every status the feed client sees as deferred is counted as deferred.
  std::uint64_t deferred = 0;
  for (const auto& c : a.recipients[static_cast<std::size_t>(ResultStatus::deferred)]) {
    deferred += c.value();
  }
  EXPECT_EQ(deferred, 2u);
  EXPECT_TRUE(has_line(text, "ringrelay_transmission_seconds_count 5"));
}

TEST(Metrics, BusiestSitesGetGaugesAndTheRestAreSummedAsOther) {
  MetricsView view;
  view.site_limit = 2;
  view.sites = {site("quiet.example", 1, 0, true), site("busy.example", 50, 10),
                site("a\"b\\c\nd", 20, 5), site("idle.example", 0, 0, true)};
  std::string text = render_metrics(view);
  EXPECT_TRUE(has_line(text, "ringrelay_sites 4")) << text;
  EXPECT_TRUE(has_line(text, "ringrelay_site_queued{site=\"busy.example\",source=\"\"} 50"));
  EXPECT_TRUE(has_line(text, "ringrelay_site_queued{site=\"a\\\"b\\\\c\\nd\",source=\"\"} 20"));
  EXPECT_TRUE(has_line(text, "ringrelay_site_queued{site=\"other\",source=\"\"} 1"));
  EXPECT_TRUE(has_line(text, "ringrelay_site_dead{site=\"other\",source=\"\"} 2"));
  EXPECT_TRUE(has_line(text, "ringrelay_site_window{site=\"other\",source=\"\"} 20"));
  EXPECT_EQ(text.find("quiet.example"), std::string::npos);
}

TEST(Metrics, FeedCountersAndGaugesAreSummedOverShards) {
  FeedMetrics feed, other_shard;
  feed.requests_accepted.add(3);
  feed.requests_refused.add();
  feed.recipients_received.add(7);
  feed.clients.set(1);
  other_shard.requests_accepted.add(2);
  other_shard.recipients_received.add(2);
  other_shard.clients.set(3);
  MetricsView view;
  view.feeds = {&feed, &other_shard};
  view.requests_in_flight = 2;
  std::string text = render_metrics(view);
  EXPECT_TRUE(has_line(text, "ringrelay_feed_requests_total{result=\"accepted\"} 5"));
  EXPECT_TRUE(has_line(text, "ringrelay_feed_requests_total{result=\"refused\"} 1"));
  EXPECT_TRUE(has_line(text, "ringrelay_feed_recipients_total 9"));
  EXPECT_TRUE(has_line(text, "ringrelay_feed_requests_in_flight 2"));
  EXPECT_TRUE(has_line(text, "ringrelay_feed_clients 4"));
}

TEST(Metrics, ProcessFiguresAreRead) {
  ProcessFigures p = read_process_figures();
  EXPECT_GT(p.resident_bytes, 0u);
  EXPECT_GE(p.virtual_bytes, p.resident_bytes);
  EXPECT_GT(p.open_fds, 2u);
  EXPECT_GT(p.max_fds, 0u);
}

TEST(Metrics, TheWholeScrapePassesPromtool) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus)";
  }
  ShardMetrics a, b;
  FeedMetrics feed;
  count_result(a, result(proto::DeliveryStatus::sent, 250, "2.0.0", "ok"));
  a.tls_full[static_cast<std::size_t>(TlsTrust::verified)].add();
  mark_shard_thread(a);
  MetricsView view;
  view.shards = {&a, &b};
  view.feeds = {&feed};
  view.version = "1.0 \"test\"";
  view.sites = {site("mx.example", 3, 1), site("other.example", 0, 0)};
  view.site_limit = 1;
  view.process = read_process_figures();
  view.shard_cpu_seconds = {shard_cpu_seconds(a), shard_cpu_seconds(b)};
  std::string path = ::testing::TempDir() + "metrics.prom";
  std::ofstream(path) << render_metrics(view);
  std::string command = "promtool check metrics < " + path + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  int status = ::pclose(pipe);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool's remarks (lint problems included)";
}

}  // namespace
}  // namespace ringrelay::engine
