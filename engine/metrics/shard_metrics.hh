// What one shard counts for the Prometheus scrape (metrics_listen): recipients by status and
// category, connections, TLS handshakes, latencies, its thread's CPU clock. Only the shard's own
// thread writes its counters (a relaxed load and store: no lock, no read-modify-write); the scraper
// on shard 0 reads every shard's and sums them (metrics_exposition.hh).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "engine/delivery/result_category.hh"

namespace ringrelay::engine {

struct ResultRecord;
class Connection;

class Counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value the owning shard sets (how many of something it has now).
class Gauge {
 public:
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Durations in seconds, in fixed buckets (upper bounds kBounds, then +Inf); the sum is kept in
// microseconds so that it is a plain counter too.
class Histogram {
 public:
  static constexpr std::array<double, 15> kBounds{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120};
  void observe(double seconds);
  // Observations in bucket `i` alone (not cumulative); i == kBounds.size() is above the last.
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].value(); }
  std::uint64_t count() const { return count_.value(); }
  std::uint64_t sum_microseconds() const { return sum_us_.value(); }

 private:
  std::array<Counter, kBounds.size() + 1> buckets_;
  Counter count_, sum_us_;
};

enum class ResultStatus { sent, deferred, bounced };
inline constexpr std::size_t kResultStatuses = 3;
inline constexpr std::size_t kResultCategories =
    static_cast<std::size_t>(ResultCategory::other) + 1;

// Why a connection ended before it could carry mail.
enum class ConnectionFailure { connect, session_setup };
inline constexpr std::size_t kConnectionFailures = 2;

// How the server was authenticated (TlsOutcome::trust), for handshakes by verification.
enum class TlsTrust { verified, trusted, untrusted, anonymous };
inline constexpr std::size_t kTlsTrusts = 4;

struct ShardMetrics {
  // Final results, as the feed client receives them.
  std::array<std::array<Counter, kResultCategories>, kResultStatuses> recipients;
  Counter connections_opened, connections_reused;
  std::array<Counter, kConnectionFailures> connection_failures;
  std::array<Counter, kTlsTrusts> tls_full, tls_resumed;
  Counter tls_failed;  // a handshake that failed (the delivery went on in plaintext or did not)
  Histogram connect_seconds;        // connect() to the TCP connection
  Histogram session_setup_seconds;  // greeting, EHLO, STARTTLS and its EHLO, AUTH
  Histogram greeting_seconds;       // the TCP connection to the server's greeting
  Histogram tls_handshake_seconds;  // STARTTLS accepted to the TLS handshake done
  Histogram ehlo_seconds;           // the rest of the set-up: EHLO (twice with TLS), AUTH
  Histogram transmission_seconds;   // MAIL FROM to the end-of-data reply (Postfix's delays=d)
  Histogram delivery_seconds;       // from the feed to the result (delays=b+c+d)
  // The shard thread's CPU clock (pthread_getcpuclockid), read by the scraper: what the thread
  // used, at no cost on the loop. Not set: -1.
  std::atomic<int> cpu_clock{-1};
};

// Counted by the feed on shard 0.
struct FeedMetrics {
  Counter requests_accepted, requests_refused;  // refused: malformed or refused lines too
  Counter recipients_received;
  Counter pushback;  // a client's reading stopped: engine full, journal behind, too many in flight
  Gauge clients;     // feed connections open on the shard
};

// The counting, done by the shard that decided: one final result of a recipient; a connection
// that is ready to carry mail or that ended before it was (each connection is counted once).
void count_result(ShardMetrics& metrics, const ResultRecord& record);
void count_connection_setup(ShardMetrics& metrics, const Connection& connection);
// Called on the shard's own thread when it starts.
void mark_shard_thread(ShardMetrics& metrics);
// CPU seconds the shard's thread has used so far (0 when it is not known).
double shard_cpu_seconds(const ShardMetrics& metrics);

}  // namespace ringrelay::engine
