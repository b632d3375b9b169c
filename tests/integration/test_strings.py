"""String commands with Redis 7 semantics, seen by real clients: SET and its options, SETNX,
SETEX, PSETEX, GET, GETEX, GETDEL, GETSET, MGET/MSET/MSETNX across shards, APPEND, STRLEN, the
INCR family, INCRBYFLOAT, GETRANGE/SUBSTR, SETRANGE and LCS; their error replies (wrong type,
not an integer, overflow, syntax, arity) with Redis's exact texts; OBJECT ENCODING as Redis
reports it; and a seeded random run compared reply by reply with Debian's redis-server.
"""

import random
import time

import pytest
import redis

from shardkeys import keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
SYNTAX = "syntax error"
OVERFLOW = "increment or decrement would overflow"
TOO_LONG = "string exceeds maximum allowed size (proto-max-bulk-len)"
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
PROTO_MAX_BULK_LEN = 512 * 1024 * 1024  # the default proto-max-bulk-len
SMALL_BULK_LEN = 1024 * 1024  # the smallest proto-max-bulk-len Redis accepts
EMBSTR_MAX = 44  # longest string Redis keeps as embstr
SHORT_TTL_MS = 50
EXPIRE_WAIT_S = 0.3  # several times SHORT_TTL_MS, so a loaded machine cannot outlive it
TTL_S = 100
TTL_MS = TTL_S * 1000
KEYS_PER_SHARD = 8
APPEND_ROUNDS = 500
COMPARE_OPS = 3000
COMPARE_SEED = 20240607


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


# --- SET and its options -------------------------------------------------------------------


def test_set_get_overwrite_and_binary(r, raw):
    assert r.set("s", "v1") is True
    assert r.set("s", "v2") is True
    assert r.get("s") == "v2"
    assert r.get("nokey") is None
    value = bytes(range(256)) + b"\r\n\x00end"
    assert raw.execute_command("SET", b"b\x00k", value) == b"OK"
    assert raw.execute_command("GET", b"b\x00k") == value


def test_set_nx_xx(raw):
    assert raw.execute_command("SET", "k", "1", "XX") is None
    assert raw.execute_command("EXISTS", "k") == 0
    assert raw.execute_command("SET", "k", "1", "NX") == b"OK"
    assert raw.execute_command("SET", "k", "2", "NX") is None
    assert raw.execute_command("GET", "k") == b"1"
    assert raw.execute_command("SET", "k", "3", "XX") == b"OK"
    assert raw.execute_command("GET", "k") == b"3"
    assert raw.execute_command("SET", "k", "4", "nx", "nx") is None  # repeats are allowed


def test_set_get_option(raw):
    assert raw.execute_command("SET", "k", "a", "GET") is None
    assert raw.execute_command("SET", "k", "b", "GET") == b"a"
    assert raw.execute_command("GET", "k") == b"b"
    # With NX or XX, GET replies the old value whether or not the write happened.
    assert raw.execute_command("SET", "k", "c", "NX", "GET") == b"b"
    assert raw.execute_command("GET", "k") == b"b"
    assert raw.execute_command("SET", "k", "d", "XX", "GET") == b"b"
    assert raw.execute_command("GET", "k") == b"d"
    assert raw.execute_command("SET", "new", "x", "XX", "GET") is None
    assert raw.execute_command("EXISTS", "new") == 0
    assert raw.execute_command("SET", "int", "12") == b"OK"
    assert raw.execute_command("SET", "int", "13", "GET") == b"12"


def test_set_get_on_wrong_type(r):
    make_wrong_type(r, "w")
    assert err(r, "SET", "w", "v", "GET") == WRONGTYPE
    assert err(r, "GETSET", "w", "v") == WRONGTYPE
    # Plain SET replaces a value of any type.
    assert r.set("w", "v") is True
    assert r.get("w") == "v"


