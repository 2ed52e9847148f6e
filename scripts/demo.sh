#!/usr/bin/env bash
# The main job: in a throwaway site, a process keeps state in persistent
# memory, is killed with SIGKILL, and a new process finds the state intact.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build-essential cmake
cmake -S . -B build-demo -DHR_TESTS=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" >/dev/null
site=$(mktemp -d /dev/shm/hrdemo.XXXXXX)
trap 'rm -rf "$site"' EXIT
export HR_SITE=$site
build-demo/hr site create --rambank-size 16M --max-blocks 1024
build-demo/pmm_demo
build-demo/hr site info
build-demo/hr pmm check
