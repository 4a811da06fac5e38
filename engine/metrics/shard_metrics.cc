// Counting results and connections, and reading the thread CPU clock, for a shard's own metrics.
#include "engine/metrics/shard_metrics.hh"

#include <pthread.h>

#include <algorithm>
#include <ctime>

#include "engine/delivery/connection.hh"
#include "engine/delivery/delivery_results.hh"

namespace ringrelay::engine {
namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

TlsTrust trust_of(const std::string& trust) {
  if (trust == "Verified") return TlsTrust::verified;
  if (trust == "Trusted") return TlsTrust::trusted;
  if (trust == "Untrusted") return TlsTrust::untrusted;
  return TlsTrust::anonymous;
}

}  // namespace

void Histogram::observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // a clock step, or NaN
  auto at = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  buckets_[static_cast<std::size_t>(at - kBounds.begin())].add();
  count_.add();
  sum_us_.add(static_cast<std::uint64_t>(seconds * 1e6));
}

void count_result(ShardMetrics& metrics, const ResultRecord& record) {
  ResultStatus status = ResultStatus::deferred;
  if (record.result.status == proto::DeliveryStatus::sent) status = ResultStatus::sent;
  if (record.result.status == proto::DeliveryStatus::bounced) status = ResultStatus::bounced;
  auto category = static_cast<std::size_t>(categorize(record.result));
  metrics.recipients[static_cast<std::size_t>(status)][category].add();
  if (record.relay != "none") metrics.transmission_seconds.observe(record.delays[3]);
  metrics.delivery_seconds.observe(record.delays[1] + record.delays[2] + record.delays[3]);
}

void count_connection_setup(ShardMetrics& metrics, const Connection& connection) {
  Clock::time_point connected = connection.connected_at();
  if (connected == Clock::time_point{}) {
    metrics.connection_failures[static_cast<std::size_t>(ConnectionFailure::connect)].add();
    return;
  }
  metrics.connect_seconds.observe(seconds_between(connection.created(), connected));
  if (connection.tls_failed_opportunistically()) metrics.tls_failed.add();
  Clock::time_point ready = connection.handshake_done_at();
  if (ready == Clock::time_point{}) {
    metrics.connection_failures[static_cast<std::size_t>(ConnectionFailure::session_setup)].add();
    return;
  }
  metrics.session_setup_seconds.observe(seconds_between(connected, ready));
  Connection::SetupTimes steps = connection.setup_times();
  if (steps.greeting != Clock::time_point{}) {
    metrics.greeting_seconds.observe(seconds_between(connected, steps.greeting));
    double tls = 0;
    if (steps.tls_started != Clock::time_point{} && steps.tls_done != Clock::time_point{}) {
      tls = seconds_between(steps.tls_started, steps.tls_done);
      metrics.tls_handshake_seconds.observe(tls);
    }
    metrics.ehlo_seconds.observe(seconds_between(steps.greeting, ready) - tls);
  }
  const TlsOutcome& tls = connection.tls_outcome();
  if (!tls.protocol.empty()) {
    auto trust = static_cast<std::size_t>(trust_of(tls.trust));
    (tls.resumed ? metrics.tls_resumed : metrics.tls_full)[trust].add();
  }
}

void mark_shard_thread(ShardMetrics& metrics) {
  clockid_t clock{};
  if (pthread_getcpuclockid(pthread_self(), &clock) == 0) {
    metrics.cpu_clock.store(static_cast<int>(clock), std::memory_order_relaxed);
  }
}

double shard_cpu_seconds(const ShardMetrics& metrics) {
  int clock = metrics.cpu_clock.load(std::memory_order_relaxed);
  timespec used{};
  if (clock == -1 || clock_gettime(static_cast<clockid_t>(clock), &used) != 0) return 0;
  return static_cast<double>(used.tv_sec) + static_cast<double>(used.tv_nsec) / 1e9;
}

}  // namespace ringrelay::engine
