"""Keyspace notifications (notify-keyspace-events) on a two-thread server, watched with
redis-py's PubSub: the same command sequences run on Debian's redis-server 7.0 and on dfly, and
the events each publishes (channel and message, in order) must be the same, for strings,
generic commands (DEL, EXPIRE, RENAME, COPY, MOVE...), lists, hashes, sets, sorted sets and
streams, new-key and key-miss events, and per-class filtering. Expiry (active and lazy) and
eviction happen on the shards' own threads and are checked on dfly alone. Keys span both
shards; hash tags keep the keys of a multi-key command together where Redis requires it.
"""

import time

import pytest

from shardkeys import key_shard

NTHREADS = 2
WAIT_S = 5.0  # bound on every wait
POLL_S = 0.05
END_CHANNEL = "__keyevent@0__:zz-end"  # a sentinel published after each sequence
PATTERNS = ("__keyspace@*", "__keyevent@*")
EXPIRE_MS = 50
EVICT_VALUE = "v" * 1000
EVICT_MAX_WRITES = 20000


def keys_on_both_shards(prefix, n):
    """n keys prefix:i, spanning both shards of a two-thread server."""
    keys = [f"{prefix}:{i}" for i in range(n)]
    assert {key_shard(k, NTHREADS) for k in keys} == set(range(NTHREADS))
    return keys


class Watcher:
    """A pattern subscriber to every keyspace and keyevent channel of a server."""

    def __init__(self, server):
        self.c = server.client()
        self.p = self.c.pubsub()
        self.p.psubscribe(*PATTERNS)
        for _ in PATTERNS:
            assert self.p.get_message(timeout=WAIT_S)["type"] == "psubscribe"

    def drain(self):
        """Every event until the sentinel, as (channel, message) pairs."""
        self.c.publish(END_CHANNEL, "end")
        got = []
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            m = self.p.get_message(timeout=POLL_S)
            if not m:
                continue
            if m["channel"] == END_CHANNEL:
                return got
            got.append((m["channel"], m["data"]))
        raise AssertionError(f"sentinel did not arrive; events so far: {got}")

    def close(self):
        self.p.close()


def events_of(server, classes, commands, setup=()):
    """Runs commands on server with notify-keyspace-events `classes` and returns the events."""
    c = server.client()
    for cmd in setup:
        c.execute_command(*cmd)
    c.config_set("notify-keyspace-events", classes)
    w = Watcher(server)
    try:
        for cmd in commands:
            try:
                c.execute_command(*cmd)
            except Exception as e:  # errors publish nothing; the reply is not the point here
                if "unknown command" in str(e):
                    raise
        return w.drain()
    finally:
        w.close()
        c.config_set("notify-keyspace-events", "")


def same_events(server, ref, classes, commands, setup=()):
    """The events on dfly are those on redis-server `ref`."""
    want = events_of(ref, classes, commands, setup)
    got = events_of(server, classes, commands, setup)
    assert got == want
    return got


STRING_COMMANDS = [
    ("SET", "s:1", "v"),
    ("SET", "s:2", "v", "EX", "100"),
    ("SET", "s:1", "w", "KEEPTTL"),
    ("SETNX", "s:3", "x"),
    ("SETNX", "s:3", "y"),
    ("APPEND", "s:4", "abc"),
    ("INCR", "s:5"),
    ("INCRBY", "s:5", "10"),
    ("DECRBY", "s:5", "3"),
    ("INCRBYFLOAT", "s:6", "1.5"),
    ("SETRANGE", "s:7", "3", "xy"),
    ("GETSET", "s:1", "z"),
    ("GETDEL", "s:3"),
    ("GETEX", "s:4", "EX", "50"),
    ("GETEX", "s:4", "PERSIST"),
    ("MSET", "{m}a", "1", "{m}b", "2"),
    ("MSETNX", "{n}a", "1", "{n}b", "2"),
    ("SETEX", "s:8", "10", "v"),
    ("PSETEX", "s:9", "10000", "v"),
    ("SETBIT", "s:10", "7", "1"),
    ("BITOP", "OR", "{b}dst", "{b}src1", "{b}src2"),
    ("SET", "{b}src1", "a"),
    ("BITOP", "OR", "{b}dst", "{b}src1", "{b}src2"),
    ("BITFIELD", "s:11", "SET", "u8", "0", "255"),
]

GENERIC_COMMANDS = [
    ("SET", "g:1", "v"),
    ("SET", "g:2", "v"),
    ("SET", "g:3", "v"),
    ("DEL", "g:1", "g:2", "g:missing"),
    ("SET", "g:4", "v"),
    ("EXPIRE", "g:4", "100"),
    ("PEXPIRE", "g:4", "100000"),
    ("EXPIREAT", "g:4", "4000000000"),
    ("PERSIST", "g:4"),
    ("EXPIRE", "g:4", "-1"),
    ("SET", "{r}a", "v"),
    ("RENAME", "{r}a", "{r}b"),
    ("RENAMENX", "{r}b", "{r}c"),
    ("SET", "g:5", "v"),
    ("RENAME", "g:5", "g:6"),
    ("COPY", "g:6", "g:7"),
    ("COPY", "g:6", "g:7", "REPLACE"),
    ("MOVE", "g:7", "3"),
    ("UNLINK", "g:6", "g:3"),
    ("SET", "g:8", "v"),
    ("EXPIRE", "g:8", "0"),
]

