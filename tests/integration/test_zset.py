"""Sorted-set commands with Redis 7 semantics, seen by real clients: ZADD (NX XX GT LT CH INCR)
ZINCRBY ZREM ZCARD ZCOUNT ZLEXCOUNT ZSCORE ZMSCORE ZRANK ZREVRANK ZRANGE (BYSCORE BYLEX REV LIMIT
WITHSCORES) ZRANGESTORE Z[REV]RANGEBY{SCORE,LEX} ZREVRANGE ZREMRANGEBY{RANK,SCORE,LEX} ZPOPMIN
ZPOPMAX ZMPOP ZRANDMEMBER ZUNION[STORE] ZINTER[STORE] ZINTERCARD ZDIFF[STORE] ZSCAN; Redis's error
texts and score formats (%.17g, inf); the listpack -> skiplist conversion (never back); RESP3
shapes compared with redis-server; DEBUG DIGEST-VALUE, COPY; seeded random runs compared with
Debian's redis-server in both encodings; and memory per member beside redis-server's.
Blocking pops are in test_zset_blocking.py.
"""

import random

import pytest
import redis

from difftest import DiffRunner
from resp_raw import RawConn
from shardkeys import key_shard, keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
NOT_FLOAT = "value is not a valid float"
MINMAX_FLOAT = "min or max is not a float"
MINMAX_LEX = "min or max not valid string range item"
SYNTAX = "syntax error"
LISTPACK_ENTRIES = 128  # zset-max-listpack-entries default
LISTPACK_VALUE = 64  # zset-max-listpack-value default
BIG = 5000  # members of a zset that is surely a skiplist
MEMBERS_PER_ZADD = 1000
SCAN_ROUNDS_MAX = 100000
COMPARE_OPS = 3000
COMPARE_SEEDS = (1, 2)
SMALL_KEYS = 1000
SMALL_MEMBERS = 10
LARGE_MEMBERS = 200000
# dfly may use at most this much memory per member relative to redis-server.
MEMORY_RATIO_MAX = 1.0


def err(c, *args):
    """The error text of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def raw(c, *args):
    """A command's reply as the server sent it (no redis-py response callback)."""
    saved = c.response_callbacks
    c.response_callbacks = {}
    try:
        return c.execute_command(*args)
    finally:
        c.response_callbacks = saved


def encoding(c, key):
    return c.object("encoding", key)


def fill(c, key, n, prefix="m", score=lambda i: i):
    """Gives key n members m0..m<n-1> with scores score(i), in batches."""
    for start in range(0, n, MEMBERS_PER_ZADD):
        args = []
        for i in range(start, min(n, start + MEMBERS_PER_ZADD)):
            args += [str(score(i)), f"{prefix}{i}"]
        c.execute_command("ZADD", key, *args)


def flat(pairs):
    return [x for p in pairs for x in p]


# ---- ZADD, ZINCRBY, scores ------------------------------------------------------------------


def test_zadd_counts_and_updates(r):
    for i in range(16):  # keys on both shards
        k = f"z:{i}"
        assert raw(r, "ZADD", k, "1", "a", "2", "b") == 2
        assert raw(r, "ZADD", k, "5", "a", "3", "c") == 1
        assert raw(r, "ZADD", k, "CH", "6", "a", "3", "c", "4", "d") == 2
        assert r.zrange(k, 0, -1, withscores=True) == [("b", 2), ("c", 3), ("d", 4), ("a", 6)]
    # The same member twice in one call: counted once, the last score wins.
    assert raw(r, "ZADD", "dup", "1", "x", "2", "x") == 1
    assert r.zscore("dup", "x") == 2


def test_zadd_options(r):
    r.zadd("o", {"a": 5})
    assert raw(r, "ZADD", "o", "NX", "1", "a", "1", "b") == 1
    assert r.zscore("o", "a") == 5
    assert raw(r, "ZADD", "o", "XX", "1", "a", "1", "c") == 0
    assert r.zscore("o", "a") == 1 and r.zscore("o", "c") is None
    assert raw(r, "ZADD", "o", "GT", "CH", "0", "a", "9", "b") == 1
    assert r.zmscore("o", ["a", "b"]) == [1, 9]
    assert raw(r, "ZADD", "o", "LT", "CH", "3", "a", "2", "b") == 1
    assert r.zmscore("o", ["a", "b"]) == [1, 2]
    # GT and LT still add new members unless XX.
    assert raw(r, "ZADD", "o", "GT", "7", "new") == 1
    assert raw(r, "ZADD", "o", "XX", "GT", "7", "new2") == 0
    assert raw(r, "ZADD", "missing", "XX", "1", "a") == 0
    assert r.exists("missing") == 0


def test_zadd_incr_and_zincrby(r):
    assert raw(r, "ZADD", "i", "INCR", "1.5", "a") == "1.5"
    assert raw(r, "ZADD", "i", "INCR", "1", "a") == "2.5"
    assert raw(r, "ZADD", "i", "INCR", "NX", "1", "a") is None
    assert raw(r, "ZADD", "i", "INCR", "XX", "1", "zz") is None
    assert raw(r, "ZADD", "i", "INCR", "GT", "-1", "a") is None
    assert raw(r, "ZINCRBY", "i", "-0.5", "a") == "2"
    assert raw(r, "ZINCRBY", "i", "0.1", "b") == "0.10000000000000001"
    assert raw(r, "ZINCRBY", "i", "inf", "c") == "inf"
    assert err(r, "ZINCRBY", "i", "-inf", "c") == "resulting score is not a number (NaN)"
    assert r.zscore("i", "c") == float("inf")
    assert err(r, "ZINCRBY", "i", "x", "c") == NOT_FLOAT


@pytest.mark.parametrize(
    "given,shown",
    [
        ("1.5", "1.5"),
        ("0.1", "0.10000000000000001"),
        ("1e20", "1e+20"),
        ("100000000000000000000", "1e+20"),
        ("inf", "inf"),
        ("+inf", "inf"),
        ("-inf", "-inf"),
        ("-0", "0"),
        ("3.0", "3"),
        ("1e-5", "1.0000000000000001e-05"),
        ("12345678901234567", "12345678901234568"),
        ("0x10", "16"),
    ],
)
def test_score_formats(r, given, shown):
    raw(r, "ZADD", "f", given, "m")
    assert raw(r, "ZSCORE", "f", "m") == shown
    assert raw(r, "ZRANGE", "f", "0", "-1", "WITHSCORES") == ["m", shown]


