#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Request latency while the server is replaced (issue 26 must-show 1):
four client processes on persistent connections (gets and sets of 100 B
values over 1,000 keys, one request at a time each) against

 - hrcached under the controller (hr arun --wait-ready --listen), upgraded
   K times in a row with `hr upgrade`, alternating two paths of the build:
   its connections are handed over;
 - memcached -e FILE restarted gracefully K times (SIGUSR1: it saves its
   memory to FILE and exits; started again on the same FILE, in the next
   second: 1.6.18 refuses its metadata within the second it stopped, and
   comes back empty): its clients
   see their connections end, reconnect (refused until it listens again)
   and send the request again.

A request's latency is from its first send to its reply, retries
included: what the client waits.  For each server: p50, p99 and the
longest wait (the pause a client saw) over 3 s of
steady state, then over the K replacements (from the first start to the
last end), with the requests that failed (reset, refused, closed: each
retried) and the gets that missed a key set before.  Rows
hrcached_upgrade in $HR_BENCH_JSON when set.

usage: bench/hrcached_upgrade.py K HRCACHED_BIN HR_BIN WORKDIR
"""
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from mcask import ask

PORT_HR, PORT_MC = 22411, 22412
KEYS, STEADY = 1000, 3.0


def client(i, port, stop, out):
    """Requests until stop: [(t_end, latency_s, retries, missed)]."""
    rows, n, sock, rd = [], 0, None, None
    while not stop.value:
        key = b"up:%d" % ((i * 7919 + n) % KEYS)
        req = (b"set %s 0 0 100\r\n%s\r\n" % (key, b"v" * 100) if n % 2
               else b"get %s\r\n" % key)
        t0, tries = time.monotonic(), 0
        while True:
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), 5)
                    rd = sock.makefile("rb")
                sock.sendall(req)
                first = rd.readline()
                if req.startswith(b"get") and first.startswith(b"VALUE"):
                    rd.readline()
                    first = first + rd.readline()
                if not first.endswith(b"\r\n"):
                    raise OSError("closed")
                break
            except OSError:
                tries += 1
                if sock:
                    sock.close()
                sock = None
                time.sleep(0.001)      # the client's retry rhythm
        missed = req.startswith(b"get") and not first.startswith(b"VALUE")
        rows.append((time.monotonic(), time.monotonic() - t0, tries, missed))
        n += 1
    out.put(rows)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else 0.0


def measure(port, replace, k):
    """Clients on port: steady, then k replace(j) calls."""
    stop, out = multiprocessing.Value("i", 0), multiprocessing.Queue()
    for j in range(KEYS):            # every key there before the gets
        ask(port, b"set up:%d 0 0 100\r\n%s\r\nget up:0\r\n" % (j, b"v" * 100))
    procs = [multiprocessing.Process(target=client,
                                     args=(i, port, stop, out))
             for i in range(4)]
    for p in procs:
        p.start()
    time.sleep(0.5)                  # clients connected and going
    s0 = time.monotonic()
    time.sleep(STEADY)
    u0 = time.monotonic()
    for j in range(k):
        replace(j)
    u1 = time.monotonic()
    time.sleep(0.2)                  # requests that waited, answered
    stop.value = 1
    rows = [r for _ in procs for r in out.get()]
    for p in procs:
        p.join()
    phase = {}
    for name, a, b in (("steady", s0, u0), ("during", u0, u1 + 0.2)):
        sel = [r for r in rows if a <= r[0] - r[1] and r[0] - r[1] < b]
        phase[name] = {"p50": pct([r[1] for r in sel], 0.5) * 1e6,
                       "p99": pct([r[1] for r in sel], 0.99) * 1e6,
                       "max": max([r[1] for r in sel], default=0) * 1e6,
                       "n": len(sel), "failed": sum(r[2] for r in sel),
                       "missed": sum(r[3] for r in sel)}
    phase["secs"] = u1 - u0
    return phase


def hrcached(k, hrc, hr, work):
    env = dict(os.environ, HR_SITE=os.path.join(work, "site"))
    run = lambda *a: subprocess.run([hr] + list(a), env=env, check=True,
                                    stdout=subprocess.DEVNULL)
    builds = [os.path.join(work, "hrcached.a"), os.path.join(work, "hrcached.b")]
    for b in builds:
        shutil.copy(hrc, b)
    args = ["-m", "64", "-t", "2"]
    run("site", "create", "--rambank-size", "512M")
    run("site", "start")
    try:
        run("arun", "-g", "1", "--name", "mc", "--wait-ready", "--listen",
            "tcp:127.0.0.1:%d" % PORT_HR, "--", builds[0], *args)
        return measure(PORT_HR, lambda j: run("upgrade", "mc",
                                              builds[(j + 1) % 2], *args), k)
    finally:
        subprocess.run([hr, "site", "stop"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def memcached(k, work):
    argv = ["memcached", "-U", "0", "-u", "root", "-l", "127.0.0.1", "-p",
            str(PORT_MC), "-m", "64", "-t", "2", "-e",
            os.path.join(work, "memcached.mem")]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    cur = [subprocess.Popen(argv, **quiet)]

    def serving():
        while True:
            try:
                return ask(PORT_MC, b"get up:0\r\n")
            except OSError:
                time.sleep(0.001)

    def restart(j):
        cur[0].send_signal(signal.SIGUSR1)   # save and exit
        cur[0].wait()
        with open(argv[-1] + ".meta") as f:
            stop = [int(l.split()[1]) for l in f if l.startswith("Kstop_time ")]
        while stop and time.time() < stop[0] + 1:
            time.sleep(0.001)                # memcached's second
        cur[0] = subprocess.Popen(argv, **quiet)
        serving()
    serving()
    try:
        return measure(PORT_MC, restart, k)
    finally:
        cur[0].kill()
        cur[0].wait()


def main():
    k, hrc, hr, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    os.makedirs(work, exist_ok=True)
    load = os.getloadavg()[0]
    res = {"hrcached": hrcached(k, hrc, hr, work),
           "memcached 1.6 -e": memcached(k, work)}
    print("latency of requests on 4 persistent connections, steady and "
          "during %d replacements (load average %.1f)" % (k, load))
    print("%-18s %-7s %8s %8s %9s %8s %7s %7s" % (
        "server", "phase", "p50 us", "p99 us", "max us", "requests",
        "failed", "missed"))
    for sysname, ph in res.items():
        for name in ("steady", "during"):
            f = ph[name]
            print("%-18s %-7s %8.0f %8.0f %9.0f %8d %7d %7d" % (
                sysname, name, f["p50"], f["p99"], f["max"], f["n"],
                f["failed"], f["missed"]))
        print("%-18s %d replacements in %.2f s" % (sysname, k, ph["secs"]))
    path = os.environ.get("HR_BENCH_JSON")
    if not path:
        return 0
    ours = res["hrcached"]
    with open(path, "a") as f:
        for sysname, ph in res.items():
            for name, what in (("steady", "steady state"),
                               ("during", "during %d %s" % (k, "upgrades"
                                if sysname == "hrcached"
                                else "graceful restarts"))):
                v = ph[name]
                ratio = (None if sysname == "hrcached" or not ours[name]["p99"]
                         else round(v["p99"] / ours[name]["p99"], 3))
                f.write(json.dumps({
                    "name": "hrcached_upgrade",
                    "system": "%s, %s" % (sysname, what), "unit": "us",
                    "median": round(v["p50"], 1), "p99": round(v["p99"], 1),
                    "ratio_to_ours": ratio,
                    "note": "4 persistent clients, %d requests in %.2f s, "
                            "%d failed (retried), %d gets missed, longest "
                            "wait %.0f us; load average %.1f" % (
                                v["n"], STEADY if name == "steady"
                                else ph["secs"] + 0.2, v["failed"],
                                v["missed"], v["max"], load)})
                        + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
