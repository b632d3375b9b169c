"""Bit commands on strings with Redis 7 semantics, seen by real clients: SETBIT, GETBIT,
BITCOUNT and BITPOS (BYTE and BIT ranges), BITOP AND/OR/XOR/NOT over keys on several shards,
BITFIELD (GET/SET/INCRBY, OVERFLOW WRAP/SAT/FAIL, i/u types, #N offsets) and BITFIELD_RO; their
error replies with Redis's exact texts; and a seeded random run compared reply by reply with
Debian's redis-server.
"""

import random

import pytest
import redis

from shardkeys import keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"
BIT_OFFSET = "bit offset is not an integer or out of range"
BIT_VALUE = "bit is not an integer or out of range"
BF_TYPE = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is."
PROTO_MAX_BULK_LEN = 512 * 1024 * 1024  # the default proto-max-bulk-len, in bytes
MAX_BIT_OFFSET = PROTO_MAX_BULK_LEN * 8 - 1
SMALL_BULK_LEN = 1024 * 1024  # the smallest proto-max-bulk-len Redis accepts
TTL_S = 100
COMPARE_OPS = 4000
COMPARE_SEED = 7031


def err(c, *args):
    """The error text of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def make_wrong_type(c, key):
    """Stores a non-string value (a list) at key."""
    c.execute_command("RPUSH", key, "x")
    return key


@pytest.fixture
def raw(server):
    """A client that returns replies as they come (bytes, no response callbacks)."""
    c = server.client(decode_responses=False)
    c.response_callbacks.clear()
    return c


# --- SETBIT, GETBIT ------------------------------------------------------------------------


def test_setbit_getbit(r, raw):
    assert r.setbit("b", 7, 1) == 0
    assert r.setbit("b", 7, 1) == 1
    assert r.getbit("b", 7) == 1
    assert r.getbit("b", 6) == 0
    assert raw.execute_command("GET", "b") == b"\x01"
    assert r.setbit("b", 0, 1) == 0
    assert raw.execute_command("GET", "b") == b"\x81"
    assert r.setbit("b", 7, 0) == 1
    assert raw.execute_command("GET", "b") == b"\x80"


def test_setbit_grows_with_zeros(r, raw):
    assert r.setbit("b", 100, 1) == 0
    assert r.strlen("b") == 13
    assert raw.execute_command("GET", "b") == b"\x00" * 12 + b"\x08"
    assert r.getbit("b", 100) == 1
    assert r.getbit("b", 1000000) == 0  # past the end reads as 0
    assert r.getbit("nokey", 5) == 0
    assert r.object("encoding", "b") == "raw"


def test_setbit_on_existing_values(r):
    r.set("i", 12)  # "12" = 0x31 0x32
    assert r.getbit("i", 2) == 1
    assert r.getbit("i", 7) == 1
    assert r.setbit("i", 6, 1) == 0  # 0x31 -> 0x33
    assert r.get("i") == "32"
    r.set("t", "a", ex=TTL_S)
    r.setbit("t", 6, 1)  # 'a' 0x61 -> 'c' 0x63
    assert r.get("t") == "c"
    assert r.ttl("t") > 0


def test_setbit_errors(r):
    assert err(r, "SETBIT", "b", "-1", "1") == BIT_OFFSET
    assert err(r, "SETBIT", "b", "x", "1") == BIT_OFFSET
    assert err(r, "SETBIT", "b", str(MAX_BIT_OFFSET + 1), "1") == BIT_OFFSET
    assert err(r, "SETBIT", "b", "1", "2") == BIT_VALUE
    assert err(r, "SETBIT", "b", "1", "-1") == BIT_VALUE
    assert err(r, "SETBIT", "b", "1", "x") == BIT_VALUE
    assert err(r, "GETBIT", "b", "-1") == BIT_OFFSET
    assert err(r, "GETBIT", "b", "1.5") == BIT_OFFSET
    assert r.exists("b") == 0
    make_wrong_type(r, "w")
    assert err(r, "SETBIT", "w", 1, 1) == WRONGTYPE
    assert err(r, "GETBIT", "w", 1) == WRONGTYPE


def test_bit_offset_follows_proto_max_bulk_len(server_factory):
    s = server_factory("--proto_max_bulk_len", str(SMALL_BULK_LEN))
    c = s.client()
    last = SMALL_BULK_LEN * 8 - 1
    assert c.setbit("b", last, 1) == 0
    assert c.strlen("b") == SMALL_BULK_LEN
    assert err(c, "SETBIT", "b", last + 1, 1) == BIT_OFFSET
    assert err(c, "BITFIELD", "b", "SET", "u8", last + 1, 1) == BIT_OFFSET


# --- BITCOUNT ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,want",
    [
        ((), 26),
        ((0, 0), 4),
        ((1, 1), 6),
        ((1, 1, "BYTE"), 6),
        ((0, -1), 26),
        ((-2, -1), 7),
        ((5, 30, "BIT"), 17),
        ((0, -1, "bit"), 26),
        ((1, 6, "BIT"), 4),
        ((3, 3, "BIT"), 0),
        ((7, 7, "BIT"), 0),
        ((-5, -1, "BIT"), 2),
        ((0, 100), 26),
        ((100, 200), 0),
        ((-100, -50), 4),  # both clamp to byte 0
        ((-1, -5), 0),
        ((4, 2), 0),
    ],
)
def test_bitcount(r, args, want):
    r.set("s", "foobar")
    assert r.execute_command("BITCOUNT", "s", *args) == want


def test_bitcount_edge_cases(r, raw):
    assert r.bitcount("nokey") == 0
    assert r.execute_command("BITCOUNT", "nokey", 0, 1, "BIT") == 0
    r.set("e", "")
    assert r.bitcount("e") == 0
    assert r.execute_command("BITCOUNT", "e", 0, -1, "BIT") == 0
    r.set("n", 12)
    assert r.bitcount("n") == 6
    raw.execute_command("SET", "l", b"\xff" * 1000 + b"\x01")
    assert r.bitcount("l") == 8001


def test_bitcount_errors(r):
    r.set("s", "foobar")
    assert err(r, "BITCOUNT", "s", "0") == SYNTAX
    assert err(r, "BITCOUNT", "s", "0", "1", "FOO") == SYNTAX
    assert err(r, "BITCOUNT", "s", "0", "1", "BIT", "x") == SYNTAX
    assert err(r, "BITCOUNT", "s", "a", "1") == NOT_INT
    assert err(r, "BITCOUNT", "s", "0", "1.5") == NOT_INT
    make_wrong_type(r, "w")
    assert err(r, "BITCOUNT", "w") == WRONGTYPE


# --- BITPOS --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,want",
    [
        ((0,), 12),
        ((1,), 0),
        ((0, 2), 16),
        ((0, 0, 1), 12),
        ((0, 0, -1), 12),
        ((1, 2), -1),
        ((1, 2, -1), -1),
        ((0, 8, 15, "BIT"), 12),
        ((0, 12, 15, "BIT"), 12),
        ((1, 12, 23, "BIT"), -1),
        ((1, 3, 5, "BIT"), 3),
        ((0, 3, 5, "BIT"), -1),
        ((0, 0, 7, "BIT"), -1),
        ((0, 0, 11, "BIT"), -1),
        ((0, 0, 12, "BIT"), 12),
        ((0, -5, -1, "BIT"), 19),
        ((1, -100, 100, "bit"), 0),
        ((0, 5, 2), -1),
        ((0, 1, 1, "BYTE"), 12),
    ],
)
def test_bitpos(raw, args, want):
    raw.execute_command("SET", "bp", b"\xff\xf0\x00")
    assert raw.execute_command("BITPOS", "bp", *args) == want


def test_bitpos_edge_cases(raw):
    # A missing key is all zeros.
    assert raw.execute_command("BITPOS", "nokey", 0) == 0
    assert raw.execute_command("BITPOS", "nokey", 1) == -1
    raw.execute_command("SET", "ones", b"\xff" * 11)
    assert raw.execute_command("BITPOS", "ones", 0) == 88  # the first bit past the end
    assert raw.execute_command("BITPOS", "ones", 0, 0) == 88
    assert raw.execute_command("BITPOS", "ones", 0, 0, -1) == -1  # an explicit end: none
    assert raw.execute_command("BITPOS", "ones", 1, 3) == 24
    raw.execute_command("SET", "zeros", b"\x00" * 11 + b"\x01")
    assert raw.execute_command("BITPOS", "zeros", 1) == 95
    assert raw.execute_command("BITPOS", "zeros", 0, 5) == 40
    raw.execute_command("SET", "e", b"")
    assert raw.execute_command("BITPOS", "e", 0) == -1
    assert raw.execute_command("BITPOS", "e", 1) == -1


def test_bitpos_errors(r):
    r.set("s", "x")
    assert err(r, "BITPOS", "s", "2") == "The bit argument must be 1 or 0."
    assert err(r, "BITPOS", "nokey", "-1") == "The bit argument must be 1 or 0."
    assert err(r, "BITPOS", "s", "x") == NOT_INT
    assert err(r, "BITPOS", "s", "1", "x") == NOT_INT
    assert err(r, "BITPOS", "s", "1", "0", "x") == NOT_INT
    assert err(r, "BITPOS", "s", "1", "0", "1", "FOO") == SYNTAX
    assert err(r, "BITPOS", "s", "1", "0", "1", "BIT", "x") == SYNTAX
    make_wrong_type(r, "w")
    assert err(r, "BITPOS", "w", 1) == WRONGTYPE


# --- BITOP ---------------------------------------------------------------------------------


def test_bitop_operations(r, raw):
    raw.execute_command("MSET", "{b}1", "foobar", "{b}2", "abcdef")
    assert r.bitop("AND", "{b}d", "{b}1", "{b}2") == 6
    assert raw.execute_command("GET", "{b}d") == b"`bc`ab"
    assert r.bitop("OR", "{b}d", "{b}1", "{b}2") == 6
    assert raw.execute_command("GET", "{b}d") == b"goofev"
    assert r.bitop("XOR", "{b}d", "{b}1", "{b}2") == 6
    assert raw.execute_command("GET", "{b}d") == b"\x07\x0d\x0c\x06\x04\x14"
    assert r.bitop("NOT", "{b}d", "{b}1") == 6
    assert raw.execute_command("GET", "{b}d") == bytes(~c & 0xFF for c in b"foobar")
    assert r.object("encoding", "{b}d") == "raw"


def test_bitop_shorter_and_missing_sources_are_zero_padded(r, raw):
    raw.execute_command("MSET", "{p}s", b"\xff", "{p}l", b"\x0f" * 20)
    assert r.bitop("AND", "{p}d", "{p}s", "{p}l") == 20
    assert raw.execute_command("GET", "{p}d") == b"\x0f" + b"\x00" * 19
    assert r.bitop("OR", "{p}d", "{p}s", "{p}l", "{p}missing") == 20
    assert raw.execute_command("GET", "{p}d") == b"\xff" + b"\x0f" * 19
    assert r.bitop("XOR", "{p}d", "{p}l", "{p}s", "{p}l") == 20
    assert raw.execute_command("GET", "{p}d") == b"\xff" + b"\x00" * 19
    assert r.bitop("NOT", "{p}d", "{p}missing") == 0


def test_bitop_destination(r):
    r.set("{d}dst", "old", ex=TTL_S)
    r.set("{d}src", "new")
    assert r.bitop("OR", "{d}dst", "{d}src") == 3
    assert r.get("{d}dst") == "new"
    assert r.ttl("{d}dst") == -1  # the result replaces the key and its TTL
    # Every source empty or missing: the destination is deleted.
    assert r.bitop("AND", "{d}dst", "{d}none", "{d}none2") == 0
    assert r.exists("{d}dst") == 0
    # The destination may be one of the sources.
    r.set("{d}a", "ab")
    assert r.bitop("XOR", "{d}a", "{d}a", "{d}src") == 3
    assert r.get("{d}a") == "\x0f\x07w"


def test_bitop_keys_on_both_shards(r, raw):
    keys = keys_per_shard("bo", 2, 3)
    values = [bytes([1 << i]) * (i + 1) for i in range(len(keys) - 1)]
    for k, v in zip(keys[1:], values):
        raw.execute_command("SET", k, v)
    assert r.bitop("OR", keys[0], *keys[1:]) == len(values)
    want = bytearray(len(values))
    for v in values:
        for i, b in enumerate(v):
            want[i] |= b
    assert raw.execute_command("GET", keys[0]) == bytes(want)


def test_bitop_errors(r):
    r.set("{e}a", "x")
    assert err(r, "BITOP", "FOO", "{e}d", "{e}a") == SYNTAX
    assert err(r, "BITOP", "NOT", "{e}d", "{e}a", "{e}a") == (
        "BITOP NOT must be called with a single source key."
    )
    assert err(r, "BITOP", "AND", "{e}d") == "wrong number of arguments for 'bitop' command"
    make_wrong_type(r, "{e}w")
    assert err(r, "BITOP", "AND", "{e}d", "{e}a", "{e}w") == WRONGTYPE
    assert r.exists("{e}d") == 0


# --- BITFIELD ------------------------------------------------------------------------------


def bitfield(c, key, *args):
    return c.execute_command("BITFIELD", key, *args)


def test_bitfield_set_get_incrby(r):
    assert bitfield(r, "bf", "SET", "i8", 0, 100, "GET", "i8", 0) == [0, 100]
    assert bitfield(r, "bf", "INCRBY", "i8", 0, 100) == [-56]  # wraps by default
    assert bitfield(r, "bf", "GET", "u8", 0) == [200]
    assert bitfield(r, "bf", "SET", "u8", "#1", 255, "GET", "u8", 8, "GET", "u4", "#2") == [
        0,
        255,
        15,
    ]
    assert bitfield(r, "bf", "GET", "u16", 0) == [200 * 256 + 255]
    assert r.strlen("bf") == 2


def test_bitfield_overflow_modes(r):
    assert bitfield(r, "o", "SET", "i8", 0, 120) == [0]
    assert bitfield(r, "o", "OVERFLOW", "SAT", "INCRBY", "i8", 0, 100) == [127]
    assert bitfield(r, "o", "OVERFLOW", "SAT", "INCRBY", "i8", 0, -300) == [-128]
    assert bitfield(r, "o", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, -1) == [None]
    assert bitfield(r, "o", "GET", "i8", 0) == [-128]
    assert bitfield(r, "o", "OVERFLOW", "WRAP", "INCRBY", "i8", 0, -1) == [127]
    # The mode applies to the operations after it, until the next OVERFLOW.
    assert bitfield(
        r, "u", "INCRBY", "u2", 100, 5, "OVERFLOW", "SAT", "INCRBY", "u2", 102, 5,
        "OVERFLOW", "FAIL", "INCRBY", "u2", 104, 5,
    ) == [1, 3, None]  # fmt: skip
    assert bitfield(r, "s", "OVERFLOW", "SAT", "SET", "u8", 0, 300, "SET", "i8", 8, -200) == [0, 0]
    assert bitfield(r, "s", "GET", "u8", 0, "GET", "i8", 8) == [255, -128]
    assert bitfield(r, "s", "SET", "u8", 0, -1, "GET", "u8", 0) == [255, 255]
    assert bitfield(r, "s", "OVERFLOW", "FAIL", "SET", "u8", 0, 256) == [None]


def test_bitfield_64_bit_fields(r):
    i64_max, i64_min = 2**63 - 1, -(2**63)
    assert bitfield(r, "w", "SET", "i64", 0, -1, "GET", "i64", 0, "GET", "u63", 0) == [
        0,
        -1,
        2**63 - 1,
    ]
    assert bitfield(r, "w", "SET", "i64", 0, i64_max, "INCRBY", "i64", 0, 1) == [-1, i64_min]
    assert bitfield(r, "w", "OVERFLOW", "SAT", "SET", "i64", 0, i64_max, "INCRBY", "i64", 0, 1) == [
        i64_min,
        i64_max,
    ]
    assert bitfield(r, "w", "OVERFLOW", "FAIL", "INCRBY", "i64", 0, 1) == [None]
    assert bitfield(r, "w", "GET", "i64", 0) == [i64_max]


def test_bitfield_unaligned_and_existing_values(r, raw):
    raw.execute_command("SET", "n", "123456")  # an int-encoded value is read as its digits
    assert bitfield(raw, "n", "GET", "u8", 0, "GET", "u8", 8, "GET", "u16", 40, "GET", "u16", 44) == [
        ord("1"),
        ord("2"),
        ord("6") << 8,
        (ord("6") & 0xF) << 12,
    ]
    assert bitfield(raw, "n", "SET", "u8", 0, ord("A")) == [ord("1")]
    assert raw.execute_command("GET", "n") == b"A23456"
    assert bitfield(raw, "x", "SET", "u12", 4, 0xABC, "GET", "u16", 0, "GET", "i12", 4) == [
        0,
        0x0ABC,
        0xABC - 0x1000,
    ]


def test_bitfield_reads_do_not_create_keys(r):
    assert bitfield(r, "nokey", "GET", "i8", 0, "GET", "u32", 100) == [0, 0]
    assert r.exists("nokey") == 0
    assert bitfield(r, "nokey") == []
    assert r.exists("nokey") == 0
    # A write creates the key even when OVERFLOW FAIL stops it.
    assert bitfield(r, "f", "OVERFLOW", "FAIL", "INCRBY", "u2", 0, 10) == [None]
    assert r.get("f") == "\x00"


def test_bitfield_errors(r):
    r.set("b", "x")
    for t in ("u64", "i65", "i0", "u0", "I8", "x8", "i", "8", "i8x"):
        assert err(r, "BITFIELD", "b", "GET", t, 0) == BF_TYPE, t
    for off in ("-1", "#-1", "x", "1.5", str(MAX_BIT_OFFSET + 1), "#536870912"):
        assert err(r, "BITFIELD", "b", "GET", "i8", off) == BIT_OFFSET, off
    assert bitfield(r, "b", "GET", "i8", "#536870911") == [0]
    assert err(r, "BITFIELD", "b", "SET", "i8", 0, "x") == NOT_INT
    assert err(r, "BITFIELD", "b", "INCRBY", "i8", 0, "1.5") == NOT_INT
    for args in (("SET", "i8", 0), ("GET", "i8"), ("FOO",), ("OVERFLOW",), ("INCRBY", "i8")):
        assert err(r, "BITFIELD", "b", *args) == SYNTAX, args
    assert err(r, "BITFIELD", "b", "OVERFLOW", "FOO", "GET", "i8", 0) == (
        "Invalid OVERFLOW type specified"
    )
    # Nothing runs when any operation is wrong.
    assert err(r, "BITFIELD", "b", "SET", "u8", 0, 65, "GET", "u65", 0) == BF_TYPE
    assert r.get("b") == "x"
    make_wrong_type(r, "w")
    assert err(r, "BITFIELD", "w", "GET", "i8", 0) == WRONGTYPE
    assert err(r, "BITFIELD", "w", "SET", "i8", 0, 1) == WRONGTYPE


def test_bitfield_ro(r):
    bitfield(r, "b", "SET", "u8", 0, 200)
    assert r.execute_command("BITFIELD_RO", "b", "GET", "u8", 0, "GET", "i8", 0) == [200, -56]
    assert r.execute_command("BITFIELD_RO", "nokey", "GET", "u8", 0) == [0]
    assert r.execute_command("BITFIELD_RO", "b") == []
    for args in (("SET", "u8", 0, 1), ("INCRBY", "u8", 0, 1), ("OVERFLOW", "SAT", "SET", "u8", 0, 1)):
        assert err(r, "BITFIELD_RO", "b", *args) == "BITFIELD_RO only supports the GET subcommand"
    assert err(r, "BITFIELD_RO", "b", "SET", "u8", 0, 1, "GET", "x", 0) == BF_TYPE
    assert bitfield(r, "b", "GET", "u8", 0) == [200]


@pytest.mark.parametrize(
    "args",
    [
        ("SETBIT", "k", "1"),
        ("GETBIT", "k"),
        ("BITCOUNT",),
        ("BITPOS", "k"),
        ("BITOP", "AND", "d"),
        ("BITFIELD",),
        ("BITFIELD_RO",),
    ],
)
def test_wrong_arity(r, args):
    assert err(r, *args) == f"wrong number of arguments for '{args[0].lower()}' command"


def test_redis_cli_bits(server):
    assert server.cli("SETBIT", "cli:b", "3", "1").strip() == "0"
    assert server.cli("BITCOUNT", "cli:b").strip() == "1"
    assert server.cli("BITPOS", "cli:b", "1").strip() == "3"
    out = server.cli("BITFIELD", "cli:b", "INCRBY", "u4", "0", "1", "GET", "u8", "0").split()
    assert out == ["2", "32"]


# --- compared with redis-server --------------------------------------------------------------


def _random_bits_command(rnd, keys):
    k = rnd.choice(keys)

    def n():
        return rnd.choice([rnd.randint(-40, 40), rnd.randint(-300, 300), 0, -1])

    op = rnd.randrange(9)
    if op == 0:
        v = bytes(rnd.choice([0, 255, rnd.randrange(256)]) for _ in range(rnd.randint(0, 20)))
        return ("SET", k, v)
    if op == 1:
        rng = [n(), n()] + rnd.choice([[], ["BIT"], ["BYTE"]]) if rnd.random() < 0.8 else []
        return ("BITCOUNT", k, *rng)
    if op == 2:
        args = ["BITPOS", k, rnd.choice([0, 1])]
        m = rnd.randint(0, 3)
        args += [n() for _ in range(min(m, 2))]
        if m == 3:
            args.append(rnd.choice(["BIT", "BYTE"]))
        return tuple(args)
    if op == 3:
        args = ["BITFIELD" if rnd.random() < 0.8 else "BITFIELD_RO", k]
        for _ in range(rnd.randint(1, 4)):
            t = rnd.choice("iu") + str(rnd.randint(1, 64 if rnd.random() < 0.5 else 16))
            t = "u63" if t == "u64" else t
            off = rnd.choice([str(rnd.randint(0, 100)), f"#{rnd.randint(0, 10)}"])
            value = rnd.choice([rnd.randint(-(2**63), 2**63 - 1), rnd.randint(-300, 300)])
            sub = rnd.randrange(4)
            if sub == 0:
                args += ["GET", t, off]
            elif sub == 1:
                args += ["SET", t, off, value]
            elif sub == 2:
                args += ["INCRBY", t, off, value]
            else:
                args += ["OVERFLOW", rnd.choice(["WRAP", "SAT", "FAIL"])]
        return tuple(args)
    if op == 4:
        return ("SETBIT", k, rnd.randint(0, 200), rnd.randint(0, 1))
    if op == 5:
        return ("GETBIT", k, rnd.randint(0, 200))
    if op == 6:
        srcs = [rnd.choice(keys) for _ in range(rnd.randint(1, 3))]
        return ("BITOP", rnd.choice(["AND", "OR", "XOR", "NOT"]), rnd.choice(keys), *srcs)
    if op == 7:
        return ("APPEND", k, rnd.choice(["1", "x", "", "\xff"]))
    return ("GET", k)


def _reply(c, args):
    try:
        return c.execute_command(*args)
    except redis.ResponseError as e:
        return ("error", str(e))


def test_same_replies_as_redis_server(server, redis_server_factory):
    """A seeded random run of bit commands gets the same replies and leaves the same values as
    Debian's redis-server."""
    ref = redis_server_factory()
    ours = server.client(decode_responses=False)
    theirs = ref.client(decode_responses=False)
    for c in (ours, theirs):
        c.response_callbacks.clear()
    keys = ["{x}a", "{x}b", "{x}c", "{x}d"]
    rnd = random.Random(COMPARE_SEED)
    for i in range(COMPARE_OPS):
        args = _random_bits_command(rnd, keys)
        assert _reply(ours, args) == _reply(theirs, args), (i, args)
    for k in keys:
        assert _reply(ours, ("GET", k)) == _reply(theirs, ("GET", k)), k
