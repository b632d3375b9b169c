"""Lists: every command of the family with its options, edge cases and Redis 7's error texts;
both encodings (listpack, quicklist) and the conversion between them; keys on both shards of a
two-thread server; a random sequence checked against a Python model on a list of many small
nodes; and a differential run against Debian's redis-server 7.0.
"""

import random
import time

import pytest
import redis

from difftest import DiffRunner
from shardkeys import key_on_shard, keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "value is not an integer or out of range"
SYNTAX = "syntax error"
NSHARDS = 2  # the `server` fixture runs --threads 2
NODE_BYTES = 8192  # list-max-listpack-size -2, the default
BIG_LIST = 200_000
FAST_OP_S = 0.05  # one O(1)-ish command on a big list, with plenty of slack
MODEL_STEPS = 3000
DIFF_STEPS = 4000


def both_shards(prefix, n=1):
    """n keys on each shard, consecutive keys on different shards."""
    return keys_per_shard(prefix, NSHARDS, n)


def err(excinfo):
    return str(excinfo.value)


# ---- pushes, lengths, ranges -----------------------------------------------------------------


def test_push_order_and_length(r):
    for key in both_shards("push"):
        assert r.rpush(key, "a", "b") == 2
        assert r.lpush(key, "x", "y") == 4  # y x a b
        assert r.lrange(key, 0, -1) == ["y", "x", "a", "b"]
        assert r.llen(key) == 4
    assert r.llen("push:missing") == 0


def test_pushx_needs_an_existing_list(r):
    for key in both_shards("pushx"):
        assert r.lpushx(key, "a") == 0
        assert r.execute_command("RPUSHX", key, "a", "b") == 0
        assert r.exists(key) == 0
        r.rpush(key, "m")
        assert r.execute_command("LPUSHX", key, "h1", "h2") == 3
        assert r.execute_command("RPUSHX", key, "t1", "t2") == 5
        assert r.lrange(key, 0, -1) == ["h2", "h1", "m", "t1", "t2"]


def test_lrange_indexes(r):
    key = "range"
    r.rpush(key, *range(10))
    assert r.lrange(key, 0, 2) == ["0", "1", "2"]
    assert r.lrange(key, -3, -1) == ["7", "8", "9"]
    assert r.lrange(key, -100, 1) == ["0", "1"]
    assert r.lrange(key, 8, 100) == ["8", "9"]
    assert r.lrange(key, 5, 4) == []
    assert r.lrange(key, 10, 20) == []
    assert r.lrange(key, -1, -2) == []
    assert r.lrange(key, 0, 9223372036854775807) == [str(i) for i in range(10)]
    assert r.lrange(key, -9223372036854775808, 0) == ["0"]
    assert r.lrange("range:missing", 0, -1) == []
    with pytest.raises(redis.ResponseError) as e:
        r.lrange(key, "a", 1)
    assert NOT_INT in err(e)
    with pytest.raises(redis.ResponseError) as e:
        r.lrange("range:missing", 0, "1.5")
    assert NOT_INT in err(e)


def test_lindex(r):
    for key in both_shards("lindex"):
        r.rpush(key, "a", "b", "c")
        assert r.lindex(key, 0) == "a"
        assert r.lindex(key, -1) == "c"
        assert r.lindex(key, -3) == "a"
        assert r.lindex(key, 3) is None
        assert r.lindex(key, -4) is None
        with pytest.raises(redis.ResponseError) as e:
            r.lindex(key, "x")
        assert NOT_INT in err(e)
    assert r.lindex("lindex:missing", 0) is None


