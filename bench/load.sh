#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hrcached under the C load generator bench/mcload, beside memcached and
# redis-server, in one run (rows for bench/run --json):
#  - client_get_4KiB: what mcload drives against memcached -t 4 next to
#    one Python thread (pymemcache get_many), keys/s;
#  - hrcached_throughput_<mix>_t<N> (90/10 and 50/50 get/set, 100 B and
#    4 KiB values): hrcached -t N and memcached -t N, N = 1, 2, 4, under
#    the same client in alternating 1 s runs (5, 3 with --quick; the one
#    that goes first alternates too), each row the median of its runs: on
#    a shared machine both see the same moments;
#  - hrcached_back_to_90pct_<size>: <size> of 4 KiB items (1 GiB, 256 MiB
#    with --quick, HR_LOAD_MIB=N to choose) under random multi-gets paced
#    at 3/4 of what that server answers flat out (measured just before);
#    the server is killed 3 s in, and the row is the time from the kill to
#    the first 100 ms window at 90 % of the throughput before it (for
#    hrcached the median of 3 kills, each a run of its own; flat out,
#    with 6 threads on 2 cores, the windows swing 25 % before any kill, and
#    the row timed the swings: 12 ms to 1.4 s at 256 MiB): hrcached on
#    a 4 KiB-page tmpfs and on a huge=always tmpfs (a private mount
#    namespace), both SIGKILLed under the controller, which holds the
#    socket and restarts hrcached; memcached -e restarted gracefully
#    (SIGUSR1, then started again on its memory file: after a SIGKILL it
#    comes back empty); redis-server SIGKILLed and restarted on its RDB.
#
#   bench/load.sh [--quick] [BUILD_DIR]     (default build-bench)
#   HR_LOAD_MIB=N: the recovery rows' size; HR_LOAD_KILLS=N: kills per
#   hrcached recovery row (3; the row is their median); HR_LOAD_ONLY=throughput or
#   recovery: only those rows; HR_LOAD_SERIES=1: the recovery runs print
#   their ops/s in each 100 ms window ("series MS OPS").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --huge-inner ]; then inner=1; shift; else inner=0; fi
quick=0
[ "${1:-}" = --quick ] && { quick=1; shift; }
build=${1:-build-bench}
load=$build/bench/mcload
mib=${HR_LOAD_MIB:-$([ $quick = 1 ] && echo 256 || echo 1024)}
label=$([ "$mib" = 1024 ] && echo 1GiB || echo "${mib}MiB")
n=$((mib * 256))                  # 4 KiB items
mem=$((mib * 3 / 2 + 64))         # -m for every server: the items fit
tail=$([ $quick = 1 ] && echo 12 || echo 30)   # seconds after the kill
row=hrcached_back_to_90pct_$label
kills=${HR_LOAD_KILLS:-3}           # kills per hrcached row (median)
case $kills in ''|*[!0-9]*|0) echo "load.sh: HR_LOAD_KILLS must be a number >= 1, not '$kills'" >&2
  exit 2 ;; esac
reads=(-V 4096 -n "$n" -r 0 -k 10 -d 4 -c 8 -T 2)
reader=("${reads[@]}" -t $((3 + tail)) --kill-at 3)
[ -n "${HR_LOAD_SERIES:-}" ] && reader+=(--series)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
            [ -n "${site:-}" ] && HR_SITE=$site "$build/hr" site stop \
              >/dev/null 2>&1 || true
            [ -n "${mnt:-}" ] && umount "$mnt" 2>/dev/null
            rm -rf "${work:?}"; }

figure() { awk '/^figure / {print $2}' <<<"$1"; }
# The rate a recovery run is paced at: 3/4 of what the server answers
# flat out under the same reads for 2 s (mcload ARGS... -s HOST:PORT [--redis]).
# Flat out, 6 threads on 2 cores: 100 ms windows swing between two levels
# 25 % apart before any kill, so "back to 90 %" would time the swings.
pace() { local f; f=$(figure "$("$load" "$@" "${reads[@]}" -t 2)")
         awk -v f="$f" 'BEGIN {printf "%d", f * 0.75}'; }
show() { grep -v '^figure' <<<"$1"; }
# --ours for the peers of the recovery rows: the 4 KiB-page row's figure
vs=(); [ -n "${HR_LOAD_OURS:-}" ] && vs=(--ours "$HR_LOAD_OURS")