def test_negative_zero_in_a_skiplist(r):
    r.config_set("zset-max-listpack-entries", "0")
    raw(r, "ZADD", "nz", "-0", "m")
    assert encoding(r, "nz") == "skiplist"
    assert raw(r, "ZSCORE", "nz", "m") == "-0"


def test_zadd_errors(r):
    r.set("str", "x")
    assert err(r, "ZADD", "e", "NX", "XX", "1", "a") == (
        "XX and NX options at the same time are not compatible"
    )
    for opts in (("GT", "NX"), ("LT", "NX"), ("GT", "LT")):
        assert err(r, "ZADD", "e", *opts, "1", "a") == (
            "GT, LT, and/or NX options at the same time are not compatible"
        )
    assert err(r, "ZADD", "e", "INCR", "1", "a", "2", "b") == (
        "INCR option supports a single increment-element pair"
    )
    assert err(r, "ZADD", "e", "1", "a", "2") == SYNTAX
    assert err(r, "ZADD", "e", "NX", "1") == SYNTAX
    for bad in ("nan", "abc", "", " 1", "1 ", "1e400", "1e-400"):
        assert err(r, "ZADD", "e", bad, "a") == NOT_FLOAT, bad
    # A bad score anywhere: nothing is added.
    assert err(r, "ZADD", "e", "1", "a", "x", "b") == NOT_FLOAT
    assert r.exists("e") == 0
    assert err(r, "ZADD", "str", "1", "a") == WRONGTYPE
    assert err(r, "ZADD", "e") == "wrong number of arguments for 'zadd' command"


# ---- single-member reads, ZREM --------------------------------------------------------------


def test_zrem_zcard_and_key_removal(r):
    r.zadd("rm", {"a": 1, "b": 2, "c": 3})
    assert r.zrem("rm", "a", "x", "a") == 1
    assert r.zcard("rm") == 2
    assert r.zrem("rm", "b", "c", "d") == 2
    assert r.exists("rm") == 0
    assert r.zrem("rm", "a") == 0
    assert r.zcard("rm") == 0
    r.set("str", "x")
    assert err(r, "ZREM", "str", "a") == WRONGTYPE
    assert err(r, "ZCARD", "str") == WRONGTYPE


def test_zscore_zmscore(r):
    r.zadd("s", {"a": 1.5, "b": -2})
    assert r.zscore("s", "a") == 1.5
    assert r.zscore("s", "x") is None
    assert r.zscore("nokey", "x") is None
    assert r.zmscore("s", ["a", "x", "b"]) == [1.5, None, -2]
    assert r.zmscore("nokey", ["a", "b"]) == [None, None]
    r.set("str", "x")
    assert err(r, "ZMSCORE", "str", "a") == WRONGTYPE
    assert err(r, "ZSCORE", "str", "a") == WRONGTYPE


