# SPDX-License-Identifier: MIT
"""hrcached upgraded under load (issue 26 item 4, must-show 1).

hrcached runs under `hr arun -g --listen --wait-ready` in a throwaway
site; four clients, each on ONE persistent connection for the whole test,
do sets and gets of self-checking values on keys of their own, while the
test upgrades the server N times with `hr upgrade`, alternating two
builds (the binary under two paths).  After each upgrade a new connection
must be served (none refused) by the new pid, and every client must have
had a request answered since (its connection went over).  It must show:
0 refused, 0 reset, 0 failed requests (a wrong or missing reply, an
error), 0 lost items (every acknowledged set reads back, over a new
connection, with its value), and each persistent connection served by
the last version at the end.

usage: test_hrcached_upgrade.py --hr HR --hrcached HRCACHED
HR_MC_UPGRADES sets N (default 20); HR_TEST_SEED replays a seed (printed).
Every wait is bounded (fleet_nodes.poll).
"""
import argparse
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fleet_nodes import BOUND, Node, ask, env_count, poll, stat  # noqa: E402

CLIENTS = 4
KEYS = 200           # keys per client


class Held(Node):
    """A node whose program says READY=1 and is waited for: the upgrade
    then commits only once the new version has taken the connections."""

    def run(self, argv):
        self.hr("arun", "-g", "1", "--name", self.name, "--wait-ready",
                "--listen", "tcp:127.0.0.1:%d" % self.port, "--", *argv)
        return self.pid()


def value(key, n):
    """A value that says what it is: key, version, and their checksum."""
    body = "%s/%d" % (key, n)
    return ("%s/%08x" % (body, zlib.crc32(body.encode()))).encode()


class Client(threading.Thread):
    """One persistent connection; sets and gets until told to stop."""

    def __init__(self, i, port, seed):
        super().__init__(daemon=True)
        self.i, self.rng = i, random.Random(seed * 1000 + i)
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=BOUND)
        # a request in two pieces goes as two segments, not after an ACK
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rd = self.sock.makefile("rb")
        self.acked = {}          # key -> the value last acknowledged
        self.done = 0            # requests answered
        self.errors = []         # what went wrong, in words
        self.stop = threading.Event()

    def line(self):
        got = self.rd.readline()
        if not got.endswith(b"\r\n"):
            raise ConnectionError("connection ended (read %r)" % got)
        return got

    def set(self, key):
        v = value(key, self.rng.randrange(1 << 30))
        req = b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), len(v), v)
        cut = self.rng.randrange(len(req))   # sometimes in two pieces
        self.sock.sendall(req[:cut])
        self.sock.sendall(req[cut:])
        reply = self.line()
        if reply != b"STORED\r\n":
            raise ValueError("set %s: %r" % (key, reply))
        self.acked[key] = v

    def get(self, key):
        self.sock.sendall(b"get %s\r\n" % key.encode())
        first = self.line()
        want = self.acked.get(key)
        if want is None:
            if first != b"END\r\n":
                raise ValueError("get %s never set: %r" % (key, first))
            return
        head = b"VALUE %s 0 %d\r\n" % (key.encode(), len(want))
        if first != head:
            raise ValueError("get %s: %r, not %r" % (key, first, head))
        data, end = self.line(), self.line()
        if data != want + b"\r\n" or end != b"END\r\n":
            raise ValueError("get %s: %r %r, not %r" % (key, data, end,
                                                        want))

    def run(self):
        try:
            while not self.stop.is_set():
                key = "u%d:%d" % (self.i, self.rng.randrange(KEYS))
                if self.rng.random() < 0.5:
                    self.set(key)
                else:
                    self.get(key)
                self.done += 1
        except (OSError, ValueError) as e:
            self.errors.append("client %d after %d requests: %s: %s"
                               % (self.i, self.done, type(e).__name__, e))

    def pid(self):
        """The pid serving this connection (after the thread ended)."""
        self.sock.sendall(b"stats\r\n")
        while True:
            parts = self.line().split()
            if parts[:2] == [b"STAT", b"pid"]:
                pid = int(parts[2])
            if parts == [b"END"]:
                return pid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hr", required=True)
    ap.add_argument("--hrcached", required=True)
    a = ap.parse_args()
    n = env_count("HR_MC_UPGRADES", 20)
    seed = int(os.environ.get("HR_TEST_SEED", random.randrange(1 << 31)))
    print("seed %d (HR_TEST_SEED replays it), %d upgrades" % (seed, n),
          flush=True)
    work = tempfile.mkdtemp(prefix="hrmcup.")
    builds = []
    for name in ("hrcached.a", "hrcached.b"):   # the two "builds"
        builds.append(os.path.join(work, name))
        shutil.copy(a.hrcached, builds[-1])
    args = ["-t", "2", "-m", "32"]
    node, clients, refused = None, [], []
    try:
        node = Held(a.hr, "mc", [builds[0]] + args, True)
        clients = [Client(i, node.port, seed) for i in range(CLIENTS)]
        for c in clients:
            c.start()
        pid = node.pid()
        for k in range(n):
            node.hr("upgrade", "mc", builds[(k + 1) % 2], *args)
            try:        # a new connection: served by the new version
                new = int(stat(node.port, "pid"))
            except (OSError, RuntimeError) as e:
                refused.append("after upgrade %d: %s" % (k + 1, e))
                break
            if new == pid:
                refused.append("upgrade %d: pid %d still serves" % (k + 1,
                                                                    pid))
            pid = new
            marks = [c.done for c in clients]
            poll(lambda: all(c.done > m or c.errors
                             for c, m in zip(clients, marks)),
                 "every client answered after upgrade %d" % (k + 1))
            if any(c.errors for c in clients):
                break
        for c in clients:
            c.stop.set()
        for c in clients:
            c.join(BOUND)
        errors = [e for c in clients for e in c.errors]
        stale = [(c.i, p) for c in clients if not c.errors
                 for p in [c.pid()] if p != pid]
        lost = []
        for c in clients:
            for key, v in c.acked.items():
                got = ask(node.port, b"get %s\r\n" % key.encode())
                head = b"VALUE %s 0 %d\r\n" % (key.encode(), len(v))
                if got != head + v + b"\r\nEND\r\n":
                    lost.append("%s: %r, not %r" % (key, got, v))
        items = sum(len(c.acked) for c in clients)
        print("%d upgrades, %d requests on %d persistent connections, %d "
              "items: %d refused, %d reset or failed, %d lost, %d "
              "connections not on the last version"
              % (n, sum(c.done for c in clients), CLIENTS, items,
                 len(refused), len(errors), len(lost), len(stale)))
        for what in refused + errors + lost[:10]:
            print("  " + what)
        if stale:
            print("  connections served by another pid than %d: %r"
                  % (pid, stale))
        ok = not (refused or errors or lost or stale) and items > 0
        print("PASS" if ok else "FAIL (seed %d)" % seed)
        return 0 if ok else 1
    finally:
        for c in clients:
            c.stop.set()
            c.sock.close()
        if node:
            node.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
