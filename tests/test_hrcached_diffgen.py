# SPDX-License-Identifier: MIT
"""The random commands of the differential test (test_hrcached_diff.py):
classic commands of memcached's ASCII protocol, well formed and not, drawn
from a seeded random.Random, over a small pool of keys so that commands
meet each other's items.  What is never drawn, and why, is written in
tests/hrcached_diff_quirks.md; each exclusion below names its entry there
as [Qn].
"""

import base64

META = True         # meta commands are drawn too

KEYS = ["k%d" % i for i in range(40)] + ["n%d" % i for i in range(10)] + \
       ["x" * 250, "y" * 249, "big0", "big1"]
BIG = ["big0", "big1"]
LIMIT = 1048576 - 59            # key + value within -I 1m, as memcached

# exptime: never, past, long relative, absolute past, absolute future.
# [Q5] never a small relative time: expiry would race the clock.
EXPTIMES = ["0", "0", "0", "-1", "1000", "86400", "2592000", "1000000000",
            "2000000000", "+100", "-100"]
# [Q2] numbers within their 32 bits: memcached cuts larger ones down.
FLAGS = ["0", "0", "1", "42", "4294967295", "-1", "x", "1x", "+7", "007"]
DELTAS = ["0", "1", "1", "7", "100", "18446744073709551615",
          "18446744073709551616", "+3", "-1", "x", "3x", "00012"]
ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789 "
# binary keys: always sent with b (an item stored so answers k in base64)
BINKEYS = [base64.b64encode(b"bin%d" % i).decode() for i in range(4)]
# [Q5] no t or l flag (seconds left, since last access: clocks), [Q10] no
# me (slab class and size are memcached's layout)
MG_FLAGS = ["v", "k", "f", "c", "s", "q", "u", "Oop1", "O123"]   # [Q11] no h
TTLS = ["0", "-1", "1000", "86400", "2592000", "2000000000", "x"]


