"""Hash commands with Redis 7 semantics, seen by real clients: HSET HSETNX HMSET HGET HMGET HDEL
HLEN HSTRLEN HEXISTS HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN; their errors with
Redis's exact texts; the listpack -> hashtable conversion under CONFIG SET thresholds (never
back); HSCAN's guarantee on big hashes; RESP3 shapes (HGETALL map, HRANDFIELD pairs); DEBUG
DIGEST-VALUE, COPY; a seeded random run compared with Debian's redis-server; and memory per field
beside redis-server's.
"""

import random
import time

import pytest
import redis

from difftest import DiffRunner
from resp_raw import Map, RawConn

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
HASH_NOT_INT = "hash value is not an integer"
HASH_NOT_FLOAT = "hash value is not a float"
OVERFLOW = "increment or decrement would overflow"
SYNTAX = "syntax error"
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)
LISTPACK_ENTRIES = 512  # hash-max-listpack-entries default
LISTPACK_VALUE = 64  # hash-max-listpack-value default
KEYS = 32  # different keys: both shards of --threads 2
BIG = 5000  # fields of a hash that is surely a hashtable
SCAN_ROUNDS_MAX = 100000
RANDOM_DRAWS = 5000
RANDOM_ROUNDS = 10  # rounds of RANDOM_DRAWS until every field was drawn
COMPARE_OPS = 4000
COMPARE_SEED = 7741
SMALL_KEYS = 1000
SMALL_FIELDS = 10
LARGE_FIELDS = 200000
FIELDS_PER_HSET = 1000
# dfly may use at most this much memory per field relative to redis-server.
MEMORY_RATIO_MAX = 1.0
EXPIRE_WAIT_S = 0.05  # well past a 1 ms TTL


