"""HyperLogLog with Redis 7 semantics, seen by real clients: PFADD, PFCOUNT (one key, and the
union of several keys on different shards), PFMERGE across shards, PFDEBUG; their errors with
Redis's exact texts; the estimate's error for cardinalities from 10 to 1,000,000; and seeded
random runs compared reply by reply, and byte by byte through GET, with Debian's redis-server.

HLLs are string values holding Redis's "HYLL" format, so the tests read the representation
with GET (encoding byte, length) rather than through any DEBUG command.
"""

import random

import pytest
import redis

from difftest import DiffRunner
from shardkeys import keys_per_shard

HLL_INVALID = "WRONGTYPE Key is not a valid HyperLogLog string value."
HLL_CORRUPT = "INVALIDOBJ Corrupted HLL object detected"
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"

HDR_SIZE = 16
ENC_OFFSET = 4
DENSE, SPARSE = 0, 1
REGISTERS = 16384
DENSE_SIZE = HDR_SIZE + REGISTERS * 6 // 8  # 12304
EMPTY_SPARSE = b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + b"\x7f\xff"  # XZERO:16384, cached 0
EMPTY_STALE = EMPTY_SPARSE[: HDR_SIZE - 1] + b"\x80" + EMPTY_SPARSE[HDR_SIZE:]  # as PFADD leaves it
CARD_STALE_BIT = 0x80  # in the last byte of the cached cardinality
DEFAULT_SPARSE_MAX = 3000

STD_ERROR = 0.0081  # Redis's documented standard error
ERROR_BOUND = 5 * STD_ERROR  # generous: five standard errors
BATCH = 1000  # elements per PFADD when loading big sets
DIFF_OPS = 3000
DIFF_SEED = 20140401