LIST_COMMANDS = [
    ("LPUSH", "l:1", "a", "b"),
    ("RPUSH", "l:1", "c"),
    ("LPUSHX", "l:2", "a"),
    ("RPUSHX", "l:1", "d"),
    ("LINSERT", "l:1", "BEFORE", "a", "x"),
    ("LSET", "l:1", "0", "y"),
    ("LPOP", "l:1"),
    ("RPOP", "l:1", "2"),
    ("LREM", "l:1", "0", "zz"),
    ("RPUSH", "l:3", "a", "b", "c", "d"),
    ("LTRIM", "l:3", "1", "2"),
    ("LREM", "l:3", "1", "b"),
    ("RPUSH", "{l}src", "1", "2"),
    ("RPOPLPUSH", "{l}src", "{l}dst"),
    ("LMOVE", "{l}src", "{l}dst", "LEFT", "RIGHT"),
    ("LMPOP", "1", "l:3", "LEFT", "COUNT", "5"),
    ("BLPOP", "{l}dst", "0.01"),
    ("BRPOP", "{l}dst", "0.01"),
]

HASH_COMMANDS = [
    ("HSET", "h:1", "f", "v", "g", "w"),
    ("HSETNX", "h:1", "f", "x"),
    ("HSETNX", "h:1", "n", "x"),
    ("HMSET", "h:2", "a", "1"),
    ("HINCRBY", "h:2", "a", "5"),
    ("HINCRBYFLOAT", "h:2", "b", "1.5"),
    ("HDEL", "h:1", "f", "missing"),
    ("HDEL", "h:1", "g", "n"),
    ("HDEL", "h:1", "x"),
]

SET_COMMANDS = [
    ("SADD", "t:1", "a", "b", "c"),
    ("SADD", "t:1", "a"),
    ("SREM", "t:1", "a", "zz"),
    ("SPOP", "t:1"),
    ("SADD", "{t}a", "1", "2", "3"),
    ("SADD", "{t}b", "2", "3", "4"),
    ("SMOVE", "{t}a", "{t}b", "1"),
    ("SINTERSTORE", "{t}i", "{t}a", "{t}b"),
    ("SUNIONSTORE", "{t}u", "{t}a", "{t}b"),
    ("SDIFFSTORE", "{t}d", "{t}a", "{t}b"),
    ("SDIFFSTORE", "{t}d", "{t}b", "{t}b"),
    ("SPOP", "{t}a", "10"),
    ("SREM", "t:1", "b", "c"),
]

ZSET_COMMANDS = [
    ("ZADD", "z:1", "1", "a", "2", "b", "3", "c"),
    ("ZADD", "z:1", "1", "a"),
    ("ZINCRBY", "z:1", "5", "a"),
    ("ZREM", "z:1", "b", "zz"),
    ("ZREMRANGEBYSCORE", "z:1", "0", "3"),
    ("ZADD", "z:2", "1", "x", "2", "y", "3", "z"),
    ("ZREMRANGEBYRANK", "z:2", "0", "0"),
    ("ZREMRANGEBYLEX", "z:2", "[y", "[y"),
    ("ZPOPMIN", "z:2"),
    ("ZADD", "{z}a", "1", "p", "2", "q"),
    ("ZADD", "{z}b", "2", "q", "3", "r"),
    ("ZUNIONSTORE", "{z}u", "2", "{z}a", "{z}b"),
    ("ZINTERSTORE", "{z}i", "2", "{z}a", "{z}b"),
    ("ZDIFFSTORE", "{z}d", "2", "{z}a", "{z}a"),
    ("ZRANGESTORE", "{z}r", "{z}a", "0", "-1"),
    ("ZPOPMAX", "z:1"),
    ("ZPOPMAX", "z:1"),
]

STREAM_COMMANDS = [
    ("XADD", "x:1", "1-1", "f", "v"),
    ("XADD", "x:1", "2-1", "f", "v"),
    ("XDEL", "x:1", "1-1"),
    ("XTRIM", "x:1", "MAXLEN", "0"),
    ("XGROUP", "CREATE", "x:1", "g", "$"),
    ("XGROUP", "CREATECONSUMER", "x:1", "g", "c"),
    ("XGROUP", "SETID", "x:1", "g", "0"),
    ("XGROUP", "DELCONSUMER", "x:1", "g", "c"),
    ("XGROUP", "DESTROY", "x:1", "g"),
    ("XSETID", "x:1", "5-0"),
]