def test_set_relative_expiry(r):
    assert r.set("ex", "v", ex=TTL_S) is True
    assert TTL_S - 2 <= r.ttl("ex") <= TTL_S
    assert r.set("px", "v", px=TTL_MS) is True
    assert TTL_MS - 2000 <= r.pttl("px") <= TTL_MS
    assert r.set("short", "v", px=SHORT_TTL_MS) is True
    time.sleep(EXPIRE_WAIT_S)
    assert r.get("short") is None


def test_set_absolute_expiry(r):
    now = int(time.time())
    assert r.execute_command("SET", "exat", "v", "EXAT", now + TTL_S) is True
    assert TTL_S - 3 <= r.ttl("exat") <= TTL_S
    assert r.execute_command("SET", "pxat", "v", "PXAT", (now + TTL_S) * 1000) is True
    assert TTL_S - 3 <= r.ttl("pxat") <= TTL_S
    # A time in the past is accepted, and the key is gone at once.
    assert r.execute_command("SET", "past", "v", "EXAT", 1) is True
    assert r.get("past") is None
    assert r.exists("past") == 0


def test_set_keepttl_and_clearing(r):
    r.set("k", "v1", ex=TTL_S)
    assert r.execute_command("SET", "k", "v2", "KEEPTTL") is True
    assert r.get("k") == "v2"
    assert r.ttl("k") > 0
    r.set("k", "v3")  # a plain SET drops the TTL
    assert r.ttl("k") == -1
    assert r.execute_command("SET", "k", "v4", "KEEPTTL") is True
    assert r.ttl("k") == -1


def test_set_repeated_expire_option_last_wins(r):
    assert r.execute_command("SET", "k", "v", "EX", 10, "EX", TTL_S) is True
    assert r.ttl("k") > 10


@pytest.mark.parametrize(
    "opts",
    [
        ("EX", "10", "PX", "100"),
        ("PX", "100", "EXAT", "1"),
        ("KEEPTTL", "EX", "10"),
        ("EX", "10", "KEEPTTL"),
        ("NX", "XX"),
        ("XX", "NX"),
        ("EX",),
        ("PERSIST",),
        ("FOO",),
        ("EX", "abc", "NX", "foo"),  # every option is checked before any number
    ],
)
def test_set_syntax_errors(r, opts):
    assert err(r, "SET", "k", "v", *opts) == SYNTAX
    assert r.exists("k") == 0


