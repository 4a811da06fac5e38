#!/usr/bin/env bash
# Runs every ringrelay test on this machine: installs what is missing (deploy/setup-debian.sh),
# builds the libFuzzer targets (clang), the release build (mimalloc) and its Debian package (installed,
# used and purged: deploy/package-test.sh), a ThreadSanitizer build for what
# crosses threads, and the ASan+UBSan build, then runs CTest: unit tests, golden transcripts,
# integration scenarios against real peers, command-line checks, lint, brief fuzz runs.
# The ASan+UBSan run comes last, so its CTest summary is the final line. A test without its own
# TIMEOUT gets --timeout's: a hang fails that test instead of the whole CI run.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/setup-debian.sh

if command -v clang++ >/dev/null 2>&1; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz
else
  echo "run-all: no clang++; the fuzz.* tests will be skipped"
fi

cmake --preset release >/dev/null
cmake --build --preset release --target ringrelay
ctest --preset release --timeout 60 -R '^cli\.'
# The Debian package from this build, installed, used as a service would use it, and purged.
bash deploy/package-test.sh build/release

# ThreadSanitizer over what crosses threads: the shard mailboxes, deliveries spread over shards,
# c-ares channels on worker shards, the native (getaddrinfo) lookup thread, and TLS on a shard.
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target ringrelay ringrelay_unit_tests
ctest --preset tsan --timeout 300 -R 'SpscQueue|SyslogWriter|integration\.(many_destinations_across_shards|feeder_disconnects_without_reading|sigterm_with_work_in_flight|cache_reuse_by_endpoint|dns_ttl_expiry_and_cache|dns_next_mx_when_first_is_down|tls_cached_connection_reuse|spool_body_truncated_before_its_delivery|ctl_suspends_inspects_resumes_and_bounces|metrics_count_every_result|feed_clients_served_on_every_shard|journal_taken_over_when_the_shard_count_changes)|FeedRegistry'

cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan --timeout 300
