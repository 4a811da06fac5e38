#!/usr/bin/env bash
# Reproduces every table of bench/README.md in one command, after `bash deploy/setup-debian.sh`
# and the release build: the micro-benchmarks, then each load scenario (plaintext against
# smtp-source and Postfix in two set-ups, TLS against plaintext, 10,000 sessions against a slow sink, 20% of the
# destinations failing). JSON results go to the folder given (default bench-results/).
#   bash bench/run-all.sh [OUT] [MESSAGES]   (default 10,000; the plaintext tables 40,000 and 20,000)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bench-results}"
messages="${2:-10000}"
mkdir -p "$out"
b=build/release/bench
f=(--benchmark_min_time=0.5 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)

for micro in ringrelay_micro_bench ringrelay_engine_bench ringrelay_tls_bench \
             ringrelay_aes_gcm_bench ringrelay_aes_gcm_bench_debian; do
  [ -x "$b/$micro" ] || continue
  echo "== $micro"
  "$b/$micro" "${f[@]}" --benchmark_out="$out/$micro.json" --benchmark_out_format=json
done
echo "== plaintext load: ringrelay vs smtp-source vs Postfix"
python3 bench/load/run.py --messages "${2:-40000}" --sizes 1k,10k,100k --json "$out/load.json"
echo "== plaintext load, operator-shaped: one destination, spool on disk, four feeders"
python3 bench/load/run.py --operator --messages "${2:-20000}" --sizes 1k,10k,100k --json "$out/load-operator.json"
echo "== TLS load: reused TLS connections vs plaintext"
python3 bench/load/tls_run.py --messages "$messages" --size 10k --json "$out/tls.json"
echo "== 10,000 sessions against a slow sink"
python3 bench/load/idle_sessions.py --sessions 10000 --json "$out/sessions.json"
echo "== 20% of the destinations failing"
python3 bench/load/failing_run.py --messages "$messages" --json "$out/failing.json"