@pytest.mark.parametrize(
    "opts",
    [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("EXAT", "0"),
        ("PXAT", "-5"),
        ("EX", str(LLONG_MAX)),
        ("PX", str(LLONG_MAX)),
        ("EX", str(LLONG_MAX // 1000 + 1)),
    ],
)
def test_set_invalid_expire_time(r, opts):
    assert err(r, "SET", "k", "v", *opts) == "invalid expire time in 'set' command"
    assert r.exists("k") == 0


def test_set_expire_not_an_integer(r):
    assert err(r, "SET", "k", "v", "EX", "1.5") == NOT_INT
    assert err(r, "SET", "k", "v", "PX", "x") == NOT_INT


def test_setnx(r):
    assert r.setnx("k", "a") is True
    assert r.setnx("k", "b") is False
    assert r.get("k") == "a"
    assert r.execute_command("SETNX", "k2", "x") == 1
    assert r.execute_command("SETNX", "k2", "y") == 0


def test_setex_psetex(r):
    assert r.setex("k", TTL_S, "v") is True
    assert r.get("k") == "v"
    assert TTL_S - 2 <= r.ttl("k") <= TTL_S
    assert r.psetex("p", TTL_MS, "v") is True
    assert TTL_MS - 2000 <= r.pttl("p") <= TTL_MS
    assert err(r, "SETEX", "k", "0", "v") == "invalid expire time in 'setex' command"
    assert err(r, "SETEX", "k", "-10", "v") == "invalid expire time in 'setex' command"
    assert err(r, "PSETEX", "k", "0", "v") == "invalid expire time in 'psetex' command"
    assert err(r, "SETEX", "k", "abc", "v") == NOT_INT
    assert r.get("k") == "v"
    r.psetex("short", SHORT_TTL_MS, "v")
    time.sleep(EXPIRE_WAIT_S)
    assert r.get("short") is None


def test_getset(r):
    assert r.getset("k", "a") is None
    assert r.getset("k", "b") == "a"
    r.set("t", "1", ex=TTL_S)
    assert r.getset("t", "2") == "1"
    assert r.ttl("t") == -1  # GETSET replaces the value and its TTL


def test_get_wrong_type(r):
    make_wrong_type(r, "w")
    assert err(r, "GET", "w") == WRONGTYPE


# --- GETEX, GETDEL -------------------------------------------------------------------------


def test_getex_without_options_reads(r):
    assert r.getex("nokey") is None
    r.set("k", "v", ex=TTL_S)
    assert r.getex("k") == "v"
    assert r.ttl("k") > 0


def test_getex_sets_expiry(r):
    r.set("k", "v")
    assert r.getex("k", ex=TTL_S) == "v"
    assert TTL_S - 2 <= r.ttl("k") <= TTL_S
    assert r.getex("k", px=TTL_MS * 2) == "v"
    assert r.ttl("k") > TTL_S
    now = int(time.time())
    assert r.getex("k", exat=now + TTL_S) == "v"
    assert TTL_S - 3 <= r.ttl("k") <= TTL_S
    assert r.getex("k", pxat=(now + TTL_S * 2) * 1000) == "v"
    assert r.ttl("k") > TTL_S
    assert r.getex("k", persist=True) == "v"
    assert r.ttl("k") == -1
    assert r.getex("k", persist=True) == "v"  # on a key without TTL: nothing to do


def test_getex_past_absolute_time_deletes(r):
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "EXAT", "1") == "v"
    assert r.exists("k") == 0
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "PXAT", "1") == "v"
    assert r.exists("k") == 0


def test_getex_short_expiry(r):
    r.set("k", "v")
    assert r.execute_command("GETEX", "k", "PX", SHORT_TTL_MS) == "v"
    time.sleep(EXPIRE_WAIT_S)
    assert r.get("k") is None


@pytest.mark.parametrize(
    "opts",
    [
        ("EX", "10", "PERSIST"),
        ("PERSIST", "EX", "10"),
        ("EX", "10", "PX", "10"),
        ("NX",),
        ("XX",),
        ("GET",),
        ("KEEPTTL",),
        ("EX",),
        ("FOO",),
    ],
)
def test_getex_syntax_errors(r, opts):
    r.set("k", "v")
    assert err(r, "GETEX", "k", *opts) == SYNTAX


def test_getex_errors(r):
    r.set("k", "v")
    assert err(r, "GETEX", "k", "EX", "0") == "invalid expire time in 'getex' command"
    assert err(r, "GETEX", "k", "PX", "-1") == "invalid expire time in 'getex' command"
    assert err(r, "GETEX", "k", "EX", "abc") == NOT_INT
    assert r.ttl("k") == -1
    # A missing key answers null before the expire value is even looked at.
    assert r.execute_command("GETEX", "nokey", "EX", "abc") is None
    make_wrong_type(r, "w")
    assert err(r, "GETEX", "w") == WRONGTYPE
    assert err(r, "GETEX", "w", "EX", "abc") == WRONGTYPE


def test_getdel(r):
    r.set("k", "v")
    assert r.getdel("k") == "v"
    assert r.exists("k") == 0
    assert r.getdel("k") is None
    r.set("n", 42)
    assert r.getdel("n") == "42"
    make_wrong_type(r, "w")
    assert err(r, "GETDEL", "w") == WRONGTYPE
    assert r.exists("w") == 1


# --- MGET, MSET, MSETNX across shards --------------------------------------------------------


