// The Prometheus text exposition (format 0.0.4) of ringrelay's metrics: every shard's counters
// summed, the feed's counters and gauges, the busiest sites' gauges (at most site_limit, the rest
// summed as site="other"), and the process's memory and CPU. A pure function of what it is given,
// so that a test can check it with promtool.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/delivery/scheduler.hh"
#include "engine/metrics/shard_metrics.hh"

namespace ringrelay::engine {

// The process as /proc/self shows it at the scrape (only /proc/self: the unit's ProcSubset=pid).
struct ProcessFigures {
  double cpu_seconds = 0;
  double start_time_seconds = 0;  // since the epoch; set by serve, not read here
  std::uint64_t resident_bytes = 0, virtual_bytes = 0, open_fds = 0, max_fds = 0;
};
ProcessFigures read_process_figures();

struct MetricsView {
  std::vector<const ShardMetrics*> shards;  // index = shard number
  std::vector<double> shard_cpu_seconds;    // each shard thread's CPU time (shard_cpu_seconds)
  std::vector<const FeedMetrics*> feeds;    // every shard's feed server (summed)
  std::size_t requests_in_flight = 0;
  std::vector<SiteState> sites;  // every shard's, in any order
  bool sites_partial = false;    // a shard did not answer in time
  std::size_t site_limit = 50;
  std::string version;
  ProcessFigures process;
};

std::string render_metrics(const MetricsView& view);

// Label values escaped as the format requires (backslash, double quote, newline).
std::string escape_label(const std::string& value);

}  // namespace ringrelay::engine
