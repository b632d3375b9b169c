"""What every value type shares, checked for each type this server has, small and big encoding
alike: TYPE, SCAN TYPE, DBSIZE and INFO keyspace, MEMORY USAGE, OBJECT ENCODING, COPY, RENAME
and MOVE across shards and databases, DEBUG DIGEST-VALUE equal to redis-server's for the same
value, and WRONGTYPE for every pair of types.

The types are the ones whose commands the server had when this file was written (COMMAND INFO):
strings (HyperLogLog values among them), lists, hashes, sets, sorted sets and streams. A family
that lands adds its values to VALUES and its commands to COMMANDS and MODIFY;
test_every_listed_command_exists keeps the lists honest.
"""

import random

import pytest

from difftest import DiffRunner
from shardkeys import key_on_shard

NSHARDS = 2  # the `server` fixture runs --threads 2
WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
HLL_INVALID = "WRONGTYPE Key is not a valid HyperLogLog string value."
TTL_S = 1000
PER_TYPE = 12  # keys of each value for SCAN and DBSIZE
SCAN_COUNT = 3  # a small COUNT so that SCAN takes many calls
SCAN_MAX_CALLS = 10000
MEMORY_SLACK = 1.5  # MEMORY USAGE may be this much above Redis's (it is below today)
MEMORY_SLACK_BYTES = 64
RANDOM_VALUES = 40
RANDOM_SEED = 4242
BIG = 600  # elements in a "big" value: past every listpack limit
LAST_ID = "99999999999-1"  # a stream ID above every one the values use, the same on both servers


def big_items(prefix, n=BIG):
    return [f"{prefix}{i}" for i in range(n)]


def scored(n):
    out = []
    for i in range(n):
        out += [str(i * 0.5), f"m{i}"]
    return out


def pairs(n, value="v"):
    out = []
    for i in range(n):
        out += [f"f{i}", f"{value}{i}"]
    return out


# Values by name: (TYPE's answer, OBJECT ENCODING's answer, commands that build the value at key
# {k}). Each is built the same way on dfly and on redis-server, so their digests must agree.
VALUES = {
    "string-int": ("string", "int", [("SET", "{k}", "12345")]),
    "string-embstr": ("string", "embstr", [("SET", "{k}", "hello")]),
    "string-raw": ("string", "raw", [("SET", "{k}", "x" * 100)]),
    "string-appended": ("string", "raw", [("SET", "{k}", "ab"), ("APPEND", "{k}", "cd")]),
    "hll-sparse": ("string", "raw", [("PFADD", "{k}", "a", "b", "c")]),
    "hll-dense": ("string", "raw", [("PFADD", "{k}", *big_items("e", 5000))]),
    "list-listpack": ("list", "listpack", [("RPUSH", "{k}", "a", "b", "1", "2", "-3")]),
    "list-quicklist": ("list", "quicklist", [("RPUSH", "{k}", *big_items("element-", 2000))]),
    "hash-listpack": ("hash", "listpack", [("HSET", "{k}", "f", "v", "g", "1")]),
    "hash-hashtable": ("hash", "hashtable", [("HSET", "{k}", *pairs(BIG))]),
    "hash-long-value": ("hash", "hashtable", [("HSET", "{k}", "f", "v" * 100)]),
    "set-intset": ("set", "intset", [("SADD", "{k}", "1", "2", "-3")]),
    "set-listpack": ("set", "listpack", [("SADD", "{k}", "a", "b", "1")]),
    "set-hashtable": ("set", "hashtable", [("SADD", "{k}", *big_items("m"))]),
    "set-many-ints": ("set", "hashtable", [("SADD", "{k}", *[str(i) for i in range(1000)])]),
    "zset-listpack": ("zset", "listpack", [("ZADD", "{k}", "1", "a", "2.5", "b", "-1", "c")]),
    "zset-skiplist": ("zset", "skiplist", [("ZADD", "{k}", *scored(BIG))]),
    "stream-small": ("stream", "stream", [("XADD", "{k}", "1-1", "f", "v")]),
    "stream-big": ("stream", "stream", [("XADD", "{k}", f"{i}-1", "f", i) for i in range(1, BIG)]),
    "stream-group": (
        "stream",
        "stream",
        [
            ("XADD", "{k}", "1-1", "f", "v"),
            ("XADD", "{k}", "2-1", "g", "w"),
            ("XGROUP", "CREATE", "{k}", "group", "0"),
            ("XREADGROUP", "GROUP", "group", "consumer", "COUNT", "1", "STREAMS", "{k}", ">"),
        ],
    ),
}
# Redis 7.0 calls every list a quicklist and keeps small sets of strings in a hashtable; listpack
# lists and sets came with Redis 7.2, whose names dfly gives. (type, dfly's encoding) -> what
# Redis 7.0 says instead; every other encoding is the same as redis-server's.
ENCODINGS_OF_REDIS_7_2 = {("list", "listpack"): b"quicklist", ("set", "listpack"): b"hashtable"}

