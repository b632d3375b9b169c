"""dfly's memcached listener against memcached itself: a differential run against Debian's
memcached 1.6 over a seeded random sequence of text and meta commands (every reply compared),
memcapable (libmemcached-tools) in text and binary mode, and garbage input.

What the comparison normalizes, and why:
- CAS values: each server numbers them its own way; both are mapped to the order in which each
  distinct value first appeared, so "the same item version" must still read the same.
- Spaces in values: memcached decrements a number in place and pads it with spaces ("10" decr
  1 reads "9 "), as protocol.txt allows, and an append keeps the padding inside; dfly stores
  the plain number so that RESP sees an integer. The generated values have no spaces, so
  values are compared without any (lengths adjusted); and counters (incr, decr, ma) use their
  own keys, which append and prepend leave alone, so a padded number is never joined to more
  digits (memcached would then read "2 85401" as 2).
- Counters get no TTL or meta win/stale/binary-key flags (ma T, mg N/R, md I, ms I and b):
  memcached changes a number
  in place only while no other response holds the item, else it makes a new item, and which
  one happens decides whether the T, the win token or the stale mark survives; the run would
  compare memcached with itself. dfly always behaves as in place.
- TTLs (t flag) are compared as "none" or "some": the two clocks tick differently.
- "me" is compared as hit or miss: its fields (slab class, sizes) are memcached's internals.
"""

import base64
import os
import random
import shutil
import socket
import struct
import subprocess
import time

import pytest

from memcache_support import (
    HEADER,
    OP,
    STATUS,
    BinConn,
    MemcachedServer,
    TextConn,
    free_port,
    set_extras,
)

SEED = int(os.environ.get("DFLY_MC_DIFF_SEED", "20251126"))
STEPS = int(os.environ.get("DFLY_MC_DIFF_STEPS", "3000"))
MEMCAPABLE = shutil.which("memccapable") or shutil.which("memcapable")
MEMCAPABLE_TIMEOUT = 120
GARBAGE_ROUNDS = 300

pytestmark = pytest.mark.skipif(
    not MemcachedServer.available(), reason="Debian's memcached is not installed"
)


@pytest.fixture
def dfly_mc(server_factory):
    port = free_port()
    s = server_factory("--memcached_port", port, threads=2)
    s.mc_port = port
    return s


@pytest.fixture
def memcached():
    m = MemcachedServer().start()
    yield m
    m.stop()


# ---- the differential run -----------------------------------------------------------------


class Side:
    """One server's connection, its CAS values (last seen per key, and their canonical
    numbering)."""

    def __init__(self, port):
        self.conn = TextConn(port)
        self.last_cas = {}
        self.canon = {}

    def cas_token(self, value):
        v = int(value)
        if v not in self.canon:
            self.canon[v] = len(self.canon)
        return b"#%d" % self.canon[v]


META_CODES = (b"HD", b"EN", b"NS", b"EX", b"NF", b"VA", b"ME", b"MN")


def _meta_flags(side, key, tokens):
    out = []
    for t in tokens:
        f = t[:1]
        if f == b"c":
            side.last_cas[key] = int(t[1:])
            out.append(b"c" + side.cas_token(t[1:]))
        elif f == b"t":
            out.append(b"t-1" if t == b"t-1" else b"t+")
        elif f in (b"s", b"l"):
            out.append(f)
        else:
            out.append(t)
    return out


def normalize(side, key, reply):
    """The reply as comparable lines (see the module's docstring)."""
    out = []
    rest = reply
    while rest:
        line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            out.append(b"PARTIAL " + line)
            break
        parts = line.split(b" ")
        if parts[0] == b"VALUE" and len(parts) >= 4:
            n = int(parts[3])
            data, rest = rest[:n].replace(b" ", b""), rest[n + 2 :]
            if len(parts) > 4:
                side.last_cas[parts[1].decode()] = int(parts[4])
                parts[4] = side.cas_token(parts[4])
            parts[3] = b"%d" % len(data)
            out += [b" ".join(parts), data]
        elif parts[0] == b"VA":
            n = int(parts[1])
            data, rest = rest[:n].replace(b" ", b""), rest[n + 2 :]
            out += [b"VA " + b" ".join(_meta_flags(side, key, parts[2:])), data]
        elif parts[0] == b"ME":
            out.append(b"ME " + parts[1])
        elif parts[0] in META_CODES:
            out.append(b" ".join([parts[0]] + _meta_flags(side, key, parts[1:])))
        else:
            out.append(line)
    return out


NUM_KEYS = ["num1", "num2"]  # counters: no append or prepend (see the module's docstring)
KEYS = ["a", "b", "c", "d", "{t}e", "{t}f", "k" * 250] + NUM_KEYS
EXPTIMES = [0, 0, 0, 1000, -1, 1000000000, None]  # None: a unix time an hour ahead


