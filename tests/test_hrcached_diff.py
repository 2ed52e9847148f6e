#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The differential test of hrcached against memcached itself (issue 21
must-show 2, issue 25 must-show 1).

Starts BOTH servers (memcached from $MEMCACHED or PATH, hrcached from
$HRCACHED_BIN or argv[1], each on its own Unix socket, the same -m and -I),
sends both the same seeded random command streams and compares the replies
byte for byte.  Commands go in batches, pipelined on one of several
connections and cut at random places across several sends; each batch ends
with the sentinel "version" (its answer is found nowhere else) so that
the whole reply of the batch is read before the next one starts.

What the streams never hold, and why, is tests/hrcached_diff_quirks.md:
memcached's own quirks and what depends on time or memory layout.  The only
rewrite of a reply is the version string.  Any other difference fails the
test, printing the seed, the batch and both replies.

usage: test_hrcached_diff.py [HRCACHED] [--seed N] [--commands N]
       (or $HR_TEST_SEED, the seed of every random test, also read as
       $HR_MC_DIFF_SEED; $HR_MC_DIFF_COMMANDS; 100000 commands by default)
"""
import argparse
import ctypes
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import test_hrcached_diffgen as mcgen

CONNS = 4
MEM_MB = "128"


def die_with_parent():
    """In the child: SIGKILL when the test dies, however it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PDEATHSIG


def start(argv, env, sock):
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, preexec_fn=die_with_parent)
    deadline = time.monotonic() + 60   # bound only: fails a start that hangs
    while True:
        if proc.poll() is not None:
            sys.exit("FAIL: %s exited at start: %s" %
                     (argv[0], proc.stderr.read().decode(errors="replace")))
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            s.close()
            return proc
        except OSError:
            s.close()
        if time.monotonic() > deadline:
            proc.kill()
            sys.exit("FAIL: %s never listened on %s" % (argv[0], sock))
        time.sleep(0.01)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setblocking(False)
    return s


def exchange(sock, chunks, sentinel_end):
    """Send the batch in its chunks (one send each, reading meanwhile: a
    server stops reading while its replies wait), then read until the
    sentinel's reply."""
    out = bytearray()
    pending = [memoryview(c) for c in chunks]
    deadline = time.monotonic() + 30
    while not sentinel_end(out):
        if time.monotonic() > deadline:
            return bytes(out) + b"<no more reply within 30 s>"
        w = [sock] if pending else []
        r, w, _ = select.select([sock], w, [], 1)
        if w:
            try:
                n = sock.send(pending[0])
            except OSError as e:
                return bytes(out) + b"<send failed: %s>" % str(e).encode()
            pending[0] = pending[0][n:]
            if not pending[0]:
                pending.pop(0)
        if r:
            d = sock.recv(1 << 20)
            if not d:
                return bytes(out) + b"<closed>"
            out += d
    return bytes(out)


VERSION = re.compile(rb"VERSION [^\r\n]*\r\n$")


def version_end(buf):
    return VERSION.search(buf[-64:]) is not None


HEAD = re.compile(rb"VALUE (\S+) (\d+) (\d+)( \d+)?\r\n")
VA = re.compile(rb"VA (\d+)([^\r\n]*)\r\n")
COUNTER = re.compile(rb"(\d+) +")


def counter(data):
    c = COUNTER.fullmatch(data)
    return c.group(1) if c else data


def normal(reply):
    """The reply with the version string and [Q8] a counter's padding
    taken out: a VALUE or VA of digits then spaces reads as the digits."""
    out, i = bytearray(), 0
    while i < len(reply):
        m = HEAD.match(reply, i) or VA.match(reply, i)
        if not m:
            j = reply.find(b"\r\n", i)
            j = len(reply) if j < 0 else j + 2
            out += reply[i:j]
            i = j
            continue
        value = m.re is HEAD
        n = int(m.group(3) if value else m.group(1))
        data = counter(reply[m.end():m.end() + n])
        if value:
            out += b"VALUE %s %s %d%s\r\n" % (m.group(1), m.group(2),
                                               len(data), m.group(4) or b"")
        else:
            out += b"VA %d%s\r\n" % (len(data), m.group(2))
        out += data
        i = m.end() + n
    return VERSION.sub(b"VERSION <v>\r\n", bytes(out))