# Per command family: commands that read and write, run against every value for WRONGTYPE.
COMMANDS = {
    "string": [("GET", "{k}"), ("APPEND", "{k}", "x"), ("INCR", "{k}"), ("STRLEN", "{k}")],
    "hyperloglog": [("PFADD", "{k}", "z"), ("PFCOUNT", "{k}"), ("PFMERGE", "{k}", "{k}")],
    "list": [("LPUSH", "{k}", "x"), ("LRANGE", "{k}", "0", "-1"), ("LLEN", "{k}")],
    "hash": [("HSET", "{k}", "f", "x"), ("HGET", "{k}", "f"), ("HLEN", "{k}")],
    "set": [("SADD", "{k}", "x"), ("SMEMBERS", "{k}"), ("SCARD", "{k}")],
    "zset": [("ZADD", "{k}", "1", "x"), ("ZRANGE", "{k}", "0", "-1"), ("ZCARD", "{k}")],
    "stream": [("XADD", "{k}", LAST_ID, "f", "v"), ("XRANGE", "{k}", "-", "+"), ("XLEN", "{k}")],
}

# Replies whose order Redis leaves unspecified.
UNORDERED = {"SMEMBERS"}

# A command of each type that changes the value (to tell a copy from its source).
MODIFY = {
    "string": ("APPEND", "{k}", "!"),
    "list": ("RPUSH", "{k}", "new"),
    "hash": ("HSET", "{k}", "newfield", "new"),
    "set": ("SADD", "{k}", "new"),
    "zset": ("ZADD", "{k}", "100", "new"),
    "stream": ("XADD", "{k}", LAST_ID, "new", "entry"),
}


def fill(args, key):
    return [key if a == "{k}" else a for a in args]


def build(c, name, key):
    """Builds value `name` at key on client c."""
    for cmd in VALUES[name][2]:
        c.execute_command(*fill(cmd, key))


def raw_client(server):
    """A client that returns replies as they come (bytes, no response callbacks)."""
    c = server.client(decode_responses=False)
    c.response_callbacks.clear()
    return c


def digest(c, key):
    return c.execute_command("DEBUG", "DIGEST-VALUE", key)[0]


def encoding(c, key):
    return c.execute_command("OBJECT", "ENCODING", key)


def check_encoding(d, key, type_name):
    """OBJECT ENCODING of key on both servers of DiffRunner d agree (see ENCODINGS_OF_REDIS_7_2);
    returns dfly's."""
    got = d.dfly.execute_command("OBJECT", "ENCODING", key)
    want = d.ref.execute_command("OBJECT", "ENCODING", key)
    assert want == ENCODINGS_OF_REDIS_7_2.get((type_name, got.decode()), got), (key, got, want)
    return got


def modify(c, name, key):
    cmd = MODIFY[VALUES[name][0]]
    if name.startswith("string-int"):
        cmd = ("INCR", "{k}")
    c.execute_command(*fill(cmd, key))