# Transparent huge pages in resident memory: ShmemPmdMapped and Rss.
thp() { awk '/^Rss:/ {r = $2} /^(Shmem|File)PmdMapped:/ {h += $2}
             END {printf "%d of %d MiB resident on 2 MiB pages", h / 1024,
                  r / 1024}' "/proc/$1/smaps_rollup"; }

# hrcached under the controller on SITE_DIR, SIGKILLed under the reader,
# $kills times (each kill a run of its own on the same heap, the next once
# the new hrcached serves): the row is their median, the highest beside
# it (a kill never back to 90 % counts as the longest).  One kill's figure
# swung 3-203 ms here on huge pages, too much for one sample to stand for
# the row.
recover_hrcached() { # system site_dir port --huge|--no-huge
  site=$2/site
  export HR_SITE=$site
  "$build/hr" site create --rambank-size $((mem * 2 + 256))M "$4" >/dev/null
  "$build/hr" site start >/dev/null
  "$build/hr" arun -g 1 --listen "tcp:127.0.0.1:$3" "$build/hrcached" \
    -m "$mem" >/dev/null
  "$load" -s "127.0.0.1:$3" --fill -V 4096 -n "$n" >/dev/null
  local pid; pid=$("$load" -s "127.0.0.1:$3" --stat pid)
  local pages; pages=$(thp "$pid")
  echo "$1: before the kill, $pages"
  local rate; rate=$(pace -s "127.0.0.1:$3")
  local figs="" firsts="" k out="" f first
  for ((k = 1; k <= kills; k++)); do
    out=$("$load" -s "127.0.0.1:$3" "${reader[@]}" --rate "$rate" \
      --kill-pid "$pid") || true
    echo "$1, kill $k of $kills: $(grep '^back to' <<<"$out" || echo "no figure")"
    [ -z "${HR_LOAD_SERIES:-}" ] || grep '^series' <<<"$out" || true
    f=$(figure "$out"); figs="$figs ${f:--1}"
    first=$(sed -n 's/.*first reply after \([0-9-]*\) ms.*/\1/p' <<<"$out")
    firsts="$firsts ${first:-none}"
    if ! pid=$("$load" -s "127.0.0.1:$3" --stat pid); then
      echo "$1: no hrcached serving after kill $k: no more kills"; break
    fi
    echo "$1: the new hrcached served $("$load" -s "127.0.0.1:$3" --stat \
start_to_serve_us) us after its start"
  done
  local how; how=$(sed -n 's/^mcload: .* \([0-9]* threads\), \([0-9]*\) conns, depth \([0-9]*\), \([0-9]*\) keys.*/mcload \2 conns x \3 deep, \1, \4 keys\/get/p' <<<"$out")
  out=$("$load" --row "$row" --system "$1" --ms --figures "$figs" "${vs[@]}" \
    --note "${how:+$how; }paced at $rate ops/s; load $(cut -d' ' -f1 \
/proc/loadavg); figures${figs}; first replies${firsts} ms after each \
kill; SIGKILL, restarted by hrd on its held socket; before the kill $pages")
  show "$out"
  rec=$(figure "$out")
  "$build/hr" site stop >/dev/null; site=""; unset HR_SITE
}

if [ $inner = 1 ]; then # in a private mount namespace (unshare -m)
  work=$(mktemp -d /tmp/hrload-huge.XXXXXX)
  trap cleanup EXIT
  system="hrcached, huge pages"
  why=""
  shm=/sys/kernel/mm/transparent_hugepage/shmem_enabled
  if [ ! -e $shm ] || grep -q '\[deny\]' $shm; then
    why="the kernel has no shmem huge pages ($shm: $(cat $shm 2>/dev/null))"
  elif ! mount --make-rprivate / || ! mkdir "$work/mnt" || ! mount -t tmpfs \
      -o "huge=always,size=$((mem * 2 + 512))M,mode=0700" hrload "$work/mnt"
  then
    why="cannot mount a tmpfs with huge=always here"
  fi
  if [ -n "$why" ]; then
    "$load" --row "$row" --system "$system" --not-run "$why"
    exit 0
  fi
  mnt=$work/mnt
  recover_hrcached "$system" "$mnt" 23421 --huge
  exit 0
fi

scripts/deps.sh memcached redis-server python3 python3-pymemcache
[ -x "$load" ] && [ -x "$build/hrcached" ] || {
  cmake -S . -B "$build" -DHR_BENCH=ON -DHR_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target mcload hr hrd hrcached \
    >/dev/null; }
work=$(mktemp -d /dev/shm/hrload.XXXXXX)
trap cleanup EXIT
mcver=$(memcached -V | awk '{print $2}')
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# memcached on -p PORT ..., back once it serves (mcload --stat waits up to
# 10 s: a fill sent at once could find the port not yet listening)
mc() { memcached -U 0 -u root -l 127.0.0.1 "$@" >/dev/null 2>&1 & pids+=($!)
       "$load" -s "127.0.0.1:$2" --stat pid >/dev/null; }

only=${HR_LOAD_ONLY:-all}
if [ "$only" != recovery ]; then
# The client against one Python thread, both on memcached -t 4.
mc -p 23401 -m 1024 -t 4
"$load" -s 127.0.0.1:23401 --fill -V 4096 -n 20000 >/dev/null
out=$("$load" -s 127.0.0.1:23401 -V 4096 -n 20000 -r 0 -k 10 -t 3 \
  --row client_get_4KiB --system "mcload (C), 2 threads, 16 conns")
show "$out"
/usr/bin/python3 bench/load_pyclient.py 23401 20000 3 "$(figure "$out")"

# Throughput: hrcached -t N and memcached -t N in alternating runs (one
# heap, kept from one N to the next).
rounds=$([ $quick = 1 ] && echo 3 || echo 5)
HR_SITE=$work/tp "$build/hr" site create --rambank-size 3G >/dev/null
for t in 1 2 4; do
  HR_SITE=$work/tp "$build/hrcached" -p 23402 -m 1024 -t $t >/dev/null 2>&1 &
  hpid=$!; pids+=($hpid)
  mc -p 23403 -m 1024 -t $t
  mpid=${pids[-1]}
  "$load" -s 127.0.0.1:23402 --stat pid >/dev/null  # both serve
  for size in 100 4096; do
    for port in 23402 23403; do
      "$load" -s 127.0.0.1:$port --fill -V $size -n 100000 >/dev/null
    done
    for get in 90 50; do
      name=hrcached_throughput_${get}get_$([ $size = 100 ] && echo 100B ||
        echo 4KiB)_t$t
      args=(-V $size -n 100000 -r "0.$((100 - get))" -t 1)
      ours=""; theirs=""
      for ((i = 0; i < rounds; i++)); do
        for port in $([ $((i % 2)) = 0 ] && echo 23402 23403 || echo 23403 23402); do
          f=$(figure "$("$load" -s 127.0.0.1:$port "${args[@]}")")
          [ $port = 23402 ] && ours="$ours $f" || theirs="$theirs $f"
        done
      done
      how="mcload 16 conns x 8 deep, 2 threads, 1 keys/get, 1 s runs"
      out=$("$load" --row "$name" --system hrcached --figures "$ours" \
        --note "$how; hrcached -t $t; load $(cut -d' ' -f1 /proc/loadavg)")
      show "$out"
      show "$("$load" --row "$name" --system "memcached $mcver" \
        --figures "$theirs" --ours "$(figure "$out")" --note "$how; \
memcached -t $t; ratio: memcached/hrcached ops/s")"
    done
  done
  kill "$mpid" "$hpid"; wait "$mpid" "$hpid" 2>/dev/null || true
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()
fi
[ "$only" = throughput ] && exit 0

# Back to 90 % after a kill.
echo "back to 90 %: $label of 4 KiB items ($n), killed 3 s into the reads"
recover_hrcached "hrcached, 4 KiB pages" "$work" 23411 --no-huge
awk "BEGIN {exit !($rec > 0)}" && { vs=(--ours "$rec"); export HR_LOAD_OURS=$rec; }
unshare -m "$0" --huge-inner $([ $quick = 1 ] && echo --quick) "$build" ||
  echo "$row, hrcached, huge pages: failed (status $?)"

# Shell words that wait until process $1 is gone, or a zombie with no
# thread left (a leader turns zombie while its threads still hold its
# sockets).
gone() { echo "while [ -d /proc/$1 ] && { [ \$(ls /proc/$1/task 2>/dev/null | wc -l) -gt 1 ] ||
          [ \"\$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)\" != Z ]; }; do
      sleep 0.001; done"; }
mem_file=$work/memcached.mem
mcargs=(-U 0 -u root -l 127.0.0.1 -p 23412 -m "$mem" -t 1 -e "$mem_file")
memcached "${mcargs[@]}" >/dev/null 2>&1 & mpid=$!; disown; pids+=("$mpid")
"$load" -s 127.0.0.1:23412 --fill -V 4096 -n "$n" >/dev/null
"$load" -s 127.0.0.1:23412 "${reader[@]}" --row "$row" \
  --rate "$(pace -s 127.0.0.1:23412)" \
  --system "memcached -e (graceful restart)" "${vs[@]}" \
  --note "SIGUSR1, then memcached -e started again in the next second \
(1.6.18 refuses its metadata within the second it stopped); -t 1" \
  --kill-cmd "kill -USR1 $mpid; $(gone "$mpid")
    st=\$(sed -n 's/^Kstop_time //p' $mem_file.meta)
    while [ \$(date +%s) -le \"\$st\" ]; do sleep 0.001; done
    setsid memcached ${mcargs[*]} >/dev/null 2>&1 &" | grep -v '^figure'
mpid=$("$load" -s 127.0.0.1:23412 --stat pid); pids+=("$mpid")
echo "memcached after its restart: $("$load" -s 127.0.0.1:23412 \
  --stat curr_items) items"

rdir=$work/redis
mkdir -p "$rdir"
rargs=(--port 23413 --bind 127.0.0.1 --dir "$rdir" --save "''" --appendonly no)
redis-server "${rargs[@]//\'\'/}" >/dev/null 2>&1 & rpid=$!; disown; pids+=("$rpid")
"$load" -s 127.0.0.1:23413 --redis --fill -V 4096 -n "$n" >/dev/null
redis-cli -p 23413 save >/dev/null
"$load" -s 127.0.0.1:23413 --redis "${reader[@]}" --row "$row" \
  --rate "$(pace -s 127.0.0.1:23413 --redis)" \
  --system "redis-server (RDB reload)" "${vs[@]}" \
  --note "SIGKILL after SAVE, then started again on its RDB once gone" \
  --kill-cmd "kill -9 $rpid; $(gone "$rpid")
    setsid redis-server ${rargs[*]} >/dev/null 2>&1 &" | grep -v '^figure'
redis-cli -p 23413 shutdown nosave >/dev/null 2>&1 || true
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