def test_mset_mget_span_shards(r):
    keys = keys_per_shard("m", 2, KEYS_PER_SHARD)
    mapping = {k: f"v-{k}" for k in keys}
    assert r.mset(mapping) is True
    assert r.mget(keys) == [mapping[k] for k in keys]
    assert r.mget(keys + ["missing"]) == [mapping[k] for k in keys] + [None]
    for k in keys:
        assert r.get(k) == mapping[k]


def test_mget_non_string_is_null(r):
    r.set("a", "1")
    make_wrong_type(r, "w")
    assert r.mget("a", "w", "nokey") == ["1", None, None]


def test_mset_overwrites_and_clears_ttl(r):
    r.set("a", "old", ex=TTL_S)
    r.mset({"a": "new", "b": "2"})
    assert r.get("a") == "new"
    assert r.ttl("a") == -1
    assert r.execute_command("MSET", "d", "1", "d", "2") is True
    assert r.get("d") == "2"  # the last pair for a key wins


def test_msetnx_all_or_nothing_across_shards(r):
    keys = keys_per_shard("nx", 2, KEYS_PER_SHARD)
    assert r.msetnx({k: "1" for k in keys}) is True
    fresh = keys_per_shard("fresh", 2, KEYS_PER_SHARD)
    # One existing key (on whichever shard) stops the whole command.
    mixed = {k: "2" for k in fresh}
    mixed[keys[-1]] = "2"
    assert r.msetnx(mixed) is False
    assert r.exists(*fresh) == 0
    assert r.get(keys[-1]) == "1"
    assert r.execute_command("MSETNX", "dup", "1", "dup", "2") == 1
    assert r.get("dup") == "2"


def test_mset_arity(r):
    for cmd in ("MSET", "MSETNX"):
        assert err(r, cmd, "a", "1", "b") == f"wrong number of arguments for '{cmd.lower()}' command"
        assert err(r, cmd, "a") == f"wrong number of arguments for '{cmd.lower()}' command"
    assert err(r, "MGET") == "wrong number of arguments for 'mget' command"
    assert r.exists("a") == 0


def test_mset_mget_redis_cli(server):
    keys = keys_per_shard("cli", 2, 2)
    args = [x for k in keys for x in (k, k.upper())]
    assert server.cli("MSET", *args).strip() == "OK"
    assert server.cli("MGET", *keys).split() == [k.upper() for k in keys]


# --- APPEND, STRLEN --------------------------------------------------------------------------


def test_append(r, raw):
    assert r.append("k", "hello") == 5
    assert r.append("k", " world") == 11
    assert r.get("k") == "hello world"
    assert r.strlen("k") == 11
    assert raw.execute_command("APPEND", "b", b"\x00\xff") == 2
    assert raw.execute_command("APPEND", "b", b"\r\n") == 4
    assert raw.execute_command("GET", "b") == b"\x00\xff\r\n"
    r.set("n", 12)
    assert r.append("n", "3") == 3
    assert r.get("n") == "123"
    assert r.append("n", "") == 3


def test_append_many_keeps_every_byte(r):
    chunk = "0123456789abcdef"
    for i in range(APPEND_ROUNDS):
        assert r.append("log", chunk) == (i + 1) * len(chunk)
    assert r.get("log") == chunk * APPEND_ROUNDS
    assert r.strlen("log") == len(chunk) * APPEND_ROUNDS


def test_append_keeps_ttl(r):
    r.set("k", "a", ex=TTL_S)
    r.append("k", "b")
    assert r.ttl("k") > 0
    assert r.get("k") == "ab"


def test_strlen(r):
    assert r.strlen("nokey") == 0
    r.set("i", -123)
    assert r.strlen("i") == 4
    r.set("e", "")
    assert r.strlen("e") == 0
    make_wrong_type(r, "w")
    assert err(r, "STRLEN", "w") == WRONGTYPE
    assert err(r, "APPEND", "w", "x") == WRONGTYPE


