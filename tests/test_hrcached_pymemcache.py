#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A scripted workload for hrcached through pymemcache, a client library
nobody here wrote.  Phase "fill" checks every command's result and leaves a
known data set; phase "check" (run after hrcached was SIGKILLed and started
again) finds that data set whole.  Exit 0 when every check holds.

usage: test_hrcached_pymemcache.py PORT fill|check
"""
import random
import sys

from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError

N = 500


def dataset():
    rng = random.Random(20261127)
    data = {}
    for i in range(N):
        size = rng.choice([0, 1, 100, 1000, 4096, 30000])
        data["data:%d" % i] = bytes(rng.getrandbits(8) for _ in range(size))
    return data


def expect(what, got, want):
    if got != want:
        print("FAIL %s: got %r, want %r" % (what, got, want))
        sys.exit(1)


def fill(c):
    expect("version", c.version().startswith(b"1.6"), True)
    expect("set", c.set("a", b"1"), True)
    expect("get", c.get("a"), b"1")
    expect("get missing", c.get("nope"), None)
    expect("add existing", c.add("a", b"2", noreply=False), False)
    expect("add new", c.add("b", b"2", noreply=False), True)
    expect("replace missing", c.replace("nope", b"x", noreply=False), False)
    expect("replace", c.replace("b", b"3", noreply=False), True)
    expect("get_many", c.get_many(["a", "b", "nope"]),
           {"a": b"1", "b": b"3"})
    expect("append", c.append("a", b"23", noreply=False), True)
    expect("prepend", c.prepend("a", b"0", noreply=False), True)
    expect("after append/prepend", c.get("a"), b"0123")
    value, cas = c.gets("a")
    expect("gets", value, b"0123")
    expect("cas", c.cas("a", b"new", cas, noreply=False), True)
    expect("cas stale", c.cas("a", b"newer", cas, noreply=False), False)
    expect("cas missing", c.cas("nope", b"x", cas, noreply=False), None)
    try:
        c.incr("a", 1)                        # "new" is not a number
        expect("incr of a non-number raises", False, True)
    except MemcacheClientError as e:
        expect("incr of a non-number", b"non-numeric" in e.args[0], True)
    c.set("n", b"10")
    expect("incr", c.incr("n", 5), 15)
    expect("decr", c.decr("n", 100), 0)
    expect("incr missing", c.incr("nope", 1), None)
    expect("delete", c.delete("b", noreply=False), True)
    expect("delete missing", c.delete("b", noreply=False), False)
    expect("touch", c.touch("a", 100, noreply=False), True)
    expect("touch missing", c.touch("nope", 100, noreply=False), False)
    expect("flush_all", c.flush_all(noreply=False), True)
    expect("after flush", c.get_many(["a", "n"]), {})
    c.set("gone", b"x", expire=-1)
    expect("negative expiry", c.get("gone"), None)
    stats = c.stats()
    expect("stats has curr_items", b"curr_items" in stats, True)
    data = dataset()
    failed = c.set_many(data, noreply=False)
    expect("set_many", failed, [])
    expect("read back", c.get_many(list(data)), data)
    c.set("counter", b"0")
    for _ in range(100):
        c.incr("counter", 1)
    expect("counter", c.get("counter"), b"100")


def check(c):
    data = dataset()
    got = c.get_many(list(data))
    missing = [k for k in data if k not in got]
    wrong = [k for k in got if got[k] != data[k]]
    expect("keys missing after the kill", len(missing), 0)
    expect("keys wrong after the kill", len(wrong), 0)
    expect("counter after kill", c.get("counter"), b"100")
    expect("flushed stays flushed", c.get("a"), None)


def main():
    port, phase = int(sys.argv[1]), sys.argv[2]
    c = Client(("127.0.0.1", port), connect_timeout=10, timeout=10)
    {"fill": fill, "check": check}[phase](c)
    print("ok", phase)


if __name__ == "__main__":
    main()