def test_integers_and_binary_values_round_trip(r):
    vals = ["0", "-1", "127", "128", "-4096", "32767", "8388608", "2147483648",
            "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "007", "-0", "+1", "1.5", "", " ", "a\x00b\r\n"]  # fmt: skip
    r.rpush("ints", *vals)
    assert r.lrange("ints", 0, -1) == vals
    assert [r.lindex("ints", i) for i in range(len(vals))] == vals
    assert r.lpos("ints", "007") == vals.index("007")
    assert r.lpos("ints", "7") is None


# ---- in-place writes -------------------------------------------------------------------------


def test_lset(r):
    key = "lset"
    with pytest.raises(redis.ResponseError) as e:
        r.lset(key, 0, "x")
    assert "no such key" in err(e)
    r.rpush(key, "a", "b", "c")
    assert r.lset(key, 0, "A")
    assert r.lset(key, -1, "C")
    assert r.lrange(key, 0, -1) == ["A", "b", "C"]
    with pytest.raises(redis.ResponseError) as e:
        r.lset(key, 3, "x")
    assert "index out of range" in err(e)
    with pytest.raises(redis.ResponseError) as e:
        r.lset(key, -4, "x")
    assert "index out of range" in err(e)
    with pytest.raises(redis.ResponseError) as e:
        r.lset(key, "one", "x")
    assert NOT_INT in err(e)


def test_linsert(r):
    key = "linsert"
    assert r.linsert(key, "BEFORE", "a", "x") == 0
    assert r.exists(key) == 0
    r.rpush(key, "a", "b", "a")
    assert r.linsert(key, "before", "a", "0") == 4  # first pivot only
    assert r.linsert(key, "AFTER", "b", "1") == 5
    assert r.linsert(key, "after", "a", "end") == 6
    assert r.lrange(key, 0, -1) == ["0", "a", "end", "b", "1", "a"]
    assert r.linsert(key, "before", "zzz", "x") == -1
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LINSERT", key, "MIDDLE", "a", "x")
    assert SYNTAX in err(e)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LINSERT", "linsert:missing", "MIDDLE", "a", "x")
    assert SYNTAX in err(e)


def test_lrem(r):
    key = "lrem"
    r.rpush(key, "x", "a", "x", "b", "x", "c", "x")
    assert r.lrem(key, 2, "x") == 2
    assert r.lrange(key, 0, -1) == ["a", "b", "x", "c", "x"]
    assert r.lrem(key, -1, "x") == 1
    assert r.lrange(key, 0, -1) == ["a", "b", "x", "c"]
    assert r.lrem(key, 0, "x") == 1
    assert r.lrem(key, 0, "nothing") == 0
    assert r.lrem(key, -9223372036854775808, "a") == 1
    assert r.lrem(key, 0, "b") == 1
    assert r.lrem(key, 1, "c") == 1
    assert r.exists(key) == 0
    assert r.lrem(key, 0, "a") == 0
    with pytest.raises(redis.ResponseError) as e:
        r.lrem(key, "all", "a")
    assert NOT_INT in err(e)


def test_ltrim(r):
    key = "ltrim"
    assert r.ltrim(key, 0, 1)  # missing key: OK
    r.rpush(key, *range(10))
    assert r.ltrim(key, 2, -3)
    assert r.lrange(key, 0, -1) == ["2", "3", "4", "5", "6", "7"]
    assert r.ltrim(key, -100, 100)
    assert r.llen(key) == 6
    assert r.ltrim(key, 1, 1)
    assert r.lrange(key, 0, -1) == ["3"]
    assert r.ltrim(key, 5, 1)  # empty range: the key goes
    assert r.exists(key) == 0
    r.rpush(key, "a")
    assert r.ltrim(key, 1, -1)
    assert r.exists(key) == 0
    with pytest.raises(redis.ResponseError) as e:
        r.ltrim(key, 0, "x")
    assert NOT_INT in err(e)


# ---- LPOS ------------------------------------------------------------------------------------


def test_lpos(r):
    key = "lpos"
    r.rpush(key, "a", "b", "c", "1", "2", "3", "c", "c")
    assert r.lpos(key, "c") == 2
    assert r.lpos(key, "c", rank=2) == 6
    assert r.lpos(key, "c", rank=-1) == 7
    assert r.lpos(key, "c", rank=-3) == 2
    assert r.lpos(key, "c", rank=4) is None
    assert r.lpos(key, "c", count=0) == [2, 6, 7]
    assert r.lpos(key, "c", count=2) == [2, 6]
    assert r.lpos(key, "c", count=2, rank=-1) == [7, 6]
    assert r.lpos(key, "c", count=0, maxlen=7) == [2, 6]
    assert r.lpos(key, "c", rank=-1, maxlen=1) == 7
    assert r.lpos(key, "c", rank=-1, maxlen=2, count=0) == [7, 6]
    assert r.lpos(key, "3", maxlen=5) is None
    assert r.lpos(key, "zz", count=1) == []
    assert r.lpos("lpos:missing", "a") is None
    assert r.lpos("lpos:missing", "a", count=3) == []


@pytest.mark.parametrize(
    "args, message",
    [
        (("RANK", "0"), "RANK can't be zero: use 1 to start from the first match, 2 from the "
                        "second ... or use negative to start from the end of the list"),
        (("RANK", "x"), NOT_INT),
        (("COUNT", "-1"), "COUNT can't be negative"),
        (("COUNT", "x"), "COUNT can't be negative"),
        (("MAXLEN", "-1"), "MAXLEN can't be negative"),
        (("MAXLEN",), SYNTAX),
        (("FOO", "1"), SYNTAX),
    ],
)  # fmt: skip
def test_lpos_errors(r, args, message):
    r.rpush("lpos:e", "a")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LPOS", "lpos:e", "a", *args)
    assert err(e) == message


# ---- pops ------------------------------------------------------------------------------------


def test_lpop_rpop(r):
    for key in both_shards("pop"):
        r.rpush(key, "a", "b", "c", "d", "e")
        assert r.lpop(key) == "a"
        assert r.rpop(key) == "e"
        assert r.lpop(key, 2) == ["b", "c"]
        assert r.rpop(key, 0) == []
        assert r.rpop(key, 5) == ["d"]
        assert r.exists(key) == 0
        assert r.lpop(key) is None
        assert r.execute_command("LPOP", key, 2) is None  # null array, not []
        r.rpush(key, "1", "2", "3")
        assert r.rpop(key, 2) == ["3", "2"]
        assert r.lpop(key, 1) == ["1"]


def test_pop_errors(r):
    r.rpush("pope", "a")
    for count in ("-1", "x"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("LPOP", "pope", count)
        assert err(e) == "value is out of range, must be positive"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("RPOP", "pope", "1", "2")
    assert err(e) == "wrong number of arguments for 'rpop' command"


def test_lmpop(r):
    k1, k2 = both_shards("lmpop")
    assert r.execute_command("LMPOP", 2, k1, k2, "LEFT") is None
    r.rpush(k2, "a", "b", "c")
    assert r.execute_command("LMPOP", 2, k1, k2, "LEFT") == [k2, ["a"]]
    assert r.execute_command("LMPOP", 2, k1, k2, "RIGHT", "COUNT", 10) == [k2, ["c", "b"]]
    assert r.exists(k2) == 0
    r.rpush(k1, "x")
    r.rpush(k2, "y")
    assert r.execute_command("LMPOP", 2, k1, k2, "right", "count", 1) == [k1, ["x"]]
    r.set("lmpop:str", "s")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LMPOP", 2, "lmpop:str", k2, "LEFT")
    assert err(e) == WRONGTYPE
    # A list before a key of another type wins.
    assert r.execute_command("LMPOP", 2, k2, "lmpop:str", "LEFT") == [k2, ["y"]]


@pytest.mark.parametrize(
    "args, message",
    [
        (("0", "k", "LEFT"), "numkeys should be greater than 0"),
        (("x", "k", "LEFT"), "numkeys should be greater than 0"),
        (("-1", "k", "LEFT"), "numkeys should be greater than 0"),
        (("2", "k", "LEFT"), SYNTAX),
        (("5", "k", "LEFT"), SYNTAX),
        (("1", "k", "UP"), SYNTAX),
        (("1", "k", "LEFT", "COUNT"), SYNTAX),
        (("1", "k", "LEFT", "COUNT", "0"), "count should be greater than 0"),
        (("1", "k", "LEFT", "COUNT", "x"), "count should be greater than 0"),
        (("1", "k", "LEFT", "COUNT", "1", "COUNT", "1"), SYNTAX),
        (("1", "k", "LEFT", "extra"), SYNTAX),
    ],
)
def test_lmpop_errors(r, args, message):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LMPOP", *args)
    assert err(e) == message


# ---- moves -----------------------------------------------------------------------------------


@pytest.mark.parametrize("src_shard, dst_shard", [(0, 0), (0, 1), (1, 0)])
def test_lmove_directions_and_shards(server, src_shard, dst_shard):
    r = server.client()
    src = key_on_shard("lmove:src", src_shard, NSHARDS)
    dst = key_on_shard("lmove:dst", dst_shard, NSHARDS)
    r.rpush(src, "1", "2", "3", "4")
    assert r.lmove(src, dst, "LEFT", "RIGHT") == "1"
    assert r.lmove(src, dst, "RIGHT", "LEFT") == "4"
    assert r.lmove(src, dst, "LEFT", "LEFT") == "2"
    assert r.lmove(src, dst, "RIGHT", "RIGHT") == "3"
    assert r.lrange(dst, 0, -1) == ["2", "4", "1", "3"]
    assert r.exists(src) == 0
    assert r.lmove(src, dst, "LEFT", "LEFT") is None
    assert r.rpoplpush(dst, src) == "3"
    assert r.lrange(src, 0, -1) == ["3"]
    assert r.rpoplpush("lmove:none", dst) is None


def test_lmove_same_key_rotates(r):
    r.rpush("rot", "a", "b", "c")
    assert r.lmove("rot", "rot", "LEFT", "RIGHT") == "a"
    assert r.lrange("rot", 0, -1) == ["b", "c", "a"]
    assert r.rpoplpush("rot", "rot") == "a"
    assert r.lrange("rot", 0, -1) == ["a", "b", "c"]
    r.rpush("rot1", "only")
    assert r.lmove("rot1", "rot1", "RIGHT", "LEFT") == "only"
    assert r.lrange("rot1", 0, -1) == ["only"]


def test_lmove_wrong_types_leave_lists_alone(r):
    src, dst = both_shards("lmovewt")
    r.rpush(src, "a")
    r.set(dst, "string")
    with pytest.raises(redis.ResponseError) as e:
        r.lmove(src, dst, "LEFT", "LEFT")
    assert err(e) == WRONGTYPE
    assert r.lrange(src, 0, -1) == ["a"]
    with pytest.raises(redis.ResponseError) as e:
        r.rpoplpush(dst, src)
    assert err(e) == WRONGTYPE
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("LMOVE", src, dst, "UP", "LEFT")
    assert SYNTAX in err(e)


def test_lmove_between_big_lists(r):
    src, dst = both_shards("lmovebig")
    r.rpush(src, *[f"s{i}" for i in range(5000)])
    r.rpush(dst, *[f"d{i}" for i in range(5000)])
    for _ in range(2500):
        r.lmove(src, dst, "RIGHT", "LEFT")
    assert r.llen(src) == 2500 and r.llen(dst) == 7500
    assert r.lindex(dst, 0) == "s2500"
    assert r.lindex(dst, 2499) == "s4999"
    assert r.lindex(dst, 2500) == "d0"


# ---- wrong types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        ("LPUSH", "{k}", "a"), ("RPUSH", "{k}", "a"), ("LPUSHX", "{k}", "a"),
        ("RPUSHX", "{k}", "a"), ("LPOP", "{k}"), ("RPOP", "{k}", "2"), ("LLEN", "{k}"),
        ("LRANGE", "{k}", "0", "-1"), ("LINDEX", "{k}", "0"), ("LSET", "{k}", "0", "a"),
        ("LINSERT", "{k}", "BEFORE", "a", "b"), ("LREM", "{k}", "0", "a"),
        ("LTRIM", "{k}", "0", "1"), ("LPOS", "{k}", "a"), ("LMOVE", "{k}", "{k}x", "LEFT", "LEFT"),
        ("RPOPLPUSH", "{k}", "{k}x"), ("LMPOP", "1", "{k}", "LEFT"), ("BLPOP", "{k}", "0"),
        ("BRPOP", "{k}", "0"), ("BLMOVE", "{k}", "{k}x", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "{k}", "{k}x", "0"), ("BLMPOP", "0", "1", "{k}", "LEFT"),
    ],
    ids=lambda c: c[0],
)  # fmt: skip
def test_wrong_type(r, cmd):
    r.set("{k}", "string")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*cmd)
    assert err(e) == WRONGTYPE
    assert r.get("{k}") == "string"