# --- INCR, DECR, INCRBY, DECRBY ------------------------------------------------------------


def test_incr_decr_family(r):
    assert r.incr("c") == 1
    assert r.incr("c") == 2
    assert r.decr("c") == 1
    assert r.incrby("c", 10) == 11
    assert r.decrby("c", 20) == -9
    assert r.incrby("c", -1) == -10
    assert r.decr("fresh") == -1
    assert r.get("c") == "-10"
    assert r.execute_command("DECRBY", "c", "-10") == 0


def test_incr_keeps_ttl(r):
    r.set("c", 5, ex=TTL_S)
    assert r.incr("c") == 6
    assert r.ttl("c") > 0


def test_incr_on_string_number_that_grew_by_append(r):
    r.set("c", "1")
    r.append("c", "0")
    assert r.incr("c") == 11
    assert r.object("encoding", "c") == "int"


def test_incr_not_an_integer(r):
    for value in ("abc", "1.5", " 1", "1 ", "+1", "01", "-0", "", "9223372036854775808"):
        r.set("c", value)
        assert err(r, "INCR", "c") == NOT_INT, value
        assert r.get("c") == value
    r.set("c", "1")
    assert err(r, "INCRBY", "c", "x") == NOT_INT
    assert err(r, "INCRBY", "c", "1.0") == NOT_INT
    assert err(r, "DECRBY", "c", "9223372036854775808") == NOT_INT
    make_wrong_type(r, "w")
    for cmd in (("INCR", "w"), ("DECR", "w"), ("INCRBY", "w", 1), ("DECRBY", "w", 1)):
        assert err(r, *cmd) == WRONGTYPE


def test_incr_overflow(r):
    r.set("max", LLONG_MAX)
    assert err(r, "INCR", "max") == OVERFLOW
    assert err(r, "INCRBY", "max", 1) == OVERFLOW
    assert r.get("max") == str(LLONG_MAX)
    r.set("min", LLONG_MIN)
    assert err(r, "DECR", "min") == OVERFLOW
    assert err(r, "DECRBY", "min", 1) == OVERFLOW
    assert r.get("min") == str(LLONG_MIN)
    r.set("z", 0)
    assert r.incrby("z", LLONG_MAX) == LLONG_MAX
    assert r.decrby("z", LLONG_MAX) == 0
    assert r.incrby("z", LLONG_MIN) == LLONG_MIN
    assert err(r, "DECRBY", "z", str(LLONG_MIN)) == "decrement would overflow"


# --- INCRBYFLOAT ---------------------------------------------------------------------------


def test_incrbyfloat_formats_like_redis(r, raw):
    def incr(key, by):
        return raw.execute_command("INCRBYFLOAT", key, by)

    assert incr("f", "10.5") == b"10.5"
    assert incr("f", "0.1") == b"10.6"
    assert incr("f2", "-5.0e3") == b"-5000"
    r.set("g", "3.0")
    assert incr("g", "1") == b"4"
    assert r.get("g") == "4"
    r.set("i", 5)
    assert incr("i", "-5") == b"0"
    assert incr("e", "1.5e3") == b"1500"
    assert incr("neg", "-0") == b"0"
    r.set("t", "1", ex=TTL_S)
    assert incr("t", "0.5") == b"1.5"
    assert r.ttl("t") > 0
    # redis-py's helper parses the bulk reply as a float.
    assert r.incrbyfloat("h", 2.25) == 2.25


