#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Back at full speed (issue 23): a server holding SIZE_MIB of 4 KiB items
serves random multi-gets from bench/mcload (C, 4 connections, 16 keys a
get, 4 gets in flight each); it is stopped (SIGKILL, or memcached's
graceful SIGUSR1 for its -e restart) and started again at once.  The
figure: milliseconds from the stop to the end of the first 100 ms window
whose values reach 90 % of the median window before the stop.

    hrcached_back.py SIZE_MIB HRCACHED HR MCLOAD HUGE_DIR SMALL_DIR WORK

HUGE_DIR and SMALL_DIR are tmpfs mounts, with and without huge pages
(bench/hrcached.sh mounts them in a mount namespace of its own); hrcached's
site is made in each with `hr site create` (a huge-page bank where the
file system gives huge pages).  Rows go to stdout and, when
$HR_BENCH_JSON names a file, to it as bench/report.h writes them.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import time

from hrcached_restart import VALUE, fill_memcache

PRE_S, POST_S, GRACEFUL_POST_S = 2.0, 5.0, 20.0


def windows(out):
    """(start_ms, values) per 100 ms window of mcload's output."""
    rows = []
    for line in out.splitlines():
        t, v = line.split()
        rows.append((float(t), int(v)))
    return rows


def back_ms(rows, t_stop, t_new):
    """From t_stop to the end of the first window that reaches 90 % of the
    median window before the stop and ends after the new server was
    started (t_new: after the old one exited); None if none does."""
    before = [v for t, v in rows if t + 100 <= t_stop][1:]
    if not before:
        return None, 0
    base = statistics.median(before)
    for t, v in rows:
        if t >= t_stop and t + 100 > t_new and v >= 0.9 * base:
            return t + 100 - t_stop, base
    return None, base


def run(cmd, port, n, mcload, env, fill, stop, post_s):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    fill(port, n)
    load = subprocess.Popen([mcload, str(port), str(n), str(PRE_S + post_s)],
                            stdout=subprocess.PIPE, text=True)
    time.sleep(PRE_S)
    t_stop = time.monotonic() * 1e3
    stop(p)
    t_new = time.monotonic() * 1e3
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    out = load.communicate()[0]
    p.terminate()
    p.wait()
    rows = windows(out)
    if os.environ.get("HR_BACK_TRACE"):  # the windows, for a look by hand
        print(cmd[0], [(round(t - t_stop), v) for t, v in rows], file=sys.stderr)
    return back_ms(rows, t_stop, t_new)


def median_of(rounds, *args):
    """The median over rounds runs (a run never back counts as slowest)."""
    got = [run(*args) for _ in range(rounds)]
    ms = sorted((m if m is not None else float("inf")) for m, _ in got)
    mid = ms[len(ms) // 2]
    return (None if mid == float("inf") else mid), got[0][1]


def kill(p):
    p.send_signal(signal.SIGKILL)
    p.wait()


def graceful(p):
    p.send_signal(signal.SIGUSR1)  # memcached -e: save the cache and exit
    p.wait()


def row(name, system, ms, ratio, note):
    print("%-28s %-34s %12.1f %12.1f ms  %s%s" % (
        name, system, ms or 0, ms or 0,
        "%8.2fx  " % ratio if ratio else "", note))
    sys.stdout.flush()
    path = os.environ.get("HR_BENCH_JSON")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"name": name, "system": system, "unit": "ms",
                                "median": round(ms or 0, 3),
                                "p99": round(ms or 0, 3),
                                "ratio_to_ours": round(ratio, 4) if ratio else None,
                                "note": note}) + "\n")


def main():
    mib, hrcached, hr, mcload, huge_dir, small_dir, work = sys.argv[1:8]
    rounds = int(sys.argv[8]) if len(sys.argv) > 8 else 3
    mib = int(mib)
    n = mib * 1024 * 1024 // VALUE
    mem = str(mib + mib // 4 + 64)
    name = "hrcached_back_to_90pct_%s" % (
        "%dMiB" % mib if mib < 1024 else "%dGiB" % (mib // 1024))
    res = {}
    for label, d in (("huge pages", huge_dir), ("4 KiB pages", small_dir)):
        env = dict(os.environ, HR_SITE=os.path.join(d, "site"))
        subprocess.run([hr, "site", "create", "--rambank-size",
                        "%dM" % (int(mem) * 2 + 256)], env=env,
                       stdout=subprocess.DEVNULL, check=True)
        info = subprocess.run([hr, "site", "info", "--json"], env=env,
                              capture_output=True, text=True).stdout
        huge = '"huge_pages_now": true' in info
        res[label] = median_of(rounds, [hrcached, "-p", "22211", "-m", mem],
                               22211, n, mcload, env, fill_memcache, kill,
                               POST_S) + (huge,)
    ours = res["huge pages"][0]
    for label in ("huge pages", "4 KiB pages"):
        ms, base, huge = res[label]
        note = ("SIGKILL to 90 %% of %.0f values/100 ms, median of %d%s" %
                (base, rounds, "" if huge == (label == "huge pages") else
                 " (NOT the pages the label says: see hr site info)"))
        if ms is None:
            note = "never back to 90 % within the run"
        row(name, "hrcached, " + label, ms,
            ms / ours if label != "huge pages" and ms and ours else 0, note)
    mdir = os.path.join(work, "memcached")
    os.makedirs(mdir, exist_ok=True)
    ms, base = median_of(1, ["memcached", "-U", "0", "-u", "root", "-p",
                             "22212", "-m", mem, "-t", "1", "-e",
                             os.path.join(mdir, "memory_file")],
                         22212, n, mcload, None, fill_memcache, graceful,
                         GRACEFUL_POST_S)
    row(name, "memcached -e (graceful restart)", ms,
        ms / ours if ms and ours else 0,
        "SIGUSR1 (saves, exits) to 90 %, one run" if ms else
        "not back to 90 %% within %.0f s" % GRACEFUL_POST_S)
    row(name, "redis-server (RDB reload)", 0, 0,
        "not run: bench/mcload speaks the memcached protocol only "
        "(hrcached_restart.py times redis's reload to its first reply)")

if __name__ == "__main__":
    main()