class Generator:
    def __init__(self, rng, meta):
        self.r = rng
        self.meta = meta
        self.fetched = set()

    def batch(self):
        """A new batch: the keys its retrievals name are forgotten."""
        self.fetched.clear()

    def key(self):
        r = self.r
        if r.random() < 0.02:
            return "z" * 251        # too long (not in a get: [Q3])
        return r.choice(KEYS)

    def value(self):
        r = self.r
        kind = r.random()
        if kind < 0.3:              # numbers, for incr and decr
            n = r.choice([0, 1, 9, 99, 100, 999, 1000, r.getrandbits(62)])
            return r.choice(["%d", " %d", "%d ", "+%d", "-%d", "%d x",
                             "%dx", "%d"]) % n
        if kind < 0.35:
            return ""
        n = r.choice([1, 2, 5, 10, 50, 200, 1000, 5000])
        v = "".join(r.choice(ALPHA) for _ in range(r.randint(0, n)))
        return v if v.strip() else ""   # [Q7] no value of spaces only

    def noreply(self):
        return " noreply" if self.r.random() < 0.2 else ""

    def storage(self):
        r = self.r
        op = r.choice(["set", "set", "add", "replace", "append", "prepend",
                       "cas"])
        key = self.key()
        if op in ("append", "prepend") and key in KEYS[40:50]:
            key = "k" + key[1:]     # [Q8] a counter's padding stays unseen
        if key in BIG and r.random() < 0.5:
            data = b"b" * r.choice([LIMIT - len(key), LIMIT - len(key) + 1,
                                    100000])
        else:
            data = self.value().encode()
        length = len(data)
        tail = b"\r\n"
        bad = r.random()
        if bad < 0.03:              # a data block longer than said
            length = max(0, length - 1)
        elif bad < 0.05:            # a block not ending in \r\n
            tail = b"\nX"
        cas = ""
        if op == "cas":
            cas = " " + r.choice([str(r.randint(0, 400)), "0", "x", "-1",
                                  str(r.randint(0, 20000))])
        flags = r.choice(FLAGS) if r.random() < 0.3 else "0"
        exptime = r.choice(EXPTIMES)
        slen = str(length)
        malformed = r.random() < 0.04
        if r.random() < 0.02:
            slen = "+%d" % length   # good: strtol takes a sign
        if malformed and r.random() < 0.5:
            slen = r.choice(["-1", "x", "%dx" % length])
        line = "%s %s %s %s %s%s%s" % (op, key, flags, exptime, slen, cas,
                                       self.noreply())
        if malformed and slen.lstrip("+") == str(length):
            if r.random() < 0.5:    # a token missing
                cut = line.rsplit(" ", 1)
                line = cut[0]
                malformed = cut[1] != "noreply"
            else:                   # taken as a good command (not noreply)
                if not line.endswith("noreply"):
                    line += " extra"
                malformed = False
        if flags in ("-1", "x", "1x") or cas in (" x", " -1") or len(key) > 250:
            malformed = True        # refused: its data is read as a line
        if malformed:               # [Q4] so it must be short
            data, tail = b"zz" + data[:98], b"\r\n"
        return line.encode() + b"\r\n" + data + tail

    def retrieval(self):
        r = self.r
        op = r.choice(["get", "get", "gets", "gat", "gats", "bget"])
        keys = [r.choice(KEYS) for _ in range(r.choice([0, 1, 1, 2, 3, 30]))]
        self.fetched.update(keys)
        args = keys
        if op in ("gat", "gats"):
            args = [r.choice(EXPTIMES[:7] + ["x"])] + keys
        return (" ".join([op] + args) + "\r\n").encode()

    def other(self):
        r = self.r
        key = self.key()
        which = r.random()
        if which < 0.25:
            extra = r.choice(["", "", " 0", " 1", " 0 noreply", " noreply",
                              " x noreply", " 0 0"])
            return ("delete %s%s\r\n" % (key, extra)).encode()
        if which < 0.55:            # [Q8] not of a key fetched in the batch
            op = r.choice(["incr", "decr"])   # [Q7] no value past INT64_MAX
            key = r.choice(KEYS[40:50]) if r.random() < 0.9 else "z" * 251
            if key in self.fetched:
                key = "z" * 251
            delta = r.choice(DELTAS)
            if op == "incr" and delta == "18446744073709551615":
                delta = "4294967296"
            return ("%s %s %s%s\r\n" % (op, key, delta,
                                        self.noreply())).encode()
        if which < 0.7:
            return ("touch %s %s%s\r\n" % (key, r.choice(EXPTIMES[:7] + ["x"]),
                                           self.noreply())).encode()
        if which < 0.73:            # [Q6] now only: a delay races the clock
            return ("flush_all%s%s\r\n" % (r.choice(["", " 0", " -1"]),
                                           self.noreply())).encode()
        if which < 0.76:
            return r.choice([b"verbosity 1\r\n", b"verbosity 1 noreply\r\n",
                             b"verbosity x\r\n", b"verbosity\r\n",
                             b"verbosity 0 0\r\n"])
        return r.choice([b"\r\n", b"x\r\n", b"bogus k\r\n", b"  get\r\n",
                         b"gets\r\n", b"set\r\n", b"incr k\r\n",
                         b"touch k\r\n", b"cas k 0 0 1\r\n", b"SET k\r\n",
                         b"shutdown\r\n", b"delete\r\n", b"flush_all 1 2 3\r\n",
                         b"delete k 0 0 0 0\r\n", b"\r\r\n", b"ge\r\n",
                         b"get " + b" ".join(b"k%d" % i for i in range(40)) +
                         b"\r\n"])

    def meta_key(self, flags):
        r = self.r
        if r.random() < 0.1:
            flags.append("b")
            return r.choice(BINKEYS + ["!!!!", "YQ"])   # two not base64
        return self.key()

    def flags(self, pool, k):
        return self.r.sample(pool, min(len(pool), self.r.randint(0, k)))

    def bad_flag(self, flags):
        r = self.r
        if r.random() < 0.05:
            flags.append(r.choice(["E1", "x", "v", "Tx", "Cx", "Nx", "Ry",
                                   "D-1", "Jx", "M", "MSS", "Fx",
                                   "O" + "o" * 33, "k"]))
        if "O" + "o" * 33 in flags:  # [Q9] memcached applies T, N, R of
            flags[:] = [f for f in flags  # a refused command up to the O
                        if f[0] not in "TNR" or f in ("Tx", "Nx", "Ry")]

    def mg(self):
        r = self.r
        flags = self.flags(MG_FLAGS, 5)
        extra = r.random()
        if extra < 0.2:             # [Q9] T or N or R, one of them
            flags.append("T" + r.choice(TTLS[:6]))
        elif extra < 0.35:
            flags.append("N" + r.choice(TTLS[:6]))
        elif extra < 0.45:
            flags.append("R" + r.choice(["30", "5000"]))
        self.bad_flag(flags)
        key = self.meta_key(flags)
        if key in KEYS[40:50] and "s" in flags:
            flags.remove("s")       # [Q8] a counter's padding stays unseen
        r.shuffle(flags)
        self.fetched.add(key)
        return ("mg %s %s\r\n" % (key, " ".join(flags))).encode()

    def ms(self):
        r = self.r
        flags = self.flags(["c", "k", "q", "Oab", "I", "F7", "F0",
                            "F4294967295", "T1000", "T-1", "T0"], 4)
        if r.random() < 0.3:
            flags.append("M" + r.choice("SEAPRZ"))
        key = self.meta_key(flags)
        if any(f in ("MA", "MP") for f in flags) and key in KEYS[40:50]:
            key = "k" + key[1:]     # [Q8] a counter's padding stays unseen
        if r.random() < 0.3:
            flags.append("C%d" % r.choice([0, 1, r.randint(0, 3000)]))
        self.bad_flag(flags)
        r.shuffle(flags)
        data = self.value().encode()
        if key in BIG and r.random() < 0.3:
            data = b"b" * (LIMIT - len(key) + r.choice([0, 1, -4]))
        if r.random() < 0.02:
            return ("ms %s %s\r\n" % (key, r.choice(["x", "-1", ""]))).encode()
        if len(key) > 250:          # refused before its length: [Q4]
            data = b"zz" + data[:98]
        return ("ms %s %d %s\r\n" % (key, len(data), " ".join(flags))).encode() + \
            data + b"\r\n"

    def md(self):
        r = self.r
        flags = self.flags(["k", "q", "Oab", "I", "T1000"], 3)
        if r.random() < 0.3:
            flags.append("C%d" % r.choice([0, 1, r.randint(0, 3000)]))
        self.bad_flag(flags)
        key = self.meta_key(flags)
        r.shuffle(flags)
        return ("md %s %s\r\n" % (key, " ".join(flags))).encode()

    def ma(self):
        r = self.r
        flags = self.flags(["v", "c", "k", "q", "Oab", "N0", "N1000", "J7",
                            "J4294967295", "D3", "D0",
                            "D4294967296", "MI", "MD",
                            "M+", "M-"], 4)   # [Q12] no T
        if r.random() < 0.2:
            flags.append("C%d" % r.choice([0, 1, r.randint(0, 3000)]))
        self.bad_flag(flags)
        key = r.choice(KEYS[40:50] + BINKEYS[:1])
        if key in BINKEYS:
            flags.append("b")
        if key in self.fetched:     # [Q8] not of a key fetched in the batch
            key = "z" * 251
        r.shuffle(flags)
        if len(set(f[0] for f in flags)) < len(flags) and r.random() < 0.7:
            flags = list(dict((f[0], f) for f in flags).values())
        return ("ma %s %s\r\n" % (key, " ".join(flags))).encode()

    def meta_command(self):
        r = self.r.random()
        if r < 0.35:
            return self.mg()
        if r < 0.65:
            return self.ms()
        if r < 0.8:
            return self.md()
        if r < 0.97:
            return self.ma()
        return self.r.choice([b"mn\r\n", b"mx k\r\n", b"mg\r\n",
                              b"ms k\r\n", b"ma\r\n", b"md\r\n"])

    def command(self):
        r = self.r.random()
        if self.meta and r < 0.4:
            return self.meta_command()
        r = self.r.random()
        if r < 0.4:
            return self.storage()
        if r < 0.7:
            return self.retrieval()
        return self.other()
