#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Connections refused while a server is SIGKILLed and restarted N times
under a steady stream of connection attempts: hrcached under the hotrestart
controller, which holds its listening socket (hr arun --listen), and
memcached under runit's runsv, which holds none.

usage: hrcached_refused.py N HRCACHED_BIN HR_BIN WORKDIR
"""
import os
import signal
import socket
import subprocess
import sys
import multiprocessing
import time

from mcask import ask


def probe(port, stop, counts):
    """Connects again and again (its own process); counts what happens to
    each attempt: [served, refused, cut] (cut: accepted by the server that
    the kill then took, reset or closed without a reply)."""
    while not stop.value:
        try:
            s = socket.create_connection(("127.0.0.1", port), 5)
            s.sendall(b"version\r\n")
            k = 0 if s.recv(100).startswith(b"VERSION") else 2
            s.close()
        except ConnectionRefusedError:
            k = 1
        except OSError:
            k = 2
        counts[k] += 1
        time.sleep(0.0005)


def server_pid(port, deadline=30):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            for line in ask(port, b"stats\r\n").split(b"\r\n"):
                if line.startswith(b"STAT pid "):
                    return int(line.split()[2])
        except OSError:
            time.sleep(0.001)
    raise SystemExit("server on port %d never came back" % port)


def run(name, port, n, pause):
    server_pid(port)
    stop = multiprocessing.Value("i", 0)
    counts = multiprocessing.Array("l", 3)
    p = multiprocessing.Process(target=probe, args=(port, stop, counts))
    p.start()
    for _ in range(n):
        pid = server_pid(port)
        os.kill(pid, signal.SIGKILL)
        while server_pid(port) == pid:
            time.sleep(0.0005)
        time.sleep(pause)
    stop.value = 1
    p.join()
    ok, refused, other = counts[:]
    print("%-40s %4d restarts %7d attempts %6d refused %4d cut" %
          (name, n, ok + refused + other, refused, other))
    sys.stdout.flush()


def main():
    n, hrcached, hr, work = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                             sys.argv[4])
    env = dict(os.environ, HR_SITE=os.path.join(work, "site"))
    q = dict(env=env, stdout=subprocess.DEVNULL)
    subprocess.run([hr, "site", "create", "--rambank-size", "512M",
                    "--max-badness", "1000000",
                    "--interval", "1"], check=True, **q)
    subprocess.run([hr, "site", "start"], check=True, **q)
    subprocess.run([hr, "arun", "-g", "1", "--listen", "tcp:127.0.0.1:22401",
                    hrcached, "-m", "64"], check=True, **q)
    print("SIGKILL and restart under connection attempts every 0.5 ms:")
    try:
        run("hrcached, socket held by the controller", 22401, n, 0.05)
    finally:
        subprocess.run([hr, "site", "stop"], **q)
    svc = os.path.join(work, "memcached")
    os.makedirs(svc)
    with open(os.path.join(svc, "run"), "w") as f:
        f.write("#!/bin/sh\nexec memcached -U 0 -u root -l 127.0.0.1 "
                "-p 22402 -t 1\n")
    os.chmod(os.path.join(svc, "run"), 0o755)
    rsv = subprocess.Popen(["runsv", svc], stdout=subprocess.DEVNULL)
    try:
        # runsv waits a second before restarting a service that ran less
        # than one: each restart lets it run that long first
        run("memcached under runsv, no held socket", 22402, n, 1.05)
    finally:
        rsv.send_signal(signal.SIGTERM)
        subprocess.run(["sv", "down", svc], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        rsv.wait()


if __name__ == "__main__":
    main()