@pytest.fixture
def ref(redis_server_factory):
    """Debian's redis-server with DEBUG allowed, to compare with."""
    return redis_server_factory("--enable-debug-command", "yes")


@pytest.fixture
def c(server):
    return raw_client(server)


def two_shard_keys(prefix):
    return key_on_shard(prefix, 0, NSHARDS), key_on_shard(prefix, 1, NSHARDS)


# --- the lists above -------------------------------------------------------------------------


def test_every_listed_command_exists(c):
    """Every command these tests use exists (COMMAND INFO answers nil for unknown ones), so
    nothing here is ever skipped."""
    names = {cmd[0] for value in VALUES.values() for cmd in value[2]}
    names |= {cmd[0] for cmds in COMMANDS.values() for cmd in cmds}
    names |= {cmd[0] for cmd in MODIFY.values()}
    names |= {"TYPE", "SCAN", "DBSIZE", "COPY", "RENAME", "RENAMENX", "MOVE", "MEMORY", "OBJECT"}
    infos = c.execute_command("COMMAND", "INFO", *sorted(names))
    missing = [n for n, info in zip(sorted(names), infos) if info is None]
    assert not missing


# --- TYPE, OBJECT ENCODING, DEBUG DIGEST-VALUE --------------------------------------------------


def test_type_encoding_and_digest_match_redis(server, ref):
    d = DiffRunner(server, ref)
    for i, (name, (type_name, enc, cmds)) in enumerate(VALUES.items()):
        key = f"v{i}"
        for cmd in cmds:
            d.run(*fill(cmd, key))
        assert d.run("TYPE", key) == type_name.encode(), name
        assert check_encoding(d, key, type_name) == enc.encode(), name
        d.run("DEBUG", "DIGEST-VALUE", key)
    d.run("TYPE", "missing")
    d.run("DEBUG", "DIGEST-VALUE", "missing")
    d.run("DEBUG", "DIGEST")


def random_value(rng, type_name, key):
    """Commands building a random value of type_name at key, small or big."""
    n = rng.choice((1, 3, 10, 100, 300, 1000))

    def item():
        return rng.choice(
            (str(rng.randint(-1000, 10**12)), "s" * rng.randint(0, 80), f"e{rng.randint(0, 50)}")
        )

    def pairs_of(first):
        out = []
        for _ in range(n):
            out += [first(), item()]
        return out

    if type_name == "string":
        return [("SET", key, item())]
    if type_name == "list":
        return [(rng.choice(("RPUSH", "LPUSH")), key, *[item() for _ in range(n)])]
    if type_name == "hash":
        return [("HSET", key, *pairs_of(item))]
    if type_name == "set":
        return [("SADD", key, *[item() for _ in range(n)])]
    if type_name == "zset":
        return [("ZADD", key, *pairs_of(lambda: str(rng.uniform(-1e6, 1e6))))]
    entries = []
    for i in range(1, n + 1):
        fields = [x for _ in range(rng.randint(1, 3)) for x in (item(), item())]
        entries.append(("XADD", key, f"{i}-{rng.randint(0, 9)}", *fields))
    return entries


def test_random_digests_match_redis(server, ref):
    d = DiffRunner(server, ref)
    rng = random.Random(RANDOM_SEED)
    types = sorted(MODIFY)
    for i in range(RANDOM_VALUES):
        key = f"r{i}"
        for cmd in random_value(rng, types[i % len(types)], key):
            d.run(*cmd)
        d.run("DEBUG", "DIGEST-VALUE", key)
        check_encoding(d, key, types[i % len(types)])
    d.run("DEBUG", "DIGEST")


def test_type_of_missing_key(c):
    assert c.execute_command("TYPE", "missing") == b"none"


# --- SCAN TYPE, DBSIZE, INFO keyspace ------------------------------------------------------------


def scan_all(c, *args):
    keys, cursor = [], b"0"
    for _ in range(SCAN_MAX_CALLS):
        cursor, batch = c.execute_command("SCAN", cursor, "COUNT", SCAN_COUNT, *args)
        keys += batch
        if cursor == b"0":
            return keys
    raise AssertionError("SCAN did not finish")


