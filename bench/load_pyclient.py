#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""One Python thread reading random 4 KiB items with pymemcache's get_many
(10 keys a call, keys k0..k<N-1>, filled before), for SECS seconds: the
client that bench/mcload replaces.  Prints a client_get_4KiB row (and adds
it to $HR_BENCH_JSON as bench/report.h does), with mcload's figure from the
same run for the ratio.

usage: load_pyclient.py PORT NKEYS SECS MCLOAD_KEYS_PER_S
"""
import json
import os
import random
import sys
import time

from pymemcache.client.base import Client


def main():
    port, nkeys, secs, ours = (int(sys.argv[1]), int(sys.argv[2]),
                               float(sys.argv[3]), float(sys.argv[4]))
    c = Client(("127.0.0.1", port))
    rng = random.Random(1)
    got = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        got += len(c.get_many(["k%d" % rng.randrange(nkeys)
                               for _ in range(10)]))
    figure = got / (time.monotonic() - t0)
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    row = {"name": "client_get_4KiB",
           "system": "python3 pymemcache, one thread", "unit": "ops/s",
           "median": figure, "p99": figure,
           "ratio_to_ours": figure / ours if ours > 0 else None,
           "note": "get_many of 10 keys a call; load %s" % load}
    print("%-28s %-34s %12.1f %12.1f %-3s %8.2fx  %s" % (
        row["name"], row["system"], figure, figure, "ops/s",
        row["ratio_to_ours"] or 0, row["note"]))
    path = os.environ.get("HR_BENCH_JSON")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