# ---- encodings, big lists, memory ------------------------------------------------------------


def test_encoding_listpack_then_quicklist(r):
    r.rpush("enc", *range(100))
    assert r.object("encoding", "enc") == "listpack"
    r.rpush("enc", "x" * NODE_BYTES)
    assert r.object("encoding", "enc") == "quicklist"
    assert r.lindex("enc", -1) == "x" * NODE_BYTES
    r.ltrim("enc", 0, 2)
    assert r.object("encoding", "enc") == "quicklist"  # never back, as the brief wants
    assert r.lrange("enc", 0, -1) == ["0", "1", "2"]
    r.lpush("encbig", "y" * (NODE_BYTES + 1))  # too big for a listpack from the start
    assert r.object("encoding", "encbig") == "quicklist"


def test_encoding_follows_config(r):
    try:
        r.config_set("list-max-listpack-size", 4)
        r.rpush("encc", 1, 2, 3, 4)
        assert r.object("encoding", "encc") == "listpack"
        r.rpush("encc", 5)
        assert r.object("encoding", "encc") == "quicklist"
        assert r.lrange("encc", 0, -1) == ["1", "2", "3", "4", "5"]
    finally:
        r.config_set("list-max-listpack-size", -2)


def test_linsert_and_lset_convert(r):
    r.rpush("conv1", "a", "b")
    assert r.linsert("conv1", "AFTER", "a", "z" * NODE_BYTES) == 3
    assert r.object("encoding", "conv1") == "quicklist"
    assert r.lrange("conv1", 0, -1) == ["a", "z" * NODE_BYTES, "b"]
    r.rpush("conv2", "a", "b")
    assert r.lset("conv2", 1, "w" * NODE_BYTES)
    assert r.object("encoding", "conv2") == "quicklist"
    assert r.lrange("conv2", 0, -1) == ["a", "w" * NODE_BYTES]


