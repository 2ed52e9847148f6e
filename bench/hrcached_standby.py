#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""hrcached with a standby instance (hr arun --standby), its socket held by
the controller, SIGKILLed N times under a steady stream of connection
attempts (every 0.5 ms, each a `get` of a key set at the start): each kill
waits for the standby to wait, then times from the SIGKILL to the first
reply of the new instance, seen from outside.  Says how many restarts were
promotions (the new pid is the standby's), how many attempts were refused,
cut (accepted by the killed instance) or found the key missing, and the
crash-to-ready median and p99.

usage: hrcached_standby.py N HRCACHED_BIN HR_BIN WORKDIR
"""
import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time

from mcask import ask

PORT = 22403


def probe(stop, counts):
    """Connects again and again (its own process): [served, refused, cut,
    lost] (lost: served, but the key set at the start was not there)."""
    while not stop.value:
        try:
            buf = ask(PORT, b"get standby.key\r\n")
            k = 0 if buf.startswith(b"VALUE standby.key") else 3
        except ConnectionRefusedError:
            k = 1
        except OSError:
            k = 2
        counts[k] += 1
        time.sleep(0.0005)


def server_pid():
    """The pid in `stats` of the instance that answers, or None."""
    try:
        buf = ask(PORT, b"stats\r\n")
    except OSError:
        return None
    for line in buf.split(b"\r\n"):
        if line.startswith(b"STAT pid "):
            return int(line.split()[2])
    return None


def actor(hr, env):
    """(live pid, waiting standby pid or 0) of actor hrcached."""
    ps = json.loads(subprocess.run([hr, "ps", "--json"], env=env, check=True,
                                   capture_output=True).stdout)
    for g in ps["groups"]:
        for a in g["actors"]:
            if a["name"] == "hrcached":
                sb = a.get("standby")
                return a["pid"], sb["pid"] if sb and sb["state"] == "waiting" else 0
    return 0, 0


def main():
    n, hrcached, hr, work = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                             sys.argv[4])
    env = dict(os.environ, HR_SITE=os.path.join(work, "site"))
    q = dict(env=env, stdout=subprocess.DEVNULL)
    subprocess.run([hr, "site", "create", "--rambank-size", "512M",
                    "--max-badness", "1000000", "--interval", "1"],
                   check=True, **q)
    subprocess.run([hr, "site", "start"], check=True, **q)
    try:
        subprocess.run([hr, "arun", "-g", "1", "--standby", "--name", "hrcached",
                        "--listen", "tcp:127.0.0.1:%d" % PORT, hrcached, "-m",
                        "64"], check=True, **q)
        while server_pid() is None:
            time.sleep(0.001)
        s = socket.create_connection(("127.0.0.1", PORT), 5)
        s.sendall(b"set standby.key 0 0 4\r\nkept\r\n")
        if s.recv(100) != b"STORED\r\n":
            raise SystemExit("hrcached did not store the key")
        s.close()
        stop = multiprocessing.Value("i", 0)
        counts = multiprocessing.Array("l", 4)
        p = multiprocessing.Process(target=probe, args=(stop, counts))
        p.start()
        times, promoted = [], 0
        for _ in range(n):
            end = time.monotonic() + 30
            live, sb = actor(hr, env)
            while not sb and time.monotonic() < end:
                time.sleep(0.001)
                live, sb = actor(hr, env)
            if not sb:
                raise SystemExit("no standby came to wait")
            t0 = time.monotonic()
            os.kill(live, signal.SIGKILL)
            new = server_pid()
            while new is None or new == live:
                time.sleep(0.0002)
                new = server_pid()
            times.append(time.monotonic() - t0)
            promoted += new == sb
        stop.value = 1
        p.join()
    finally:
        subprocess.run([hr, "site", "stop"], **q)
    ok, refused, cut, lost = counts[:]
    times.sort()
    print("hrcached with a standby, socket held: %d SIGKILLs, %d promoted; "
          "%d attempts: %d refused, %d cut, %d key lost; crash to ready "
          "median %.3f ms, p99 %.3f ms" %
          (n, promoted, ok + refused + cut + lost, refused, cut, lost,
           times[len(times) // 2] * 1e3,
           times[min(len(times) - 1, len(times) * 99 // 100)] * 1e3))


if __name__ == "__main__":
    main()