@pytest.mark.parametrize("n", [5, BIG])
def test_zrank_zrevrank(r, n):
    fill(r, "rk", n)
    for i in (0, 1, n // 2, n - 1):
        assert r.zrank("rk", f"m{i}") == i
        assert r.zrevrank("rk", f"m{i}") == n - 1 - i
        assert raw(r, "ZRANK", "rk", f"m{i}", "WITHSCORE") == [i, str(i)]
        assert raw(r, "ZREVRANK", "rk", f"m{i}", "withscore") == [n - 1 - i, str(i)]
    assert r.zrank("rk", "nope") is None
    assert raw(r, "ZRANK", "rk", "nope", "WITHSCORE") is None
    assert r.zrank("nokey", "a") is None
    assert err(r, "ZRANK", "rk", "m1", "WITHSCORES") == SYNTAX
    assert err(r, "ZRANK", "rk", "m1", "WITHSCORE", "x") == (
        "wrong number of arguments for 'zrank' command"
    )


def test_zcount_and_score_ranges(r):
    r.zadd("c", {"a": 1, "b": 2, "c": 3, "d": float("inf"), "e": float("-inf")})
    assert r.zcount("c", "-inf", "+inf") == 5
    assert r.zcount("c", 1, 3) == 3
    assert r.zcount("c", "(1", 3) == 2
    assert r.zcount("c", "(1", "(3") == 1
    assert r.zcount("c", 3, 1) == 0
    assert r.zcount("c", "(2", "(2") == 0
    assert r.zcount("c", "inf", "inf") == 1
    assert r.zcount("c", "(inf", "inf") == 0
    # Redis's zslParseRange is lenient: an empty bound is 0, leading spaces pass.
    assert r.zcount("c", "", 2) == 2
    assert r.zcount("c", " 1", "(", ) == 0
    assert r.zcount("nokey", 0, 1) == 0
    for bad in (("a", "1"), ("1", "b"), ("nan", "1"), ("(", "(x"), ("1x", "2")):
        assert err(r, "ZCOUNT", "c", *bad) == MINMAX_FLOAT


def test_zlexcount_and_lex_ranges(r):
    r.zadd("l", {m: 0 for m in ["a", "b", "c", "d", "e", "ab"]})
    assert r.zlexcount("l", "-", "+") == 6
    assert r.zlexcount("l", "[a", "[b") == 3
    assert r.zlexcount("l", "(a", "[b") == 2
    assert r.zlexcount("l", "(a", "(b") == 1
    assert r.zlexcount("l", "+", "-") == 0
    assert r.zlexcount("l", "-", "-") == 0
    assert r.zlexcount("l", "[e", "+") == 1
    assert r.zlexcount("l", "[", "+") == 6  # "[" is the empty string, below everything
    assert r.zlexcount("nokey", "-", "+") == 0
    for bad in (("a", "[b"), ("[a", "b"), ("", "+"), ("-x", "+"), ("-", "+x")):
        assert err(r, "ZLEXCOUNT", "l", *bad) == MINMAX_LEX


# ---- ZRANGE and variants --------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, BIG])
def test_zrange_by_rank(r, n):
    fill(r, "rr", n)
    m = [f"m{i}" for i in range(n)]
    assert r.zrange("rr", 0, -1) == m
    assert r.zrange("rr", 2, 4) == m[2:5]
    assert r.zrange("rr", -3, -1) == m[-3:]
    assert r.zrange("rr", -100000, 1) == m[:2]
    assert r.zrange("rr", 5, 2) == []
    assert r.zrange("rr", n, n + 5) == []
    assert r.zrange("rr", 0, 0, desc=True) == [m[-1]]
    assert r.zrevrange("rr", 0, 2) == m[::-1][:3]
    assert raw(r, "ZRANGE", "rr", "1", "2", "REV", "WITHSCORES") == [
        m[-2], str(n - 2), m[-3], str(n - 3)
    ]
    assert r.zrange("nokey", 0, -1) == []


@pytest.mark.parametrize("n", [10, BIG])
def test_zrange_by_score_with_limit(r, n):
    fill(r, "rs", n)
    m = [f"m{i}" for i in range(n)]
    assert r.zrangebyscore("rs", 2, 5) == m[2:6]
    assert r.zrangebyscore("rs", "(2", "(5") == m[3:5]
    assert r.zrangebyscore("rs", "-inf", "+inf", start=1, num=3) == m[1:4]
    assert r.zrevrangebyscore("rs", "+inf", "-inf", start=1, num=2) == [m[-2], m[-3]]
    assert raw(r, "ZRANGE", "rs", "5", "2", "BYSCORE", "REV") == m[5:1:-1]
    assert raw(r, "ZRANGE", "rs", "2", "5", "BYSCORE", "LIMIT", "1", "-1") == m[3:6]
    # A negative offset skips everything (Redis's loop); offset past the end: nothing.
    assert raw(r, "ZRANGE", "rs", "-inf", "inf", "BYSCORE", "LIMIT", "-1", "5") == []
    assert raw(r, "ZRANGE", "rs", "-inf", "inf", "BYSCORE", "LIMIT", n, "5") == []
    assert raw(r, "ZRANGE", "rs", "-inf", "inf", "BYSCORE", "LIMIT", "0", "0") == []
    assert raw(r, 
        "ZRANGEBYSCORE", "rs", "-inf", "inf", "LIMIT", str(n - 2), "10"
    ) == m[-2:]
    assert r.zrangebyscore("rs", 3, 3, withscores=True) == [("m3", 3)]
    assert r.zrangebyscore("rs", 5, 2) == []


def test_zrange_by_lex(r):
    r.zadd("lx", {m: 0 for m in "abcdefg"})
    assert r.zrangebylex("lx", "-", "+") == list("abcdefg")
    assert r.zrangebylex("lx", "[b", "(e") == list("bcd")
    assert r.zrangebylex("lx", "-", "+", start=2, num=2) == list("cd")
    assert r.zrevrangebylex("lx", "+", "-", start=1, num=2) == list("fe")
    assert raw(r, "ZRANGE", "lx", "[f", "[b", "BYLEX", "REV") == list("fedcb")
    assert r.zrangebylex("lx", "+", "-") == []


def test_zrange_errors(r):
    r.zadd("e", {"a": 1})
    assert err(r, "ZRANGE", "e", "0", "-1", "LIMIT", "0", "1") == (
        "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    )
    assert err(r, "ZRANGE", "e", "[a", "[b", "BYLEX", "WITHSCORES") == (
        "syntax error, WITHSCORES not supported in combination with BYLEX"
    )
    assert err(r, "ZRANGE", "e", "0", "1", "BYSCORE", "LIMIT", "0", "x") == NOT_INT
    assert err(r, "ZRANGE", "e", "0", "1", "BYSCORE", "LIMIT", "0") == SYNTAX
    assert err(r, "ZRANGE", "e", "a", "1") == NOT_INT
    assert err(r, "ZRANGE", "e", "a", "1", "BYSCORE") == MINMAX_FLOAT
    assert err(r, "ZRANGE", "e", "a", "1", "BYLEX") == MINMAX_LEX
    assert err(r, "ZRANGE", "e", "0", "1", "BYSCORE", "BYLEX") == SYNTAX
    assert err(r, "ZRANGEBYSCORE", "e", "0", "1", "REV") == SYNTAX
    assert err(r, "ZREVRANGE", "e", "0", "1", "REV") == SYNTAX
    assert err(r, "ZRANGEBYLEX", "e", "-", "+", "WITHSCORES") == (
        "syntax error, WITHSCORES not supported in combination with BYLEX"
    )
    r.set("str", "x")
    assert err(r, "ZRANGE", "str", "0", "-1") == WRONGTYPE


def test_zrangestore(r):
    src, dst = keys_per_shard("rs", 2, 1)  # one key on each shard
    fill(r, src, 10)
    assert raw(r, "ZRANGESTORE", dst, src, "2", "4") == 3
    assert r.zrange(dst, 0, -1, withscores=True) == [("m2", 2), ("m3", 3), ("m4", 4)]
    assert raw(r, "ZRANGESTORE", dst, src, "(7", "+inf", "BYSCORE") == 2
    assert raw(r, "ZRANGESTORE", dst, src, "[m8", "+", "BYLEX", "REV") == 0
    r.zadd("lexy", {"a": 0, "b": 0, "c": 0})
    r.expire(dst, 1000)
    assert raw(r, "ZRANGESTORE", dst, src, "0", "0", "REV") == 1
    assert r.zrange(dst, 0, -1) == ["m9"] and r.ttl(dst) == -1
    # An empty result deletes the destination; a missing source too.
    assert raw(r, "ZRANGESTORE", dst, src, "20", "30") == 0
    assert r.exists(dst) == 0
    r.zadd(dst, {"x": 1})
    assert raw(r, "ZRANGESTORE", dst, "nokey", "0", "-1") == 0
    assert r.exists(dst) == 0
    # In place.
    assert raw(r, "ZRANGESTORE", src, src, "0", "1") == 2
    assert r.zrange(src, 0, -1) == ["m0", "m1"]
    assert err(r, "ZRANGESTORE", dst, src, "0", "1", "WITHSCORES") == SYNTAX
    r.set("str", "x")
    assert err(r, "ZRANGESTORE", dst, "str", "0", "1") == WRONGTYPE


def test_zrangestore_encoding_follows_size(r):
    fill(r, "big", LISTPACK_ENTRIES + 10)
    assert encoding(r, "big") == "skiplist"
    assert raw(r, "ZRANGESTORE", "small", "big", "0", "9") == 10
    assert encoding(r, "small") == "listpack"
    assert raw(r, "ZRANGESTORE", "all", "big", "0", "-1") == LISTPACK_ENTRIES + 10
    assert encoding(r, "all") == "skiplist"


# ---- ZREMRANGEBY* ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [10, BIG])
def test_zremrange(r, n):
    fill(r, "zr", n)
    assert r.zremrangebyrank("zr", 0, 1) == 2
    assert r.zremrangebyrank("zr", -2, -1) == 2
    assert r.zremrangebyrank("zr", 5, 2) == 0
    assert r.zremrangebyscore("zr", "(2", 4) == 2
    assert r.zremrangebyscore("zr", 100000, "+inf") == 0
    assert r.zcard("zr") == n - 6
    assert r.zrange("zr", 0, 1) == ["m2", "m5"]
    assert r.zremrangebyscore("zr", "-inf", "inf") == n - 6
    assert r.exists("zr") == 0
    r.zadd("lx", {m: 0 for m in "abcdef"})
    assert r.zremrangebylex("lx", "[b", "(d") == 2
    assert r.zrange("lx", 0, -1) == list("adef")
    assert r.zremrangebylex("lx", "-", "+") == 4
    assert r.exists("lx") == 0
    assert r.zremrangebyrank("nokey", 0, -1) == 0
    assert err(r, "ZREMRANGEBYSCORE", "x", "a", "1") == MINMAX_FLOAT
    assert err(r, "ZREMRANGEBYLEX", "x", "a", "+") == MINMAX_LEX
    assert err(r, "ZREMRANGEBYRANK", "x", "a", "1") == NOT_INT


# ---- pops -----------------------------------------------------------------------------------


def test_zpopmin_zpopmax(r):
    r.zadd("p", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert raw(r, "ZPOPMIN", "p") == ["a", "1"]
    assert raw(r, "ZPOPMAX", "p", "2") == ["d", "4", "c", "3"]
    assert raw(r, "ZPOPMIN", "p", "0") == []
    assert raw(r, "ZPOPMAX", "p", "10") == ["b", "2"]
    assert r.exists("p") == 0
    assert raw(r, "ZPOPMIN", "p") == []
    assert err(r, "ZPOPMIN", "p", "-1") == "value is out of range, must be positive"
    assert err(r, "ZPOPMIN", "p", "1", "2") == SYNTAX
    r.set("str", "x")
    assert err(r, "ZPOPMIN", "str", "0") == WRONGTYPE


def test_zmpop(r):
    k1, k2 = keys_per_shard("mp", 2, 1)
    r.zadd(k2, {"a": 1, "b": 2, "c": 3})
    assert raw(r, "ZMPOP", "2", k1, k2, "MIN") == [k2, [["a", "1"]]]
    assert raw(r, "ZMPOP", "2", k1, k2, "MAX", "COUNT", "5") == [
        k2, [["c", "3"], ["b", "2"]]
    ]
    assert r.exists(k2) == 0
    assert raw(r, "ZMPOP", "2", k1, k2, "MIN") is None
    assert err(r, "ZMPOP", "0", k1, "MIN") == "numkeys should be greater than 0"
    assert err(r, "ZMPOP", "x", k1, "MIN") == "numkeys should be greater than 0"
    assert err(r, "ZMPOP", "1", k1, "MID") == SYNTAX
    assert err(r, "ZMPOP", "2", k1, "MIN") == SYNTAX
    assert err(r, "ZMPOP", "1", k1, "MIN", "COUNT", "0") == "count should be greater than 0"
    assert err(r, "ZMPOP", "1", k1, "MIN", "COUNT", "1", "COUNT", "1") == SYNTAX
    r.set("str", "x")
    assert err(r, "ZMPOP", "2", k1, "str", "MIN") == WRONGTYPE


def test_bzpop_nonblocking_paths(r):
    k1, k2 = keys_per_shard("bz", 2, 1)
    r.zadd(k2, {"a": 1, "b": 2})
    assert raw(r, "BZPOPMIN", k1, k2, "0") == [k2, "a", "1"]
    assert raw(r, "BZPOPMAX", k1, k2, "0") == [k2, "b", "2"]
    assert raw(r, "BZPOPMIN", k1, k2, "0.01") is None
    r.zadd(k1, {"x": 5})
    assert raw(r, "BZMPOP", "0", "2", k1, k2, "MAX", "COUNT", "3") == [
        k1, [["x", "5"]]
    ]
    assert err(r, "BZPOPMIN", k1, "-1") == "timeout is negative"
    assert err(r, "BZPOPMIN", k1, "x") == "timeout is not a float or out of range"
    assert err(r, "BZMPOP", "x", "1", k1, "MIN") == "timeout is not a float or out of range"
    # Inside MULTI nothing blocks: an empty key answers null at once.
    p = r.pipeline(transaction=True)
    p.execute_command("BZPOPMIN", k1, "0")
    p.execute_command("BZMPOP", "0", "1", k1, "MIN")
    assert p.execute() == [None, None]


# ---- ZRANDMEMBER ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 100, BIG])
def test_zrandmember(r, n):
    fill(r, "rnd", n)
    want = {f"m{i}": str(i) for i in range(n)}
    assert raw(r, "ZRANDMEMBER", "rnd") in want
    assert raw(r, "ZRANDMEMBER", "rnd", "0") == []
    for count in (1, 2, n // 3, n // 2, n - 1):
        got = raw(r, "ZRANDMEMBER", "rnd", count)
        assert len(got) == count and len(set(got)) == count and set(got) <= set(want)
    # At least the whole set: all of it, from the highest score down (as Redis walks it).
    got = raw(r, "ZRANDMEMBER", "rnd", n + 10, "WITHSCORES")
    assert got == flat((f"m{i}", str(i)) for i in reversed(range(n)))
    got = raw(r, "ZRANDMEMBER", "rnd", -3 * n)
    assert len(got) == 3 * n and set(got) <= set(want)
    got = raw(r, "ZRANDMEMBER", "rnd", -7, "WITHSCORES")
    assert len(got) == 14
    for m, s in zip(got[::2], got[1::2]):
        assert want[m] == s
    sub = raw(r, "ZRANDMEMBER", "rnd", max(1, n // 4), "WITHSCORES")
    assert len(set(sub[::2])) == max(1, n // 4)
    seen = set(raw(r, "ZRANDMEMBER", "rnd", -20 * n if n < BIG else -5000))
    if n < BIG:
        assert len(seen) == n


def test_zrandmember_missing_and_errors(r):
    assert raw(r, "ZRANDMEMBER", "nokey") is None
    assert raw(r, "ZRANDMEMBER", "nokey", "5") == []
    r.zadd("e", {"a": 1})
    assert err(r, "ZRANDMEMBER", "e", "x") == NOT_INT
    assert err(r, "ZRANDMEMBER", "e", "1", "withscore") == SYNTAX
    assert err(r, "ZRANDMEMBER", "e", str(-(2**63))) == (
        "value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    )
    assert err(r, "ZRANDMEMBER", "e", str(2**62), "WITHSCORES") == "value is out of range"


# ---- ZUNION ZINTER ZDIFF --------------------------------------------------------------------


def test_union_inter_diff(r):
    a, b, c = keys_per_shard("so", 2, 2)[:3]
    r.zadd(a, {"x": 1, "y": 2, "z": 3})
    r.zadd(b, {"y": 10, "z": 20, "w": 30})
    assert raw(r, "ZUNION", "2", a, b, "WITHSCORES") == [
        "x", "1", "y", "12", "z", "23", "w", "30"
    ]
    assert raw(r, "ZUNION", "3", a, b, c, "WEIGHTS", "2", "1", "5", "AGGREGATE", "MAX") == [
        "x", "y", "z", "w"
    ]
    assert raw(r, "ZINTER", "2", a, b, "AGGREGATE", "MIN", "WITHSCORES") == [
        "y", "2", "z", "3"
    ]
    assert raw(r, "ZINTER", "3", a, b, c) == []
    assert raw(r, "ZDIFF", "2", a, b, "WITHSCORES") == ["x", "1"]
    assert raw(r, "ZDIFF", "2", b, a) == ["w"]
    assert raw(r, "ZINTERCARD", "2", a, b) == 2
    assert raw(r, "ZINTERCARD", "2", a, b, "LIMIT", "1") == 1
    assert raw(r, "ZINTERCARD", "2", a, b, "LIMIT", "0") == 2
    assert raw(r, "ZUNIONSTORE", c, "2", a, b, "WEIGHTS", "1", "-1") == 4
    assert r.zrange(c, 0, -1, withscores=True) == [
        ("w", -30), ("z", -17), ("y", -8), ("x", 1)
    ]
    assert raw(r, "ZINTERSTORE", c, "2", a, b) == 2
    assert raw(r, "ZDIFFSTORE", c, "2", a, a) == 0
    assert r.exists(c) == 0
    # inf + -inf sums to 0, as in Redis; inf * 0 weights to 0.
    r.zadd("inf1", {"m": float("inf")})
    r.zadd("inf2", {"m": float("-inf")})
    assert raw(r, "ZUNION", "2", "inf1", "inf2", "WITHSCORES") == ["m", "0"]
    assert raw(r, "ZUNION", "1", "inf1", "WEIGHTS", "0", "WITHSCORES") == ["m", "0"]


def test_setops_errors(r):
    r.zadd("a", {"x": 1})
    r.set("str", "v")
    assert err(r, "ZUNIONSTORE", "d", "0", "a") == (
        "at least 1 input key is needed for 'zunionstore' command"
    )
    assert err(r, "ZINTER", "-1", "a") == "at least 1 input key is needed for 'zinter' command"
    assert err(r, "ZUNION", "2", "a") == SYNTAX
    assert err(r, "ZUNION", "x", "a") == NOT_INT
    assert err(r, "ZUNION", "1", "a", "WEIGHTS", "x") == "weight value is not a float"
    assert err(r, "ZUNION", "1", "a", "WEIGHTS", "1", "2") == SYNTAX
    assert err(r, "ZUNION", "1", "a", "AGGREGATE", "avg") == SYNTAX
    assert err(r, "ZDIFF", "1", "a", "WEIGHTS", "1") == SYNTAX
    assert err(r, "ZUNIONSTORE", "d", "1", "a", "WITHSCORES") == SYNTAX
    assert err(r, "ZINTERCARD", "1", "a", "LIMIT", "-1") == "LIMIT can't be negative"
    assert err(r, "ZINTERCARD", "1", "a", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(r, "ZINTERCARD", "1", "a", "WITHSCORES") == SYNTAX
    assert err(r, "ZUNION", "2", "a", "str") == WRONGTYPE
    # The type check comes before the options.
    assert err(r, "ZUNION", "2", "a", "str", "WEIGHTS", "x") == WRONGTYPE


def test_setops_accept_sets(r):
    r.sadd("plain", "x", "y", "7")
    r.zadd("zs", {"x": 5, "7": 2})
    assert raw(r, "ZUNION", "2", "zs", "plain", "WITHSCORES") == [
        "y", "1", "7", "3", "x", "6"
    ]
    assert raw(r, "ZINTER", "2", "plain", "zs") == ["7", "x"]
    assert raw(r, "ZDIFF", "2", "plain", "zs") == ["y"]


def test_setops_with_sets_like_redis(server, redis_server_factory):
    """Plain sets of each encoding (intset, listpack, hashtable) as inputs, against Redis."""
    d = DiffRunner(server, redis_server_factory())
    rnd = random.Random(3)
    sets = {"s:int": [str(i) for i in range(0, 40, 3)],
            "s:lp": ["a", "b", "c", "7", "x"],
            "s:ht": [f"m{i}" for i in range(0, 300, 2)] + ["a", "7"]}  # fmt: skip
    for k, members in sets.items():
        d.run("SADD", k, *members)
    fill(d.dfly, "zz", 200, score=lambda i: i / 4)
    fill(d.ref, "zz", 200, score=lambda i: i / 4)
    d.run("ZADD", "zz", "1", "a", "2", "7", "3", "12")
    keys = list(sets) + ["zz", "nokey"]
    for _ in range(300):
        ks = rnd.sample(keys, rnd.randint(1, 4))
        cmd = rnd.choice(["ZUNION", "ZINTER", "ZDIFF"])
        args = [str(len(ks)), *ks]
        if cmd != "ZDIFF" and rnd.random() < 0.5:
            args += ["WEIGHTS", *[rnd.choice(["1", "2", "-0.5"]) for _ in ks]]
            args += ["AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"])]
        d.run(cmd, *args, "WITHSCORES")
        d.run("ZINTERCARD", str(len(ks)), *ks)
        d.run(cmd + "STORE", "dst", *args)
        d.run("ZRANGE", "dst", "0", "-1", "WITHSCORES")
        d.run("OBJECT", "ENCODING", "dst")


def test_setops_store_encoding(r):
    fill(r, "big", LISTPACK_ENTRIES + 1)
    fill(r, "few", 10)
    assert raw(r, "ZINTERSTORE", "d", "2", "big", "few") == 10
    assert encoding(r, "d") == "listpack"
    assert raw(r, "ZUNIONSTORE", "d", "2", "big", "few") == LISTPACK_ENTRIES + 1
    assert encoding(r, "d") == "skiplist"
    r.zadd("long", {"x" * (LISTPACK_VALUE + 1): 1})
    assert raw(r, "ZUNIONSTORE", "d", "1", "long") == 1
    assert encoding(r, "d") == "skiplist"


def test_setops_on_big_sets(r):
    fill(r, "b1", BIG)
    fill(r, "b2", BIG, score=lambda i: 2 * i)
    fill(r, "b3", BIG // 2, prefix="m", score=lambda i: -i)
    assert raw(r, "ZINTERCARD", "3", "b1", "b2", "b3") == BIG // 2
    got = raw(r, "ZINTER", "3", "b1", "b2", "b3", "WITHSCORES")
    assert got[:4] == ["m0", "0", "m1", "2"]
    assert raw(r, "ZUNIONSTORE", "u", "2", "b1", "b3") == BIG
    assert r.zscore("u", f"m{BIG - 1}") == BIG - 1 and r.zscore("u", "m3") == 0
    assert raw(r, "ZDIFFSTORE", "df", "2", "b1", "b3") == BIG - BIG // 2


# ---- ZSCAN ----------------------------------------------------------------------------------


def scan_all(c, key, **kw):
    cursor, seen, rounds = 0, {}, 0
    while True:
        cursor, items = c.zscan(key, cursor, **kw)
        seen.update(items)
        rounds += 1
        assert rounds < SCAN_ROUNDS_MAX
        if cursor == 0:
            return seen, rounds


@pytest.mark.parametrize("n", [10, BIG])
def test_zscan(r, n):
    fill(r, "sc", n)
    seen, rounds = scan_all(r, "sc", count=100)
    assert seen == {f"m{i}": float(i) for i in range(n)}
    assert (rounds == 1) == (n <= LISTPACK_ENTRIES)
    seen, _ = scan_all(r, "sc", match="m1*")
    assert seen == {f"m{i}": float(i) for i in range(n) if str(i).startswith("1")}
    assert r.zscan("nokey", 0) == (0, [])
    assert err(r, "ZSCAN", "sc", "x") == "invalid cursor"
    assert err(r, "ZSCAN", "sc", "0", "COUNT", "0") == SYNTAX
    assert err(r, "ZSCAN", "sc", "0", "TYPE", "zset") == SYNTAX


def test_zscan_returns_every_member_while_it_changes(r):
    """Members added and removed meanwhile make the member index grow (rehashing): every
    member present for the whole scan is still returned."""
    fill(r, "chg", BIG)
    cursor, seen, round_ = 0, set(), 0
    while True:
        cursor, items = r.zscan("chg", cursor, count=200)
        seen.update(m for m, _ in items)
        if round_ < 10:
            fill(r, "chg", 500, prefix=f"x{round_}_")
        elif round_ < 20:
            r.zremrangebyscore("chg", 0, 499)  # the x members score 0..499
        round_ += 1
        assert round_ < SCAN_ROUNDS_MAX
        if cursor == 0:
            break
    assert {f"m{i}" for i in range(500, BIG)} <= seen


# ---- encodings, digest, copy, memory --------------------------------------------------------


def test_listpack_to_skiplist_conversion(r):
    fill(r, "cv", LISTPACK_ENTRIES)
    assert encoding(r, "cv") == "listpack"
    r.zadd("cv", {"one-more": 0})
    assert encoding(r, "cv") == "skiplist"
    r.zremrangebyrank("cv", 0, -3)
    assert encoding(r, "cv") == "skiplist"  # never back
    r.zadd("long", {"x" * LISTPACK_VALUE: 1})
    assert encoding(r, "long") == "listpack"
    r.zadd("long", {"y" * (LISTPACK_VALUE + 1): 1})
    assert encoding(r, "long") == "skiplist"
    r.config_set("zset-max-listpack-entries", "4")
    fill(r, "cfg", 5)
    assert encoding(r, "cfg") == "skiplist"
    r.config_set("zset-max-listpack-entries", "0")
    r.zadd("zero", {"a": 1})
    assert encoding(r, "zero") == "skiplist"


def test_copy_and_memory_usage(r):
    for n in (3, BIG):
        k = f"mem:{n}"
        fill(r, k, n)
        assert r.memory_usage(k) >= n * len("m0")
        assert r.copy(k, f"{k}:copy") is True
        assert r.zrange(f"{k}:copy", 0, -1, withscores=True) == r.zrange(k, 0, -1, withscores=True)
        assert encoding(r, f"{k}:copy") == encoding(r, k)
        r.zadd(k, {"only-in-original": 1})
        assert r.zscore(f"{k}:copy", "only-in-original") is None
        assert r.zrank(f"{k}:copy", f"m{n - 1}") == n - 1


def test_digest_and_encodings_like_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory("--enable-debug-command", "yes"))
    for n in (3, LISTPACK_ENTRIES + 5):
        for c in (d.dfly, d.ref):
            fill(c, f"dg{n}", n, score=lambda i: i / 3)
        d.run("ZADD", f"dg{n}", "-0", "neg0", "inf", "top", "7", "123")
        d.run("DEBUG", "DIGEST-VALUE", f"dg{n}")
        d.run("OBJECT", "ENCODING", f"dg{n}")
        d.run("ZRANGE", f"dg{n}", "0", "-1", "WITHSCORES")


# ---- RESP3 ----------------------------------------------------------------------------------


RESP3_COMMANDS = [
    ("ZADD", "r3", "1", "a", "2.5", "b", "3", "c", "inf", "d"),
    ("ZSCORE", "r3", "b"),
    ("ZSCORE", "r3", "d"),
    ("ZSCORE", "r3", "nope"),
    ("ZMSCORE", "r3", "a", "nope"),
    ("ZINCRBY", "r3", "0.5", "a"),
    ("ZADD", "r3", "INCR", "1", "a"),
    ("ZADD", "r3", "INCR", "NX", "1", "a"),
    ("ZRANGE", "r3", "0", "-1"),
    ("ZRANGE", "r3", "0", "-1", "WITHSCORES"),
    ("ZRANGEBYSCORE", "r3", "-inf", "inf", "WITHSCORES", "LIMIT", "1", "2"),
    ("ZUNION", "1", "r3", "WITHSCORES"),
    ("ZINTER", "1", "r3", "WITHSCORES"),
    ("ZDIFF", "1", "r3", "WITHSCORES"),
    ("ZRANDMEMBER", "r3", "10", "WITHSCORES"),
    ("ZRANDMEMBER", "r3", "0", "WITHSCORES"),
    ("ZSCAN", "r3", "0"),
    ("ZSCAN", "nokey", "0"),
    ("ZPOPMIN", "r3"),
    ("ZPOPMAX", "r3", "1"),
    ("ZPOPMAX", "r3", "0"),
    ("ZMPOP", "1", "r3", "MIN"),
    ("ZMPOP", "1", "nokey", "MIN"),
    ("BZPOPMIN", "r3", "0"),
    ("ZADD", "r3", "1", "a", "2", "b", "-0", "c"),
    ("BZMPOP", "0", "1", "r3", "MAX", "COUNT", "2"),
    ("ZPOPMIN", "r3", "1"),
    ("BZPOPMIN", "nokey", "0.01"),
    ("ZRANGE", "nokey", "0", "-1"),
    ("ZRANDMEMBER", "nokey"),
]


def test_resp3_replies_like_redis(server, redis_server_factory):
    ref = redis_server_factory()
    with RawConn(server.port) as ours, RawConn(ref.port) as theirs:
        for c in (ours, theirs):
            c.command("HELLO", "3")
        for cmd in RESP3_COMMANDS:
            assert ours.command(*cmd) == theirs.command(*cmd), cmd


# ---- differential runs ----------------------------------------------------------------------

MEMBERS = [chr(ord("a") + i) for i in range(10)] + ["1", "2", "10", "-3", "007", ""]
SCORES = ["0", "1", "2", "3", "-1", "1.5", "-2.25", "0.1", "1e20", "-0", "inf", "-inf", "+inf"]
BOUNDS = SCORES + ["(1", "(1.5", "(-inf", "(inf", "(0"]
LEX = ["-", "+", "[a", "(a", "[c", "(e", "[1", "(10", "[", "(", "[zz"]


def _score(rnd):
    if rnd.random() < 0.02:
        return rnd.choice(["nan", "x", "1e400"])
    if rnd.random() < 0.2:
        return str(rnd.randint(-20, 20))
    return rnd.choice(SCORES)


def _members(rnd, lo=1, hi=4):
    return [rnd.choice(MEMBERS) for _ in range(rnd.randint(lo, hi))]


def _random_zset_command(rnd, keys):
    k = rnd.choice(keys)
    k2 = rnd.choice(keys)
    ks = rnd.sample(keys, rnd.randint(1, 3))
    op = rnd.randrange(32)
    if op < 6:
        opts = [o for o in ("NX", "XX", "GT", "LT", "CH") if rnd.random() < 0.15]
        if rnd.random() < 0.1:
            return ("ZADD", k, *opts, "INCR", _score(rnd), rnd.choice(MEMBERS))
        pairs = []
        for m in _members(rnd, 1, 6):
            pairs += [_score(rnd), m]
        return ("ZADD", k, *opts, *pairs)
    if op == 6:
        return ("ZINCRBY", k, _score(rnd), rnd.choice(MEMBERS))
    if op == 7:
        return ("ZREM", k, *_members(rnd))
    if op == 8:
        return rnd.choice([("ZCARD", k), ("ZSCORE", k, rnd.choice(MEMBERS)),
                           ("ZMSCORE", k, *_members(rnd))])  # fmt: skip
    if op == 9:
        return (rnd.choice(["ZRANK", "ZREVRANK"]), k, rnd.choice(MEMBERS))
    if op == 10:
        return ("ZCOUNT", k, rnd.choice(BOUNDS), rnd.choice(BOUNDS))
    if op == 11:
        return ("ZCOUNT", k, rnd.choice(BOUNDS), "+inf")
    if op in (12, 13):
        args = [str(rnd.randint(-8, 8)), str(rnd.randint(-8, 8))]
        kind = rnd.choice(["", "BYSCORE"])
        if kind == "BYSCORE":
            args = [rnd.choice(BOUNDS), rnd.choice(BOUNDS)]
        elif kind == "BYLEX":
            args = [rnd.choice(LEX), rnd.choice(LEX)]
        opts = [kind] if kind else []
        if rnd.random() < 0.3:
            opts.append("REV")
        if kind and rnd.random() < 0.3:
            opts += ["LIMIT", str(rnd.randint(-1, 4)), str(rnd.randint(-1, 4))]
        if kind != "BYLEX" and rnd.random() < 0.5:
            opts.append("WITHSCORES")
        rnd.shuffle(opts)
        if op == 13:
            opts = [o for o in opts if o != "WITHSCORES"]
            return ("ZRANGESTORE", k2, k, *args, *opts)
        return ("ZRANGE", k, *args, *opts)
    if op == 14:
        cmd = rnd.choice(["ZRANGEBYSCORE", "ZREVRANGEBYSCORE"])
        extra = ["WITHSCORES"] if rnd.random() < 0.5 else []
        if rnd.random() < 0.3:
            extra += ["LIMIT", str(rnd.randint(0, 3)), str(rnd.randint(-1, 3))]
        return (cmd, k, rnd.choice(BOUNDS), rnd.choice(BOUNDS), *extra)
    if op == 15:
        return ("ZSCORE", k, rnd.choice(MEMBERS))
    if op == 16:
        return ("ZREVRANGE", k, str(rnd.randint(-5, 5)), str(rnd.randint(-5, 5)), "WITHSCORES")
    if op == 17:
        return rnd.choice([
            ("ZREMRANGEBYRANK", k, str(rnd.randint(-5, 5)), str(rnd.randint(-5, 5))),
            ("ZREMRANGEBYSCORE", k, rnd.choice(BOUNDS), rnd.choice(BOUNDS)),
        ])  # fmt: skip
    if op == 18:
        cmd = rnd.choice(["ZPOPMIN", "ZPOPMAX"])
        return (cmd, k) if rnd.random() < 0.5 else (cmd, k, str(rnd.randint(0, 4)))
    if op == 19:
        extra = ["COUNT", str(rnd.randint(1, 4))] if rnd.random() < 0.5 else []
        return ("ZMPOP", str(len(ks)), *ks, rnd.choice(["MIN", "MAX"]), *extra)
    if op == 20:
        return (rnd.choice(["BZPOPMIN", "BZPOPMAX"]), *ks, "0.01")
    if op in (21, 22, 23):
        cmd = rnd.choice(["ZUNION", "ZINTER", "ZDIFF", "ZUNIONSTORE", "ZINTERSTORE",
                          "ZDIFFSTORE"])  # fmt: skip
        args = [str(len(ks)), *ks]
        if not cmd.startswith("ZDIFF"):
            if rnd.random() < 0.4:
                args += ["WEIGHTS", *[rnd.choice(["1", "2", "-1", "0.5", "0", "inf"]) for _ in ks]]
            if rnd.random() < 0.4:
                args += ["AGGREGATE", rnd.choice(["SUM", "MIN", "MAX"])]
        if cmd.endswith("STORE"):
            return (cmd, k2, *args)
        if rnd.random() < 0.6:
            args.append("WITHSCORES")
        return (cmd, *args)
    if op == 24:
        extra = ["LIMIT", str(rnd.randint(0, 3))] if rnd.random() < 0.5 else []
        return ("ZINTERCARD", str(len(ks)), *ks, *extra)
    if op == 25:
        return ("ZRANDMEMBER", k, "1000", "WITHSCORES")
    if op == 26:
        return ("OBJECT", "ENCODING", k)
    if op == 27:
        return ("EXISTS", k)
    if op == 28:
        return ("ZRANGE", k, "0", "-1", "WITHSCORES")
    if op == 29:
        return rnd.choice([("DEL", k), ("SET", k, "str")]) if rnd.random() < 0.2 else ("ZCARD", k)
    if op == 30:
        return ("ZRANGE", k, rnd.choice(BOUNDS), rnd.choice(BOUNDS), "BYSCORE", "WITHSCORES")
    return ("TYPE", k)


@pytest.mark.parametrize("seed", COMPARE_SEEDS)
@pytest.mark.parametrize("entries", ["128", "6"])  # listpack and skiplist encodings
def test_random_sequences_like_redis(server, redis_server_factory, seed, entries):
    d = DiffRunner(server, redis_server_factory())
    d.run("CONFIG", "SET", "zset-max-listpack-entries", entries)
    keys = keys_per_shard("rz", 2, 3)
    rnd = random.Random(seed)
    for _ in range(COMPARE_OPS):
        d.run(*_random_zset_command(rnd, keys))
    for k in keys:
        d.run("ZRANGE", k, "0", "-1", "WITHSCORES")


def _random_lex_command(rnd, keys):
    """Lex ranges over members of equal scores: where Redis defines the answer."""
    k, k2 = rnd.choice(keys), rnd.choice(keys)
    lo, hi = rnd.choice(LEX), rnd.choice(LEX)
    limit = ["LIMIT", str(rnd.randint(-1, 4)), str(rnd.randint(-1, 4))] if rnd.random() < 0.3 else []
    op = rnd.randrange(9)
    if op < 3:
        return ("ZADD", k, *flat(("0", m) for m in _members(rnd, 1, 5)))
    if op == 3:
        return ("ZREM", k, *_members(rnd))
    if op == 4:
        return ("ZLEXCOUNT", k, lo, hi)
    if op == 5:
        return (rnd.choice(["ZRANGEBYLEX", "ZREVRANGEBYLEX"]), k, lo, hi, *limit)
    if op == 6:
        return ("ZRANGE", k, lo, hi, "BYLEX", *(["REV"] if rnd.random() < 0.5 else []), *limit)
    if op == 7:
        return ("ZRANGESTORE", k2, k, lo, hi, "BYLEX", *limit)
    return ("ZREMRANGEBYLEX", k, lo, hi) if rnd.random() < 0.3 else ("ZRANGE", k, "0", "-1")


@pytest.mark.parametrize("entries", ["128", "4"])
def test_random_lex_sequences_like_redis(server, redis_server_factory, entries):
    d = DiffRunner(server, redis_server_factory())
    d.run("CONFIG", "SET", "zset-max-listpack-entries", entries)
    keys = keys_per_shard("lx", 2, 2)
    rnd = random.Random(5)
    for _ in range(COMPARE_OPS // 2):
        d.run(*_random_lex_command(rnd, keys))


def test_big_random_sequence_like_redis(server, redis_server_factory):
    """Larger sets (skiplist with many levels): ranks, ranges and removals stay right."""
    d = DiffRunner(server, redis_server_factory())
    rnd = random.Random(99)
    keys = keys_per_shard("bz", 2, 1)
    for k in keys:
        for c in (d.dfly, d.ref):
            fill(c, k, 2000, score=lambda i: i % 97)
    for _ in range(1500):
        k = rnd.choice(keys)
        i, j = rnd.randint(-2100, 2100), rnd.randint(-2100, 2100)
        op = rnd.randrange(8)
        if op == 0:
            d.run("ZADD", k, str(rnd.randint(-50, 150)), f"m{rnd.randint(0, 2500)}")
        elif op == 1:
            d.run("ZRANK", k, f"m{rnd.randint(0, 2500)}")
        elif op == 2:
            d.run("ZRANGE", k, str(i), str(i + rnd.randint(0, 5)), "WITHSCORES")
        elif op == 3:
            d.run("ZRANGEBYSCORE", k, str(i % 100), "+inf", "LIMIT", str(abs(j) % 300), "3")
        elif op == 4:
            d.run("ZREMRANGEBYRANK", k, str(i), str(i + rnd.randint(0, 3)))
        elif op == 5:
            d.run("ZREVRANGEBYSCORE", k, str(j % 100), "-inf", "LIMIT", str(abs(i) % 300), "2")
        elif op == 6:
            d.run("ZCOUNT", k, str(i % 100), str(j % 100))
        else:
            d.run("ZINCRBY", k, str(rnd.randint(-3, 3)), f"m{rnd.randint(0, 2500)}")
    for k in keys:
        d.run("ZCARD", k)
        d.run("ZRANGE", k, "0", "-1", "WITHSCORES")


def test_zscan_full_iteration_like_redis(server, redis_server_factory):
    ours, theirs = server.client(), redis_server_factory().client()
    for n in (50, BIG):
        for c in (ours, theirs):
            fill(c, f"zs{n}", n, score=lambda i: i / 7)
        assert scan_all(ours, f"zs{n}")[0] == scan_all(theirs, f"zs{n}")[0]


# ---- memory ---------------------------------------------------------------------------------


def bytes_per_member(c, keys, members):
    c.flushall()
    before = c.info("memory")["used_memory"]
    for k in range(keys):
        fill(c, f"mem:{k}", members)
    after = c.info("memory")["used_memory"]
    return (after - before) / (keys * members)


@pytest.mark.parametrize(
    "keys,members", [(SMALL_KEYS, SMALL_MEMBERS), (1, LARGE_MEMBERS)], ids=["listpack", "skiplist"]
)
def test_memory_per_member_beside_redis(server, redis_server_factory, keys, members):
    ref = redis_server_factory()
    ours = bytes_per_member(server.client(), keys, members)
    theirs = bytes_per_member(ref.client(), keys, members)
    print(f"zset {keys}x{members}: dfly {ours:.1f} B/member, redis {theirs:.1f} B/member")
    assert ours <= theirs * MEMORY_RATIO_MAX


def test_command_getkeys_like_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    for cmd in (
        ("ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"),
        ("ZINTER", "3", "a", "b", "c"),
        ("ZDIFFSTORE", "dst", "1", "a"),
        ("ZINTERCARD", "2", "a", "b", "LIMIT", "1"),
        ("ZMPOP", "2", "a", "b", "MIN"),
        ("BZMPOP", "0", "2", "a", "b", "MAX", "COUNT", "2"),
        ("BZPOPMIN", "a", "b", "0"),
        ("ZRANGESTORE", "dst", "src", "0", "-1"),
    ):
        d.run("COMMAND", "GETKEYS", *cmd)


def test_keys_span_shards():
    assert {key_shard(k, 2) for k in keys_per_shard("rz", 2, 3)} == {0, 1}