def test_incrbyfloat_errors(r):
    r.set("s", "abc")
    assert err(r, "INCRBYFLOAT", "s", "1") == NOT_FLOAT
    r.set("f", "1")
    # Out of long double range (either way) is not a float; "inf" is one, but no result.
    for bad in ("abc", "", " 1", "1 ", "nan", "1e-5000", "1e5000"):
        assert err(r, "INCRBYFLOAT", "f", bad) == NOT_FLOAT, bad
    for inf in ("inf", "-inf"):
        assert err(r, "INCRBYFLOAT", "f", inf) == "increment would produce NaN or Infinity"
    assert r.get("f") == "1"
    make_wrong_type(r, "w")
    assert err(r, "INCRBYFLOAT", "w", "1") == WRONGTYPE


def test_incrbyfloat_binary_value_is_not_a_float(raw):
    raw.execute_command("SET", "b", b"1\x002")
    with pytest.raises(redis.ResponseError, match=NOT_FLOAT):
        raw.execute_command("INCRBYFLOAT", "b", "1")
    with pytest.raises(redis.ResponseError, match=NOT_FLOAT):
        raw.execute_command("INCRBYFLOAT", "c", b"1\x00")


# --- GETRANGE, SUBSTR, SETRANGE ------------------------------------------------------------


@pytest.mark.parametrize(
    "start,end,want",
    [
        (0, 3, "This"),
        (-3, -1, "ing"),
        (0, -1, "This is a string"),
        (10, 100, "string"),
        (-100, 3, "This"),
        (5, 3, ""),
        (-1, -5, ""),
        (100, 200, ""),
        (-1, -1, "g"),
    ],
)
def test_getrange(r, start, end, want):
    r.set("s", "This is a string")
    assert r.getrange("s", start, end) == want
    assert r.execute_command("SUBSTR", "s", start, end) == want


def test_getrange_edge_cases(r):
    assert r.getrange("nokey", 0, -1) == ""
    r.set("n", 12345)
    assert r.getrange("n", 1, 2) == "23"
    r.set("e", "")
    assert r.getrange("e", 0, -1) == ""
    assert err(r, "GETRANGE", "n", "a", "1") == NOT_INT
    assert err(r, "GETRANGE", "nokey", "0", "x") == NOT_INT
    make_wrong_type(r, "w")
    assert err(r, "GETRANGE", "w", 0, 1) == WRONGTYPE


def test_setrange(r, raw):
    r.set("k", "Hello World")
    assert r.setrange("k", 6, "Redis") == 11
    assert r.get("k") == "Hello Redis"
    assert raw.execute_command("SETRANGE", "pad", 5, "hi") == 7
    assert raw.execute_command("GET", "pad") == b"\x00" * 5 + b"hi"
    assert r.setrange("k", 0, "") == 11  # nothing written: the current length
    assert r.setrange("none", 3, "") == 0  # and no key created
    assert r.exists("none") == 0
    r.set("n", 12345)
    assert r.setrange("n", 1, "xx") == 5
    assert r.get("n") == "1xx45"
    r.set("t", "abc", ex=TTL_S)
    r.setrange("t", 1, "B")
    assert r.get("t") == "aBc"
    assert r.ttl("t") > 0


def test_setrange_errors(r):
    assert err(r, "SETRANGE", "k", "-1", "x") == "offset is out of range"
    assert err(r, "SETRANGE", "k", "x", "x") == NOT_INT
    assert err(r, "SETRANGE", "k", PROTO_MAX_BULK_LEN, "x") == TOO_LONG
    assert err(r, "SETRANGE", "k", PROTO_MAX_BULK_LEN - 1, "ab") == TOO_LONG
    assert r.exists("k") == 0
    make_wrong_type(r, "w")
    assert err(r, "SETRANGE", "w", 0, "x") == WRONGTYPE
    assert err(r, "SETRANGE", "w", 0, "") == WRONGTYPE


def test_string_limit_follows_proto_max_bulk_len(server_factory):
    s = server_factory("--proto_max_bulk_len", str(SMALL_BULK_LEN))
    c = s.client()
    c.set("k", "x" * (SMALL_BULK_LEN - 1))
    assert c.append("k", "y") == SMALL_BULK_LEN
    assert err(c, "APPEND", "k", "z") == TOO_LONG
    assert c.strlen("k") == SMALL_BULK_LEN
    assert err(c, "SETRANGE", "k", SMALL_BULK_LEN, "z") == TOO_LONG
    assert c.setrange("k", SMALL_BULK_LEN - 1, "z") == SMALL_BULK_LEN