@pytest.mark.parametrize(
    "name,commands",
    [
        ("string", STRING_COMMANDS),
        ("generic", GENERIC_COMMANDS),
        ("list", LIST_COMMANDS),
        ("hash", HASH_COMMANDS),
        ("set", SET_COMMANDS),
        ("zset", ZSET_COMMANDS),
        ("stream", STREAM_COMMANDS),
    ],
)
def test_events_as_redis(server, redis_server_factory, name, commands):
    got = same_events(server, redis_server_factory(), "KEA", commands)
    assert got, "the sequence published nothing"


def test_string_event_channels(server):
    keys = keys_on_both_shards("chan", 8)
    got = events_of(server, "KEA", [("SET", k, "v") for k in keys])
    want = []
    for k in keys:
        want += [(f"__keyspace@0__:{k}", "set"), ("__keyevent@0__:set", k)]
    assert got == want


def test_new_and_keymiss_events(server, redis_server_factory):
    commands = [
        ("SET", "n:1", "v"),
        ("SET", "n:1", "w"),
        ("RPUSH", "n:2", "a"),
        ("RPUSH", "n:2", "b"),
        ("GET", "n:missing"),
        ("EXISTS", "n:missing"),
        ("HGET", "n:nohash", "f"),
        ("DEL", "{n}b"),
        ("SET", "{n}a", "v"),
        ("RENAME", "{n}a", "{n}b"),
    ]
    ref = redis_server_factory()
    same_events(server, ref, "KEAnm", commands)
    same_events(server, ref, "Enm", commands)


def test_classes_filter_events(server, redis_server_factory):
    commands = STRING_COMMANDS[:6] + GENERIC_COMMANDS[:6] + LIST_COMMANDS[:3]
    ref = redis_server_factory()
    for classes in ("K$", "Eg", "Kl", "KE", "A", "El$", "Kx", ""):
        got = same_events(server, ref, classes, commands)
        if classes in ("KE", "A", "", "Kx"):
            assert got == []


def test_events_in_other_databases(server, redis_server_factory):
    setup = [("SELECT", "0")]
    commands = [("SELECT", "5"), ("SET", "d:1", "v"), ("DEL", "d:1"), ("MOVE", "d:2", "0")]
    got = same_events(server, redis_server_factory(), "KEA", commands, setup)
    assert ("__keyspace@5__:d:1", "set") in got


def test_disabled_by_default(server, r):
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
    w = Watcher(server)
    r.set("quiet", "v")
    r.delete("quiet")
    assert w.drain() == []
    w.close()


def test_active_expiry_events(server, r):
    keys = keys_on_both_shards("exp", 16)
    r.config_set("notify-keyspace-events", "Ex")
    w = Watcher(server)
    for k in keys:
        r.set(k, "v", px=EXPIRE_MS)
    r.set("exp:stays", "v")
    got = set()
    deadline = time.monotonic() + WAIT_S
    while len(got) < len(keys) and time.monotonic() < deadline:
        m = w.p.get_message(timeout=POLL_S)
        if m:
            assert m["channel"] == "__keyevent@0__:expired"
            got.add(m["data"])
    assert got == set(keys)
    assert r.exists("exp:stays") == 1
    w.close()


def test_lazy_expiry_event(server, r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    keys = keys_on_both_shards("lazy", 4)
    for k in keys:
        r.set(k, "v", px=1)
    time.sleep(0.05)
    r.config_set("notify-keyspace-events", "KExm")
    w = Watcher(server)
    for k in keys:
        assert r.get(k) is None
    want = []
    for k in keys:
        want += [(f"__keyspace@0__:{k}", "expired"), ("__keyevent@0__:expired", k)]
        want += [(f"__keyspace@0__:{k}", "keymiss"), ("__keyevent@0__:keymiss", k)]
    assert w.drain() == want
    w.close()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_eviction_events(server, r):
    r.config_set("maxmemory-policy", "allkeys-random")
    used = r.info("memory")["used_memory"]
    r.config_set("maxmemory", used + 512 * 1024)
    r.config_set("notify-keyspace-events", "Ee")
    w = Watcher(server)
    evicted = set()
    for i in range(EVICT_MAX_WRITES):
        r.set(f"ev:{i}", EVICT_VALUE)
        m = w.p.get_message()
        while m:
            assert m["channel"] == "__keyevent@0__:evicted"
            evicted.add(m["data"])
            m = w.p.get_message()
        if len(evicted) >= 10:
            break
    assert len(evicted) >= 10
    assert all(k.startswith("ev:") for k in evicted)
    assert not any(r.exists(k) for k in evicted)
    r.config_set("maxmemory", 0)
    w.close()


def test_subscribers_on_both_threads_get_events_from_both_shards(server, r):
    """Events of keys on either shard reach keyspace subscribers on either thread."""
    r.config_set("notify-keyspace-events", "E$")
    watchers = [Watcher(server) for _ in range(6)]
    keys = keys_on_both_shards("both", 10)
    for k in keys:
        r.set(k, "v")
    for w in watchers:
        assert w.drain() == [("__keyevent@0__:set", k) for k in keys]
        w.close()
