#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hrcached beside Debian's memcached and redis-server, in one run:
#  - throughput of get/set mixes (90/10 and 50/50, 100 B and 4 KiB values,
#    16 connections), both servers on one thread, one load generator
#    (libmemcached's memaslap, 2 threads);
#  - SIGKILL to the first correct reply with 0.1 and 1 GiB (4 GiB too
#    without --quick, on a machine with 16 GiB or more) of 4 KiB items:
#    hrcached (its heap survives) vs memcached (back empty) vs redis-server
#    (reloads its RDB file);
#  - connections refused during 100 SIGKILLs and restarts (10 with --quick)
#    under connection attempts every 0.5 ms: hrcached under the controller
#    (it holds the socket) vs memcached under runit's runsv (none held);
#  - 1,000 SIGKILLs (100 with --quick) of hrcached with a standby instance
#    under the same stream: promotions, refusals, crash-to-ready p99;
#  - the hit ratio of a Zipf stream over more data than -m, hrcached vs
#    memcached (bench/hrcached_zipf.py, a JSON row hrcached_zipf_hit_ratio);
#  - request latency on 4 persistent connections, steady and during 100
#    upgrades (10 with --quick) of hrcached (hr upgrade, its connections
#    handed over) vs as many graceful restarts of memcached -e
#    (bench/hrcached_upgrade.py, JSON rows hrcached_upgrade);
#  - the longest set while another client asks stats in a loop, with
#    1 GiB of 4 KiB items (256 MiB with --quick), hrcached vs memcached
#    (bench/hrcached_stats.py, JSON rows hrcached_set_max_under_stats).
#
#   bench/hrcached.sh [--quick] [BUILD_DIR]     (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = --quick ] && { quick=1; shift; }
build=${1:-build-bench}
scripts/deps.sh memcached libmemcached-tools redis-server python3 runit
[ -x "$build/hrcached" ] || { cmake -S . -B "$build" -DHR_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Release >/dev/null; cmake --build "$build" -j"$(nproc)" \
  >/dev/null; }
work=$(mktemp -d /dev/shm/hrcached-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
            rm -rf "$work"; }
trap cleanup EXIT
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r)"
secs=5; [ $quick = 1 ] && secs=2
export HR_SITE=$work/site
"$build/hr" site create --rambank-size 3G >/dev/null
"$build/hrcached" -p 22301 -m 1024 & pids+=($!)
memcached -U 0 -u root -p 22302 -m 1024 -t 1 & pids+=($!)
sleep 0.5
tps() { # port, config file
  memcaslap -s "127.0.0.1:$1" -T 2 -c 16 -t "${secs}s" -F "$2" 2>/dev/null |
    awk '/^Run time/ {for (i = 1; i < NF; i++) if ($i == "TPS:") t = $(i + 1)}
         END {print t + 0}'
}
echo
echo "throughput (memaslap, ops/s, ${secs} s each)"
printf '%-22s %12s %12s %8s\n' mix hrcached memcached ratio
for size in 100 4096; do
  for get in 0.9 0.5; do
    cfg=$work/cfg.$size.$get
    printf 'key\n64 64 1\nvalue\n%d %d 1\ncmd\n0 %s\n1 %s\n' "$size" "$size" \
      "$(awk "BEGIN{print 1 - $get}")" "$get" > "$cfg"
    h=$(tps 22301 "$cfg"); m=$(tps 22302 "$cfg")
    printf '%-22s %12d %12d %7.2fx\n' \
      "get $(awk "BEGIN{print $get * 100}")% ${size} B" "$h" "$m" \
      "$(awk "BEGIN{print $m ? $h / $m : 0}")"
  done
done
cleanup; pids=(); work=$(mktemp -d /dev/shm/hrcached-bench.XXXXXX)
sizes="100 1024"
if [ $quick = 0 ] && [ "$(awk '/MemTotal/{print int($2/1048576)}' /proc/meminfo)" -ge 16 ]; then
  sizes="$sizes 4096"
fi
for mib in $sizes; do
  echo
  /usr/bin/python3 bench/hrcached_restart.py "$mib" "$build/hrcached" \
    "$build/hr" "$work/$mib"
done
echo
restarts=100; [ $quick = 1 ] && restarts=10
/usr/bin/python3 bench/hrcached_refused.py $restarts "$build/hrcached" \
  "$build/hr" "$work/refused"
echo
# the same with a standby instance: every restart a promotion (issue 15)
kills=1000; [ $quick = 1 ] && kills=100
/usr/bin/python3 bench/hrcached_standby.py $kills "$build/hrcached" \
  "$build/hr" "$work/standby"
echo
# eviction that keeps the working set (issue 25 item 4): hit ratios under
# a Zipf stream larger than -m, hrcached vs memcached, as JSON rows too
/usr/bin/python3 bench/hrcached_zipf.py "$build/hrcached"
echo
# warm upgrades under persistent connections (issue 26 must-show 1)
upgrades=100; [ $quick = 1 ] && upgrades=10
/usr/bin/python3 bench/hrcached_upgrade.py $upgrades "$build/hrcached" \
  "$build/hr" "$work/upgrade"
echo
# what a stats scrape costs the sets: the longest set while stats (and
# hrcached's stats heap, the walk) are asked in a loop
mib=1024; [ $quick = 1 ] && mib=256
/usr/bin/python3 bench/hrcached_stats.py "$build/hrcached" --mib $mib
