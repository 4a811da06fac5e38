#!/bin/sh
# Runs one libFuzzer target for a few seconds from its seed corpus. New inputs go to a scratch
# directory in the build tree, never into the source tree. Exit 77 (CTest "skipped") when the
# fuzz build is absent, e.g. on a machine without clang.
set -eu
binary=$1 seeds=$2 scratch=$3 seconds=$4
if [ ! -x "$binary" ]; then
  echo "no fuzz build at $binary (configure and build the 'fuzz' preset first)"
  exit 77
fi
mkdir -p "$scratch"
exec "$binary" -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
  "$scratch" "$seeds"
