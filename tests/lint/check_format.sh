#!/bin/sh
# Fails when any C++ source of the project differs from what .clang-format asks for.
set -eu
clang_format=$1 root=$2
cd "$root"
files=$(find proto tls dns cache engine bench tests -name '*.cc' -o -name '*.hh' | sort)
bad=""
for f in $files; do
  "$clang_format" --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
  echo "not formatted as .clang-format asks (run: clang-format -i FILE):$bad"
  exit 1
fi
echo "all $(echo "$files" | wc -l) files formatted"