# --- LCS -----------------------------------------------------------------------------------


def test_lcs(r):
    r.mset({"{l}1": "ohmytext", "{l}2": "mynewtext"})
    assert r.execute_command("LCS", "{l}1", "{l}2") == "mytext"
    assert r.execute_command("LCS", "{l}1", "{l}2", "LEN") == 6
    assert r.execute_command("LCS", "{l}1", "{l}2", "IDX") == [
        "matches",
        [[[4, 7], [5, 8]], [[2, 3], [0, 1]]],
        "len",
        6,
    ]
    assert r.execute_command("LCS", "{l}1", "{l}2", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN") == [
        "matches",
        [[[4, 7], [5, 8], 4]],
        "len",
        6,
    ]
    assert r.execute_command("LCS", "{l}1", "{l}2", "IDX", "WITHMATCHLEN") == [
        "matches",
        [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]],
        "len",
        6,
    ]


def test_lcs_keys_on_two_shards(r):
    a, b = keys_per_shard("lcs", 2, 1)
    r.set(a, "abcdefgh")
    r.set(b, "xbcxxfgx")
    assert r.execute_command("LCS", a, b) == "bcfg"


def test_lcs_missing_keys_and_numbers(r):
    r.set("a", "hello")
    assert r.execute_command("LCS", "a", "nokey") == ""
    assert r.execute_command("LCS", "nokey", "nokey2", "LEN") == 0
    assert r.execute_command("LCS", "nokey", "nokey2", "IDX") == ["matches", [], "len", 0]
    r.set("n1", 12345)
    r.set("n2", 1345)
    assert r.execute_command("LCS", "n1", "n2") == "1345"


def test_lcs_errors(r):
    r.set("a", "x")
    assert err(r, "LCS", "a", "a", "IDX", "LEN") == (
        "If you want both the length and indexes, please just use IDX."
    )
    assert err(r, "LCS", "a", "a", "FOO") == SYNTAX
    assert err(r, "LCS", "a", "a", "MINMATCHLEN") == SYNTAX
    assert err(r, "LCS", "a", "a", "MINMATCHLEN", "x") == NOT_INT
    make_wrong_type(r, "w")
    assert err(r, "LCS", "a", "w") == "The specified keys must contain string values"
    assert err(r, "LCS", "w", "nokey") == "The specified keys must contain string values"


# --- encodings, arity, redis-cli -------------------------------------------------------------


def test_object_encoding_like_redis(r):
    r.set("int", "12345")
    assert r.object("encoding", "int") == "int"
    r.set("emb", "x" * EMBSTR_MAX)
    assert r.object("encoding", "emb") == "embstr"
    r.set("raw", "x" * (EMBSTR_MAX + 1))
    assert r.object("encoding", "raw") == "raw"
    r.set("lead0", "0123")
    assert r.object("encoding", "lead0") == "embstr"
    r.append("emb2", "abc")  # APPEND on a new key stores like SET
    assert r.object("encoding", "emb2") == "embstr"
    r.append("emb2", "d")  # APPEND on an existing key makes it growable
    assert r.object("encoding", "emb2") == "raw"
    r.setrange("sr", 0, "x")
    assert r.object("encoding", "sr") == "raw"
    r.incr("cnt")
    assert r.object("encoding", "cnt") == "int"
    r.execute_command("INCRBYFLOAT", "fl", "2")
    assert r.object("encoding", "fl") == "embstr"  # INCRBYFLOAT stores text, as Redis does