def test_big_list_ends_are_fast(r):
    key = "biglist"
    pipe = r.pipeline(transaction=False)
    for start in range(0, BIG_LIST, 10_000):
        pipe.rpush(key, *range(start, start + 10_000))
    pipe.execute()
    assert r.llen(key) == BIG_LIST
    assert r.object("encoding", key) == "quicklist"
    timings = []
    for cmd in (
        ("LINDEX", key, 3),
        ("LINDEX", key, -3),
        ("LSET", key, 1, "first"),
        ("LSET", key, -2, "last"),
        ("LPUSH", key, "h"),
        ("RPUSH", key, "t"),
        ("LPOP", key),
        ("RPOP", key),
        ("LRANGE", key, -5, -1),
    ):
        t0 = time.perf_counter()
        r.execute_command(*cmd)
        timings.append((time.perf_counter() - t0, cmd[0]))
    assert max(timings)[0] < FAST_OP_S, timings
    assert r.lrange(key, 0, 2) == ["0", "first", "2"]
    assert r.lrange(key, -3, -1) == [str(BIG_LIST - 3), "last", str(BIG_LIST - 1)]
    assert r.lindex(key, BIG_LIST // 2) == str(BIG_LIST // 2)
    assert r.lpos(key, str(BIG_LIST - 3), rank=-1) == BIG_LIST - 3


def test_memory_usage_and_digest_follow_contents(r):
    r.rpush("mem", *range(10))
    small = r.memory_usage("mem")
    r.rpush("mem", *range(10, 20_000))
    big = r.memory_usage("mem")
    assert 0 < small < big
    assert big < 20_000 * 16  # a few bytes an element, packed
    a = r.execute_command("DEBUG", "DIGEST-VALUE", "mem")
    r.lset("mem", 0, "changed")
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "mem") != a