def err(c, *args):
    """The error text of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def encoding(c, key):
    return c.object("encoding", key)


def fill(c, key, n, prefix="f", value="v"):
    """Gives key n fields f0..f<n-1> with values v0..; in batches (one HSET each)."""
    for start in range(0, n, FIELDS_PER_HSET):
        args = []
        for i in range(start, min(n, start + FIELDS_PER_HSET)):
            args += [f"{prefix}{i}", f"{value}{i}"]
        c.execute_command("HSET", key, *args)


def pairs_to_dict(flat):
    it = iter(flat)
    return dict(zip(it, it))


# ---- HSET HMSET HSETNX HGET HMGET ----------------------------------------------------------------


def test_hset_counts_new_fields_and_overwrites(r):
    for i in range(KEYS):
        k = f"h:{i}"
        assert r.execute_command("HSET", k, "a", "1", "b", "2") == 2
        assert r.execute_command("HSET", k, "a", "x", "c", "3") == 1
        assert r.hget(k, "a") == "x"
        assert r.hget(k, "c") == "3"
        assert r.hget(k, "zz") is None
        assert r.hlen(k) == 3
    assert r.hget("missing", "a") is None
    # The same field twice in one call: counted once, the last value wins.
    assert r.execute_command("HSET", "dup", "f", "1", "f", "2") == 1
    assert r.hget("dup", "f") == "2"


def test_hset_binary_and_empty(server):
    rb = server.client(decode_responses=False)
    field, value = b"\x00\xff\r\n", b"\x01\x00bin"
    assert rb.hset("bin", field, value) == 1
    assert rb.hset("bin", "", "") == 1
    assert rb.hget("bin", field) == value
    assert rb.hget("bin", "") == b""
    assert rb.hstrlen("bin", "") == 0
    assert rb.hgetall("bin") == {field: value, b"": b""}


def test_hset_wrong_number_of_arguments(r):
    assert err(r, "HSET", "k", "f", "v", "g") == "wrong number of arguments for 'hset' command"
    assert err(r, "HMSET", "k", "f", "v", "g") == "wrong number of arguments for 'hmset' command"
    assert err(r, "HSET", "k", "f") == "wrong number of arguments for 'hset' command"
    assert err(r, "HGET", "k") == "wrong number of arguments for 'hget' command"
    assert r.exists("k") == 0


def test_hmset_replies_ok(r):
    assert r.execute_command("HMSET", "hm", "a", "1", "b", "2") in (b"OK", "OK", True)
    assert r.hgetall("hm") == {"a": "1", "b": "2"}


def test_hsetnx(r):
    assert r.hsetnx("nx", "f", "1") == 1
    assert r.hsetnx("nx", "f", "2") == 0
    assert r.hget("nx", "f") == "1"
    assert r.hsetnx("nx", "g", "x" * (LISTPACK_VALUE + 1)) == 1
    assert encoding(r, "nx") == "hashtable"


def test_hmget(r):
    r.hset("mg", mapping={"a": "1", "b": "2"})
    assert r.hmget("mg", "a", "zz", "b", "a") == ["1", None, "2", "1"]
    assert r.hmget("missing", "a", "b") == [None, None]


# ---- HDEL HLEN HSTRLEN HEXISTS -------------------------------------------------------------------


def test_hdel_removes_fields_and_the_empty_key(r):
    for i in range(KEYS):
        k = f"del:{i}"
        r.hset(k, mapping={"a": "1", "b": "2", "c": "3"})
        assert r.hdel(k, "a", "a", "zz") == 1
        assert r.hlen(k) == 2
        assert r.hdel(k, "b", "c", "d") == 2
        assert r.exists(k) == 0
    assert r.hdel("missing", "a") == 0


def test_hdel_on_a_hashtable(r):
    fill(r, "hd", BIG)
    assert encoding(r, "hd") == "hashtable"
    assert r.hdel("hd", *[f"f{i}" for i in range(0, BIG, 2)]) == BIG // 2
    assert r.hlen("hd") == BIG // 2
    assert encoding(r, "hd") == "hashtable"  # never back to listpack
    assert r.hdel("hd", *[f"f{i}" for i in range(BIG)]) == BIG // 2
    assert r.exists("hd") == 0


def test_hlen_hstrlen_hexists(r):
    r.hset("s", mapping={"n": "12345", "neg": "-7", "s": "hello", "z": "007"})
    assert r.hlen("s") == 4
    assert r.hstrlen("s", "n") == 5
    assert r.hstrlen("s", "neg") == 2
    assert r.hstrlen("s", "z") == 3
    assert r.hstrlen("s", "missing") == 0
    assert r.hstrlen("missing", "x") == 0
    assert r.hexists("s", "s") is True
    assert r.hexists("s", "x") is False
    assert r.hexists("missing", "x") is False
    assert r.hlen("missing") == 0
    # Integers stored compactly read back as the same text.
    assert r.hmget("s", "n", "neg", "z") == ["12345", "-7", "007"]


# ---- HKEYS HVALS HGETALL -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, BIG])
def test_hkeys_hvals_hgetall(r, n):
    fill(r, "all", n)
    want = {f"f{i}": f"v{i}" for i in range(n)}
    assert r.hgetall("all") == want
    assert sorted(r.hkeys("all")) == sorted(want)
    assert sorted(r.hvals("all")) == sorted(want.values())
    # HKEYS and HVALS walk the hash in the same order as HGETALL.
    assert dict(zip(r.hkeys("all"), r.hvals("all"))) == want


def test_hgetall_missing_key(r):
    assert r.hgetall("missing") == {}
    assert r.hkeys("missing") == []
    assert r.hvals("missing") == []


# ---- HINCRBY HINCRBYFLOAT ------------------------------------------------------------------------


def test_hincrby(r):
    assert r.hincrby("inc", "f", 5) == 5
    assert r.hincrby("inc", "f", -7) == -2
    r.hset("inc", "big", str(LLONG_MAX - 1))
    assert r.hincrby("inc", "big", 1) == LLONG_MAX
    assert err(r, "HINCRBY", "inc", "big", "1") == OVERFLOW
    r.hset("inc", "small", str(LLONG_MIN))
    assert err(r, "HINCRBY", "inc", "small", "-1") == OVERFLOW
    assert r.hincrby("inc", "small", LLONG_MAX) == -1
    for bad in ("abc", " 1", "1 ", "007", "+1", "1.5", ""):
        r.hset("inc", "bad", bad)
        assert err(r, "HINCRBY", "inc", "bad", "1") == HASH_NOT_INT
    assert err(r, "HINCRBY", "inc", "f", "x") == NOT_INT
    assert err(r, "HINCRBY", "inc", "f", "9223372036854775808") == NOT_INT
    assert r.hget("inc", "f") == "-2"


def test_hincrby_on_a_hashtable(r):
    fill(r, "incbig", BIG)
    for i in range(0, BIG, 500):
        assert r.hincrby("incbig", f"n{i}", i) == i
        assert r.hincrby("incbig", f"n{i}", -2 * i) == -i
    r.hset("incbig", "word", "x")
    assert err(r, "HINCRBY", "incbig", "word", "1") == HASH_NOT_INT


def test_hincrbyfloat(r):
    r.response_callbacks.pop("HINCRBYFLOAT", None)  # the reply's exact text
    assert r.execute_command("HINCRBYFLOAT", "fl", "f", "10.5") == "10.5"
    assert r.execute_command("HINCRBYFLOAT", "fl", "f", "0.1") == "10.6"
    assert r.execute_command("HINCRBYFLOAT", "fl", "f", "-10.6") == "0"
    assert r.execute_command("HINCRBYFLOAT", "fl", "g", "5.0e3") == "5000"
    r.hset("fl", "i", "17")
    assert r.execute_command("HINCRBYFLOAT", "fl", "i", "1.5") == "18.5"
    r.hset("fl", "s", "abc")
    assert err(r, "HINCRBYFLOAT", "fl", "s", "1") == HASH_NOT_FLOAT
    assert err(r, "HINCRBYFLOAT", "fl", "f", "abc") == NOT_FLOAT
    assert err(r, "HINCRBYFLOAT", "fl", "f", "nan") == NOT_FLOAT
    assert err(r, "HINCRBYFLOAT", "fl", "f", "inf") == "value is NaN or Infinity"
    r.hset("fl", "huge", "1.1e4932")
    assert err(r, "HINCRBYFLOAT", "fl", "huge", "1.1e4932") == (
        "increment would produce NaN or Infinity"
    )
    assert r.hget("fl", "huge") == "1.1e4932"


def test_increments_past_the_value_limit_convert(r):
    r.response_callbacks.pop("HINCRBYFLOAT", None)
    long_field = "f" * (LISTPACK_VALUE + 1)
    r.hset("ic", "a", "1")
    assert r.hincrby("ic", long_field, 1) == 1
    assert encoding(r, "ic") == "hashtable"
    r.hset("icf", "a", "1")
    assert r.execute_command("HINCRBYFLOAT", "icf", long_field, "1.5") == "1.5"
    assert encoding(r, "icf") == "hashtable"


# ---- wrong type ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("HSET", "f", "v"),
        ("HSETNX", "f", "v"),
        ("HMSET", "f", "v"),
        ("HGET", "f"),
        ("HMGET", "f"),
        ("HDEL", "f"),
        ("HLEN",),
        ("HSTRLEN", "f"),
        ("HEXISTS", "f"),
        ("HKEYS",),
        ("HVALS",),
        ("HGETALL",),
        ("HINCRBY", "f", "1"),
        ("HINCRBYFLOAT", "f", "1"),
        ("HRANDFIELD",),
        ("HRANDFIELD", "2"),
        ("HRANDFIELD", "-2", "WITHVALUES"),
        ("HSCAN", "0"),
    ],
)
def test_wrong_type(r, args):
    for i in range(4):  # keys on both shards
        k = f"str:{i}"
        r.set(k, "x")
        assert err(r, args[0], k, *args[1:]) == WRONGTYPE
        assert r.get(k) == "x"


def test_hash_key_refuses_string_commands(r):
    r.hset("ht", "f", "v")
    assert err(r, "GET", "ht") == WRONGTYPE
    assert r.type("ht") == "hash"


# ---- WATCH and TTL -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd,touches",
    [
        (("HSET", "f", "new"), True),
        (("HSETNX", "g", "x"), True),
        (("HSETNX", "f", "x"), False),  # nothing written
        (("HDEL", "f"), True),
        (("HDEL", "missing"), False),
        (("HINCRBY", "n", "1"), True),
        (("HINCRBYFLOAT", "n", "1.5"), True),
        (("HGET", "f"), False),
    ],
)
def test_writes_invalidate_watch(server, r, cmd, touches):
    other = server.client()
    for i in range(4):  # keys on both shards
        k = f"w:{i}"
        r.hset(k, mapping={"f": "v", "n": "1"})
        with r.pipeline() as p:
            p.watch(k)
            other.execute_command(cmd[0], k, *cmd[1:])
            p.multi()
            p.set(f"w:done:{i}", "1")
            if touches:
                with pytest.raises(redis.WatchError):
                    p.execute()
            else:
                assert p.execute() == [True]


def test_writes_keep_the_ttl(r):
    r.hset("ttl", "f", "v")
    r.expire("ttl", 1000)
    r.hset("ttl", "g", "v")
    r.hincrby("ttl", "n", 1)
    fill(r, "ttl", LISTPACK_ENTRIES + 1)  # and a conversion
    assert 0 < r.ttl("ttl") <= 1000
    r.pexpire("ttl", 1)
    time.sleep(EXPIRE_WAIT_S)
    assert r.hgetall("ttl") == {}
    assert r.exists("ttl") == 0


# ---- encodings -----------------------------------------------------------------------------------


def test_listpack_until_the_entries_limit(r):
    fill(r, "enc", LISTPACK_ENTRIES)
    assert encoding(r, "enc") == "listpack"
    r.hset("enc", "one-more", "x")
    assert encoding(r, "enc") == "hashtable"
    assert r.hlen("enc") == LISTPACK_ENTRIES + 1


def test_listpack_until_the_value_limit(r):
    r.hset("v", "f", "x" * LISTPACK_VALUE)
    assert encoding(r, "v") == "listpack"
    r.hset("v", "g", "x" * (LISTPACK_VALUE + 1))
    assert encoding(r, "v") == "hashtable"
    r.hset("fk", "f" * (LISTPACK_VALUE + 1), "x")
    assert encoding(r, "fk") == "hashtable"
    assert r.hget("v", "f") == "x" * LISTPACK_VALUE


def test_config_set_thresholds(r):
    r.config_set("hash-max-listpack-entries", "4")
    r.config_set("hash-max-listpack-value", "8")
    try:
        fill(r, "cfg", 4)
        assert encoding(r, "cfg") == "listpack"
        r.hset("cfg", "f4", "v")
        assert encoding(r, "cfg") == "hashtable"
        assert r.hgetall("cfg") == {**{f"f{i}": f"v{i}" for i in range(4)}, "f4": "v"}
        # Repeating one field does not grow the hash: no conversion.
        r.execute_command("HSET", "rep", *(["f", "v"] * 10))
        assert encoding(r, "rep") == "listpack"
        r.hset("len", "f", "12345678")
        assert encoding(r, "len") == "listpack"
        r.hset("len", "f", "123456789")
        assert encoding(r, "len") == "hashtable"
        # Entries 0: every hash is a table from its first field on.
        r.config_set("hash-max-listpack-entries", "0")
        r.hset("zero", "f", "v")
        assert encoding(r, "zero") == "hashtable"
        # A raised limit does not turn existing tables back into listpacks.
        r.config_set("hash-max-listpack-entries", "1000")
        r.config_set("hash-max-listpack-value", "1000")
        r.hset("cfg", "another", "v")
        assert encoding(r, "cfg") == "hashtable"
    finally:
        r.config_set("hash-max-listpack-entries", str(LISTPACK_ENTRIES))
        r.config_set("hash-max-listpack-value", str(LISTPACK_VALUE))


def test_conversion_keeps_every_pair(r):
    for n in (LISTPACK_ENTRIES, LISTPACK_ENTRIES + 1):
        k = f"conv:{n}"
        fill(r, k, n)
        r.hset(k, "int", "-12345")
        assert r.hgetall(k) == {**{f"f{i}": f"v{i}" for i in range(n)}, "int": "-12345"}


def test_memory_usage_and_copy(r):
    for n in (3, BIG):
        k = f"mem:{n}"
        fill(r, k, n)
        usage = r.memory_usage(k)
        assert usage >= n * len("f0v0")
        assert r.copy(k, f"mem:{n}:copy") is True
        assert r.hgetall(f"mem:{n}:copy") == r.hgetall(k)
        assert encoding(r, f"mem:{n}:copy") == encoding(r, k)
        r.hset(k, "only-in-original", "x")
        assert r.hexists(f"mem:{n}:copy", "only-in-original") is False


# ---- HRANDFIELD ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 100, BIG])
def test_hrandfield_counts(r, n):
    fill(r, "rf", n)
    want = {f"f{i}": f"v{i}" for i in range(n)}
    assert r.hrandfield("rf") in want
    assert r.hrandfield("rf", 0) == []
    for count in (1, 2, n // 3, n // 2, n - 1, n):
        got = r.hrandfield("rf", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(want)
    assert sorted(r.hrandfield("rf", n + 10)) == sorted(want)
    got = r.hrandfield("rf", -3 * n)
    assert len(got) == 3 * n and set(got) <= set(want)
    flat = r.hrandfield("rf", -7, withvalues=True)
    assert len(flat) == 14
    for f, v in zip(flat[::2], flat[1::2]):
        assert want[f] == v
    assert pairs_to_dict(r.hrandfield("rf", n, withvalues=True)) == want
    sub = pairs_to_dict(r.hrandfield("rf", max(1, n // 4), withvalues=True))
    assert len(sub) == max(1, n // 4) and all(want[f] == v for f, v in sub.items())


def test_hrandfield_reaches_every_field(r):
    n = 50
    fill(r, "every", n)
    fill(r, "everybig", n + LISTPACK_ENTRIES)
    for k, size in (("every", n), ("everybig", n + LISTPACK_ENTRIES)):
        # One round of 5000 draws misses one of 562 fields in ~8% of runs; rounds until all are
        # seen (at most RANDOM_ROUNDS) make a miss by chance practically impossible.
        seen = set()
        for _ in range(RANDOM_ROUNDS):
            seen |= set(r.hrandfield(k, -RANDOM_DRAWS))
            if len(seen) == size:
                break
        assert len(seen) == size, k


def test_hrandfield_missing_key_and_errors(r):
    assert r.hrandfield("missing") is None
    assert r.hrandfield("missing", 5) == []
    assert r.hrandfield("missing", -5) == []
    r.hset("rfe", "a", "1")
    assert err(r, "HRANDFIELD", "rfe", "x") == NOT_INT
    assert err(r, "HRANDFIELD", "rfe", "1", "withvalue") == SYNTAX
    assert err(r, "HRANDFIELD", "rfe", "1", "withvalues", "x") == SYNTAX
    assert err(r, "HRANDFIELD", "rfe", str(LLONG_MIN)) == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )
    assert err(r, "HRANDFIELD", "rfe", str(2**62), "WITHVALUES") == "value is out of range"
    assert err(r, "HRANDFIELD", "rfe", str(-(2**62)), "withvalues") == "value is out of range"


@pytest.mark.parametrize("n", [4, BIG])
def test_resp3_shapes(server, r, n):
    fill(r, "r3", n)
    want = {f"f{i}".encode(): f"v{i}".encode() for i in range(n)}
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        m = c.command("HGETALL", "r3")
        assert isinstance(m, Map) and m.as_dict() == want
        assert c.command("HGETALL", "missing") == Map([])
        for count in (3, -3, n, n + 1, 1, -1):
            got = c.command("HRANDFIELD", "r3", str(count), "WITHVALUES")
            assert len(got) == (min(count, n) if count > 0 else -count)
            for pair in got:
                assert isinstance(pair, list) and len(pair) == 2 and want[pair[0]] == pair[1]
        flat = c.command("HRANDFIELD", "r3", "-3")
        assert len(flat) == 3 and all(isinstance(f, bytes) for f in flat)
        assert c.command("HRANDFIELD", "missing") is None
        cursor, items = c.command("HSCAN", "r3", "0", "COUNT", str(n))
        assert isinstance(items, list)


# ---- HSCAN ---------------------------------------------------------------------------------------


def full_scan(r, key, **kw):
    """Every pair a complete HSCAN returns, and the number of calls it took."""
    cursor, seen, calls = 0, {}, 0
    while True:
        cursor, items = r.hscan(key, cursor, **kw)
        seen.update(items)
        calls += 1
        assert calls < SCAN_ROUNDS_MAX
        if cursor == 0:
            return seen, calls


def test_hscan_listpack_is_one_call(r):
    fill(r, "sl", 20)
    cursor, items = r.hscan("sl", 0, count=1)
    assert cursor == 0 and items == {f"f{i}": f"v{i}" for i in range(20)}
    # Any cursor: the whole small hash again (as Redis does).
    assert r.hscan("sl", 12345)[0] == 0
    cursor, items = r.hscan("sl", 0, match="f1*")
    assert cursor == 0 and items == {f"f{i}": f"v{i}" for i in [1] + list(range(10, 20))}


@pytest.mark.parametrize("count", [None, 1, 7, 100, 100000])
def test_hscan_covers_a_big_hash(r, count):
    fill(r, "sb", BIG)
    kw = {"count": count} if count else {}
    seen, calls = full_scan(r, "sb", **kw)
    assert seen == {f"f{i}": f"v{i}" for i in range(BIG)}
    if count and count >= BIG:
        assert calls <= 2


def test_hscan_match(r):
    fill(r, "sm", BIG)
    seen, _ = full_scan(r, "sm", match="f1?", count=50)
    assert seen == {f"f{i}": f"v{i}" for i in range(10, 20)}
    seen, _ = full_scan(r, "sm", match="*", count=1000)
    assert len(seen) == BIG


def test_hscan_while_the_hash_changes(r):
    """Fields present for the whole scan are all returned while others come and go (the table
    grows and shrinks between calls)."""
    fill(r, "sc", BIG)
    cursor, seen, rounds = 0, {}, 0
    while True:
        cursor, items = r.hscan("sc", cursor, count=20)
        seen.update(items)
        if rounds % 2 == 0:
            fill(r, "sc", 200, prefix=f"tmp{rounds}_")
        else:
            r.hdel("sc", *[f"tmp{rounds - 1}_{i}" for i in range(200)])
        rounds += 1
        assert rounds < SCAN_ROUNDS_MAX
        if cursor == 0:
            break
    assert all(seen.get(f"f{i}") == f"v{i}" for i in range(BIG))


def test_hscan_errors_and_missing_key(r):
    r.hset("se", "a", "1")
    assert r.hscan("missing", 0) == (0, {})
    assert err(r, "HSCAN", "se", "abc") == "invalid cursor"
    assert err(r, "HSCAN", "se", "-") == "invalid cursor"
    assert err(r, "HSCAN", "missing", "x") == "invalid cursor"
    assert err(r, "HSCAN", "se", "0", "COUNT", "0") == SYNTAX
    assert err(r, "HSCAN", "se", "0", "COUNT", "x") == NOT_INT
    assert err(r, "HSCAN", "se", "0", "MATCH") == SYNTAX
    assert err(r, "HSCAN", "se", "0", "NOPE", "1") == SYNTAX


# ---- comparisons with redis-server -------------------------------------------------------------


def test_digest_matches_redis(server, redis_server_factory):
    ref = redis_server_factory("--enable-debug-command", "yes")
    d = DiffRunner(server, ref)
    for n in (3, LISTPACK_ENTRIES + 5):
        fill(d.dfly, f"dg{n}", n)
        fill(d.ref, f"dg{n}", n)
        d.run("HSET", f"dg{n}", "int", "42", "neg", "-1")
        d.run("DEBUG", "DIGEST-VALUE", f"dg{n}")
        d.run("OBJECT", "ENCODING", f"dg{n}")


def test_edge_cases_like_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    d.run("SET", "str", "x")
    cases = [
        ("HSET", "e", "a", "1", "b", "2.5", "c", "abc", "d", "9223372036854775807"),
        ("HINCRBY", "e", "d", "1"),
        ("HINCRBY", "e", "a", "-9223372036854775808"),
        ("HINCRBY", "e", "c", "1"),
        ("HINCRBY", "e", "b", "1"),
        ("HINCRBYFLOAT", "e", "b", "1e300"),
        ("HINCRBYFLOAT", "e", "b", "-1e300"),
        ("HINCRBYFLOAT", "e", "new", "3.0000000000000001"),
        ("HINCRBYFLOAT", "e", "new2", "-0.0"),
        ("HINCRBYFLOAT", "e", "a", "1e4000"),
        ("HINCRBYFLOAT", "e", "x", "  1"),
        ("HINCRBYFLOAT", "e", "x", "0x10"),
        ("HINCRBYFLOAT", "e", "x", "inf"),
        ("HINCRBYFLOAT", "e", "x", "-inf"),
        ("HSET", "e"),
        ("HSET", "e", "a"),
        ("HMSET", "e", "a", "1", "b"),
        ("HGET", "e"),
        ("HSETNX", "e", "a"),
        ("HDEL", "e"),
        ("HLEN", "e", "x"),
        ("HRANDFIELD",),
        ("HRANDFIELD", "e", "0", "WITHVALUES"),
        ("HRANDFIELD", "str", "x"),
        ("HRANDFIELD", "missing", "x"),
        ("HSCAN", "e", "0", "COUNT", "-1"),
        ("HSCAN", "str", "0"),
        ("HSCAN", "str", "x"),
        ("HSCAN", "missing", "0", "COUNT", "0"),
        ("HSCAN", "e", "18446744073709551616"),
        ("HSTRLEN", "e", "d"),
        ("HDEL", "e", "a", "b", "c", "d", "new", "new2", "x"),
        ("EXISTS", "e"),
        ("HINCRBYFLOAT", "f", "x", "1.5"),
        ("TYPE", "f"),
    ]
    for args in cases:
        d.run(*args)
    got, want = (c.execute_command("HGETALL", "e") for c in (d.dfly, d.ref))
    assert pairs_to_dict(got) == pairs_to_dict(want)
    for pattern in ("[a-b]", "*", "n*", "\\x"):
        got, want = (c.execute_command("HSCAN", "e", "0", "MATCH", pattern, "COUNT", "1000")
                     for c in (d.dfly, d.ref))
        assert got[0] == want[0] == b"0"
        assert pairs_to_dict(got[1]) == pairs_to_dict(want[1]), pattern


FIELDS = ["a", "b", "c", "d", "", "10", "-3", "long" * 5]
VALUES = ["1", "-1", "0", "x", "3.5", "", str(LLONG_MAX), "007"]


def _random_hash_command(rnd, keys):
    k = rnd.choice(keys)

    def f():
        return rnd.choice(FIELDS + [f"f{rnd.randint(0, 300)}"])

    def v():
        return rnd.choice(VALUES + ["v" * rnd.randint(0, 80), str(rnd.randint(-1000, 1000))])

    op = rnd.randrange(17)
    if op <= 3:
        args = ["HSET", k]
        for _ in range(rnd.randint(1, 6)):
            args += [f(), v()]
        return args
    return [
        lambda: ["HMSET", k, f(), v(), f(), v()],
        lambda: ["HSETNX", k, f(), v()],
        lambda: ["HGET", k, f()],
        lambda: ["HMGET", k, f(), f(), f()],
        lambda: ["HDEL", k] + [f() for _ in range(rnd.randint(1, 8))],
        lambda: ["HLEN", k],
        lambda: ["HSTRLEN", k, f()],
        lambda: ["HEXISTS", k, f()],
        lambda: ["HINCRBY", k, f(), str(rnd.choice([1, -1, 1000, LLONG_MAX, LLONG_MIN]))],
        lambda: ["HINCRBYFLOAT", k, f(), rnd.choice(["1.5", "-0.25", "1e10", "3", "abc"])],
        lambda: ["OBJECT", "ENCODING", k],
        lambda: ["DEL", k] if rnd.random() < 0.1 else ["EXISTS", k],
        lambda: ["SET", k, "s"] if rnd.random() < 0.05 else ["TYPE", k],
    ][op - 4]()


def hgetall_dict(c, key):
    """HGETALL as a dict, or the error text."""
    try:
        return pairs_to_dict(c.execute_command("HGETALL", key))
    except redis.ResponseError as e:
        return str(e)


def test_same_replies_as_redis_server(server, redis_server_factory):
    """A seeded random run of hash commands (with small thresholds, so hashes convert) gets the
    same replies as Debian's redis-server; whole hashes are compared as dicts."""
    d = DiffRunner(server, redis_server_factory())
    for name, value in (("hash-max-listpack-entries", "16"), ("hash-max-listpack-value", "32")):
        d.run("CONFIG", "SET", name, value)
    keys = [f"rh:{i}" for i in range(6)] + ["{t}a", "{t}b"]
    rnd = random.Random(COMPARE_SEED)
    for _ in range(COMPARE_OPS):
        d.run(*_random_hash_command(rnd, keys))
        if rnd.random() < 0.05:
            k = rnd.choice(keys)
            d.run("HKEYS", k, unordered=True)
            d.run("HVALS", k, unordered=True)
            want = hgetall_dict(d.ref, k)
            assert hgetall_dict(d.dfly, k) == want, k
            if isinstance(want, dict) and want:
                got = d.run("HRANDFIELD", k, "-5", "WITHVALUES", compare=False)
                assert len(got) == 10
                assert all(want[f] == v for f, v in zip(got[::2], got[1::2]))
    for k in keys:
        assert hgetall_dict(d.dfly, k) == hgetall_dict(d.ref, k), k
        d.run("OBJECT", "ENCODING", k)


# ---- memory --------------------------------------------------------------------------------------


def used_memory(c):
    return int(c.info("memory")["used_memory"])


def bytes_per_field(c, keys, fields):
    """used_memory growth per field when `keys` hashes of `fields` fields each are added."""
    before = used_memory(c)
    if keys == 1:
        fill(c, "mem:0", fields, prefix="field:", value="value:0:")
    else:
        pipe = c.pipeline(transaction=False)
        for k in range(keys):
            args = []
            for i in range(fields):
                args += [f"field:{i}", f"value:{k}:{i}"]
            pipe.execute_command("HSET", f"mem:{k}", *args)
        pipe.execute()
    return (used_memory(c) - before) / (keys * fields)


@pytest.mark.parametrize("keys,fields", [(SMALL_KEYS, SMALL_FIELDS), (1, LARGE_FIELDS)])
def test_memory_per_field_beside_redis(server, redis_server_factory, keys, fields):
    ref = redis_server_factory()
    ours = bytes_per_field(server.client(), keys, fields)
    theirs = bytes_per_field(ref.client(), keys, fields)
    print(f"hash {keys}x{fields}: dfly {ours:.1f} B/field, redis {theirs:.1f} B/field")
    assert ours <= theirs * MEMORY_RATIO_MAX
