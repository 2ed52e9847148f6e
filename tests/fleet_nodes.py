# SPDX-License-Identifier: MIT
"""The fleet's parts for tests/test_fleet.py: nodes, each a throwaway
hotrestart site (/dev/shm/hrfleet.*, owner-only) whose controller holds
the node's listening socket (hr arun --listen) and restarts the node's
program after a kill; and twemproxy (nutcracker) in front of them, run
from deploy/twemproxy/nutcracker.yml with only the addresses replaced.

Invariants: every site made here is stopped and removed by Fleet.close(),
whatever failed; every wait is bounded (poll(): the bound only stops a
test that would hang, it is never the event waited for).
"""
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import yaml

BOUND = 60.0          # seconds: a wait that takes longer has hung


def poll(cond, what, bound=BOUND):
    """cond() every 5 ms until it is true; fail (raise) after bound s."""
    deadline = time.monotonic() + bound
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for %s" % what)
        time.sleep(0.005)


def env_count(name, default):
    """The count the knob $name asks for (kills, upgrades: a test's work),
    or default when it is unset or empty; a value that is not a whole
    number above 0 ends the test with FAIL, named (0 or garbage would make
    it pass having done nothing)."""
    v = os.environ.get(name, "")
    if not v:
        return default
    if not v.isdigit() or int(v) <= 0:
        raise SystemExit("FAIL: %s=%s: not a whole number above 0 (the test "
                         "would do nothing)" % (name, v))
    return int(v)


def free_port():
    """A free TCP port of 127.0.0.1 below the kernel's ephemeral range
    (ip_local_port_range), as tests/common.c's free_port(): connect() and
    bind to port 0 never hand one out, so the clients' reconnections
    cannot take it before a node binds it.  The kernel's pick when no
    such port is free."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 0
    rng = random.Random()
    for _ in range(200 if low >= 2048 else 0):
        port = rng.randrange(low // 2, low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent():
    """In a child: SIGKILL when the test dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def ask(port, cmd, end=b"END\r\n", timeout=BOUND):
    """Send cmd to 127.0.0.1:port, read until the reply ends with end.
    A connection made while the node restarts waits in the held socket's
    backlog: this is also the wait for a node to serve."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(cmd)
        buf = b""
        while not buf.endswith(end):
            got = s.recv(65536)
            if not got:
                raise RuntimeError("port %d closed on %r" % (port, cmd))
            buf += got
        return buf


def stat(port, name):
    """One value of the node's stats, as text."""
    for line in ask(port, b"stats\r\n").decode().split("\r\n"):
        parts = line.split()
        if len(parts) == 3 and parts[1] == name:
            return parts[2]
    raise RuntimeError("no stat %s on port %d" % (name, port))


class Node:
    """One site, its controller, and one program serving on a port the
    controller holds (hrcached) or binds itself (memcached)."""

    def __init__(self, hr, name, argv, held):
        self.hr_bin, self.name, self.held = hr, name, held
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="hrfleet.", dir="/dev/shm")
        self.env = dict(os.environ, HR_SITE=self.dir)
        self.started = False
        self.hr("site", "create", "--rambank-size", "512M",
                "--max-badness", "1000000", "--interval", "1")
        self.hr("site", "start")
        self.started = True
        self.run(argv)

    def hr(self, *args, check=True):
        r = subprocess.run([self.hr_bin] + list(args), env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=BOUND)
        if check and r.returncode != 0:
            raise RuntimeError("hr %s: %s" % (" ".join(args),
                                              r.stdout.decode()))
        return r.stdout.decode()

    def run(self, argv):
        """Start argv as the site's actor (group 1) and wait until it
        serves.  The program's own port options are added for memcached;
        hrcached takes the held socket."""
        if self.held:
            spec = "tcp:127.0.0.1:%d" % self.port
            self.hr("arun", "-g", "1", "--name", self.name, "--listen", spec,
                    "--", *argv)
        else:
            self.hr("arun", "-g", "1", "--name", self.name, "--", *argv,
                    *self.own_port())
        return self.pid()

    def own_port(self):
        """The options of a program that binds its port itself."""
        return [] if self.held else ["-l", "127.0.0.1", "-p", str(self.port)]

    def upgrade(self, prog, args, cold=False):
        """hr upgrade: prog in the place of the node's program (--cold
        for a program that does not wait as a standby)."""
        self.hr("upgrade", *(["--cold"] if cold else []), self.name, prog,
                *args, *self.own_port())

    def pid(self):
        """The pid serving the port now (waits until one serves)."""
        return poll(lambda: self._pid(), "%s to serve" % self.name)

    def _pid(self):
        try:
            return int(stat(self.port, "pid"))
        except (OSError, RuntimeError):
            return 0          # memcached between a kill and its bind

    def close(self):
        if self.started:
            self.hr("site", "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


class Proxy:
    """nutcracker run from deploy/twemproxy/nutcracker.yml, its listen
    address and servers replaced by this fleet's."""

    def __init__(self, template, nodes, workdir, overrides=()):
        with open(template) as f:
            conf = yaml.safe_load(f)
        pool = conf["fleet"]
        for o in overrides:               # KEY=VALUE, VALUE read as YAML
            k, v = o.split("=", 1)
            pool[k] = yaml.safe_load(v)
        self.port = free_port()
        pool["listen"] = "127.0.0.1:%d" % self.port
        pool["servers"] = ["127.0.0.1:%d:1 %s" % (n.port, n.name)
                           for n in nodes]
        self.conf = os.path.join(workdir, "nutcracker.yml")
        with open(self.conf, "w") as f:
            yaml.safe_dump(conf, f)
        self.log = os.path.join(workdir, "nutcracker.log")
        self.stats_port = free_port()
        self.proc = subprocess.Popen(
            ["nutcracker", "-c", self.conf, "-o", self.log,
             "-s", str(self.stats_port), "-a", "127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=die_with_parent)
        poll(self._serves, "nutcracker to serve")

    def _serves(self):
        if self.proc.poll() is not None:
            raise RuntimeError("nutcracker exited: %s" % self.tail())
        try:
            ask(self.port, b"get fleet:probe\r\n", timeout=BOUND)
            return True
        except OSError:
            return False

    def tail(self, lines=20):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Fleet:
    """n nodes running argv and a proxy before them."""

    def __init__(self, hr, argv, held, n, template, overrides=()):
        self.nodes, self.proxy = [], None
        self.workdir = tempfile.mkdtemp(prefix="hrfleet.proxy.")
        try:
            for i in range(n):
                self.nodes.append(Node(hr, "node%d" % i, argv, held))
            self.proxy = Proxy(template, self.nodes, self.workdir,
                               overrides)
        except BaseException:
            self.close()
            raise

    def close(self):
        if self.proxy:
            self.proxy.close()
        for n in self.nodes:
            n.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