def build_many(c):
    """PER_TYPE keys of every value, spread over both shards; returns {type: keys}."""
    by_type = {}
    for name, (type_name, _, _) in VALUES.items():
        for j in range(PER_TYPE):
            key = f"{name}:{j}"
            build(c, name, key)
            by_type.setdefault(type_name, set()).add(key.encode())
    return by_type


def test_scan_type_returns_each_type(c):
    by_type = build_many(c)
    for type_name, keys in by_type.items():
        found = scan_all(c, "TYPE", type_name)
        assert len(found) == len(set(found))  # no key twice: nothing changed during the scan
        assert set(found) == keys, type_name
    assert scan_all(c, "TYPE", "nosuchtype") == []
    assert set(scan_all(c)) == set().union(*by_type.values())


def test_scan_type_with_match(c):
    by_type = build_many(c)
    for type_name, keys in by_type.items():
        want = {k for k in keys if k.endswith(b":1")}
        assert set(scan_all(c, "MATCH", "*:1", "TYPE", type_name)) == want


def test_dbsize_and_info_keyspace(server, c):
    by_type = build_many(c)
    total = sum(len(k) for k in by_type.values())
    assert c.execute_command("DBSIZE") == total
    with_ttl = [k for keys in by_type.values() for k in sorted(keys)[:3]]
    for k in with_ttl:
        c.execute_command("EXPIRE", k, TTL_S)
    moved = [k for keys in by_type.values() for k in sorted(keys)[3:5]]
    for k in moved:
        assert c.execute_command("MOVE", k, 1) == 1
    info = server.client().info("keyspace")
    assert info["db0"]["keys"] == total - len(moved)
    assert info["db0"]["expires"] == len(with_ttl)
    assert info["db1"]["keys"] == len(moved)
    assert c.execute_command("DBSIZE") == total - len(moved)
    c.execute_command("FLUSHDB")
    assert c.execute_command("DBSIZE") == 0
    assert "db0" not in server.client().info("keyspace")


# --- MEMORY USAGE --------------------------------------------------------------------------------


def test_memory_usage_near_redis(server, ref):
    ours, theirs = raw_client(server), raw_client(ref)
    for i, name in enumerate(VALUES):
        key = f"m{i}"
        build(ours, name, key)
        build(theirs, name, key)
        got = ours.execute_command("MEMORY", "USAGE", key)
        want = theirs.execute_command("MEMORY", "USAGE", key)
        assert 0 < got <= want * MEMORY_SLACK + MEMORY_SLACK_BYTES, (name, got, want)
        assert ours.execute_command("MEMORY", "USAGE", key, "SAMPLES", 0) > 0
    assert ours.execute_command("MEMORY", "USAGE", "missing") is None


def test_memory_usage_grows_with_the_value(c):
    for type_name, small, big in (
        ("string", "string-embstr", "string-raw"),
        ("list", "list-listpack", "list-quicklist"),
        ("hash", "hash-listpack", "hash-hashtable"),
        ("string", "hll-sparse", "hll-dense"),
        ("set", "set-intset", "set-many-ints"),
        ("set", "set-listpack", "set-hashtable"),
        ("zset", "zset-listpack", "zset-skiplist"),
        ("stream", "stream-small", "stream-big"),
    ):
        build(c, small, "small")
        build(c, big, "big")
        s = c.execute_command("MEMORY", "USAGE", "small")
        b = c.execute_command("MEMORY", "USAGE", "big")
        assert 0 < s < b, (type_name, s, b)
        c.execute_command("DEL", "small", "big")