@pytest.mark.parametrize(
    "args",
    [
        ("GET",),
        ("GET", "a", "b"),
        ("SET", "k"),
        ("SETNX", "k"),
        ("SETEX", "k", "10"),
        ("PSETEX", "k", "10"),
        ("GETSET", "k"),
        ("GETEX",),
        ("GETDEL",),
        ("GETDEL", "a", "b"),
        ("APPEND", "k"),
        ("STRLEN",),
        ("INCR",),
        ("DECR", "a", "b"),
        ("INCRBY", "k"),
        ("DECRBY", "k"),
        ("INCRBYFLOAT", "k"),
        ("GETRANGE", "k", "0"),
        ("SUBSTR", "k", "0"),
        ("SETRANGE", "k", "0"),
        ("LCS", "a"),
    ],
)
def test_wrong_arity(r, args):
    assert err(r, *args) == f"wrong number of arguments for '{args[0].lower()}' command"


def test_redis_cli_counters_and_errors(server):
    assert server.cli("INCRBY", "cli:n", "41").strip() == "41"
    assert server.cli("INCRBYFLOAT", "cli:n", "0.5").strip() == "41.5"
    assert server.cli("SET", "cli:s", "abc").strip() == "OK"
    out = server.cli("INCR", "cli:s")
    assert "ERR value is not an integer or out of range" in out
    assert server.cli("GETRANGE", "cli:s", "1", "-1").strip() == "bc"


# --- compared with redis-server --------------------------------------------------------------


def _random_string_command(rnd, keys):
    k = rnd.choice(keys)
    n = lambda: rnd.choice([rnd.randint(-20, 20), 0, -1, rnd.randint(-1000, 1000)])  # noqa: E731
    value = rnd.choice(["", "1", "-7", "abc", "12345678901234567890", "x" * 50, "3.5", "007"])
    choices = [
        ("SET", k, value),
        ("SET", k, value, rnd.choice(["NX", "XX", "GET", "KEEPTTL"])),
        ("SET", k, value, "EX", rnd.choice(["100", "0", "x", "-1"])),
        ("SETNX", k, value),
        ("GETSET", k, value),
        ("GET", k),
        ("GETDEL", k),
        ("GETEX", k, rnd.choice(["PERSIST", "EX", "FOO"]), "100"),
        ("MGET", k, rnd.choice(keys)),
        ("MSETNX", k, value, rnd.choice(keys), value),
        ("APPEND", k, value),
        ("STRLEN", k),
        ("INCR", k),
        ("DECRBY", k, n()),
        ("INCRBY", k, rnd.choice([n(), LLONG_MAX, LLONG_MIN])),
        ("INCRBYFLOAT", k, rnd.choice(["1.5", "-0.25", "1e3", "3", "abc"])),
        ("GETRANGE", k, n(), n()),
        ("SETRANGE", k, rnd.randint(0, 60), rnd.choice(["", "ab", "xyz"])),
        ("LCS", k, rnd.choice(keys), rnd.choice(["LEN", "IDX", "WITHMATCHLEN"])),
    ]
    return choices[rnd.randrange(len(choices))]


def _reply(c, args):
    try:
        return c.execute_command(*args)
    except redis.ResponseError as e:
        return ("error", str(e))


def test_same_replies_as_redis_server(server, redis_server_factory):
    """A seeded random run of string commands gets the same replies and leaves the same
    values as Debian's redis-server."""
    ref = redis_server_factory()
    ours = server.client(decode_responses=False)
    theirs = ref.client(decode_responses=False)
    for c in (ours, theirs):
        c.response_callbacks.clear()
    keys = ["{c}a", "{c}b", "{c}c", "{c}d"]
    rnd = random.Random(COMPARE_SEED)
    for i in range(COMPARE_OPS):
        args = _random_string_command(rnd, keys)
        assert _reply(ours, args) == _reply(theirs, args), (i, args)
    for k in keys:
        assert _reply(ours, ("GET", k)) == _reply(theirs, ("GET", k)), k
