#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The fleet test (issue 26, item 5 and must-show 4): three hrcached nodes,
each in its own throwaway hotrestart site whose controller holds the
node's port, twemproxy in front (deploy/twemproxy/nutcracker.yml), and
client processes going through the proxy while every node is upgraded
in turn (hr upgrade, alternating two builds: the program under two
paths), twice, and then while nodes are SIGKILLed at random; then the
same run with memcached in the same places (its upgrades hr upgrade
--cold: it cannot wait as a standby).

The clients are pymemcache (a client nobody here wrote) behind its
RetryingClient.  Each owns its keys; a value carries its key, a version
and a checksum.  A get that misses sets the key again (cache-aside).

What counts (per phase, per client, added up):
  hit ratio  hits / gets of keys the client has set;
  server_error  answers "SERVER_ERROR ..." from the proxy; the client
             retries them (RetryingClient: --attempts, 3 by default, 10 ms
             apart, on MemcacheServerError only).  twemproxy answers so every
             request queued or in flight on its connection to a node when
             that connection closes (nc_server.c server_close), and a
             SIGKILLed process's connections close: no proxy setting
             avoids it, and twemproxy retries nothing itself
             (notes/recommendation.md, "Liveness").  get and set are
             idempotent here (a set is retried with the same value).
             So only a kill may cause one: in the kills phase and the last
             pass after it (whose first requests may still go out on a
             connection the last kill closed before the proxy saw it
             close).  The fill, the steady phase and the upgrades (hrcached
             hands the proxy's connection over, hr_handover(3)) must have
             none;
  FAILED     a request whose outcome, after the retry policy, is not a
             correct answer: an exception (the last SERVER_ERROR, a
             connection to the proxy refused, reset or timed out) or a
             set not STORED;
  WRONG      a get answering a value that is torn, not its key's, or not
             the version last acknowledged (nor that of a set cut short);
  lost       a miss of a key whose set was acknowledged.
hrcached must show: hit ratio during the upgrades and during the kills
>= 0.99 of before (the steady phase's), no SERVER_ERROR before the kills,
and 0 failed, 0 wrong, 0 lost.  memcached, each restart emptying a shard,
is reported beside it, and the same verdict must refuse it (the check can
fail).  The seed is printed; --seed replays the kill schedule and every
client's choices (not the instants, which the machine decides).

The kills come at random instants, but never while a request cut by an
earlier kill is still being retried (Tally.retrying).  Without that rule
the schedule met requests it had itself made wait: the next kill of a node
waited for it to serve again, which is the very event its cut requests'
retries wait for in the held backlog, so on a loaded machine (load 7-16
on 2 cores: 2 of 20 runs, then 4 of 12) one get met three kills of its
node in 60 ms and ran out of attempts, SERVER_ERROR each time.  A kill
may still cut a retried request once (its client counts it only once it
reads the SERVER_ERROR), so a request meets at most two kills: with 2
attempts or more, a failed request is a fault, never the schedule's.

usage: test_fleet.py --hr HR --hrcached HRCACHED --template YML
       [--kills N] [--seed N] [--backends hrcached,memcached]
       [--attempts N] [--gap MS] [--pool KEY=VALUE]... [--upgrades R]
       (or $HR_FLEET_KILLS, default 100; $HR_FLEET_SEED;
       $HR_FLEET_UPGRADES, default 2 rolling upgrades before the kills)
"""
import argparse
import hashlib
import multiprocessing as mp
import os
import random
import shutil
import signal
import sys
import time

from pymemcache.client.base import Client
from pymemcache.client.retrying import RetryingClient
from pymemcache.exceptions import MemcacheServerError

from fleet_nodes import Fleet, die_with_parent, env_count, poll

PHASES = ["fill", "steady", "upgrade", "kills", "final"]
FIELDS = ["gets", "hits", "misses", "sets", "server_error", "failed", "wrong",
          "lost"]
CLIENTS = 4
KEYS = 500            # per client


class Tally:
    """Counters in memory shared with the clients: one row per (client,
    phase); each client writes only its own rows."""

    def __init__(self):
        self.a = mp.Array("q", CLIENTS * len(PHASES) * len(FIELDS),
                          lock=False)
        self.phase = mp.Value("i", 0, lock=False)
        # the phase each client's request in hand began in
        self.at = mp.Array("i", CLIENTS, lock=False)
        # requests that met a SERVER_ERROR and have no outcome yet
        self.retrying = mp.Value("i", 0)
        self.filled = mp.Value("i", 0)
        self.notes = mp.Queue()

    def add(self, cid, phase, field, n=1):
        i = (cid * len(PHASES) + phase) * len(FIELDS)
        self.a[i + FIELDS.index(field)] += n

    def total(self, phase):
        p = PHASES.index(phase)
        out = dict.fromkeys(FIELDS, 0)
        for cid in range(CLIENTS):
            i = (cid * len(PHASES) + p) * len(FIELDS)
            for j, f in enumerate(FIELDS):
                out[f] += self.a[i + j]
        return out


def value_of(key, ver, size):
    body = ("%s/%d/" % (key, ver)).encode()
    body += b"x" * max(0, size - len(body) - 16)
    return hashlib.blake2b(body, digest_size=8).hexdigest().encode() + body


def version_in(value, key):
    """The version value carries, or 0 if it is torn or not key's."""
    body = value[16:]
    if hashlib.blake2b(body, digest_size=8).hexdigest().encode() != \
            value[:16]:
        return 0
    parts = body.split(b"/")
    if len(parts) < 3 or parts[0] != key.encode():
        return 0
    return int(parts[1])


class Counting(Client):
    """pymemcache's client, telling the proxy's SERVER_ERROR answers (each
    then retried by RetryingClient while attempts remain) to on_error."""

    def __init__(self, on_error, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_error = on_error

    def _count(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except MemcacheServerError as e:
            self.on_error("SERVER_ERROR %s" % e.args[0].decode())
            raise

    def get(self, *args, **kwargs):
        return self._count(super().get, *args, **kwargs)

    def set(self, *args, **kwargs):
        return self._count(super().set, *args, **kwargs)


class Worker:
    """One client process: its keys, what it was told, what it saw."""

    def __init__(self, cid, port, seed, attempts, tally):
        self.cid, self.tally = cid, tally
        self.rng = random.Random(seed * 1000 + cid)
        self.nnotes = 0
        base = Counting(self.server_error, ("127.0.0.1", port),
                        connect_timeout=20, timeout=20,
                        default_noreply=False)
        self.mc = RetryingClient(base, attempts=attempts, retry_delay=0.01,
                                 retry_for=[MemcacheServerError])
        self.keys = ["fleet:c%d:k%d" % (cid, k) for k in range(KEYS)]
        self.acked = [0] * KEYS   # version acknowledged (0: none)
        self.cut = [0] * KEYS     # version of a set without an answer
        self.ver = 0
        self.phase = 0            # the phase a request began in
        self.retrying = False     # the request in hand met a SERVER_ERROR

    def note(self, field, what):
        """Count it; keep its words for the report (the first 20)."""
        self.tally.add(self.cid, self.phase, field)
        self.nnotes += 1
        if self.nnotes <= 20:
            self.tally.notes.put("%s: client %d: %s" % (field, self.cid,
                                                         what))

    def server_error(self, what):
        """The proxy answered SERVER_ERROR: counted; the request is in
        tally.retrying until its outcome (ask), holding the next kill."""
        self.note("server_error", what)
        if not self.retrying:
            self.retrying = True
            with self.tally.retrying.get_lock():
                self.tally.retrying.value += 1

    def ask(self, call, *args):
        """call (a get or set of self.mc) through the retry policy."""
        try:
            return call(*args)
        finally:
            if self.retrying:
                self.retrying = False
                with self.tally.retrying.get_lock():
                    self.tally.retrying.value -= 1

    def set(self, k):
        self.ver += 1
        key = self.keys[k]
        self.cut[k] = self.ver
        try:
            ok = self.ask(self.mc.set, key, value_of(
                key, self.ver, self.rng.randrange(50, 1000)))
        except Exception as e:          # noqa: BLE001 (any is a failure)
            return self.note("failed", "set %s: %r" % (key, e))
        if ok is not True:
            return self.note("failed", "set %s: not stored" % key)
        self.tally.add(self.cid, self.phase, "sets")
        self.acked[k], self.cut[k] = self.ver, 0

    def get(self, k):
        key = self.keys[k]
        try:
            v = self.ask(self.mc.get, key)
        except Exception as e:          # noqa: BLE001
            return self.note("failed", "get %s: %r" % (key, e))
        self.tally.add(self.cid, self.phase, "gets")
        if v is None:
            self.tally.add(self.cid, self.phase, "misses")
            if self.acked[k]:
                self.note("lost", "get %s: miss, version %d acknowledged"
                          % (key, self.acked[k]))
            self.acked[k] = 0
            return self.set(k)          # cache-aside: fill it again
        ver = version_in(v, key)
        if ver == 0 or ver not in (self.acked[k], self.cut[k]):
            return self.note("wrong", "get %s: version %d, acknowledged %d "
                             "(cut %d)" % (key, ver, self.acked[k],
                                           self.cut[k]))
        self.tally.add(self.cid, self.phase, "hits")
        self.acked[k], self.cut[k] = ver, 0

    def run(self):
        for k in range(KEYS):
            self.set(k)
        with self.tally.filled.get_lock():
            self.tally.filled.value += 1
        final = PHASES.index("final")
        while True:
            self.phase = self.tally.at[self.cid] = self.tally.phase.value
            if self.phase >= final:
                break
            k = self.rng.randrange(KEYS)
            if self.cut[k] or self.rng.random() < 0.8:
                self.get(k)
            else:
                self.set(k)
        for k in range(KEYS):           # the last pass: every key
            self.get(k)


def client_main(cid, port, seed, attempts, tally, parent):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent()       # a killed test leaves no client spinning
    if os.getppid() != parent:
        os._exit(1)
    Worker(cid, port, seed, attempts, tally).run()
    tally.notes.close()
    tally.notes.join_thread()           # its notes written before it ends
    os._exit(0)


def kill_node(node, last, ready):
    """SIGKILL the process serving node (not the one killed last time),
    once ready() holds too, through a pidfd, after checking it is an
    actor of the node's site (a pid number alone could be another
    process's by now)."""
    pid = poll(lambda: (lambda p: p if p and p != last and ready() else 0)(
        node._pid()), "%s to serve again, and no request cut by a kill "
        "still retrying" % node.name)
    fd = os.pidfd_open(pid)
    try:
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read().split(b"\0")
        if ("HR_SITE=%s" % node.dir).encode() not in env:
            raise RuntimeError("pid %d is not an actor of %s" %
                               (pid, node.dir))
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    finally:
        os.close(fd)
    return pid


def kill_phase(fleet, args, seed, tally):
    """args.kills SIGKILLs of a node chosen at random, at random instants,
    none while a request cut by an earlier one is being retried (the
    module's head says why); returns once every node serves again."""
    rng = random.Random(seed)
    last = [0] * len(fleet.nodes)
    for _ in range(args.kills):
        i = rng.randrange(len(fleet.nodes))
        time.sleep(rng.uniform(0, args.gap / 1000))  # a random instant
        last[i] = kill_node(fleet.nodes[i], last[i],
                            lambda: tally.retrying.value == 0)
    for i, node in enumerate(fleet.nodes):
        poll(lambda: node._pid() not in (0, last[i]), "%s back" % node.name)


def upgrade_phase(fleet, argv, held, rounds):
    """rounds rolling upgrades: every node in turn, with hr upgrade, to
    the other of two builds (the program under two paths), then checked
    to serve from it."""
    other = os.path.join(fleet.workdir, "build-b", os.path.basename(argv[0]))
    os.makedirs(os.path.dirname(other), exist_ok=True)
    shutil.copy2(argv[0], other)
    builds = [argv[0], other]
    for r in range(rounds):
        prog = builds[(r + 1) % 2]
        for node in fleet.nodes:
            old = node.pid()
            node.upgrade(prog, argv[1:], cold=not held)
            new = poll(lambda: (lambda p: p if p not in (0, old) else 0)(
                node._pid()), "%s upgraded" % node.name)
            with open("/proc/%d/cmdline" % new, "rb") as f:
                ran = f.read().split(b"\0")[0].decode()
            if ran != prog:
                raise RuntimeError("%s runs %s after hr upgrade to %s" %
                                   (node.name, ran, prog))


def enter(tally, phase):
    """Begin phase; return once no client has a request in hand that
    began before it (each request counts in the phase it began in, so
    none from before meets this phase's events)."""
    p = PHASES.index(phase)
    tally.phase.value = p
    poll(lambda: min(tally.at) >= p, "every client in the %s phase" % phase)


def run_backend(name, argv, held, args, seed):
    print("== %s: 3 nodes behind twemproxy, %d clients, %d rolling "
          "upgrade(s), %d kills, seed %d" % (name, CLIENTS, args.upgrades,
                                            args.kills, seed), flush=True)
    fleet = Fleet(args.hr, argv, held, 3, args.template, args.pool)
    tally, procs = Tally(), []
    try:
        ctx = mp.get_context("fork")
        for cid in range(CLIENTS):
            p = ctx.Process(target=client_main,
                            args=(cid, fleet.proxy.port, seed,
                                  args.attempts, tally, os.getpid()))
            p.start()
            procs.append(p)
        poll(lambda: tally.filled.value == CLIENTS, "the clients' fill",
             bound=300)
        enter(tally, "steady")
        poll(lambda: tally.total("steady")["gets"] >= 2000,
             "2000 gets before the kills", bound=300)
        enter(tally, "upgrade")
        upgrade_phase(fleet, argv, held, args.upgrades)
        enter(tally, "kills")
        kill_phase(fleet, args, seed, tally)
        tally.phase.value = PHASES.index("final")
        for p in procs:
            p.join(300)
            if p.exitcode != 0:
                raise RuntimeError("client %d ended with %s" %
                                   (p.pid, p.exitcode))
        return report(name, tally, args.upgrades)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        fleet.close()


def report(name, tally, upgrades):
    notes = []
    while not tally.notes.empty():
        notes.append(tally.notes.get())
    steady, upgrade, kills, final = (tally.total(p) for p in PHASES[1:])

    def ratio(t):
        return t["hits"] / t["gets"] if t["gets"] else 0.0

    r = {"name": name, "before": ratio(steady), "during": ratio(kills),
         "phases": {p: tally.total(p) for p in PHASES},
         "upgrading": ratio(upgrade), "final": ratio(final), "kills": kills,
         "steady": steady, "upgrade": upgrade, "upgrades": upgrades,
         "all": {f: sum(tally.total(p)[f] for p in PHASES) for f in FIELDS},
         "notes": notes}
    a = r["all"]
    print("%s: hit ratio before %.4f, during the upgrades %.4f (%d gets, "
          "%d SERVER_ERROR answers), during the kills %.4f (%.4f of "
          "before), last pass %.4f"
          % (name, r["before"], r["upgrading"], upgrade["gets"],
             upgrade["server_error"], r["during"],
             r["during"] / max(r["before"], 1e-9), r["final"]))
    print("%s: %d gets, %d sets; %d SERVER_ERROR answers from the proxy; "
          "%d failed, %d wrong, %d lost" % (name, a["gets"], a["sets"],
                                            a["server_error"], a["failed"],
                                            a["wrong"], a["lost"]))
    shown = {}
    for n in notes:       # each proxy answer once, up to 3 of the rest
        field = n.split(":")[0]
        key = n.rsplit(": ", 1)[-1] if field == "server_error" else field
        shown.setdefault(key, []).append(n)
    for key, ns in shown.items():
        for n in ns[:1 if key != ns[0].split(":")[0] else 3]:
            print("  e.g. %s" % n)
    sys.stdout.flush()
    return r


def verdict(r):
    """What hrcached must show; a list of what does not hold."""
    bad = []
    if r["steady"]["gets"] == 0 or r["kills"]["gets"] == 0:
        bad.append("the load did not run in every phase")
    if r["during"] < 0.99 * r["before"]:
        bad.append("hit ratio during the kills %.4f < 0.99 x %.4f"
                   % (r["during"], r["before"]))
    # every client has begun a request in the upgrade phase before the
    # first upgrade (enter()), and 4 in 5 of them are gets: with an
    # upgrade to run, no get is the load not running
    if r["upgrades"] and r["upgrade"]["gets"] == 0:
        bad.append("no get ran during the %d rolling upgrade(s)"
                   % r["upgrades"])
    elif r["upgrades"] and r["upgrading"] < 0.99 * r["before"]:
        bad.append("hit ratio during the upgrades %.4f < 0.99 x %.4f"
                   % (r["upgrading"], r["before"]))
    for p in ("fill", "steady", "upgrade"):
        if r["phases"][p]["server_error"]:
            bad.append("%d SERVER_ERROR answer(s) in the %s phase, where "
                       "nothing closes the proxy's connections"
                       % (r["phases"][p]["server_error"], p))
    for f in ("failed", "wrong", "lost"):
        if r["all"][f]:
            bad.append("%d %s request(s)" % (r["all"][f], f))
    return bad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--hr", required=True)
    ap.add_argument("--hrcached", required=True)
    ap.add_argument("--memcached", default="/usr/bin/memcached")
    ap.add_argument("--template", default=os.path.join(
        here, "..", "deploy", "twemproxy", "nutcracker.yml"))
    ap.add_argument("--kills", type=int,
                    default=env_count("HR_FLEET_KILLS", 100))
    ap.add_argument("--seed", type=int,
                    default=int(os.environ.get("HR_FLEET_SEED", "0")) or
                    random.SystemRandom().randrange(1, 1 << 31))
    ap.add_argument("--backends", default="hrcached,memcached")
    ap.add_argument("--upgrades", type=int, default=int(
        os.environ.get("HR_FLEET_UPGRADES", "2")),
        help="rolling upgrades of every node before the kills (0: none)")
    ap.add_argument("--attempts", type=int, default=3,
                    help="RetryingClient's attempts (1: no retry)")
    ap.add_argument("--gap", type=float, default=30,
                    help="most ms between two kills (uniform)")
    ap.add_argument("--pool", action="append", default=[],
                    metavar="KEY=VALUE", help="override a setting of the "
                    "template's pool (YAML value), e.g. auto_eject_hosts=true")
    args = ap.parse_args()
    print("seed %d (replay: --seed %d or HR_FLEET_SEED=%d)"
          % (args.seed, args.seed, args.seed), flush=True)
    backends = {
        "hrcached": ([args.hrcached, "-m", "64"], True),
        "memcached": ([args.memcached, "-m", "64", "-U", "0", "-u", "root"]
                      if os.geteuid() == 0 else
                      [args.memcached, "-m", "64", "-U", "0"], False)}
    results = {}
    for name in args.backends.split(","):
        argv, held = backends[name]
        results[name] = run_backend(name, argv, held, args, args.seed)
    failed = False
    if "hrcached" in results:
        for b in verdict(results["hrcached"]):
            print("FAIL: hrcached: %s" % b)
            failed = True
    if "memcached" in results:
        bad = verdict(results["memcached"])
        print("memcached, by the same verdict: %s" %
              ("; ".join(bad) if bad else "nothing wrong"))
        if args.kills >= 10 and not bad:
            print("FAIL: the verdict refuses nothing of memcached, whose "
                  "shards the kills emptied: it cannot fail")
            failed = True
    if len(results) == 2:
        h, m = results["hrcached"], results["memcached"]
        print("hit ratio during the kills: hrcached %.4f, memcached %.4f"
              % (h["during"], m["during"]))
    print("seed %d" % args.seed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