def main():
    # a timeout's SIGTERM runs the cleanup below (servers, directory)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: terminated"))
    ap = argparse.ArgumentParser()
    ap.add_argument("hrcached", nargs="?", default=os.environ.get("HRCACHED_BIN"))
    ap.add_argument("--seed", type=int,
                    default=int(os.environ.get("HR_TEST_SEED",
                                               os.environ.get("HR_MC_DIFF_SEED", "0"))) or
                    random.SystemRandom().randrange(1, 1 << 31))
    ap.add_argument("--commands", type=int,
                    default=int(os.environ.get("HR_MC_DIFF_COMMANDS", "100000")))
    ap.add_argument("--classic-only", action="store_true")
    a = ap.parse_args()
    memcached = os.environ.get("MEMCACHED") or shutil.which("memcached")
    if not a.hrcached or not memcached:
        sys.exit("FAIL: need hrcached (argument or $HRCACHED_BIN) and "
                 "memcached (apt-get install memcached)")
    meta = not a.classic_only and mcgen.META
    print("seed %d (replay: HR_TEST_SEED=%d, or %s --seed %d --commands %d%s)" %
          (a.seed, a.seed, sys.argv[0], a.seed, a.commands,
           "" if meta else " --classic-only"), flush=True)
    tmp = tempfile.mkdtemp(prefix="hrmcdiff.",
                           dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    procs = []
    try:
        env = dict(os.environ, HR_SITE=os.path.join(tmp, "site"))
        env.pop("LISTEN_FDS", None)
        mc_sock, hr_sock = os.path.join(tmp, "mc.sock"), os.path.join(tmp, "hr.sock")
        user = ["-u", "root"] if os.geteuid() == 0 else []
        procs.append(start([memcached, "-s", mc_sock, "-a", "0700", "-U", "0",
                            "-m", MEM_MB, "-I", "1m", "-c", "64",
                            "-o", "no_lru_crawler,no_lru_maintainer"] + user,
                           env, mc_sock))
        procs.append(start([a.hrcached, "-s", hr_sock, "-p", "0", "-m", MEM_MB,
                            "-I", "1m"], env, hr_sock))
        r = run(a.seed, a.commands, meta, mc_sock, hr_sock)
        for name, p in zip(("memcached", "hrcached"), procs):
            if p.poll() is not None:
                print("FAIL: %s died (status %d): %s" % (name, p.returncode,
                      p.stderr.read().decode(errors="replace")))
                r = 1
        return r
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def run(seed, commands, meta, mc_sock, hr_sock):
    rng = random.Random(seed)
    gen = mcgen.Generator(rng, meta)
    mc = [connect(mc_sock) for _ in range(CONNS)]
    hr = [connect(hr_sock) for _ in range(CONNS)]
    sentinel, end = b"version\r\n", version_end   # mn is drawn in the streams
    sent = batches = 0
    t0 = time.monotonic()
    while sent < commands:
        gen.batch()
        cmds = [gen.command() for _ in range(rng.randint(1, 60))]
        sent += len(cmds)
        data = b"".join(cmds) + sentinel
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1,
                                                           rng.randint(0, 4))))
        chunks = [data[i:j] for i, j in zip([0] + cuts, cuts + [len(data)])]
        c = rng.randrange(CONNS)
        want = normal(exchange(mc[c], chunks, end))
        got = normal(exchange(hr[c], chunks, end))
        batches += 1
        if want != got or not end(want):
            print("FAIL: seed %d, batch %d (connection %d), %d commands in:" %
                  (seed, batches, c, sent))
            at = next((i for i, (x, y) in enumerate(zip(want, got)) if x != y),
                      min(len(want), len(got)))
            lo = max(0, at - 300)
            for i, cmd in enumerate(cmds):
                print("  sent %2d: %r%s" % (i, cmd[:160],
                                            "..." if len(cmd) > 160 else ""))
            print("  replies differ at byte %d; from byte %d:" % (at, lo))
            print("  memcached: %r" % want[lo:at + 300])
            print("  hrcached:  %r" % got[lo:at + 300])
            return 1
    print("PASS: %d commands in %d batches, 0 differences (%.1f s)" %
          (sent, batches, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