def err(c, *args):
    """The error text of a command that must fail."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


@pytest.fixture
def raw(server):
    """A client that returns replies as they come (bytes, no response callbacks)."""
    c = server.client(decode_responses=False)
    c.response_callbacks.clear()
    return c


def load(c, key, elements, batch=BATCH):
    """PFADDs elements to key in batches, pipelined."""
    p = c.pipeline(transaction=False)
    for i in range(0, len(elements), batch):
        p.execute_command("PFADD", key, *elements[i : i + batch])
    p.execute()


def has_command(server, name):
    """Whether the server knows the command (COMMAND INFO answers nil for unknown ones)."""
    c = server.client(decode_responses=False)
    c.response_callbacks.clear()
    return c.execute_command("COMMAND", "INFO", name)[0] is not None


# --- PFADD -----------------------------------------------------------------------------------


def test_pfadd_creates_and_reports_changes(r, raw):
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a", "b", "c") == 0  # no register changed
    assert r.pfadd("h", "d") == 1
    assert r.pfcount("h") == 4
    assert r.type("h") == "string"
    assert r.object("encoding", "h") == "raw"
    value = raw.execute_command("GET", "h")
    assert value[:4] == b"HYLL"
    assert value[ENC_OFFSET] == SPARSE


def test_pfadd_without_elements(r, raw):
    assert r.execute_command("PFADD", "e") == 1  # creates an empty HLL
    assert raw.execute_command("GET", "e") == EMPTY_STALE
    assert r.execute_command("PFADD", "e") == 0
    assert r.pfcount("e") == 0


def test_pfadd_binary_and_empty_elements(r):
    assert r.pfadd("b", "", "\x00", "\x00\x00", "é", "x" * 10000) == 1
    assert r.pfcount("b") == 5


def test_pfadd_keeps_ttl(r, raw):
    r.pfadd("t", "a")
    r.expire("t", 100)
    r.pfadd("t", "b", "c")
    assert 0 < r.ttl("t") <= 100
    assert r.pfcount("t") == 3
    r.pfadd("t", *[f"e{i}" for i in range(5000)])  # turns dense: a new allocation
    assert raw.execute_command("GET", "t")[ENC_OFFSET] == DENSE
    assert 0 < r.ttl("t") <= 100


# --- PFCOUNT ---------------------------------------------------------------------------------


def test_pfcount_missing_key(r):
    assert r.pfcount("nokey") == 0
    assert r.exists("nokey") == 0
    assert r.pfcount("nokey", "nokey2") == 0


def test_pfcount_caches_the_cardinality(r, raw):
    r.pfadd("c", *[f"e{i}" for i in range(50)])
    stale = raw.execute_command("GET", "c")
    assert stale[HDR_SIZE - 1] & CARD_STALE_BIT
    n = r.pfcount("c")
    value = raw.execute_command("GET", "c")
    assert not value[HDR_SIZE - 1] & CARD_STALE_BIT
    assert int.from_bytes(value[8:16], "little") == n
    assert value[HDR_SIZE:] == stale[HDR_SIZE:]  # only the header changed
    assert r.pfcount("c") == n


def test_pfcount_union_across_shards(server, r):
    keys = keys_per_shard("u", 2, per_shard=3)
    for i, k in enumerate(keys):
        r.pfadd(k, *[f"{i}:{j}" for j in range(100)], "common")
    total = r.pfcount(*keys)
    assert abs(total - (100 * len(keys) + 1)) <= 0.05 * total
    # A union does not change the keys: no cache is written for several keys.
    assert r.pfcount(*keys, "missing") == total
    assert r.pfcount(keys[0], keys[0]) == r.pfcount(keys[0])


def test_pfcount_recompute_touches_watch(server, r):
    """Storing a fresh cached cardinality changes the value, as in Redis: a WATCH fails."""
    r.pfadd("w", "a", "b")
    c = server.client()
    p = c.pipeline(transaction=True)
    p.watch("w")
    r.pfcount("w")  # recomputes and stores the cache
    p.multi()
    p.get("x")
    with pytest.raises(redis.WatchError):
        p.execute()
    p.reset()
    # With the cache valid, PFCOUNT writes nothing and the transaction goes through.
    p.watch("w")
    r.pfcount("w")
    p.multi()
    p.get("x")
    assert p.execute() == [None]


# --- PFMERGE ---------------------------------------------------------------------------------


def test_pfmerge_across_shards(r):
    a, b, d = keys_per_shard("m", 2, per_shard=2)[:3]
    r.pfadd(a, *[f"a{i}" for i in range(300)])
    r.pfadd(b, *[f"b{i}" for i in range(300)], *[f"a{i}" for i in range(100)])
    assert r.pfmerge(d, a, b, "missing") is True
    assert r.pfcount(d) == r.pfcount(a, b)
    assert abs(r.pfcount(d) - 600) < 600 * ERROR_BOUND


def test_pfmerge_includes_the_destination(r):
    r.pfadd("{d}dst", "x", "y")
    r.pfadd("{d}src", "z")
    r.pfmerge("{d}dst", "{d}src")
    assert r.pfcount("{d}dst") == 3
    r.pfmerge("{d}dst")  # no sources: the union of dst with nothing
    assert r.pfcount("{d}dst") == 3


def test_pfmerge_creates_an_empty_destination(r, raw):
    assert r.pfmerge("new", "missing1", "missing2") is True
    assert raw.execute_command("GET", "new") == EMPTY_STALE
    assert r.pfcount("new") == 0


def test_pfmerge_dense_source_makes_dense_result(r, raw):
    r.pfadd("{p}big", *[f"e{i}" for i in range(5000)])
    r.pfadd("{p}small", "a")
    assert raw.execute_command("GET", "{p}big")[ENC_OFFSET] == DENSE
    r.pfmerge("{p}small", "{p}big")
    value = raw.execute_command("GET", "{p}small")
    assert value[ENC_OFFSET] == DENSE and len(value) == DENSE_SIZE


# --- representation ----------------------------------------------------------------------------


def test_sparse_turns_dense_past_the_limit(r, raw):
    r.pfadd("s", *[f"e{i}" for i in range(100)])
    value = raw.execute_command("GET", "s")
    assert value[ENC_OFFSET] == SPARSE and len(value) < DEFAULT_SPARSE_MAX
    n = 100
    while value[ENC_OFFSET] == SPARSE:
        assert len(value) <= DEFAULT_SPARSE_MAX
        r.pfadd("s", *[f"e{i}" for i in range(n, n + 100)])
        n += 100
        value = raw.execute_command("GET", "s")
    assert len(value) == DENSE_SIZE
    assert 1000 < n < 5000  # Redis's table: ~3000 bytes at a cardinality of ~2000
    assert abs(r.pfcount("s") - n) < n * ERROR_BOUND


def test_sparse_limit_follows_config(r, raw):
    r.config_set("hll-sparse-max-bytes", 100)
    r.pfadd("s", *[f"e{i}" for i in range(200)])
    assert raw.execute_command("GET", "s")[ENC_OFFSET] == DENSE
    r.config_set("hll-sparse-max-bytes", DEFAULT_SPARSE_MAX)
    r.pfadd("s2", *[f"e{i}" for i in range(200)])
    assert raw.execute_command("GET", "s2")[ENC_OFFSET] == SPARSE
    assert r.pfcount("s") == r.pfcount("s2")


def test_set_of_hll_bytes_is_an_hll(r, raw):
    r.pfadd("src", *[f"e{i}" for i in range(1000)])
    n = r.pfcount("src")
    value = raw.execute_command("GET", "src")
    raw.execute_command("SET", "copy", value)
    assert r.pfcount("copy") == n
    # An embstr value (the empty HLL fits in one) is made raw before it changes.
    raw.execute_command("SET", "small", EMPTY_SPARSE)
    assert r.object("encoding", "small") == "embstr"
    assert r.pfadd("small", "a") == 1
    assert r.object("encoding", "small") == "raw"
    assert r.pfcount("small") == 1


def test_redis_bytes_count_the_same(r, raw, redis_server_factory):
    ref = redis_server_factory().client(decode_responses=False)
    for i, size in enumerate((3, 300, 3000, 30000)):
        key = f"k{i}"
        ref.execute_command("PFADD", key, *[f"x{j}" for j in range(size)])
        value = ref.execute_command("GET", key)
        raw.execute_command("SET", key, value)
        assert raw.execute_command("PFCOUNT", key) == ref.execute_command("PFCOUNT", key)
        assert raw.execute_command("GET", key) == ref.execute_command("GET", key)
        ref.execute_command("PFADD", key, "more", "elements")
        raw.execute_command("PFADD", key, "more", "elements")
        assert raw.execute_command("GET", key) == ref.execute_command("GET", key)


# --- errors ------------------------------------------------------------------------------------


def test_arity_errors(r):
    for cmd in ("PFADD", "PFCOUNT", "PFMERGE"):
        assert err(r, cmd) == f"wrong number of arguments for '{cmd.lower()}' command"
    assert err(r, "PFDEBUG", "encoding") == "wrong number of arguments for 'pfdebug' command"


def test_not_an_hll_string(r, raw):
    r.set("str", "hello world, not an hll")
    r.set("num", 12345)
    raw.execute_command("SET", "magic", b"HYLL\x02" + b"\x00" * 11 + b"\x7f\xff")  # encoding 2
    raw.execute_command("SET", "short", b"HYLL\x01\x00\x00")  # shorter than a header
    raw.execute_command("SET", "dense", b"HYLL\x00" + b"\x00" * 11 + b"\x00" * 100)  # bad size
    for key in ("str", "num", "magic", "short", "dense"):
        for args in (("PFADD", key, "a"), ("PFCOUNT", key), ("PFCOUNT", key, "other"),
                     ("PFMERGE", key, "other"), ("PFMERGE", "dest", key),
                     ("PFDEBUG", "encoding", key)):  # fmt: skip
            with pytest.raises(redis.ResponseError) as e:
                r.execute_command(*args)
            assert str(e.value) == HLL_INVALID
    assert r.exists("dest") == 0
    assert r.get("str") == "hello world, not an hll"


def test_other_types_are_wrongtype(server, r):
    for create in (("RPUSH", "l", "x"), ("SADD", "l", "x"), ("HSET", "l", "f", "v")):
        if has_command(server, create[0]):
            r.delete("l")
            r.execute_command(*create)
            assert err(r, "PFADD", "l", "a") == WRONGTYPE
            assert err(r, "PFCOUNT", "l") == WRONGTYPE
            assert err(r, "PFMERGE", "d", "l") == WRONGTYPE


def test_corrupt_sparse_data(r, raw):
    header = b"HYLL\x01\x00\x00\x00" + b"\x00" * 7 + b"\x80"  # stale cache
    # Runs covering fewer registers than 16384.
    raw.execute_command("SET", "short", header + b"\x7f\x00")
    assert err(r, "PFCOUNT", "short") == HLL_CORRUPT
    assert err(r, "PFCOUNT", "short", "x") == HLL_CORRUPT
    assert err(r, "PFMERGE", "d", "short") == HLL_CORRUPT
    # VAL runs past the last register.
    raw.execute_command("SET", "long", header + b"\x7f\xff" + b"\x83" * 8)
    assert err(r, "PFCOUNT", "long", "x") == HLL_CORRUPT
    assert err(r, "PFDEBUG", "todense", "long") == HLL_CORRUPT
    # No opcode covers the register PFADD must change.
    raw.execute_command("SET", "none", header)
    assert err(r, "PFADD", "none", "a") == HLL_CORRUPT


# --- PFDEBUG -----------------------------------------------------------------------------------


def test_pfdebug(r, raw):
    r.pfadd("d", "a", "b", "c")
    assert r.execute_command("PFDEBUG", "ENCODING", "d") == "sparse"
    decoded = r.execute_command("PFDEBUG", "DECODE", "d")
    ops = decoded.split(" ")
    assert [op for op in ops if op.startswith("v:")] and ops[-1][:2] in ("Z:", "z:", "v:")
    regs = r.execute_command("PFDEBUG", "GETREG", "d")  # turns it dense
    assert len(regs) == REGISTERS and sum(1 for x in regs if x) == 3
    assert r.execute_command("PFDEBUG", "ENCODING", "d") == "dense"
    assert err(r, "PFDEBUG", "DECODE", "d") == "HLL encoding is not sparse"
    assert r.execute_command("PFDEBUG", "TODENSE", "d") == 0
    r.pfadd("d2", "a")
    assert r.execute_command("PFDEBUG", "TODENSE", "d2") == 1
    assert len(raw.execute_command("GET", "d2")) == DENSE_SIZE
    assert err(r, "PFDEBUG", "ENCODING", "nokey") == "The specified key does not exist"
    assert err(r, "PFDEBUG", "nosuch", "d") == "Unknown PFDEBUG subcommand 'nosuch'"


# --- accuracy ----------------------------------------------------------------------------------


def test_error_bound(r):
    """Relative error within five standard errors (0.81% each) from 10 to 1,000,000."""
    for n in (10, 100, 1000, 10_000, 100_000, 1_000_000):
        key = f"card:{n}"
        load(r, key, [f"{n}-{i}" for i in range(n)])
        est = r.pfcount(key)
        assert abs(est - n) <= max(1, n * ERROR_BOUND), (n, est)


# --- differential ----------------------------------------------------------------------------


def random_element(rng):
    kind = rng.random()
    if kind < 0.8:
        return f"el:{rng.randint(0, 20000)}"
    if kind < 0.9:
        return bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 12)))
    return "x" * rng.randint(0, 40)


def test_random_against_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    rng = random.Random(DIFF_SEED)
    keys = keys_per_shard("hll", 2, per_shard=4) + ["{t}a", "{t}b"]
    for _ in range(DIFF_OPS):
        op = rng.random()
        key = rng.choice(keys)
        if op < 0.45:
            n = rng.choice((0, 1, 2, 5, 20, 100, 400))
            d.run("PFADD", key, *[random_element(rng) for _ in range(n)])
        elif op < 0.6:
            d.run("PFCOUNT", *rng.sample(keys, rng.randint(1, 4)))
        elif op < 0.7:
            d.run("PFMERGE", key, *rng.sample(keys, rng.randint(0, 3)))
        elif op < 0.85:
            d.run("GET", key)
        elif op < 0.88:
            d.run("DEL", key)
        elif op < 0.9:
            d.run("SET", key, "not an hll")
        elif op < 0.92:
            d.run("CONFIG", "SET", "hll-sparse-max-bytes", rng.choice((100, 700, 3000, 5000)))
        elif op < 0.94:
            d.run("PFDEBUG", rng.choice(("ENCODING", "DECODE", "TODENSE")), key)
        else:
            d.run("STRLEN", key)
    for key in keys:
        d.run("GET", key)
        d.run("PFCOUNT", key)
        d.run("GET", key)


def test_big_sets_against_redis(server, redis_server_factory):
    """Large cardinalities give the very same estimate and bytes as Redis."""
    d = DiffRunner(server, redis_server_factory())
    for n in (2000, 50_000, 300_000):
        key = f"big{n}"
        elements = [f"{n}:{i}" for i in range(n)]
        for c in (d.dfly, d.ref):
            load(c, key, elements)
        d.run("PFCOUNT", key)
        d.run("GET", key)
    d.run("PFCOUNT", "big2000", "big50000", "big300000")
    d.run("PFMERGE", "all", "big2000", "big50000", "big300000")
    d.run("GET", "all")
    d.run("PFCOUNT", "all")


# --- memory ------------------------------------------------------------------------------------


def used_memory(c):
    return int(c.info("memory")["used_memory"])


def per_key_bytes(c, prefix, keys, elements):
    before = used_memory(c)
    p = c.pipeline(transaction=False)
    for k in range(keys):
        p.execute_command("PFADD", f"{prefix}{k}", *[f"e{k}:{i}" for i in range(elements)])
    p.execute()
    return (used_memory(c) - before) / keys


@pytest.mark.parametrize("elements,keys", [(10, 1000), (5000, 100)])
def test_memory_against_redis(server, redis_server_factory, elements, keys):
    """Bytes per HLL (key included), sparse (10 elements) and dense (5000), near Redis's."""
    ref = redis_server_factory().client()
    dfly = server.client()
    ours = per_key_bytes(dfly, "m", keys, elements)
    theirs = per_key_bytes(ref, "m", keys, elements)
    print(f"HLL of {elements} elements: dfly {ours:.0f} B/key, redis {theirs:.0f} B/key")
    assert ours <= theirs * 1.25 + 64


def test_memory_returns_after_delete(server):
    """Growing sparse values, turning them dense and merging leave nothing behind."""
    c = server.client()
    keys = keys_per_shard("g", 2, per_shard=10)
    # The tables grow for these keys once; that memory stays after a delete.
    c.mset({k: "x" for k in keys + ["emb"]})
    c.delete(*keys, "emb")
    before = used_memory(c)
    for i, k in enumerate(keys):
        load(c, k, [f"{i}:{j}" for j in range(300 * i)], batch=100)
    c.pfmerge(keys[0], *keys[1:])
    c.pfcount(*keys)
    c.set("emb", b"HYLL\x01\x00\x00\x00" + b"\x00" * 8 + b"\x7f\xff")
    c.pfadd("emb", "a")
    assert used_memory(c) > before
    c.delete(*keys, "emb")
    assert used_memory(c) == before
