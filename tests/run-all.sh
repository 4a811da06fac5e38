#!/usr/bin/env bash
# Runs every ringrelay test on this machine: installs what is missing (deploy/setup-debian.sh),
# builds the libFuzzer targets (clang), the release build (mimalloc) and the ASan+UBSan build, then
# runs CTest: unit tests, command-line checks, lint (module boundaries, formatting), brief fuzz runs.
# The ASan+UBSan run comes last, so its CTest summary is the final line.
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
cmake --build --preset release
ctest --preset release -R '^cli\.'

cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan
