"""Keyspace ("generic") commands with Redis 7 semantics, against a --threads 2 dfly-server:
DEL UNLINK EXISTS TYPE TOUCH RENAME RENAMENX COPY MOVE SWAPDB DBSIZE KEYS SCAN RANDOMKEY
OBJECT. Keys deliberately span both shards; the expiry commands are in test_expire.py.
"""

import threading
import time

import pytest
import redis

from shardkeys import key_on_shard, key_shard, keys_per_shard

NSHARDS = 2  # the `server` fixture runs --threads 2
PER_SHARD = 50  # keys per shard in the spreading tests
NO_SUCH_KEY = "no such key"
SAME_OBJECT = "source and destination objects are the same"
DB_RANGE = "DB index is out of range"
NOT_INT = "value is not an integer or out of range"
INT_RANGE = "value is out of range, value must between -2147483648 and 2147483647"
SHARED_REFCOUNT = 2147483647  # Redis's refcount of shared small integers
SCAN_WRITER_KEYS = 20000  # most keys the concurrent writer adds during a scan
SCAN_CHURN_LIVE = 1500  # churn keys alive at a time: the tables grow and shrink
SCAN_STABLE_KEYS = 2000  # keys present for the whole concurrent scan
SCAN_MAX_CALLS = 100000  # bound on SCAN calls of one full iteration
RANDOMKEY_DRAWS = 400


def err(excinfo):
    return str(excinfo.value)


def spread_keys(prefix, per_shard=PER_SHARD):
    keys = keys_per_shard(prefix, NSHARDS, per_shard)
    assert {key_shard(k, NSHARDS) for k in keys} == set(range(NSHARDS))
    return keys


def raw(c, *cmd):
    """execute_command that also works for OBJECT, whose redis-py reply parser needs the
    subcommand passed along."""
    opts = {"infotype": str(cmd[1]).lower()} if str(cmd[0]).upper() == "OBJECT" else {}
    return c.execute_command(*cmd, **opts)


def full_scan(c, **kw):
    """Every key a complete SCAN iteration returns (a list: duplicates kept)."""
    cursor, out, calls = 0, [], 0
    while True:
        cursor, keys = c.scan(cursor, **kw)
        out.extend(keys)
        calls += 1
        assert calls < SCAN_MAX_CALLS
        if cursor == 0:
            return out


# --- DEL UNLINK EXISTS TYPE TOUCH DBSIZE -----------------------------------------------------


def test_del_counts_existing_keys_across_shards(r):
    keys = spread_keys("del")
    r.mset({k: "v" for k in keys})
    assert r.delete(*keys[:10], "missing:1", "missing:2") == 10
    assert r.exists(*keys[:10]) == 0
    assert r.exists(*keys[10:]) == len(keys) - 10
    assert r.delete("missing") == 0


def test_unlink_is_del(r):
    keys = spread_keys("unlink", 5)
    r.mset({k: "v" for k in keys})
    assert r.unlink(*keys, "nothere") == len(keys)
    assert r.dbsize() == 0


def test_exists_counts_repeats(r):
    a, b = key_on_shard("ex", 0, NSHARDS), key_on_shard("ex", 1, NSHARDS)
    r.set(a, 1)
    r.set(b, 2)
    assert r.exists(a, a, b, "nope") == 3
    assert r.exists("nope") == 0


def test_type_of_each_kind(r):
    r.set("s", "x")
    assert r.type("s") == "string"
    assert r.type("missing") == "none"
    r.set("n", 12)
    assert r.type("n") == "string"


def test_touch_counts_and_resets_idle_time(r):
    keys = spread_keys("touch", 3)
    r.mset({k: "v" for k in keys})
    assert r.touch(*keys, "absent") == len(keys)
    assert r.touch("absent") == 0
    assert r.object("idletime", keys[0]) <= 1


def test_dbsize_sums_every_shard(server, r):
    keys = spread_keys("size")
    assert r.dbsize() == 0
    r.mset({k: "v" for k in keys})
    assert r.dbsize() == len(keys)
    r.delete(keys[0])
    assert r.dbsize() == len(keys) - 1
    assert server.client(db=3).dbsize() == 0


def test_arity_errors(r):
    for cmd in (("DEL",), ("EXISTS",), ("TYPE",), ("RENAME", "a"), ("KEYS",), ("SCAN",),
                ("MOVE", "a"), ("SWAPDB", "0"), ("COPY", "a"), ("DBSIZE", "x"),
                ("RANDOMKEY", "x"), ("TOUCH",), ("OBJECT",)):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*cmd)
        assert err(e) == f"wrong number of arguments for '{cmd[0].lower()}' command"


# --- RENAME RENAMENX ----------------------------------------------------------------------------


def test_rename_across_shards_keeps_value_and_ttl(r):
    for i in range(20):
        src = key_on_shard("rsrc", i % NSHARDS, NSHARDS, skip=i)
        dst = key_on_shard("rdst", (i + 1) % NSHARDS, NSHARDS, skip=i)
        value = "v" * (i * 5)  # empty, embedded and raw strings
        r.set(src, value, ex=1000)
        assert r.rename(src, dst) is True
        assert r.get(dst) == value
        assert r.exists(src) == 0
        assert 990 <= r.ttl(dst) <= 1000


def test_rename_same_shard_and_integer_values(r):
    r.set("{t}a", 12345)
    assert r.rename("{t}a", "{t}b")
    assert r.get("{t}b") == "12345"
    assert r.object("encoding", "{t}b") == "int"
    assert r.ttl("{t}b") == -1


def test_rename_overwrites_destination_and_its_ttl(r):
    src, dst = key_on_shard("ro", 0, NSHARDS), key_on_shard("ro", 1, NSHARDS)
    r.set(src, "new")
    r.set(dst, "old", ex=100)
    assert r.rename(src, dst)
    assert r.get(dst) == "new"
    assert r.ttl(dst) == -1


def test_rename_keeps_raw_encoding(r):
    src, dst = key_on_shard("enc", 0, NSHARDS), key_on_shard("enc", 1, NSHARDS)
    r.set(src, "x" * 100)
    assert r.object("encoding", src) == "raw"
    r.rename(src, dst)
    assert r.object("encoding", dst) == "raw"
    assert r.get(dst) == "x" * 100


def test_rename_errors_and_same_key(r):
    with pytest.raises(redis.ResponseError) as e:
        r.rename("nothing", "other")
    assert err(e) == NO_SUCH_KEY
    r.set("same", "v")
    assert r.rename("same", "same") is True
    assert r.get("same") == "v"
    assert r.renamenx("same", "same") is False


def test_renamenx(r):
    a, b = key_on_shard("nx", 0, NSHARDS), key_on_shard("nx", 1, NSHARDS)
    r.set(a, "1")
    r.set(b, "2")
    assert r.renamenx(a, b) is False
    assert r.get(a) == "1" and r.get(b) == "2"
    r.delete(b)
    assert r.renamenx(a, b) is True
    assert r.get(b) == "1" and r.exists(a) == 0
    with pytest.raises(redis.ResponseError) as e:
        r.renamenx("ghost", b)
    assert err(e) == NO_SUCH_KEY


def test_rename_binary_keys(server):
    c = server.client(decode_responses=False)
    c.set(b"k\x00\xff", b"\x00\x01")
    assert c.rename(b"k\x00\xff", b"\x00dst")
    assert c.get(b"\x00dst") == b"\x00\x01"


def test_rename_is_atomic_for_other_clients(server):
    """Another client never sees the key in both or in neither place."""
    src, dst = key_on_shard("at", 0, NSHARDS), key_on_shard("at", 1, NSHARDS)
    c1, c2 = server.client(), server.client()
    c1.set(src, "v")
    stop = threading.Event()
    bad = []

    def mover():
        a, b = src, dst
        while not stop.is_set():
            c1.rename(a, b)
            a, b = b, a

    t = threading.Thread(target=mover)
    t.start()
    try:
        for _ in range(300):
            n = c2.exists(src, dst)
            if n != 1:
                bad.append(n)
    finally:
        stop.set()
        t.join()
    assert bad == []


# --- COPY ---------------------------------------------------------------------------------------


def test_copy_across_shards_and_ttl(r):
    src, dst = key_on_shard("cp", 0, NSHARDS), key_on_shard("cp", 1, NSHARDS)
    r.set(src, "value", px=500000)
    assert r.copy(src, dst) is True
    assert r.get(dst) == "value"
    assert r.get(src) == "value"
    assert 400000 < r.pttl(dst) <= 500000
    # deep copy: changing the copy leaves the source alone
    r.append(dst, "+more")
    assert r.get(src) == "value"
    assert r.get(dst) == "value+more"


def test_copy_raw_and_int(r):
    r.set("craw", "y" * 200)
    r.set("cint", 42)
    assert r.copy("craw", "craw2") and r.copy("cint", "cint2")
    assert r.get("craw2") == "y" * 200
    assert r.object("encoding", "craw2") == "raw"
    assert r.get("cint2") == "42"
    assert r.object("encoding", "cint2") == "int"


def test_copy_existing_destination_and_replace(r):
    r.set("c1", "a")
    r.set("c2", "b", ex=100)
    assert r.copy("c1", "c2") is False
    assert r.get("c2") == "b"
    assert r.copy("c1", "c2", replace=True) is True
    assert r.get("c2") == "a"
    assert r.ttl("c2") == -1
    assert r.copy("missing", "c3") is False
    assert r.exists("c3") == 0


def test_copy_to_another_db(server, r):
    r.set("cdb", "v", ex=1000)
    assert r.copy("cdb", "cdb", destination_db=5) is True
    assert r.execute_command("COPY", "cdb", "cdb", "DB", "5") == 0
    assert r.execute_command("COPY", "cdb", "cdb", "db", "5", "REPLACE") == 1
    r5 = server.client(db=5)
    assert r5.get("cdb") == "v"
    assert 990 <= r5.ttl("cdb") <= 1000