class Gen:
    """Random requests; each is a function of the side (for that side's own CAS values)."""

    def __init__(self, rng):
        self.rng = rng
        self.opaque = 0

    def key(self):
        r = self.rng.random()
        if r < 0.01:
            return "x" * 251  # too long: an error
        return self.rng.choice(KEYS)

    def value(self):
        r = self.rng.random()
        if r < 0.35:
            return str(self.rng.randint(0, 100000)).encode()
        if r < 0.4:
            return b"18446744073709551615"
        n = self.rng.randint(0, 12)
        return bytes(self.rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))

    def exptime(self):
        e = self.rng.choice(EXPTIMES)
        return int(time.time()) + 3600 if e is None else e

    def flags(self):
        return self.rng.choice([0, 0, 1, 65535, 4294967295])

    def cas_of(self, key):
        wrong = self.rng.random() < 0.3
        return lambda side: 999999 if wrong else side.last_cas.get(key, 999999)

    def noreply(self):
        return b" noreply" if self.rng.random() < 0.15 else b""

    def storage(self):
        cmd = self.rng.choice([b"set", b"set", b"add", b"replace", b"append", b"prepend", b"cas"])
        key = self.key()
        if cmd in (b"append", b"prepend") and key in NUM_KEYS:
            key = "a"
        val = self.value()
        n = len(val)
        if val and self.rng.random() < 0.03:
            n -= 1  # a bad data chunk
        flags = b"x" if self.rng.random() < 0.02 else b"%d" % self.flags()
        head = b"%s %s %s %d %d" % (cmd, key.encode(), flags, self.exptime(), n)
        nr = self.noreply()
        if cmd == b"cas":
            cas = self.cas_of(key)
            return key, lambda s: head + b" %d" % cas(s) + nr + b"\r\n" + val + b"\r\n"
        return key, lambda s: head + nr + b"\r\n" + val + b"\r\n"

    def retrieval(self):
        cmd = self.rng.choice([b"get", b"get", b"gets", b"gat", b"gats"])
        keys = [self.key() for _ in range(self.rng.randint(1, 4))]
        line = cmd
        if cmd.startswith(b"gat"):
            line += b" %d" % self.exptime()
        line += b" " + b" ".join(k.encode() for k in keys) + b"\r\n"
        return keys[0], lambda s: line

    def arith(self):
        cmd = self.rng.choice([b"incr", b"decr"])
        key = self.rng.choice(NUM_KEYS)
        delta = self.rng.choice([b"0", b"1", b"7", b"18446744073709551615", b"x"])
        line = b"%s %s %s%s\r\n" % (cmd, key.encode(), delta, self.noreply())
        return key, lambda s: line

    def misc(self):
        key = self.key()
        k = key.encode()
        line = self.rng.choice(
            [
                b"delete %s%s\r\n" % (k, self.noreply()),
                b"delete %s 0\r\n" % k,
                b"delete %s 5\r\n" % k,
                b"touch %s %d%s\r\n" % (k, self.exptime(), self.noreply()),
                b"bogus %s\r\n" % k,
                b"\r\n",
                b"get\r\n",
                b"set %s 0 0\r\n" % k,
                b"me %s\r\n" % k,
                b"verbosity 1\r\n",
            ]
        )
        return key, lambda s: line

    def opaque_flag(self):
        self.opaque += 1
        return b"O%d" % self.opaque

    def pick_flags(self, choices):
        flags = [f for f in choices if self.rng.random() < 0.3]
        self.rng.shuffle(flags)
        return flags

    def mg(self):
        key = self.key()
        choices = [b"v", b"s", b"f", b"k", b"c", b"t", b"q", b"u", b"T1000"]
        if key not in NUM_KEYS:
            choices += [b"N1000", b"R2000"]
        flags = self.pick_flags(choices)
        if self.rng.random() < 0.3:
            flags.append(self.opaque_flag())
        line = b" ".join([b"mg", key.encode()] + flags) + b"\r\n"
        return key, lambda s: line

    def ms(self):
        key = self.key()
        val = self.value()
        counter = key in NUM_KEYS
        flags = self.pick_flags([b"c", b"k", b"q", b"T1000", b"T-1"] + ([] if counter else [b"I"]))
        if self.rng.random() < 0.4:
            flags.append(b"F%d" % self.flags())
        if self.rng.random() < 0.4:
            modes = [b"E", b"R", b"S"] + ([] if key in NUM_KEYS else [b"A", b"P"])
            flags.append(b"M" + self.rng.choice(modes))
        if self.rng.random() < 0.3:
            flags.append(self.opaque_flag())
        use_cas = self.rng.random() < 0.25
        cas = self.cas_of(key)
        b64 = not counter and self.rng.random() < 0.05

        def build(s):
            fl = flags + ([b"C%d" % cas(s)] if use_cas else [])
            k = base64.b64encode(key.encode()) if b64 else key.encode()
            fl = fl + ([b"b"] if b64 else [])
            return b" ".join([b"ms", k, b"%d" % len(val)] + fl) + b"\r\n" + val + b"\r\n"

        return key, build

    def md(self):
        key = self.key()
        flags = self.pick_flags([b"q", b"k"] + ([] if key in NUM_KEYS else [b"I", b"T1000"]))
        if self.rng.random() < 0.3:
            flags.append(self.opaque_flag())
        use_cas = self.rng.random() < 0.2
        cas = self.cas_of(key)
        return key, lambda s: b" ".join(
            [b"md", key.encode()] + flags + ([b"C%d" % cas(s)] if use_cas else [])
        ) + b"\r\n"

    def ma(self):
        key = self.rng.choice(NUM_KEYS)
        flags = self.pick_flags([b"q", b"t", b"c", b"v", b"k", b"N0", b"J13", b"D3", b"MD"])
        if self.rng.random() < 0.3:
            flags.append(self.opaque_flag())
        return key, lambda s: b" ".join([b"ma", key.encode()] + flags) + b"\r\n"

    def next(self):
        r = self.rng.random()
        if r < 0.005:
            return None, lambda s: b"flush_all\r\n"
        for limit, make in ((0.3, self.storage), (0.45, self.retrieval), (0.53, self.arith),
                            (0.6, self.misc), (0.72, self.mg), (0.84, self.ms),
                            (0.9, self.md)):
            if r < limit:
                return make()
        return self.ma()


