#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Eviction that keeps the working set (issue 25 item 4): hrcached and
memcached with the same -m, the same Zipf-distributed stream of reads
(a miss is followed by a set of the key, as a cache-aside client does),
over more data than fits.  Prints each server's hit ratio and their ratio,
and, when $HR_BENCH_JSON names a file, the rows hrcached_zipf_hit_ratio.

usage: bench/hrcached_zipf.py HRCACHED [--ops N] [--keys N] [--mb M]
       [--value BYTES] [--s EXPONENT] [--seed N]
"""
import argparse
import bisect
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import time

from mcask import start


def run(sock_path, stream, value):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    hits = 0
    buf = b""

    def reply(end):
        nonlocal buf
        while end not in buf:
            buf += s.recv(1 << 20)
        i = buf.index(end) + len(end)
        r, buf = buf[:i], buf[i:]
        return r

    for i in range(0, len(stream), 100):
        keys = stream[i:i + 100]
        s.sendall(b"".join(b"get k%d\r\n" % k for k in keys))
        missed = []
        for k in keys:
            if reply(b"END\r\n").startswith(b"VALUE"):
                hits += 1
            else:
                missed.append(k)
        if missed:
            s.sendall(b"".join(b"set k%d 0 0 %d noreply\r\n%s\r\n" %
                               (k, len(value), value) for k in missed))
    s.close()
    return hits / len(stream)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hrcached")
    ap.add_argument("--ops", type=int, default=300000)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--mb", type=int, default=16)
    ap.add_argument("--value", type=int, default=1000)
    ap.add_argument("--s", type=float, default=0.99)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    cdf, total = [], 0.0
    for i in range(1, a.keys + 1):
        total += 1.0 / i ** a.s
        cdf.append(total)
    ranks = list(range(a.keys))
    rng.shuffle(ranks)              # popular keys spread over the key space
    stream = [ranks[bisect.bisect_left(cdf, rng.random() * total)]
              for _ in range(a.ops)]
    value = b"v" * a.value
    tmp = tempfile.mkdtemp(prefix="hrzipf.", dir="/dev/shm")
    env = dict(os.environ, HR_SITE=os.path.join(tmp, "site"))
    user = ["-u", "root"] if os.geteuid() == 0 else []
    procs = []
    try:
        ms, hs = os.path.join(tmp, "mc.sock"), os.path.join(tmp, "hr.sock")
        procs.append(start(["memcached", "-s", ms, "-U", "0", "-m",
                            str(a.mb)] + user, ms, env))
        procs.append(start([a.hrcached, "-s", hs, "-p", "0", "-m",
                            str(a.mb)], hs, env))
        mc = run(ms, stream, value)
        hr = run(hs, stream, value)
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    note = ("Zipf s=%.2f over %d keys of %d B, %d reads, -m %d, cache-aside "
            "sets; load %s" % (a.s, a.keys, a.value, a.ops, a.mb,
                               os.getloadavg()[0]))
    print("%-28s %-20s %8.4f" % ("hrcached_zipf_hit_ratio", "hrcached", hr))
    print("%-28s %-20s %8.4f  %.3fx of hrcached's" %
          ("hrcached_zipf_hit_ratio", "memcached 1.6.18", mc, mc / hr))
    print("hrcached / memcached: %.3f  (%s)" % (hr / mc, note))
    path = os.environ.get("HR_BENCH_JSON")
    if path:
        with open(path, "a") as f:
            for system, v, ratio in (("hrcached", hr, None),
                                     ("memcached 1.6.18", mc, mc / hr)):
                f.write(json.dumps({"name": "hrcached_zipf_hit_ratio",
                                    "system": system, "unit": "hit ratio",
                                    "median": round(v, 4), "p99": round(v, 4),
                                    "ratio_to_ours": ratio and round(ratio, 4),
                                    "note": note}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
