"""A seeded, rich dataset for persistence tests, and ways to compare two servers' data.

fill(r, seed) writes every type in each of the encodings Redis 7.0 uses (int, embstr and raw
strings; listpack and quicklist lists; listpack and hashtable hashes; intset, listpack and
hashtable sets; listpack and skiplist sorted sets; HyperLogLogs; streams with consumer groups
when with_streams), keys with and without a TTL, in several databases, plus a function
library. The same seed gives the same data.

digest(r) is DEBUG DIGEST, which dfly computes exactly as Redis does: two servers with equal
datasets (all databases, values and expiry presence) have equal digests. snapshot_of(r)
reads every key by type, for messages that say what differs.
"""

import random

import redis

DBS = (0, 1, 5, 15)
BIG = 700  # elements: past every listpack/intset threshold of the defaults
SMALL = 5
LIB = """#!lua name=dsetlib
redis.register_function('dset_echo', function(keys, args) return args[1] end)
"""
TTL_S = 3600
STREAM_INFO = ("length", "last-generated-id", "max-deleted-entry-id", "entries-added",
               "recorded-first-entry-id", "groups")  # fmt: skip


def _name(rnd, kind, i):
    return f"{kind}:{i}:{rnd.randrange(10**6)}"


def db_client(r, db, **over):
    """A client like r (same server and settings, but for `over`) on database db."""
    kw = dict(r.connection_pool.connection_kwargs)
    kw["db"] = db
    kw.update(over)
    return redis.Redis(**kw)


def fill(r, seed=1, scale=1, with_streams=True):
    """Writes the dataset through redis-py client r (any decode setting). Returns the number
    of keys written per database."""
    rnd = random.Random(seed)
    counts = {}
    for db in DBS:
        c = db_client(r, db)
        p = c.pipeline(transaction=False)
        n = 0
        for i in range(20 * scale):
            k = _name(rnd, "int", i)
            p.set(k, rnd.randrange(-(10**12), 10**12))
            n += 1
            k = _name(rnd, "str", i)
            p.set(k, "v" * rnd.randrange(1, 40))
            n += 1
            k = _name(rnd, "raw", i)
            p.set(k, "".join(rnd.choice("abc") for _ in range(rnd.randrange(50, 3000))))
            n += 1
        for size in (SMALL, BIG):
            for i in range(2 * scale):
                k = _name(rnd, f"list{size}", i)
                p.rpush(k, *[rnd.choice(["x", "yy", str(rnd.randrange(10**9))]) for _ in range(size)])
                k = _name(rnd, f"hash{size}", i)
                p.hset(k, mapping={f"f{j}": f"v{rnd.randrange(10**6)}" for j in range(size)})
                k = _name(rnd, f"iset{size}", i)
                p.sadd(k, *range(size))
                k = _name(rnd, f"sset{size}", i)
                p.sadd(k, *[f"m{j}" for j in range(size)])
                k = _name(rnd, f"zset{size}", i)
                p.zadd(k, {f"m{j}": rnd.uniform(-1000, 1000) for j in range(size)})
                n += 5
        k = _name(rnd, "hll", 0)
        p.pfadd(k, *[f"e{j}" for j in range(300)])
        n += 1
        if with_streams:
            k = _name(rnd, "stream", 0)
            for j in range(60):
                p.xadd(k, {"f": j, "g": "x" * (j % 7)}, id=f"{1000 + j}-{j % 3}")
            p.xdel(k, "1005-2")
            p.xgroup_create(k, "grp", id="0")
            p.xreadgroup("grp", "alice", {k: ">"}, count=7)
            p.xreadgroup("grp", "bob", {k: ">"}, count=3)
            p.xack(k, "grp", "1000-0")
            n += 1
        for i in range(10 * scale):
            k = _name(rnd, "ttl", i)
            p.set(k, i, ex=TTL_S + i)
            n += 1
        k = _name(rnd, "ttlhash", 0)
        p.hset(k, "a", 1)
        p.expire(k, TTL_S)
        n += 1
        p.execute()
        c.connection_pool.disconnect()
        counts[db] = n
    r.execute_command("FUNCTION", "LOAD", "REPLACE", LIB)
    return counts


def digest(r):
    d = r.execute_command("DEBUG", "DIGEST")
    return d.decode() if isinstance(d, bytes) else d


def _text(v):
    return v.decode() if isinstance(v, bytes) else v


def key_value(r, key):
    """(type, comparable value) of key in r's database; streams with their groups and PELs."""
    t = _text(r.type(key))
    if t == "string":
        return t, r.get(key)
    if t == "list":
        return t, r.lrange(key, 0, -1)
    if t == "hash":
        return t, r.hgetall(key)
    if t == "set":
        return t, sorted(r.smembers(key))
    if t == "zset":
        return t, r.zrange(key, 0, -1, withscores=True)
    if t == "stream":
        info = r.xinfo_stream(key)
        groups = r.xinfo_groups(key)
        pending = [
            [(e["message_id"], e["consumer"], e["times_delivered"])
             for e in r.xpending_range(key, g["name"], "-", "+", 10_000)]
            for g in groups
        ]  # fmt: skip
        return t, (r.xrange(key), [info[f] for f in STREAM_INFO], groups, pending)
    return t, None


def snapshot_of(r, dbs=DBS):
    """{db: {key: (type, value, has_ttl)}} of every key (bytes: values may be binary)."""
    out = {}
    for db in dbs:
        c = db_client(r, db, decode_responses=False)
        keys = {}
        for k in c.scan_iter(count=1000):
            t, v = key_value(c, k)
            keys[_text(k)] = (t, v, c.pttl(k) > 0)
        c.connection_pool.disconnect()
        out[db] = keys
    return out
