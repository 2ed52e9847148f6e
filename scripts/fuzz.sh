#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer harness of tests/fuzz/ for longer than CI does.
#
#   scripts/fuzz.sh NAME SECONDS [JOBS]
#
# NAME is bank, siteconf, proto, registry or sysadm.  Builds build-fuzz/ (clang,
# -DHR_FUZZ=ON), then fuzzes from the seed corpus tests/fuzz/seeds/NAME and
# the inputs kept by earlier runs (build-fuzz/tests/fuzz/corpus/NAME), with
# JOBS processes (default 1).  A crash is written as
# build-fuzz/tests/fuzz/crash-*: copy it into tests/fuzz/seeds/NAME/ once
# mended, where it stays as a regression input.  Prints libFuzzer's totals.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/fuzz.sh NAME SECONDS [JOBS]}
secs=${2:?usage: scripts/fuzz.sh NAME SECONDS [JOBS]}
jobs=${3:-1}
case "$name" in
  bank|siteconf|proto|registry|sysadm) ;;
  *) echo "scripts/fuzz.sh: no harness '$name' (bank, siteconf, proto, registry, sysadm)" >&2
     exit 2 ;;
esac
scripts/deps.sh build-essential cmake clang libclang-rt-14-dev libcriterion-dev
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DHR_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$name" >/dev/null
dir=build-fuzz/tests/fuzz
mkdir -p "$dir/corpus/$name"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
extra=()
[ "$jobs" -gt 1 ] && extra=(-jobs="$jobs" -workers="$jobs")
exec "$dir/fuzz_$name" -max_total_time="$secs" -print_final_stats=1 \
  -artifact_prefix="$dir/" "${extra[@]}" "$dir/corpus/$name" "tests/fuzz/seeds/$name"
