#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""SIGKILL to serving again, with SIZE_MIB of 4 KiB items: hrcached (its
heap survives), memcached (comes back empty) and redis-server (reloads its
RDB file).  Prints one line per server: milliseconds from the SIGKILL to
the first correct reply for the first key stored, and the items then held.

usage: hrcached_restart.py SIZE_MIB HRCACHED_BIN HR_BIN WORKDIR
"""
import os
import signal
import socket
import subprocess
import sys
import time

from mcask import ask

VALUE = 4096


def connect(port, deadline):
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.0002)


def fill_memcache(port, n):
    s = connect(port, time.monotonic() + 10)
    data = b"v" * VALUE
    batch = []
    for i in range(n):
        batch.append(b"set k%d 0 0 %d noreply\r\n%s\r\n" % (i, VALUE, data))
        if len(batch) == 256:
            s.sendall(b"".join(batch))
            batch = []
    s.sendall(b"".join(batch) + b"version\r\n")
    buf = b""
    while not buf.endswith(b"\r\n"):
        buf += s.recv(4096)
    s.close()


def fill_redis(port, n):
    s = connect(port, time.monotonic() + 10)
    data = b"v" * VALUE
    batch = []
    sent = 0
    for i in range(n):
        key = b"k%d" % i
        batch.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                     % (len(key), key, VALUE, data))
        if len(batch) == 256:
            s.sendall(b"".join(batch))
            sent += len(batch)
            batch = []
    s.sendall(b"".join(batch) + b"*1\r\n$4\r\nSAVE\r\n")
    sent += len(batch)
    buf = b""
    while buf.count(b"\r\n") < sent + 1:
        buf += s.recv(1 << 20)
    s.close()


def mc_items(port):
    for line in ask(port, b"stats\r\n").split(b"\r\n"):
        if line.startswith(b"STAT curr_items "):
            return int(line.split()[2])
    return -1


def mc_get_ok(port, deadline):
    """Serving again (any reply to a get): whether key 0 was there."""
    while True:
        try:
            return ask(port, b"get k0\r\n").startswith(b"VALUE k0 ")
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0002)


def redis_get_ok(port, deadline):
    while time.monotonic() < deadline:
        try:
            s = connect(port, deadline)
            s.sendall(b"*2\r\n$3\r\nGET\r\n$2\r\nk0\r\n")
            buf = s.recv(65536)
            while buf.startswith(b"$") and len(buf) < VALUE + 8:
                buf += s.recv(65536)
            s.close()
            if buf.startswith(b"$%d" % VALUE):
                return True
            time.sleep(0.0002)          # -LOADING: try again
        except OSError:
            time.sleep(0.0002)
    return False


def redis_items(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "dbsize"],
                         capture_output=True, text=True).stdout.strip()
    return int(out or -1)


def measure(name, cmd, port, fill, ok, items, n, env=None):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    fill(port, n)
    p.send_signal(signal.SIGKILL)
    p.wait()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    good = ok(port, t0 + 300)
    ms = (time.monotonic() - t0) * 1e3
    count = items(port)
    p.terminate()
    p.wait()
    print("%-28s %10.1f ms  %9d items%s" % (name, ms, count,
          "" if good else "  (key 0 not there)"))
    sys.stdout.flush()


def main():
    mib, hrcached, hr, work = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                               sys.argv[4])
    n = mib * 1024 * 1024 // VALUE
    mem = str(mib + mib // 4 + 64)
    env = dict(os.environ, HR_SITE=os.path.join(work, "site"))
    subprocess.run([hr, "site", "create", "--rambank-size",
                    "%dM" % (int(mem) * 2 + 256)], env=env,
                   stdout=subprocess.DEVNULL)
    print("%d MiB of 4 KiB items (%d), SIGKILL to the first correct reply:"
          % (mib, n))
    measure("hrcached (heap kept)", [hrcached, "-p", "22201", "-m", mem],
            22201, fill_memcache, mc_get_ok, mc_items, n, env)
    measure("memcached (comes back empty)",
            ["memcached", "-U", "0", "-u", "root", "-p", "22202", "-m", mem,
             "-t", "1"], 22202, fill_memcache, mc_get_ok, mc_items, n)
    rdir = os.path.join(work, "redis")
    os.makedirs(rdir, exist_ok=True)
    measure("redis-server (RDB reload)",
            ["redis-server", "--port", "22203", "--dir", rdir, "--save", "",
             "--appendonly", "no"], 22203, fill_redis, redis_get_ok,
            redis_items, n)


if __name__ == "__main__":
    main()