def test_copy_and_rename_across_shards(r):
    src, dst = both_shards("copyl")
    r.rpush(src, *range(3000))
    assert r.copy(src, dst)
    r.rpush(src, "more")
    assert r.llen(dst) == 3000 and r.lindex(dst, -1) == "2999"
    assert r.object("encoding", dst) == "quicklist"
    r.rename(dst, "copyl:renamed")
    assert r.lrange("copyl:renamed", 0, 2) == ["0", "1", "2"]


# ---- random operations against a model ------------------------------------------------------


def check_model(r, key, model):
    assert r.llen(key) == len(model)
    assert r.lrange(key, 0, -1) == model


def test_random_ops_match_model_on_many_small_nodes(r):
    """list-max-listpack-size 4 makes a quicklist of many tiny nodes: inserts split them,
    removals empty them, and indexes cross them."""
    rng = random.Random(4242)
    key = "model"
    model = []
    r.config_set("list-max-listpack-size", 4)
    try:
        for step in range(MODEL_STEPS):
            op = rng.randrange(10)
            val = str(rng.choice([rng.randrange(20), "v" * rng.randrange(1, 40)]))
            if op <= 1 or not model:
                vals = [val] * rng.randint(1, 3)
                if op == 0:
                    r.lpush(key, *vals)
                    model[:0] = vals[::-1]
                else:
                    r.rpush(key, *vals)
                    model.extend(vals)
            elif op == 2:
                pivot = rng.choice(model)
                where = rng.choice(["BEFORE", "AFTER"])
                r.linsert(key, where, pivot, val)
                i = model.index(pivot)
                model.insert(i if where == "BEFORE" else i + 1, val)
            elif op == 3:
                i = rng.randrange(-len(model), len(model))
                r.lset(key, i, val)
                model[i] = val
            elif op == 4:
                n = rng.randrange(-2, 3)
                target = rng.choice(model)
                got = r.lrem(key, n, target)
                idx = [i for i, v in enumerate(model) if v == target]
                if n < 0:
                    idx = idx[::-1][:-n]
                elif n > 0:
                    idx = idx[:n]
                for i in sorted(idx, reverse=True):
                    del model[i]
                assert got == len(idx)
            elif op == 5:
                a, b = rng.randrange(-5, len(model) + 2), rng.randrange(-len(model), len(model) + 2)
                r.ltrim(key, a, b)
                n = len(model)
                s = a + n if a < 0 else a
                e = b + n if b < 0 else b
                s = max(s, 0)
                model[:] = [] if s > e or s >= n else model[s : min(e, n - 1) + 1]
            elif op == 6:
                n = rng.randint(1, 3)
                assert r.lpop(key, n) == model[:n]
                del model[:n]
            elif op == 7:
                n = rng.randint(1, 3)
                assert r.rpop(key, n) == model[::-1][:n]
                del model[len(model) - min(n, len(model)) :]
            elif op == 8:
                i = rng.randrange(-len(model) - 1, len(model) + 1)
                want = model[i] if -len(model) <= i < len(model) else None
                assert r.lindex(key, i) == want
            else:
                where = rng.choice(["LEFT", "RIGHT"])
                x = model.pop(0 if where == "LEFT" else -1)
                model.insert(0, x)
                assert r.lmove(key, key, where, "LEFT") == x
            if step % 50 == 0 or not model:
                check_model(r, key, model)
        check_model(r, key, model)
    finally:
        r.config_set("list-max-listpack-size", -2)