def test_differential_text_and_meta(dfly_mc, memcached):
    rng = random.Random(SEED)
    gen = Gen(rng)
    ours, theirs = Side(dfly_mc.mc_port), Side(memcached.port)
    history = []
    for step in range(STEPS):
        key, build = gen.next()
        req_ours, req_theirs = build(ours), build(theirs)
        history.append(req_theirs)
        got = normalize(ours, key, ours.conn.call(req_ours))
        want = normalize(theirs, key, theirs.conn.call(req_theirs))
        if got != want:
            recent = b"".join(history[-30:]).decode(errors="replace")
            pytest.fail(
                f"step {step} (seed {SEED}): {req_theirs!r}\n memcached: {want}\n dfly:      "
                f"{got}\nlast requests:\n{recent}"
            )


# ---- memcapable -----------------------------------------------------------------------------


@pytest.mark.skipif(not MEMCAPABLE, reason="memcapable (libmemcached-tools) is not installed")
@pytest.mark.parametrize("mode", ["-a", "-b"])
def test_memcapable(dfly_mc, mode):
    out = subprocess.run(
        [MEMCAPABLE, "-h", "127.0.0.1", "-p", str(dfly_mc.mc_port), "-t", "10", mode],
        capture_output=True,
        text=True,
        timeout=MEMCAPABLE_TIMEOUT,
    )
    report = out.stdout + out.stderr
    assert out.returncode == 0, report
    assert "All tests passed" in report, report
    assert "[fail]" not in report, report


# ---- garbage --------------------------------------------------------------------------------


def _alive(port):
    t = TextConn(port)
    try:
        return t.call(b"version\r\n").startswith(b"VERSION ")
    finally:
        t.close()


def _send_garbage(port, payload):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(2)
        while s.recv(65536):
            pass
    except OSError:
        pass
    finally:
        s.close()


def test_garbage_text_and_binary_never_crash(dfly_mc):
    rng = random.Random(SEED)
    port = dfly_mc.mc_port
    pieces = [b"get ", b"set k 0 0 ", b"gets", b"mg k ", b"ms k ", b"ma k ", b"\r\n",
              b"noreply", b"999999999999999999999", b"-1", b" ", b"\x00", b"\xff" * 8]
    for i in range(GARBAGE_ROUNDS):
        kind = i % 3
        if kind == 0:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
        elif kind == 1:
            payload = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        else:  # binary headers with random lengths and opcodes
            payload = b"".join(
                BinConn.packet(rng.randrange(0x40), b"k" * rng.randint(0, 3),
                               bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 20]))),
                               b"v" * rng.randint(0, 5), cas=rng.choice([0, 1]))
                for _ in range(rng.randint(1, 5))
            )
            if rng.random() < 0.5:  # and lengths that lie
                payload = payload[:4] + struct.pack(">B", rng.randrange(256)) + payload[5:]
        _send_garbage(port, payload)
    assert _alive(port)


def test_oversized_input(dfly_mc):
    port = dfly_mc.mc_port
    t = TextConn(port)
    t.send(b"x" * 5000)  # no newline in 2048 bytes and not a multiget: hung up on
    assert t.closed_by_peer()
    t = TextConn(port)
    keys = b" ".join(b"key%d" % i for i in range(20000))  # a long multiget is fine
    assert t.call(b"get " + keys + b"\r\n") == b"END\r\n"
    t = TextConn(port)
    t.send(b"set k 0 0 2000000000\r\n")  # refused at once, its data is skipped as it comes
    assert t.read_until(b"\r\n") == b"SERVER_ERROR object too large for cache\r\n"
    b = BinConn(port)
    b.sock.sendall(HEADER.pack(0x80, OP["SET"], 1, 8, 0, 0, 2**31, 7, 0) + set_extras() + b"k")
    r = b.read_response()
    assert r.status == STATUS["E2BIG"] and r.opaque == 7
    assert _alive(port)
