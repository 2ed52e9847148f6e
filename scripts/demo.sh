#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: in a throwaway site, the ChorusOS "hello world" actor prints,
# crashes on purpose, is restarted by the controller with its persistent
# block intact, and ends cleanly; then a process holding state is SIGKILLed
# and a new one finds the state where it was.  Leaves the programs in
# build-demo/, and libmemcached-tools installed, for the README's quick start.
set -euo pipefail
cd "$(dirname "$0")/.."
# HR_DEMO_EXAMPLES=DIR: run the installed hr (from PATH) and the examples
# in DIR instead of building (scripts/package_check.sh does, after
# installing the packages and building the examples against them).
if [ -n "${HR_DEMO_EXAMPLES:-}" ]; then
  hr=hr ex=$HR_DEMO_EXAMPLES
else
  scripts/deps.sh build-essential cmake libmemcached-tools
  cmake -S . -B build-demo -DHR_TESTS=OFF >/dev/null
  cmake --build build-demo -j"$(nproc)" >/dev/null
  hr=build-demo/hr ex=build-demo
fi
site=$(mktemp -d /dev/shm/hrdemo.XXXXXX)
export HR_SITE=$site
cleanup() { "$hr" site stop >/dev/null 2>&1 || true; rm -rf "$site"; }
trap cleanup EXIT
"$hr" site create --rambank-size 16M --max-blocks 1024
"$hr" site start
echo "\$ hr arun -g 0 helloRestart"
"$hr" arun -g 0 "$ex/helloRestart"
for _ in $(seq 200); do
  "$hr" ps --json | grep -q '"groups": \[\]' && break
  sleep 0.05
done
echo "\$ hr log"
"$hr" log
echo
echo "\$ pmm_demo"
"$ex/pmm_demo"
"$hr" pmm check