# ---- differential test vs redis-server -------------------------------------------------------


BLOCKING_SHARE = 0.02  # Redis times blocking commands out on its 100 ms clock: keep them rare


def random_list_command(rng, keys):
    k = rng.choice(keys)
    k2 = rng.choice(keys)
    v = str(rng.choice([rng.randrange(-3, 6), "e" * rng.randrange(0, 3), "x" * rng.randrange(60, 70)]))
    i = str(rng.randrange(-8, 8))
    j = str(rng.randrange(-8, 8))
    lr = lambda: rng.choice(["LEFT", "RIGHT", "left"])  # noqa: E731
    blocking = [
        lambda: ("BLPOP", k, k2, "0.01"),
        lambda: ("BRPOP", k, "0.01"),
        lambda: ("BLMOVE", k, k2, lr(), lr(), "0.01"),
        lambda: ("BRPOPLPUSH", k, k2, "0.01"),
        lambda: ("BLMPOP", "0.01", "1", k, lr()),
    ]
    cmds = [
        lambda: ("LPUSH", k, v, v + "1"),
        lambda: ("RPUSH", k, v),
        lambda: ("RPUSH", k, *[v] * rng.randrange(1, 30)),
        lambda: ("LPUSHX", k, v),
        lambda: ("RPUSHX", k, v, v),
        lambda: ("LPOP", k),
        lambda: ("RPOP", k, str(rng.randrange(0, 4))),
        lambda: ("LLEN", k),
        lambda: ("LRANGE", k, i, j),
        lambda: ("LINDEX", k, i),
        lambda: ("LSET", k, i, v),
        lambda: ("LINSERT", k, rng.choice(["BEFORE", "AFTER"]), v, "ins"),
        lambda: ("LREM", k, str(rng.randrange(-2, 3)), v),
        lambda: ("LTRIM", k, i, str(rng.randrange(10, 40))),
        lambda: ("LPOS", k, v),
        lambda: ("LPOS", k, v, "RANK", rng.choice(["1", "-1", "2", "-2"]), "COUNT",
                 str(rng.randrange(0, 3)), "MAXLEN", str(rng.randrange(0, 6))),
        lambda: ("LMOVE", k, k2, lr(), lr()),
        lambda: ("RPOPLPUSH", k, k2),
        lambda: ("LMPOP", "2", k, k2, lr(), "COUNT", str(rng.randrange(1, 4))),
        lambda: ("EXISTS", k),
        lambda: ("TYPE", k),
    ]  # fmt: skip
    if rng.random() < BLOCKING_SHARE:
        return rng.choice(blocking)()
    return rng.choice(cmds)()


