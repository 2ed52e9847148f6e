#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a stats scrape costs the sets: a server holding N MiB of 4 KiB
items takes sets of 4 KiB values from one client, one at a time, each
timed, while another process asks `stats` again and again (a scrape or a
health check at its worst), or `stats heap` (hrcached's walk of its heap),
or nothing.  The figure is the longest a set waited in a round (the
stall), median over the rounds; hrcached beside memcached 1.6 on the same
machine in the same run.  Prints a table; rows hrcached_set_max_under_stats
to $HR_BENCH_JSON when set.

usage: bench/hrcached_stats.py [LABEL=]HRCACHED... [--mib N] [--seconds S]
       [--rounds R] [--no-memcached]
(several hrcached binaries, a build before and one after a change say,
are measured one after the other in the same run)
"""
import argparse
import json
import multiprocessing
import os
import random
import shutil
import socket
import sys
import tempfile
import time

from mcask import start

VALUE = 4096


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    return s


def reply(s, end):
    buf = b""
    while not buf.endswith(end):
        d = s.recv(1 << 20)
        if not d:
            raise OSError("closed")
        buf += d
    return buf


def fill(path, n):
    s = connect(path)
    v = b"f" * VALUE
    for i in range(0, n, 64):
        s.sendall(b"".join(b"set k%d 0 0 %d noreply\r\n%s\r\n" % (k, VALUE, v)
                           for k in range(i, min(n, i + 64))) +
                  b"version\r\n")
        reply(s, b"\r\n")
    s.close()


def ask_stats(s, cmd):
    s.sendall(cmd)
    out = b""
    while not (out.endswith(b"END\r\n") or out.endswith(b"ERROR\r\n")):
        d = s.recv(1 << 20)
        if not d:
            raise OSError("closed")
        out += d
    return out


def poller(path, cmd, stop, calls):
    s = connect(path)
    while not stop.value:
        ask_stats(s, cmd)
        calls.value += 1
    s.close()


def round_of_sets(path, n, seconds, rng):
    """Sets of random existing keys for `seconds`: each one's latency, s."""
    s = connect(path)
    v = b"s" * VALUE
    lat = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        cmd = b"set k%d 0 0 %d\r\n%s\r\n" % (rng.randrange(n), VALUE, v)
        t0 = time.perf_counter()
        s.sendall(cmd)
        if reply(s, b"\r\n") != b"STORED\r\n":
            sys.exit("a set was not stored")
        lat.append(time.perf_counter() - t0)
    s.close()
    return lat


def measure(path, n, cmd, a, rng):
    """Rounds of sets with a poller asking cmd (None: no poller): each
    round's longest set (ms), its p99.9 (ms) and the poller's calls/s."""
    out = []
    for _ in range(a.rounds):
        stop = multiprocessing.Value("i", 0)
        calls = multiprocessing.Value("l", 0)
        p = None
        if cmd:
            p = multiprocessing.Process(target=poller,
                                        args=(path, cmd, stop, calls))
            p.start()
            time.sleep(0.2)             # its first calls are running
        c0 = calls.value
        lat = round_of_sets(path, n, a.seconds, rng)
        c1 = calls.value
        stop.value = 1
        if p:
            p.join()
        lat.sort()
        out.append((lat[-1] * 1e3, lat[int(len(lat) * 0.999)] * 1e3,
                    (c1 - c0) / a.seconds))
    return out


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hrcached", nargs="+")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-memcached", action="store_true")
    a = ap.parse_args()
    n = a.mib * 256
    mem = a.mib * 3 // 2 + 64
    rng = random.Random(1)
    tmp = tempfile.mkdtemp(prefix="hrstats.", dir="/dev/shm")
    user = ["-u", "root"] if os.geteuid() == 0 else []
    servers = []
    for h in a.hrcached:
        label, _, path = h.rpartition("=")
        servers.append(("hrcached" + (" " + label if label else ""),
                        [path, "-p", "0", "-m", str(mem)]))
    if not a.no_memcached:
        servers.append(("memcached 1.6", ["memcached", "-U", "0", "-m",
                                          str(mem)] + user))
    rows = []
    load = os.getloadavg()
    try:
        for i, (name, argv) in enumerate(servers):
            sock = os.path.join(tmp, "s.sock")
            site = os.path.join(tmp, "site%d" % i)    # a heap of its own
            env = dict(os.environ, HR_SITE=site)
            p = start(argv + ["-s", sock], sock, env)
            try:
                fill(sock, n)
                s = connect(sock)
                heap = b"STAT" in ask_stats(s, b"stats heap\r\n")
                s.close()
                modes = [("no stats", None), ("stats in a loop", b"stats\r\n")]
                if heap:
                    modes.append(("stats heap in a loop", b"stats heap\r\n"))
                for mode, cmd in modes:
                    r = measure(sock, n, cmd, a, rng)
                    rows.append((name, mode, r))
            finally:
                p.kill()
                p.wait()
                os.unlink(sock)
                shutil.rmtree(site, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    note = ("%d MiB of 4 KiB items, sets of 4 KiB one at a time from one "
            "client, %d rounds of %.0f s; load average %.2f %.2f %.2f" %
            (a.mib, a.rounds, a.seconds, *load))
    print("set latency while another client asks stats (%s)" % note)
    print("%-28s %-22s %12s %12s %10s" % ("server", "while", "max set ms",
                                            "p99.9 ms", "calls/s"))
    for name, mode, r in rows:
        mx = median([x[0] for x in r])
        print("%-28s %-22s %12.2f %12.2f %10.0f" % (
            name, mode, mx, median([x[1] for x in r]),
            median([x[2] for x in r])))
    # ours: the last hrcached measured, the build under test; each other
    # row's ratio is its figure over ours in the same mode
    ours = {mode: median([x[0] for x in r]) for name, mode, r in rows
            if name.startswith("hrcached")}
    path = os.environ.get("HR_BENCH_JSON")
    if path:
        with open(path, "a") as f:
            for name, mode, r in rows:
                mx = [x[0] for x in r]
                mine = name == servers[-1 if a.no_memcached else -2][0]
                ratio = None if mine or mode not in ours \
                    else round(median(mx) / ours[mode], 3)
                f.write(json.dumps({
                    "name": "hrcached_set_max_under_stats_%dMiB" % a.mib,
                    "system": "%s, %s" % (name, mode), "unit": "ms",
                    "median": round(median(mx), 3), "p99": round(max(mx), 3),
                    "ratio_to_ours": ratio, "note": note}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