# --- COPY, RENAME, MOVE ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VALUES))
def test_copy_across_shards(c, name):
    src, dst = two_shard_keys(f"copy-{name}")
    build(c, name, src)
    c.execute_command("EXPIRE", src, TTL_S)
    want_digest, want_enc = digest(c, src), encoding(c, src)
    assert c.execute_command("COPY", src, dst) == 1
    assert digest(c, dst) == want_digest
    assert encoding(c, dst) == want_enc == VALUES[name][1].encode()
    assert c.execute_command("TYPE", dst) == VALUES[name][0].encode()
    assert 0 < c.execute_command("TTL", dst) <= TTL_S
    # The copy is deep: changing one leaves the other alone.
    modify(c, name, dst)
    assert digest(c, dst) != want_digest
    assert digest(c, src) == want_digest
    assert c.execute_command("COPY", src, dst) == 0
    assert c.execute_command("COPY", src, dst, "REPLACE") == 1
    assert digest(c, dst) == want_digest
    # To another database, and back over the original.
    assert c.execute_command("COPY", src, dst, "DB", 1) == 1
    c.execute_command("SELECT", 1)
    assert digest(c, dst) == want_digest
    c.execute_command("SELECT", 0)
    c.execute_command("DEL", src)
    assert c.execute_command("EXISTS", dst) == 1
    modify(c, name, dst)  # the copy lives on after its source is gone


@pytest.mark.parametrize("name", list(VALUES))
def test_rename_across_shards(c, name):
    src, dst = two_shard_keys(f"rename-{name}")
    build(c, name, src)
    c.execute_command("EXPIRE", src, TTL_S)
    want_digest, want_enc = digest(c, src), encoding(c, src)
    assert c.execute_command("RENAME", src, dst) == b"OK"
    assert c.execute_command("EXISTS", src) == 0
    assert digest(c, dst) == want_digest
    assert encoding(c, dst) == want_enc == VALUES[name][1].encode()
    assert 0 < c.execute_command("TTL", dst) <= TTL_S
    modify(c, name, dst)  # the moved value is still a working value of its type
    assert c.execute_command("RENAMENX", dst, src) == 1
    build(c, "string-embstr", dst)
    assert c.execute_command("RENAMENX", src, dst) == 0
    assert c.execute_command("RENAME", src, dst) == b"OK"  # replaces a value of another type
    assert c.execute_command("TYPE", dst) == VALUES[name][0].encode()


@pytest.mark.parametrize("name", list(VALUES))
def test_move_between_databases(c, name):
    key = f"move-{name}"
    build(c, name, key)
    want_digest = digest(c, key)
    assert c.execute_command("MOVE", key, 1) == 1
    assert c.execute_command("EXISTS", key) == 0
    c.execute_command("SELECT", 1)
    assert digest(c, key) == want_digest
    modify(c, name, key)
    c.execute_command("SELECT", 0)
    build(c, name, key)
    assert c.execute_command("MOVE", key, 1) == 0  # db 1 has the key: nothing moves
    assert digest(c, key) == want_digest


# --- WRONGTYPE --------------------------------------------------------------------------------------


def test_wrongtype_for_every_pair(server, ref):
    """Every command family against a value of every type: the same reply as Redis, and an
    error exactly when the types differ (HyperLogLog commands also refuse plain strings)."""
    d = DiffRunner(server, ref)
    for i, (name, (value_type, _, cmds)) in enumerate(VALUES.items()):
        for family, commands in COMMANDS.items():
            for cmd in commands:
                key = f"w{i}"
                d.run("DEL", key)
                for build_cmd in cmds:
                    d.run(*fill(build_cmd, key))
                reply = d.run(*fill(cmd, key), unordered=cmd[0] in UNORDERED)
                is_error = isinstance(reply, tuple) and reply[0] == "error"
                if family == "hyperloglog":
                    if value_type != "string":
                        assert reply == ("error", WRONGTYPE), (name, cmd)
                    elif not name.startswith("hll"):
                        assert reply == ("error", HLL_INVALID), (name, cmd)
                    else:
                        assert not is_error, (name, cmd, reply)
                elif family != value_type:
                    assert reply == ("error", WRONGTYPE), (name, cmd)
                elif cmd[0] != "INCR":
                    assert not is_error, (name, cmd, reply)