@pytest.mark.parametrize("node_size", ["-2", "4"])
def test_differential_random_commands(server, redis_server_factory, node_size):
    """The same random commands on redis-server 7.0 and dfly; with node size 4 every list
    beyond 4 elements is a quicklist of many nodes."""
    ref = redis_server_factory("--enable-debug-command", "yes")
    d = DiffRunner(server, ref)
    d.run("CONFIG", "SET", "list-max-listpack-size", node_size)
    rng = random.Random(20240607)
    keys = both_shards("dl", 2) + ["{t}a", "{t}b"]
    d.run("SET", "dl:string", "x")  # a key of another type for WRONGTYPE paths
    keys.append("dl:string")
    for n in range(DIFF_STEPS):
        d.run(*random_list_command(rng, keys))
        if n % 200 == 0:
            for k in keys:
                d.run("LRANGE", k, "0", "-1")
    for k in keys:
        d.run("LRANGE", k, "0", "-1")
        d.run("DEBUG", "DIGEST-VALUE", k)


# ---- key positions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd, keys",
    [
        (("LMPOP", "2", "a", "b", "LEFT"), ["a", "b"]),
        (("BLMPOP", "0", "1", "a", "LEFT", "COUNT", "2"), ["a"]),
        (("BLPOP", "a", "b", "0"), ["a", "b"]),
        (("LMOVE", "a", "b", "LEFT", "LEFT"), ["a", "b"]),
        (("BRPOPLPUSH", "a", "b", "0"), ["a", "b"]),
        (("RPUSH", "a", "x", "y"), ["a"]),
    ],
    ids=lambda v: v[0] if isinstance(v, tuple) else None,
)
def test_command_getkeys(server, cmd, keys):
    c = server.client()
    c.response_callbacks = {}  # redis-py would parse the reply as COMMAND's
    assert c.execute_command("COMMAND", "GETKEYS", *cmd) == keys