def test_copy_errors(r):
    r.set("ce", "v")
    with pytest.raises(redis.ResponseError) as e:
        r.copy("ce", "ce")
    assert err(e) == SAME_OBJECT
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("COPY", "ce", "ce", "DB", "0")
    assert err(e) == SAME_OBJECT
    for bad, msg in (("99", DB_RANGE), ("-1", DB_RANGE), ("x", NOT_INT),
                     ("9999999999", INT_RANGE)):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("COPY", "ce", "other", "DB", bad)
        assert err(e) == msg
    for args in (("FOO",), ("DB",), ("REPLACE", "x")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("COPY", "ce", "other", *args)
        assert err(e) == "syntax error"


# --- MOVE SWAPDB -------------------------------------------------------------------------------


def test_move_between_dbs(server, r):
    keys = spread_keys("mv", 5)
    for k in keys:
        r.set(k, k, ex=1000)
    for k in keys:
        assert r.move(k, 2) is True
    assert r.exists(*keys) == 0
    r2 = server.client(db=2)
    assert r2.mget(keys) == keys
    assert all(990 <= r2.ttl(k) <= 1000 for k in keys)


def test_move_refuses_existing_and_missing(server, r):
    r.set("mk", "db0")
    server.client(db=1).set("mk", "db1")
    assert r.move("mk", 1) is False
    assert r.get("mk") == "db0"
    assert r.move("absent", 1) is False


def test_move_errors(r):
    r.set("me", 1)
    with pytest.raises(redis.ResponseError) as e:
        r.move("me", 0)
    assert err(e) == SAME_OBJECT
    for bad, msg in (("16", DB_RANGE), ("-1", DB_RANGE), ("x", NOT_INT),
                     ("9999999999", INT_RANGE)):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("MOVE", "me", bad)
        assert err(e) == msg


def test_swapdb(server):
    c0 = server.client()
    c1 = server.client(db=1)
    keys = spread_keys("sw", 10)
    c0.mset({k: "zero" for k in keys})
    c1.set("only1", "one", ex=1000)
    assert c0.swapdb(0, 1) is True
    assert c0.get("only1") == "one"
    assert 990 <= c0.ttl("only1") <= 1000
    assert c0.exists(*keys) == 0
    assert c1.mget(keys) == ["zero"] * len(keys)
    assert c0.dbsize() == 1 and c1.dbsize() == len(keys)
    assert c0.swapdb(1, 1) is True
    assert c1.dbsize() == len(keys)


def test_swapdb_errors(r):
    for a, b, msg in (("x", "0", "invalid first DB index"), ("0", "x", "invalid second DB index"),
                      ("0", "16", DB_RANGE), ("-1", "0", DB_RANGE),
                      ("9999999999", "0", "invalid first DB index")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SWAPDB", a, b)
        assert err(e) == msg


def test_swapdb_invalidates_watch(server):
    c, other = server.client(single_connection_client=True), server.client()
    for db, key in ((0, key_on_shard("w", 0, NSHARDS)), (1, key_on_shard("w", 1, NSHARDS))):
        c.execute_command("SELECT", db)
        c.set(key, "v")
        c.execute_command("WATCH", key)
        c.execute_command("MULTI")
        c.execute_command("SET", key, "mine")
        other.swapdb(0, 1)
        assert c.execute_command("EXEC") is None


# --- KEYS -------------------------------------------------------------------------------------


def test_keys_patterns_across_shards(r):
    keys = spread_keys("user")
    r.mset({k: 1 for k in keys})
    r.mset({"other:1": 1, "hello": 1, "hallo": 1, "hxllo": 1, "a*b": 1})
    assert sorted(r.keys("user:*")) == sorted(keys)
    assert sorted(r.keys("*")) == sorted(keys + ["other:1", "hello", "hallo", "hxllo", "a*b"])
    assert sorted(r.keys("h?llo")) == ["hallo", "hello", "hxllo"]
    assert sorted(r.keys("h[ae]llo")) == ["hallo", "hello"]
    assert sorted(r.keys("h[^e]llo")) == ["hallo", "hxllo"]
    assert sorted(r.keys("h[a-e]llo")) == ["hallo", "hello"]
    assert r.keys("a\\*b") == ["a*b"]
    assert r.keys("nomatch*") == []


def test_keys_skips_expired(r):
    r.set("live", 1)
    r.set("dead", 1, px=1)
    time.sleep(0.05)
    assert r.keys("*") == ["live"]


def test_keys_per_db(server, r):
    r.set("db0key", 1)
    r4 = server.client(db=4)
    assert r4.keys("*") == []
    r4.set("db4key", 1)
    assert r4.keys("*") == ["db4key"]
    assert r.keys("*") == ["db0key"]


# --- SCAN ------------------------------------------------------------------------------------


def test_scan_returns_every_key(r):
    keys = spread_keys("scan", 300)
    r.mset({k: 1 for k in keys})
    got = full_scan(r)
    assert set(got) == set(keys)
    assert len(got) == len(keys)  # a quiet table reports each key once


def test_scan_count_is_a_hint(r):
    keys = spread_keys("cnt", 100)
    r.mset({k: 1 for k in keys})
    cursor, batch = r.scan(0, count=1000)
    assert cursor == 0 and len(batch) == len(keys)
    calls = 0
    cursor = 0
    while True:
        cursor, _ = r.scan(cursor, count=1)
        calls += 1
        if cursor == 0:
            break
    assert calls > 10


def test_scan_match_and_type(r):
    keys = spread_keys("m", 40)
    r.mset({k: 1 for k in keys})
    r.mset({"other:1": 1, "other:2": 2})
    assert sorted(set(full_scan(r, match="other:*"))) == ["other:1", "other:2"]
    assert set(full_scan(r, match="m:*", _type="string")) == set(keys)
    assert set(full_scan(r, _type="STRING")) == set(keys) | {"other:1", "other:2"}
    assert full_scan(r, _type="list") == []
    assert full_scan(r, _type="nosuchtype") == []
    assert full_scan(r, match="zz*") == []


def test_scan_skips_expired_keys(r):
    r.set("sl", 1)
    for i in range(20):
        r.set(f"sd:{i}", 1, px=1)
    time.sleep(0.05)
    assert full_scan(r) == ["sl"]
    assert r.dbsize() == 1  # SCAN deleted what it found expired


def test_scan_empty_db_and_unknown_cursor(r):
    assert r.scan(0) == (0, [])
    r.set("k", 1)
    # a cursor naming a shard that does not exist ends the scan instead of failing
    assert r.scan(255) == (0, [])


def test_scan_errors(r):
    for cursor in ("abc", " 1", "1 ", "18446744073709551616", "1.5"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SCAN", cursor)
        assert err(e) == "invalid cursor"
    for args in (("COUNT", "0"), ("COUNT", "-1"), ("FOO", "1"), ("COUNT",), ("MATCH",),
                 ("TYPE",)):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("SCAN", "0", *args)
        assert err(e) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SCAN", "0", "COUNT", "x")
    assert err(e) == NOT_INT


def test_scan_with_concurrent_writer(server):
    """Every key present for the whole scan is returned at least once while another client
    adds and removes keys on both shards (which also resizes the tables)."""
    scanner, writer = server.client(), server.client()
    stable = spread_keys("stable", SCAN_STABLE_KEYS // NSHARDS)
    scanner.mset({k: 1 for k in stable})
    stop = threading.Event()
    errors = []

    def write():
        try:
            i = 0
            while not stop.is_set() and i < SCAN_WRITER_KEYS:
                pipe = writer.pipeline(transaction=False)
                for j in range(50):
                    pipe.set(f"churn:{i + j}", 1)
                if i >= SCAN_CHURN_LIVE:  # keep about SCAN_CHURN_LIVE churn keys alive
                    pipe.delete(*[f"churn:{k}" for k in range(i - SCAN_CHURN_LIVE, i - SCAN_CHURN_LIVE + 50)])
                pipe.execute()
                i += 50
        except Exception as e:  # reported by the main thread
            errors.append(e)

    t = threading.Thread(target=write)
    t.start()
    try:
        seen, cursor, calls = set(), 0, 0
        while True:
            cursor, keys = scanner.scan(cursor, count=20)
            seen.update(keys)
            calls += 1
            assert calls < SCAN_MAX_CALLS
            if cursor == 0:
                break
    finally:
        stop.set()
        t.join()
    assert errors == []
    missing = set(stable) - seen
    assert not missing, f"{len(missing)} stable keys missing, e.g. {sorted(missing)[:5]}"


# --- RANDOMKEY ---------------------------------------------------------------------------------


def test_randomkey(r):
    assert r.randomkey() is None
    keys = spread_keys("rk", 4)
    r.mset({k: 1 for k in keys})
    seen = {r.randomkey() for _ in range(RANDOMKEY_DRAWS)}
    assert seen == set(keys)  # both shards are drawn from


def test_randomkey_skips_expired(r):
    for i in range(30):
        r.set(f"gone:{i}", 1, px=1)
    r.set("stay", 1)
    time.sleep(0.05)
    for _ in range(10):
        assert r.randomkey() == "stay"
    r.delete("stay")
    for i in range(5):
        r.set(f"gone2:{i}", 1, px=1)
    time.sleep(0.05)
    assert r.randomkey() is None


# --- OBJECT ----------------------------------------------------------------------------------


def test_object_encoding(r):
    r.set("i", 123)
    r.set("e", "short")
    r.set("w", "z" * 45)
    assert r.object("encoding", "i") == "int"
    assert r.object("encoding", "e") == "embstr"
    assert r.object("encoding", "w") == "raw"
    assert r.object("encoding", "missing") is None


def test_object_refcount_and_idletime(r):
    r.set("small", 5)
    r.set("big", 123456)
    r.set("str", "abc")
    assert r.object("refcount", "small") == SHARED_REFCOUNT
    assert r.object("refcount", "big") == 1
    assert r.object("refcount", "str") == 1
    assert r.object("refcount", "missing") is None
    assert r.object("idletime", "str") <= 1
    assert r.object("idletime", "missing") is None


def test_object_freq_needs_lfu(r):
    r.set("f", 1)
    with pytest.raises(redis.ResponseError) as e:
        r.object("freq", "f")
    assert err(e).startswith("An LFU maxmemory policy is not selected")


def test_object_freq_under_lfu(server_factory):
    s = server_factory("--maxmemory_policy", "allkeys-lfu")
    c = s.client()
    c.set("f", 1)
    for _ in range(20):
        c.get("f")
    assert c.object("freq", "f") >= 1
    with pytest.raises(redis.ResponseError) as e:
        c.object("idletime", "f")
    assert err(e).startswith("An LFU maxmemory policy is selected, idle time not tracked")


def test_object_help_and_errors(r):
    lines = raw(r, "OBJECT", "HELP")
    assert lines[0] == "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert "ENCODING <key>" in lines and "HELP" in lines
    with pytest.raises(redis.ResponseError) as e:
        raw(r, "OBJECT", "foo", "bar")
    assert err(e) == "unknown subcommand 'foo'. Try OBJECT HELP."
    with pytest.raises(redis.ResponseError) as e:
        raw(r, "OBJECT", "ENCODING")
    assert err(e) == "wrong number of arguments for 'object|encoding' command"
    with pytest.raises(redis.ResponseError) as e:
        raw(r, "OBJECT", "HELP", "x")
    assert err(e) == "wrong number of arguments for 'object|help' command"


# --- inside MULTI/EXEC ---------------------------------------------------------------------------


def test_keyspace_commands_in_transaction(r):
    a, b = key_on_shard("tx", 0, NSHARDS), key_on_shard("tx", 1, NSHARDS)
    r.set(a, "v")
    pipe = r.pipeline(transaction=True)
    pipe.rename(a, b)
    pipe.exists(a, b)
    pipe.dbsize()
    pipe.keys("tx:*")
    pipe.copy(b, a)
    pipe.scan(0, count=100)
    res = pipe.execute()
    assert res[0] is True
    assert res[1] == 1
    assert res[2] == 1
    assert res[3] == [b]
    assert res[4] is True
    assert sorted(res[5][1]) == sorted([a, b])


def test_matches_redis(server, redis_server_factory):
    """The same script gives the same replies from dfly and redis-server 7."""
    ref = redis_server_factory().client()
    mine = server.client()
    script = [
        ("SET", "a", "1"), ("SET", "b", "hello"), ("RENAME", "a", "c"), ("RENAMENX", "c", "b"),
        ("COPY", "b", "d"), ("COPY", "b", "d"), ("COPY", "b", "d", "REPLACE"), ("TYPE", "d"),
        ("TYPE", "zz"), ("MOVE", "d", "3"), ("EXISTS", "d", "b", "b"), ("OBJECT", "ENCODING", "c"),
        ("DEL", "b", "c", "zz"), ("DBSIZE",), ("RANDOMKEY",), ("SWAPDB", "0", "3"),
        ("KEYS", "*"), ("TOUCH", "d", "x"), ("UNLINK", "d"),
    ]
    for cmd in script:
        assert raw(mine, *cmd) == raw(ref, *cmd), cmd
