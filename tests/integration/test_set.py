"""Sets: every command and option, Redis's error texts, wrong types, the three encodings and the
conversions between them, multi-key commands over both shards of --threads 2, the sanity of
SPOP/SRANDMEMBER's randomness and SSCAN's coverage."""

import collections
import random

import pytest
import redis

from resp_raw import RawConn, Set
from shardkeys import key_shard, keys_per_shard

THREADS = 2
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
INTSET_MAX = 512  # set-max-intset-entries default
LISTPACK_MAX = 128  # set-max-listpack-entries default
LISTPACK_VALUE_MAX = 64  # set-max-listpack-value default
DRAWS = 20000  # random draws of the distribution checks
DRAW_SET = 10  # members of the set drawn from
BIG_SET = 2000  # members of a hash table set for SSCAN and sampling
HT_DRAWS_PER_MEMBER = 500  # draws per member of the hash table distribution check
HT_TOLERANCE = 0.35


def err(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def enc(r, key):
    return r.object("encoding", key)


def two_shard_keys(prefix, n=2):
    """n keys per shard, alternating shards."""
    keys = keys_per_shard(prefix, THREADS, per_shard=n)
    assert {key_shard(k, THREADS) for k in keys} == {0, 1}
    return keys


# --- SADD SREM SCARD SISMEMBER SMISMEMBER SMEMBERS --------------------------------------------


def test_sadd_srem_basics(r):
    assert r.sadd("s", "a", "b", "c", "a") == 3
    assert r.sadd("s", "a", "d") == 1
    assert r.scard("s") == 4
    assert r.smembers("s") == {"a", "b", "c", "d"}
    assert r.sismember("s", "a") is True
    assert r.sismember("s", "zz") is False
    assert r.sismember("nokey", "a") is False
    assert r.smismember("s", "a", "zz", "d") == [1, 0, 1]
    assert r.smismember("nokey", "a", "b") == [0, 0]
    assert r.srem("s", "a", "zz", "a") == 1
    assert r.srem("nokey", "a") == 0
    assert r.scard("nokey") == 0
    assert r.smembers("nokey") == set()
    assert r.srem("s", "b", "c", "d", "e") == 3
    assert r.exists("s") == 0  # the last member took the key with it
    assert r.type("s") == "none"


def test_empty_and_binary_members(r):
    assert r.sadd("s", "", "a\x00b", "\xff") == 3
    assert r.sismember("s", "")
    assert r.sismember("s", "a\x00b")
    assert r.smembers("s") == {"", "a\x00b", "\xff"}
    assert r.type("s") == "set"


def test_arity(r):
    for args in (["SADD", "k"], ["SREM", "k"], ["SCARD"], ["SMOVE", "a", "b"], ["SINTERCARD", "1"],
                 ["SMISMEMBER", "k"], ["SSCAN", "k"], ["SPOP"], ["SINTERSTORE", "d"]):
        assert "wrong number of arguments" in err(r.execute_command, *args)


def test_wrong_type_everywhere(r):
    r.set("str", "v")
    r.sadd("s", "a")
    calls = [
        ("SADD", "str", "a"), ("SREM", "str", "a"), ("SCARD", "str"), ("SISMEMBER", "str", "a"),
        ("SMISMEMBER", "str", "a"), ("SMEMBERS", "str"), ("SPOP", "str"), ("SPOP", "str", "2"),
        ("SRANDMEMBER", "str"), ("SRANDMEMBER", "str", "2"), ("SMOVE", "str", "s", "a"),
        ("SMOVE", "s", "str", "a"), ("SINTER", "s", "str"), ("SINTER", "nokey", "str"),
        ("SINTERCARD", "2", "s", "str"), ("SINTERSTORE", "d", "s", "str"), ("SUNION", "s", "str"),
        ("SUNIONSTORE", "d", "str"), ("SDIFF", "s", "str"), ("SDIFF", "nokey", "str"),
        ("SDIFFSTORE", "d", "s", "str"), ("SSCAN", "str", "0"),
    ]  # fmt: skip
    for call in calls:
        assert err(r.execute_command, *call) == WRONGTYPE, call
    assert r.get("str") == "v"
    assert r.smembers("s") == {"a"}
    assert r.exists("d") == 0


def test_store_overwrites_other_types_and_drops_ttl(r):
    r.sadd("{t}a", "1", "2")
    r.set("{t}d", "string", ex=100)
    assert r.sunionstore("{t}d", "{t}a") == 2
    assert r.type("{t}d") == "set"
    assert r.ttl("{t}d") == -1
    r.expire("{t}d", 100)
    assert r.sinterstore("{t}d", "{t}a", "{t}nokey") == 0
    assert r.exists("{t}d") == 0


# --- encodings ---------------------------------------------------------------------------------


def test_intset_while_integers(r):
    r.sadd("s", "1", "-5", "9223372036854775807", "-9223372036854775808")
    assert enc(r, "s") == "intset"
    # Intsets iterate in ascending order, as in Redis.
    assert r.sscan("s", 0)[1] == [
        "-9223372036854775808", "-5", "1", "9223372036854775807"]  # fmt: skip
    for not_int in ("01", "+1", " 1", "1 ", "-0", "9223372036854775808", "1.0", "0x1"):
        r.delete("t")
        r.sadd("t", "1")
        r.sadd("t", not_int)
        assert enc(r, "t") == "listpack", not_int
        assert r.sismember("t", not_int) and not r.sismember("t", "2")
        assert r.scard("t") == 2


def test_intset_to_hashtable_past_max_entries(r):
    r.sadd("s", *range(INTSET_MAX))
    assert enc(r, "s") == "intset"
    r.sadd("s", INTSET_MAX)
    assert enc(r, "s") == "hashtable"
    assert r.scard("s") == INTSET_MAX + 1
    assert r.sismember("s", "0") and r.sismember("s", str(INTSET_MAX))
    r.srem("s", *range(1, INTSET_MAX + 1))
    assert enc(r, "s") == "hashtable"  # never back
    # One SADD with more integers than an intset holds starts as a hash table.
    r.sadd("big", *range(INTSET_MAX + 1))
    assert enc(r, "big") == "hashtable"
    # What counts is the members, not the arguments (as in Redis 7.0).
    r.sadd("dups", *([1, 2, 3] * INTSET_MAX))
    assert enc(r, "dups") == "intset"


def test_intset_to_listpack_or_hashtable_on_a_string(r):
    r.sadd("small", *range(10))
    r.sadd("small", "x")
    assert enc(r, "small") == "listpack"
    assert r.smembers("small") == {str(i) for i in range(10)} | {"x"}
    # Too many integers for a listpack: straight to a hash table.
    r.sadd("many", *range(LISTPACK_MAX))
    r.sadd("many", "x")
    assert enc(r, "many") == "hashtable"
    assert r.scard("many") == LISTPACK_MAX + 1
    # A long string: a hash table too.
    r.sadd("long", "1")
    r.sadd("long", "x" * (LISTPACK_VALUE_MAX + 1))
    assert enc(r, "long") == "hashtable"


def test_listpack_limits(r):
    r.sadd("s", *[f"m{i}" for i in range(LISTPACK_MAX)])
    assert enc(r, "s") == "listpack"
    r.sadd("s", "m0")  # already there: no conversion
    assert enc(r, "s") == "listpack"
    r.sadd("s", "another")
    assert enc(r, "s") == "hashtable"
    assert r.scard("s") == LISTPACK_MAX + 1
    r.sadd("v", "a" * LISTPACK_VALUE_MAX)
    assert enc(r, "v") == "listpack"
    r.sadd("v", "b" * (LISTPACK_VALUE_MAX + 1))
    assert enc(r, "v") == "hashtable"
    assert r.sismember("v", "a" * LISTPACK_VALUE_MAX)
    # Integers in a listpack still answer as their text.
    r.sadd("mix", "a", "12", "-3")
    assert enc(r, "mix") == "listpack"
    assert r.sismember("mix", "12") and not r.sismember("mix", "012")
    assert r.smembers("mix") == {"a", "12", "-3"}


def test_thresholds_follow_config(r):
    r.config_set("set-max-intset-entries", "4")
    r.config_set("set-max-listpack-entries", "3")
    r.config_set("set-max-listpack-value", "5")
    try:
        r.sadd("a", 1, 2, 3, 4)
        assert enc(r, "a") == "intset"
        r.sadd("a", 5)
        assert enc(r, "a") == "hashtable"
        r.sadd("b", "x", "y", "z")
        assert enc(r, "b") == "listpack"
        r.sadd("b", "w")
        assert enc(r, "b") == "hashtable"
        r.sadd("c", "abcdef")
        assert enc(r, "c") == "hashtable"
        r.sadd("d", "123456")  # an integer longer than the listpack value limit
        r.sadd("d", "x")
        assert enc(r, "d") == "hashtable"
    finally:
        r.config_set("set-max-intset-entries", str(INTSET_MAX))
        r.config_set("set-max-listpack-entries", str(LISTPACK_MAX))
        r.config_set("set-max-listpack-value", str(LISTPACK_VALUE_MAX))


def test_store_results_take_the_smallest_encoding(r):
    r.sadd("{e}ints", *range(20))
    r.sadd("{e}strs", *[f"s{i}" for i in range(20)])
    r.sadd("{e}big", *[f"b{i}" for i in range(300)])
    assert r.sunionstore("{e}d1", "{e}ints") == 20
    assert enc(r, "{e}d1") == "intset"
    assert r.sunionstore("{e}d2", "{e}ints", "{e}strs") == 40
    assert enc(r, "{e}d2") == "listpack"
    assert r.sdiffstore("{e}d3", "{e}big", "{e}strs") == 300
    assert enc(r, "{e}d3") == "hashtable"
    assert r.sinterstore("{e}d4", "{e}big", "{e}d3") == 300
    assert enc(r, "{e}d4") == "hashtable"


def test_memory_usage_grows_with_members(r):
    r.sadd("i", *range(100))
    r.sadd("l", *[f"m{i}" for i in range(100)])
    r.sadd("h", *[f"m{i}" for i in range(1000)])
    ui, ul, uh = (r.memory_usage(k) for k in ("i", "l", "h"))
    assert 200 <= ui < 1000  # 2 bytes an integer
    assert 400 <= ul < 2000
    assert 10000 <= uh < 100000


# --- SMOVE -------------------------------------------------------------------------------------


def test_smove(r):
    src, dst = two_shard_keys("mv", 1)
    r.sadd(src, "a", "b", "1")
    assert r.smove(src, dst, "a") is True
    assert r.smove(src, dst, "zz") is False
    assert r.smembers(src) == {"b", "1"}
    assert r.smembers(dst) == {"a"}
    r.sadd(dst, "b")
    assert r.smove(src, dst, "b") is True  # already in dst: only leaves src
    assert r.smembers(dst) == {"a", "b"}
    assert r.smove(src, dst, "1") is True  # the last member: src goes away
    assert r.exists(src) == 0
    assert r.smembers(dst) == {"a", "b", "1"}
    assert r.smove("nokey", dst, "a") is False
    # Onto itself: only says whether it is a member.
    assert r.smove(dst, dst, "a") is True
    assert r.smove(dst, dst, "zz") is False
    assert r.smembers(dst) == {"a", "b", "1"}


def test_smove_creates_destination_with_member_encoding(r):
    r.sadd("{m}src", "5", "x")
    r.smove("{m}src", "{m}ints", "5")
    assert enc(r, "{m}ints") == "intset"
    r.smove("{m}src", "{m}strs", "x")
    assert enc(r, "{m}strs") == "listpack"
    r.set("{m}str", "v")
    # A missing source answers 0 before the destination's type is looked at (Redis does).
    assert r.smove("{m}nokey", "{m}str", "a") is False
    r.sadd("{m}src", "y")
    assert err(r.smove, "{m}src", "{m}str", "y") == WRONGTYPE
    assert r.sismember("{m}src", "y")


def test_smove_into_big_sets(r):
    r.sadd("{b}src", *range(INTSET_MAX))
    r.sadd("{b}dst", *range(INTSET_MAX, 2 * INTSET_MAX))
    r.smove("{b}src", "{b}dst", "0")
    assert enc(r, "{b}dst") == "hashtable"
    assert r.scard("{b}dst") == INTSET_MAX + 1


# --- SPOP SRANDMEMBER --------------------------------------------------------------------------


def test_spop_single(r):
    members = {"a", "b", "1"}
    r.sadd("s", *members)
    got = {r.spop("s") for _ in range(3)}
    assert got == members
    assert r.exists("s") == 0
    assert r.spop("s") is None


@pytest.mark.parametrize("kind", ["intset", "listpack", "hashtable"])
def test_spop_count(r, kind):
    n = {"intset": 50, "listpack": 50, "hashtable": 1000}[kind]
    members = [str(i) for i in range(n)] if kind == "intset" else [f"m{i}" for i in range(n)]
    r.sadd("s", *members)
    assert enc(r, "s") == kind
    popped = r.spop("s", 3)  # popped one by one
    assert len(popped) == 3 and len(set(popped)) == 3
    many = r.spop("s", n - 6)  # few stay: the rest moves to a new set
    assert len(many) == n - 6 and len(set(many)) == n - 6
    rest = r.smembers("s")
    assert len(rest) == 3
    assert set(popped) | set(many) | rest == set(members)
    assert not (set(popped) | set(many)) & rest
    assert r.spop("s", 0) == []
    assert set(r.spop("s", 10)) == rest  # more than there are: everything, key gone
    assert r.exists("s") == 0
    assert r.spop("s", 5) == []


def test_spop_errors(r):
    r.sadd("s", "a")
    assert err(r.execute_command, "SPOP", "s", "-1") == (
        "value is out of range, must be positive")
    assert err(r.execute_command, "SPOP", "s", "x") == "value is out of range, must be positive"
    assert err(r.execute_command, "SPOP", "s", "1", "2") == "syntax error"
    assert r.smembers("s") == {"a"}


def test_srandmember(r):
    r.sadd("s", "a", "b", "c")
    assert r.srandmember("s") in {"a", "b", "c"}
    assert r.srandmember("nokey") is None
    assert r.srandmember("nokey", 5) == []
    assert r.srandmember("s", 0) == []
    assert sorted(r.srandmember("s", 3)) == ["a", "b", "c"]
    assert sorted(r.srandmember("s", 100)) == ["a", "b", "c"]
    two = r.srandmember("s", 2)
    assert len(two) == 2 and len(set(two)) == 2
    rep = r.srandmember("s", -10)
    assert len(rep) == 10 and set(rep) <= {"a", "b", "c"}
    assert r.scard("s") == 3  # nothing removed
    assert err(r.execute_command, "SRANDMEMBER", "s", "x") == (
        "value is not an integer or out of range")
    assert err(r.execute_command, "SRANDMEMBER", "s", "-9223372036854775808") == (
        "value is out of range, value must between -9223372036854775807 and "
        "9223372036854775807")
    assert err(r.execute_command, "SRANDMEMBER", "s", "1", "2") == "syntax error"


@pytest.mark.parametrize("kind", ["intset", "listpack", "hashtable"])
def test_srandmember_distinct_counts(r, kind):
    n = {"intset": 300, "listpack": 100, "hashtable": BIG_SET}[kind]
    members = [str(i) for i in range(n)] if kind == "intset" else [f"m{i}" for i in range(n)]
    r.sadd("s", *members)
    assert enc(r, "s") == kind
    for count in (1, 5, n // 10, n // 2, n - 1):  # both strategies
        got = r.srandmember("s", count)
        assert len(got) == count and len(set(got)) == count
        assert set(got) <= set(members)
    rep = r.srandmember("s", -3 * n)
    assert len(rep) == 3 * n and set(rep) <= set(members)


def _assert_roughly_uniform(counts, draws, members, tolerance=0.25):
    """Every member drawn within `tolerance` of its expected share (at 2000 draws per member
    and 25%, or 500 and 35%, more than 7 standard deviations: a uniform draw misses by chance
    far less than once in a million runs)."""
    expected = draws / members
    assert len(counts) == members
    for member, seen in counts.items():
        assert abs(seen - expected) < tolerance * expected, (member, seen, expected)


@pytest.mark.parametrize("kind", ["intset", "listpack"])
def test_srandmember_distribution(r, kind):
    members = [str(i) for i in range(DRAW_SET)] if kind == "intset" else [
        f"m{i}" for i in range(DRAW_SET)]  # fmt: skip
    r.sadd("s", *members)
    assert enc(r, "s") == kind
    counts = collections.Counter(r.srandmember("s", -DRAWS))
    _assert_roughly_uniform(counts, DRAWS, DRAW_SET)
    pipe = r.pipeline(transaction=False)
    for _ in range(DRAWS // 4):
        pipe.srandmember("s", 4)  # distinct picks are uniform too
    counts = collections.Counter(m for reply in pipe.execute() for m in reply)
    _assert_roughly_uniform(counts, DRAWS, DRAW_SET)


def test_srandmember_hashtable_distribution(r):
    n = 2 * LISTPACK_MAX
    r.sadd("s", *[f"m{i}" for i in range(n)])
    assert enc(r, "s") == "hashtable"
    counts = collections.Counter(r.srandmember("s", -HT_DRAWS_PER_MEMBER * n))
    _assert_roughly_uniform(counts, HT_DRAWS_PER_MEMBER * n, n, HT_TOLERANCE)
    pipe = r.pipeline(transaction=False)
    for _ in range(HT_DRAWS_PER_MEMBER * n // 10):
        pipe.srandmember("s", 10)  # few of many: drawn until distinct
    counts = collections.Counter(m for reply in pipe.execute() for m in reply)
    _assert_roughly_uniform(counts, HT_DRAWS_PER_MEMBER * n, n, HT_TOLERANCE)


def test_spop_distribution(r):
    firsts = collections.Counter()
    pipe = r.pipeline(transaction=False)
    for _ in range(DRAWS // 4):
        pipe.delete("s")
        pipe.sadd("s", *range(4))
        pipe.spop("s")
    replies = pipe.execute()
    firsts.update(replies[2::3])
    _assert_roughly_uniform(firsts, DRAWS // 4, 4)


# --- SINTER SINTERCARD SINTERSTORE SUNION SDIFF (both shards) ----------------------------------


def _fill(r, keys):
    a, b, c, d = keys
    r.sadd(a, *range(0, 40))  # intset
    r.sadd(b, *range(20, 60), "x")  # listpack
    r.sadd(c, *[str(i) for i in range(0, 600, 2)], "x", "y")  # hashtable
    r.set(d, "string")
    return {a: set(map(str, range(0, 40))), b: set(map(str, range(20, 60))) | {"x"},
            c: {str(i) for i in range(0, 600, 2)} | {"x", "y"}}  # fmt: skip


def test_algebra_across_shards(r):
    a, b, c, d = two_shard_keys("alg")
    want = _fill(r, (a, b, c, d))
    A, B, C = want[a], want[b], want[c]
    assert r.sinter(a, b, c) == A & B & C
    assert r.sinter(c, b) == B & C
    assert r.sinter(a) == A
    assert r.sinter(a, "nokey") == set()
    assert r.sinter(a, a) == A
    assert r.sunion(a, b, c) == A | B | C
    assert r.sunion("nokey", a) == A
    assert r.sunion("nokey") == set()
    assert r.sdiff(c, a, b) == C - A - B
    assert r.sdiff(a, b) == A - B
    assert r.sdiff(a, "nokey") == A
    assert r.sdiff("nokey", a) == set()
    assert r.sdiff(a, a) == set()
    assert r.execute_command("SINTERCARD", 3, a, b, c) == len(A & B & C)
    assert r.execute_command("SINTERCARD", 2, a, b, "LIMIT", 5) == 5
    assert r.execute_command("SINTERCARD", 2, a, b, "LIMIT", 0) == len(A & B)
    assert r.execute_command("SINTERCARD", 2, a, b, "limit", 1000) == len(A & B)
    assert r.execute_command("SINTERCARD", 2, a, "nokey") == 0


def test_store_across_shards(r):
    a, b, c, d = two_shard_keys("st")
    want = _fill(r, (a, b, c, d))
    A, B, C = want[a], want[b], want[c]
    dst = two_shard_keys("dst", 1)
    for dk in dst:
        assert r.sinterstore(dk, a, b, c) == len(A & B & C)
        assert r.smembers(dk) == A & B & C
        assert r.sunionstore(dk, a, b, c) == len(A | B | C)
        assert r.smembers(dk) == A | B | C
        assert r.sdiffstore(dk, c, a) == len(C - A)
        assert r.smembers(dk) == C - A
        assert r.sdiffstore(dk, a, a) == 0
        assert r.exists(dk) == 0
    # The destination may be one of the sources.
    assert r.sunionstore(a, a, b) == len(A | B)
    assert r.smembers(a) == A | B
    assert r.sinterstore(b, b, c) == len(B & C)
    assert r.smembers(b) == B & C
    # A non-set destination is overwritten; a non-set source is an error.
    assert r.sunionstore(d, c) == len(C)
    assert r.smembers(d) == C
    r.set(d, "string")
    assert err(r.sinterstore, dst[0], a, d) == WRONGTYPE


def test_sintercard_errors_and_keys(server, r):
    r.sadd("s", "a")
    ex = r.execute_command
    assert err(ex, "SINTERCARD", "0", "s") == "numkeys should be greater than 0"
    assert err(ex, "SINTERCARD", "x", "s") == "numkeys should be greater than 0"
    assert err(ex, "SINTERCARD", "3", "s") == "Number of keys can't be greater than number of args"
    assert err(ex, "SINTERCARD", "1", "s", "LIMIT", "-1") == "LIMIT can't be negative"
    assert err(ex, "SINTERCARD", "1", "s", "LIMIT", "x") == "LIMIT can't be negative"
    assert err(ex, "SINTERCARD", "1", "s", "foo") == "syntax error"
    assert err(ex, "SINTERCARD", "1", "s", "LIMIT") == "syntax error"
    with RawConn(server.port) as c:  # redis-py would parse the reply as COMMAND's
        assert c.command("COMMAND", "GETKEYS", "SINTERCARD", "2", "a", "b", "LIMIT", "1") == [
            b"a", b"b"]  # fmt: skip
        assert c.command("COMMAND", "GETKEYS", "SINTERSTORE", "d", "a", "b") == [b"d", b"a", b"b"]
        assert c.command("COMMAND", "GETKEYS", "SMOVE", "a", "b", "m") == [b"a", b"b"]


def test_resp3_types(server):
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        c.command("SADD", "s", "a", "b")
        assert isinstance(c.command("SMEMBERS", "s"), Set)
        assert isinstance(c.command("SINTER", "s"), Set)
        assert isinstance(c.command("SUNION", "s"), Set)
        assert isinstance(c.command("SDIFF", "s"), Set)
        assert isinstance(c.command("SMEMBERS", "nokey"), Set)
        assert isinstance(c.command("SPOP", "nokey", "1"), Set)
        assert c.command("SPOP", "nokey") is None
        reply = c.command("SRANDMEMBER", "s", "2")
        assert isinstance(reply, list) and not isinstance(reply, Set)
        assert isinstance(c.command("SPOP", "s", "1"), Set)


def test_multi_exec_across_shards(r):
    a, b = two_shard_keys("tx", 1)
    r.sadd(a, "1", "2", "3")
    p = r.pipeline(transaction=True)
    p.smove(a, b, "1")
    p.sunionstore(a, a, b)
    p.smembers(a)
    assert p.execute() == [True, 3, {"1", "2", "3"}]


def test_copy_and_rename_keep_sets(r):
    for kind, members in (("intset", ["1", "2"]), ("listpack", ["a", "b"]),
                          ("hashtable", [f"m{i}" for i in range(200)])):  # fmt: skip
        src = f"{{c}}{kind}"
        r.sadd(src, *members)
        assert r.copy(src, src + ":copy")
        r.sadd(src, "extra")  # the copy is deep
        assert r.smembers(src + ":copy") == set(members)
        assert enc(r, src + ":copy") == kind
        r.rename(src + ":copy", src + ":moved")
        assert r.smembers(src + ":moved") == set(members)


# --- SSCAN -------------------------------------------------------------------------------------


def _sscan_all(r, key, **kw):
    cursor, seen, rounds = 0, [], 0
    while True:
        cursor, items = r.sscan(key, cursor, **kw)
        seen.extend(items)
        rounds += 1
        assert rounds < 10 * BIG_SET
        if cursor == 0:
            return seen, rounds


def test_sscan_small_encodings_return_everything(r):
    r.sadd("i", *range(100))
    r.sadd("l", *[f"m{i}" for i in range(100)])
    for key in ("i", "l"):
        cursor, items = r.sscan(key, 0, count=1)
        assert cursor == 0 and len(items) == 100
    assert r.sscan("i", 0, match="1*")[1] == [str(i) for i in range(100) if str(i)[0] == "1"]
    assert r.sscan("nokey", 0) == (0, [])


def test_sscan_hashtable_coverage(r):
    members = {f"m{i}" for i in range(BIG_SET)}
    r.sadd("s", *members)
    seen, rounds = _sscan_all(r, "s")
    assert set(seen) == members
    assert rounds > 10  # it really walked in steps
    seen, _ = _sscan_all(r, "s", count=500)
    assert set(seen) == members
    seen, _ = _sscan_all(r, "s", match="m1*")
    assert set(seen) == {m for m in members if m.startswith("m1")}


def test_sscan_survives_changes(r):
    keep = {f"k{i}" for i in range(BIG_SET)}
    r.sadd("s", *keep)
    cursor, seen, i = 0, set(), 0
    while True:
        cursor, items = r.sscan("s", cursor, count=20)
        seen.update(items)
        r.sadd("s", *[f"new{i}-{j}" for j in range(30)])  # grows the table meanwhile
        i += 1
        if cursor == 0:
            break
    assert keep <= seen  # every member present throughout is reported


def test_sscan_errors(r):
    r.sadd("s", "a")
    ex = r.execute_command
    assert err(ex, "SSCAN", "s", "x") == "invalid cursor"
    assert err(ex, "SSCAN", "s", " 1") == "invalid cursor"
    assert err(ex, "SSCAN", "s", "18446744073709551616") == "invalid cursor"
    assert err(ex, "SSCAN", "s", "0", "COUNT", "0") == "syntax error"
    assert err(ex, "SSCAN", "s", "0", "COUNT", "x") == "value is not an integer or out of range"
    assert err(ex, "SSCAN", "s", "0", "TYPE", "set") == "syntax error"
    assert err(ex, "SSCAN", "s", "0", "MATCH") == "syntax error"
    assert r.sscan("nokey", 0, count=0) == (0, [])  # a missing key's options are not read
    assert ex("SSCAN", "s", "-1") == (0, ["a"])  # strtoul's reading, as in Redis


# --- differential: the same random commands against redis-server 7.0 ---------------------------

DIFF_COMMANDS = 3000
DIFF_KEYS = ["s0", "s1", "s2", "s3", "{t}s4", "{t}s5"]  # spread over both shards
DIFF_SPECIAL = ["", "01", "-0", "+1", " 1", "1.5", "32768", "-32769", "2147483648",
                "-9223372036854775808", "9223372036854775807", "9223372036854775808"]  # fmt: skip


def _rand_member(rng):
    t = rng.random()
    if t < 0.4:
        return str(rng.randint(-20, 60))
    if t < 0.8:
        return f"m{rng.randint(0, 80)}"
    if t < 0.95:
        return rng.choice(DIFF_SPECIAL)
    return "L" * rng.randint(60, 70)  # around set-max-listpack-value


def _rand_members(rng):
    if rng.random() < 0.03:  # now and then a bulk add, to cross the encodings' limits
        if rng.random() < 0.5:
            return [str(rng.randint(-1000, 1000)) for _ in range(rng.randint(100, 700))]
        return [f"b{rng.randint(0, 3000)}" for _ in range(rng.randint(100, 300))]
    return [_rand_member(rng) for _ in range(rng.randint(1, 5))]


def _keys(rng, lo=1, hi=4):
    return [rng.choice(DIFF_KEYS + ["nokey", "str"]) for _ in range(rng.randint(lo, hi))]


def _err(client, *args):
    try:
        return client.execute_command(*args)
    except redis.ResponseError as e:
        return ("error", str(e))


def _members(client, key):
    return set(_err(client, "SMEMBERS", key)) if client.type(key) == b"set" else None


def _diff_spop(d, rng, key):
    """SPOP runs on dfly only: the reply must be members of Redis's copy, which then loses the
    same members (SREM), so that both stay equal."""
    args = ["SPOP", key] + ([str(rng.randint(0, 8))] if rng.random() < 0.5 else [])
    d.history.append(args)
    before = _members(d.ref, key)
    got = _err(d.dfly, *args)
    if d.ref.type(key) not in (b"set", b"none"):
        assert got == _err(d.ref, *args)
        return
    if len(args) == 2:
        popped = [] if got is None else [got]
        assert (got is None) == (before is None)
    else:
        popped = got
        want_n = min(int(args[2]), len(before or ()))
        assert len(popped) == want_n and len(set(popped)) == want_n, (args, got)
    assert set(popped) <= (before or set()), (args, got, before)
    if popped:
        d.ref.execute_command("SREM", key, *popped)


def _diff_srandmember(d, rng, key):
    count = rng.choice([None, rng.randint(-20, 20), rng.randint(0, 400)])
    args = ["SRANDMEMBER", key] + ([str(count)] if count is not None else [])
    d.history.append(args)
    got, want = _err(d.dfly, *args), _err(d.ref, *args)
    if isinstance(want, tuple) or want is None:
        assert got == want, (args, got, want)
        return
    members = _members(d.ref, key) or set()
    if count is None:
        assert got in members
        return
    assert len(got) == len(want) and set(got) <= members, (args, got, want)
    if count > 0:
        assert len(set(got)) == len(got)


def _diff_sscan(d, key):
    if d.ref.type(key) != b"set":
        d.run("SSCAN", key, "0")
        return
    for pattern in ("*", "m1*"):
        seen, cursor = set(), b"0"
        while True:
            cursor, items = d.dfly.execute_command("SSCAN", key, cursor, "MATCH", pattern)
            seen.update(items)
            if cursor == b"0":
                break
        want = {m for m in _members(d.ref, key) if pattern == "*" or m.startswith(b"m1")}
        assert seen == want, (key, pattern)


def _diff_step(d, rng, check_intset):
    k = rng.choice(DIFF_KEYS)
    op = rng.random()
    if op < 0.25:
        d.run("SADD", k, *_rand_members(rng))
    elif op < 0.35:
        d.run("SREM", k, *[_rand_member(rng) for _ in range(rng.randint(1, 6))])
    elif op < 0.40:
        d.run("SISMEMBER", k, _rand_member(rng))
        d.run("SMISMEMBER", k, *[_rand_member(rng) for _ in range(3)])
    elif op < 0.45:
        d.run("SCARD", k)
        d.run("SMEMBERS", k, unordered=True)
    elif op < 0.50:
        d.run("SMOVE", k, rng.choice(DIFF_KEYS + ["nokey", "str"]), _rand_member(rng))
    elif op < 0.58:
        cmd = rng.choice(["SINTER", "SUNION", "SDIFF"])
        d.run(cmd, *_keys(rng), unordered=True)
    elif op < 0.65:
        cmd = rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"])
        d.run(cmd, rng.choice(DIFF_KEYS + ["str"]), *_keys(rng))
    elif op < 0.70:
        keys = _keys(rng)
        limit = ["LIMIT", str(rng.randint(0, 30))] if rng.random() < 0.5 else []
        d.run("SINTERCARD", str(len(keys)), *keys, *limit)
    elif op < 0.78:
        if check_intset:
            d.run("SCARD", k)  # no SPOP: Redis would pop other members, in another way
        else:
            _diff_spop(d, rng, rng.choice(DIFF_KEYS + ["nokey", "str"]))
    elif op < 0.85:
        _diff_srandmember(d, rng, rng.choice(DIFF_KEYS + ["nokey", "str"]))
    elif op < 0.87:
        _diff_sscan(d, k)
    elif op < 0.89:
        d.run("DEL", k)
    elif op < 0.90:
        d.run("SET", "str", "v")
    else:
        d.run("EXISTS", k)
        d.run("TYPE", k)
    if check_intset and rng.random() < 0.1 and d.ref.type(k) == b"set":
        # Redis 7.0 has no listpack sets; whether a set is an intset must agree.
        got = d.dfly.object("encoding", k) == b"intset"
        touching = [h for h in d.history if k in h][-10:]
        assert got == (d.ref.object("encoding", k) == b"intset"), (k, touching)


def _diff_final(d):
    for k in DIFF_KEYS:
        d.run("SMEMBERS", k, unordered=True)
        d.run("DEBUG", "DIGEST-VALUE", k)
    d.run("DEBUG", "DIGEST")


@pytest.mark.parametrize("seed", [1, 2])
def test_differential_random(server, redis_server_factory, seed):
    from difftest import DiffRunner

    d = DiffRunner(server, redis_server_factory("--enable-debug-command", "yes"))
    rng = random.Random(seed)
    d.run("SET", "str", "v")
    for _ in range(DIFF_COMMANDS):
        _diff_step(d, rng, check_intset=False)
    _diff_final(d)


def test_differential_small_thresholds(server, redis_server_factory):
    """Thresholds so small that sets cross them all the time (set-max-listpack-* do not exist in
    Redis 7.0, so only dfly gets them)."""
    from difftest import DiffRunner

    d = DiffRunner(server, redis_server_factory("--enable-debug-command", "yes"))
    d.run("CONFIG", "SET", "set-max-intset-entries", "8")
    d.dfly.config_set("set-max-listpack-entries", "4")
    d.dfly.config_set("set-max-listpack-value", "3")
    rng = random.Random(3)
    d.run("SET", "str", "v")
    for _ in range(DIFF_COMMANDS):
        _diff_step(d, rng, check_intset=False)
    _diff_final(d)


def test_differential_intset_agreement(server, redis_server_factory):
    """Without SPOP, sets are intsets exactly when Redis's are."""
    from difftest import DiffRunner

    d = DiffRunner(server, redis_server_factory("--enable-debug-command", "yes"))
    rng = random.Random(4)
    d.run("SET", "str", "v")
    for _ in range(DIFF_COMMANDS // 2):
        _diff_step(d, rng, check_intset=True)
    _diff_final(d)


# --- memory ------------------------------------------------------------------------------------

MEM_SMALL_KEYS = 1000
MEM_SMALL_MEMBERS = 10
MEM_BIG_MEMBERS = 200000
MEM_BATCH = 10000


def _mem_per_member(client, fill, members):
    client.flushall()
    before = client.info("memory")["used_memory"]
    fill(client)
    return (client.info("memory")["used_memory"] - before) / members


def _fill_small(gen):
    def fill(c):
        p = c.pipeline(transaction=False)
        for k in range(MEM_SMALL_KEYS):
            p.sadd(f"key:{k}", *[gen(i) for i in range(MEM_SMALL_MEMBERS)])
        p.execute()

    return fill


def _fill_big(gen):
    def fill(c):
        for start in range(0, MEM_BIG_MEMBERS, MEM_BATCH):
            c.sadd("big", *[gen(i) for i in range(start, start + MEM_BATCH)])

    return fill


@pytest.mark.parametrize(
    "case",
    [
        ("intset", _fill_small(lambda i: i * 1000), MEM_SMALL_KEYS * MEM_SMALL_MEMBERS),
        ("listpack", _fill_small(lambda i: f"member:{i}"), MEM_SMALL_KEYS * MEM_SMALL_MEMBERS),
        ("hashtable", _fill_big(lambda i: f"member:{i:07d}"), MEM_BIG_MEMBERS),
    ],
    ids=lambda case: case[0],
)
def test_memory_per_member_not_above_redis(server, redis_server_factory, case):
    """used_memory per member, keys included, is no more than Redis 7.0's for the same data
    (whose small string sets are hash tables: it has no listpack sets)."""
    kind, fill, members = case
    dfly = server.client(decode_responses=False)
    ref = redis_server_factory().client(decode_responses=False)
    ours = _mem_per_member(dfly, fill, members)
    assert dfly.object("encoding", "big" if kind == "hashtable" else "key:0") == kind.encode()
    theirs = _mem_per_member(ref, fill, members)
    assert ours <= theirs, (kind, ours, theirs)
