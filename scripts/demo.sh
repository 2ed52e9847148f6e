#!/usr/bin/env bash
# The main job: in a throwaway site, the ChorusOS "hello world" actor prints,
# crashes on purpose, is restarted by the controller with its persistent
# block intact, and ends cleanly; then a process holding state is SIGKILLed
# and a new one finds the state where it was.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build-essential cmake
cmake -S . -B build-demo -DHR_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null
site=$(mktemp -d /dev/shm/hrdemo.XXXXXX)
export HR_SITE=$site
hr=build-demo/hr
cleanup() { "$hr" site stop >/dev/null 2>&1 || true; rm -rf "$site"; }
trap cleanup EXIT
"$hr" site create --rambank-size 16M --max-blocks 1024
"$hr" site start
echo "\$ hr arun -g 0 helloRestart"
"$hr" arun -g 0 build-demo/helloRestart
for _ in $(seq 200); do
  "$hr" ps --json | grep -q '"groups": \[\]' && break
  sleep 0.05
done
echo "\$ hr log"
"$hr" log
echo
echo "\$ pmm_demo"
build-demo/pmm_demo
"$hr" pmm check
