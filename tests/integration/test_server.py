"""Server commands with Redis 7 semantics: FLUSHALL/FLUSHDB, TIME, LASTSAVE, SHUTDOWN,
SLOWLOG, MEMORY, LATENCY, DEBUG and COMMAND, seen by real clients. Keys deliberately span
both shards of a --threads 2 server; where Redis's exact output matters, it is compared with
Debian's redis-server."""

import re
import time

import pytest
import redis

from conftest import allocates_with_mimalloc
from resp_raw import Map, RawConn, Set, Verbatim
from shardkeys import key_shard, keys_per_shard

NSHARDS = 2
POPULATE_BIG = 1_000_000
POPULATE_TIMEOUT_S = 60.0  # bound for DEBUG POPULATE of a million keys (sanitizer builds too)
SLEEP_S = 0.05  # DEBUG SLEEP long enough to pass the thresholds below
SLOWLOG_THRESHOLD_US = 20_000
LATENCY_THRESHOLD_MS = 20
EXPIRE_WAIT_S = 0.5  # several active-expiry cycles at hz 10
TTL_MS = 50
ZERO_DIGEST = "0" * 40
NOSUCH = "ERR no such key"


def raw(server, **kw):
    """A redis-py client without reply callbacks: replies as the server sent them."""
    c = server.client(**kw)
    c.response_callbacks = {}
    return c


@pytest.fixture
def rr(server):
    return raw(server)


def spread_keys(prefix, per_shard=4):
    keys = keys_per_shard(prefix, NSHARDS, per_shard)
    assert {key_shard(k, NSHARDS) for k in keys} == set(range(NSHARDS))
    return keys


# --- FLUSHALL / FLUSHDB -------------------------------------------------------------------------


def test_flushdb_clears_only_the_current_db(server):
    c0 = server.client(db=0)
    c1 = server.client(db=1)
    keys = spread_keys("fl")
    for k in keys:
        c0.set(k, "a")
        c1.set(k, "b")
    assert c0.flushdb() is True
    assert c0.dbsize() == 0
    assert c1.dbsize() == len(keys)
    assert all(c1.get(k) == "b" for k in keys)


@pytest.mark.parametrize("mode", [[], ["ASYNC"], ["SYNC"]])
def test_flushall_clears_every_db_and_shard(server, mode):
    c0 = server.client(db=0)
    c1 = server.client(db=1)
    for k in spread_keys("fa"):
        c0.set(k, "a")
        c1.set(k, "b")
    assert c0.execute_command("FLUSHALL", *mode) in (True, "OK")
    assert c0.dbsize() == 0 and c1.dbsize() == 0


def test_flush_syntax_errors(r):
    for cmd in (["FLUSHALL", "foo"], ["FLUSHDB", "sync", "x"], ["FLUSHALL", "async", "async"]):
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            r.execute_command(*cmd)


# --- TIME / LASTSAVE / SHUTDOWN ----------------------------------------------------------------


def test_time(rr):
    secs, usecs = rr.execute_command("TIME")
    assert abs(int(secs) - time.time()) < 5
    assert 0 <= int(usecs) < 1_000_000


def test_lastsave_is_startup_time(r):
    assert abs(r.lastsave().timestamp() - time.time()) < 60


def test_shutdown_stops_the_server(server_factory):
    s = server_factory()
    c = s.client()
    c.set("k", "v")
    assert c.shutdown(nosave=True) is None  # redis-py: the connection closes, no reply
    assert s.proc.wait(timeout=10) == 0
    assert "User requested shutdown" in s.log()


def test_shutdown_via_redis_cli(server_factory):
    s = server_factory()
    s.cli("SHUTDOWN", check=False)
    assert s.proc.wait(timeout=10) == 0


def test_shutdown_errors_keep_the_server(r):
    with pytest.raises(redis.ResponseError, match="^No shutdown in progress.$"):
        r.execute_command("SHUTDOWN", "ABORT")
    for args in (["foo"], ["NOSAVE", "SAVE"], ["NOW", "ABORT"]):
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            r.execute_command("SHUTDOWN", *args)
    assert r.ping() is True


# --- SLOWLOG ------------------------------------------------------------------------------------


def test_slowlog_records_slow_commands(server, rr):
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", SLOWLOG_THRESHOLD_US)
    rr.execute_command("SLOWLOG", "RESET")
    rr.set("fast", "1")
    rr.execute_command("DEBUG", "SLEEP", SLEEP_S)
    entries = rr.execute_command("SLOWLOG", "GET")
    assert len(entries) == 1
    ident, ts, dur, args, addr, name = entries[0]
    assert args == ["DEBUG", "SLEEP", str(SLEEP_S)]
    assert dur >= SLEEP_S * 1e6 * 0.9
    assert abs(ts - time.time()) < 60
    assert re.fullmatch(r"127\.0\.0\.1:\d+", addr)
    assert name == ""
    assert rr.execute_command("SLOWLOG", "LEN") == 1
    assert rr.execute_command("SLOWLOG", "RESET") == "OK"
    assert rr.execute_command("SLOWLOG", "LEN") == 0


def test_slowlog_threshold_zero_logs_every_shard_newest_first(server, rr):
    rr.execute_command("SLOWLOG", "RESET")
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", 0)
    keys = spread_keys("sl", per_shard=2)
    for k in keys:
        rr.set(k, "v")
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", -1)
    entries = rr.execute_command("SLOWLOG", "GET", -1)
    logged = [e[3] for e in entries]
    sets = [a[1] for a in logged if a[0] == "SET"]
    assert sets == list(reversed(keys))  # newest first, from both shards
    ids = [e[0] for e in entries]
    assert ids == sorted(ids, reverse=True)
    assert len(rr.execute_command("SLOWLOG", "GET", 2)) == 2
    assert len(rr.execute_command("SLOWLOG", "GET")) == min(10, len(entries))


def test_slowlog_trims_arguments_like_redis(server, rr):
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", 0)
    rr.execute_command("SLOWLOG", "RESET")
    big = "x" * 200
    rr.execute_command("ECHO", big)
    rr.execute_command("DEL", *[f"k{i}" for i in range(40)])
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", -1)
    entries = rr.execute_command("SLOWLOG", "GET", -1)
    del_args = next(e[3] for e in entries if e[3][0] == "DEL")
    assert len(del_args) == 32
    assert del_args[:31] == ["DEL"] + [f"k{i}" for i in range(30)]
    assert del_args[31] == "... (10 more arguments)"
    echo_args = next(e[3] for e in entries if e[3][0] == "ECHO")
    assert echo_args[1] == "x" * 128 + "... (72 more bytes)"


def test_slowlog_max_len_and_disable(server, rr):
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", 0, "slowlog-max-len", 3)
    for i in range(10):
        rr.set(f"k{i}", i)
    assert rr.execute_command("SLOWLOG", "LEN") == 3
    rr.execute_command("CONFIG", "SET", "slowlog-log-slower-than", -1)
    rr.execute_command("SLOWLOG", "RESET")
    rr.execute_command("DEBUG", "SLEEP", SLEEP_S)
    assert rr.execute_command("SLOWLOG", "LEN") == 0


def test_slowlog_errors_and_help(rr):
    for count in ("-2", "abc"):
        with pytest.raises(redis.ResponseError, match="^count should be greater than or equal to -1$"):
            rr.execute_command("SLOWLOG", "GET", count)
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'foo'. Try SLOWLOG HELP.$"):
        rr.execute_command("SLOWLOG", "foo")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'slowlog|len'"):
        rr.execute_command("SLOWLOG", "LEN", "x")
    help_lines = rr.execute_command("SLOWLOG", "HELP")
    assert help_lines[0].startswith("SLOWLOG <subcommand>")
    assert "LEN" in help_lines and help_lines[-2] == "HELP"


# --- LATENCY ------------------------------------------------------------------------------------


def test_latency_monitor(rr):
    assert rr.execute_command("LATENCY", "LATEST") == []
    assert "disabled" in rr.execute_command("LATENCY", "DOCTOR")
    rr.execute_command("CONFIG", "SET", "latency-monitor-threshold", LATENCY_THRESHOLD_MS)
    rr.execute_command("DEBUG", "SLEEP", SLEEP_S)
    latest = rr.execute_command("LATENCY", "LATEST")
    assert len(latest) == 1
    event, ts, last_ms, max_ms = latest[0]
    assert event == "command"
    assert abs(ts - time.time()) < 60
    assert last_ms >= SLEEP_S * 1000 * 0.9 and max_ms >= last_ms
    history = rr.execute_command("LATENCY", "HISTORY", "command")
    assert len(history) == 1 and history[0][1] == last_ms
    assert rr.execute_command("LATENCY", "HISTORY", "nosuch") == []
    assert "command" in rr.execute_command("LATENCY", "DOCTOR")
    assert rr.execute_command("LATENCY", "RESET", "nosuch") == 0
    assert rr.execute_command("LATENCY", "RESET") == 1
    assert rr.execute_command("LATENCY", "LATEST") == []
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'foo'. Try LATENCY HELP.$"):
        rr.execute_command("LATENCY", "foo")
    assert rr.execute_command("LATENCY", "HELP")[0].startswith("LATENCY <subcommand>")


# --- MEMORY -------------------------------------------------------------------------------------


def test_memory_usage_on_both_shards(r):
    keys = spread_keys("mu")
    for k in keys:
        r.set(k, "v" * 100)
    for k in keys:
        usage = r.memory_usage(k)
        assert 100 < usage < 1000
    r.set(keys[0], "v" * 10000)
    assert r.memory_usage(keys[0]) > 10000
    assert r.memory_usage("nosuch") is None
    assert r.memory_usage(keys[1], samples=0) == r.memory_usage(keys[1])


def test_memory_usage_errors(rr):
    rr.set("k", "v")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        rr.execute_command("MEMORY", "USAGE", "k", "SAMPLES")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        rr.execute_command("MEMORY", "USAGE", "k", "FOO", "1")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        rr.execute_command("MEMORY", "USAGE", "k", "SAMPLES", "-1")
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        rr.execute_command("MEMORY", "USAGE", "k", "SAMPLES", "abc")


def test_memory_stats_doctor_help(r, rr):
    keys = spread_keys("ms")
    for k in keys:
        r.set(k, "value")
    stats = r.memory_stats()
    assert stats["keys.count"] == len(keys)
    assert stats["total.allocated"] > 0
    assert stats["peak.allocated"] >= stats["total.allocated"]
    assert stats["db.0"]["overhead.hashtable.main"] > 0
    for field in ("startup.allocated", "dataset.bytes", "fragmentation", "overhead.total"):
        assert field in stats
    assert "Sam" in rr.execute_command("MEMORY", "DOCTOR")
    malloc_stats = rr.execute_command("MEMORY", "MALLOC-STATS")
    if allocates_with_mimalloc(r):
        # mimalloc's own table: the process's reserved and committed memory
        assert "reserved:" in malloc_stats and "committed:" in malloc_stats, malloc_stats
    else:  # the sanitizer build allocates with libc
        assert malloc_stats == "Stats not supported for the current allocator (libc)"
    assert rr.execute_command("MEMORY", "PURGE") == "OK"
    if allocates_with_mimalloc(r):
        # each worker collects its heap after a PURGE and records it in the table
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            heaps = rr.execute_command("MEMORY", "MALLOC-STATS").split("thread heaps")[-1]
            if "dfly-w0" in heaps and "dfly-w1" in heaps:
                break
            time.sleep(0.05)
        assert "dfly-w0" in heaps and "dfly-w1" in heaps, heaps
    assert rr.execute_command("MEMORY", "HELP")[0].startswith("MEMORY <subcommand>")
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'foo'. Try MEMORY HELP.$"):
        rr.execute_command("MEMORY", "foo")


# --- DEBUG --------------------------------------------------------------------------------------


def test_debug_populate_a_million_keys(server):
    c = server.client(socket_timeout=POPULATE_TIMEOUT_S)
    started = time.monotonic()
    assert c.execute_command("DEBUG", "POPULATE", POPULATE_BIG) == "OK"
    assert time.monotonic() - started < POPULATE_TIMEOUT_S
    assert c.dbsize() == POPULATE_BIG
    for i in (0, 1, 2, 500_000, POPULATE_BIG - 1):
        assert c.get(f"key:{i}") == f"value:{i}"
    assert c.get(f"key:{POPULATE_BIG}") is None
    keyspace = c.info("keyspace")["db0"]
    assert keyspace["keys"] == POPULATE_BIG


def test_debug_populate_prefix_size_and_existing(server):
    c = server.client(decode_responses=False)
    c.set("p:1", "mine")
    assert c.execute_command("DEBUG", "POPULATE", 4, "p", 12) == b"OK"
    assert c.get("p:0") == b"value:0" + b"\x00" * 5
    assert c.get("p:1") == b"mine"  # existing keys are left alone
    assert c.get("p:3") == b"value:3" + b"\x00" * 5
    assert c.execute_command("DEBUG", "POPULATE", 2, "q", 3) == b"OK"
    assert c.get("q:1") == b"val"
    assert c.execute_command("DEBUG", "POPULATE", 0) == b"OK"
    assert c.dbsize() == 6
    for bad in ("-1", "abc"):
        with pytest.raises(redis.ResponseError, match="^value is out of range, must be positive$"):
            c.execute_command("DEBUG", "POPULATE", bad)


def test_debug_object(rr):
    rr.set("emb", "hello")
    rr.set("num", "12345")
    rr.set("raw", "x" * 100)
    for key, enc in (("emb", "embstr"), ("num", "int"), ("raw", "raw")):
        text = rr.execute_command("DEBUG", "OBJECT", key)
        m = re.fullmatch(
            r"Value at:0x[0-9a-f]+ refcount:\d+ encoding:(\S+) serializedlength:(\d+) "
            r"lru:\d+ lru_seconds_idle:\d+",
            text,
        )
        assert m, text
        assert m.group(1) == enc
    assert "serializedlength:6 " in rr.execute_command("DEBUG", "OBJECT", "emb")
    with pytest.raises(redis.ResponseError, match=f"^{NOSUCH[4:]}$"):
        rr.execute_command("DEBUG", "OBJECT", "nosuch")


def fill_dataset(c):
    """The same string dataset in two dbs, with TTLs and integers, on both shards."""
    for k in spread_keys("dg", per_shard=5):
        c.set(k, f"value-{k}")
    c.set("counter", 42)
    c.set("big", "z" * 300)
    c.set("ttl", "v", ex=1000)
    c.execute_command("SELECT", 3)
    c.set("other", "db3")


def test_debug_digest_matches_redis(server, redis_server_factory):
    rs = redis_server_factory("--enable-debug-command", "yes")
    ours = raw(server)
    theirs = raw(rs)
    assert ours.execute_command("DEBUG", "DIGEST") == ZERO_DIGEST
    fill_dataset(server.client(single_connection_client=True))
    fill_dataset(rs.client(single_connection_client=True))
    digest = ours.execute_command("DEBUG", "DIGEST")
    assert digest != ZERO_DIGEST
    assert digest == theirs.execute_command("DEBUG", "DIGEST")
    keys = ["counter", "big", "ttl", "nosuch"]
    values = ours.execute_command("DEBUG", "DIGEST-VALUE", *keys)
    assert values == theirs.execute_command("DEBUG", "DIGEST-VALUE", *keys)
    assert values[-1] == ZERO_DIGEST
    ours.set("counter", 43)
    assert ours.execute_command("DEBUG", "DIGEST") != digest


def test_debug_set_active_expire(server, rr):
    keys = spread_keys("ax")
    rr.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 0)
    for k in keys:
        rr.set(k, "v", px=TTL_MS)
    time.sleep(EXPIRE_WAIT_S)
    assert rr.dbsize() == len(keys)  # expired, but nobody deleted them
    rr.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", 1)
    deadline = time.monotonic() + 10
    while rr.dbsize() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rr.dbsize() == 0


def test_debug_sleep_error_log_help(server, rr):
    started = time.monotonic()
    assert rr.execute_command("DEBUG", "SLEEP", "0.2") == "OK"
    assert time.monotonic() - started >= 0.19
    assert rr.execute_command("DEBUG", "SLEEP", 0) == "OK"
    with pytest.raises(redis.ResponseError, match="^ERR my error$|^my error$"):
        rr.execute_command("DEBUG", "ERROR", "ERR my error")
    assert rr.execute_command("DEBUG", "LOG", "hello-from-test") == "OK"
    assert "hello-from-test" in server.log()
    assert rr.execute_command("DEBUG", "HELP")[0].startswith("DEBUG <subcommand>")
    msg = "unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP."
    with pytest.raises(redis.ResponseError, match=f"^{re.escape(msg)}$"):
        rr.execute_command("DEBUG", "foo")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'object'"):
        rr.execute_command("DEBUG", "object")


# --- COMMAND ------------------------------------------------------------------------------------

# Commands of this family whose COMMAND INFO must equal redis-server 7.0's (name, arity,
# flags, key positions, ACL categories; tips and key specs are not compared).
REDIS_EQUAL = [
    "info",
    "config",
    "flushall",
    "flushdb",
    "time",
    "lastsave",
    "shutdown",
    "slowlog",
    "memory",
    "debug",
    "command",
    "get",
]
INFO_FIELDS = 7


def test_command_info_matches_redis(server, redis_server_factory):
    rs = redis_server_factory()
    ours = raw(server).execute_command("COMMAND", "INFO", *REDIS_EQUAL)
    theirs = raw(rs).execute_command("COMMAND", "INFO", *REDIS_EQUAL)
    for a, b in zip(ours, theirs):
        assert a[:INFO_FIELDS] == b[:INFO_FIELDS]
        theirs_subs = {s[0]: s[:INFO_FIELDS] for s in b[9]}
        for sub in a[9]:
            assert sub[:INFO_FIELDS] == theirs_subs[sub[0]]


def test_command_info_format(rr):
    (get,) = rr.execute_command("COMMAND", "INFO", "get")
    assert get[:7] == ["get", 2, ["readonly", "fast"], 1, 1, 1, ["@read", "@string", "@fast"]]
    assert get[7] == []
    spec = get[8][0]
    assert spec[0] == "flags" and spec[2] == "begin_search" and spec[4] == "find_keys"
    assert spec[3] == ["type", "index", "spec", ["index", 1]]
    assert spec[5] == ["type", "range", "spec", ["lastkey", 0, "keystep", 1, "limit", 0]]
    assert get[9] == []
    config_get, missing = rr.execute_command("COMMAND", "INFO", "config|get", "nosuch")
    assert config_get[0] == "config|get" and config_get[1] == -3
    assert missing is None
    (config,) = rr.execute_command("COMMAND", "INFO", "CONFIG")
    assert {s[0] for s in config[9]} >= {"config|get", "config|set", "config|rewrite"}


def test_command_count_list_and_all(rr):
    everything = rr.execute_command("COMMAND")
    count = rr.execute_command("COMMAND", "COUNT")
    assert count == len(everything)
    names = {c[0] for c in everything}
    assert {"get", "set", "info", "config", "command", "debug"} <= names
    listed = rr.execute_command("COMMAND", "LIST")
    assert names <= set(listed)
    assert "config|get" in listed
    assert len(rr.execute_command("COMMAND", "INFO")) == count


def test_command_list_filters(rr):
    conf = rr.execute_command("COMMAND", "LIST", "FILTERBY", "PATTERN", "conf*")
    assert set(conf) == {"config", "config|get", "config|set", "config|resetstat",
                         "config|rewrite", "config|help"}
    dangerous = rr.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "dangerous")
    assert "flushall" in dangerous and "get" not in dangerous
    assert rr.execute_command("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch") == []
    assert rr.execute_command("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == []
    for args in (["FILTERBY", "FOO", "x"], ["FOO"]):
        with pytest.raises(redis.ResponseError, match="^syntax error$"):
            rr.execute_command("COMMAND", "LIST", *args)


def test_command_docs(rr):
    docs = rr.execute_command("COMMAND", "DOCS", "get", "nosuch", "config")
    assert docs[0] == "get"
    get = dict(zip(docs[1][::2], docs[1][1::2]))
    assert get["group"] == "string" and get["since"] == "1.0.0" and get["summary"]
    assert docs[2] == "config"
    config = dict(zip(docs[3][::2], docs[3][1::2]))
    subs = config["subcommands"]
    assert "config|set" in subs[::2]
    assert len(docs) == 4  # unknown names are left out


def test_command_getkeys(rr):
    assert rr.execute_command("COMMAND", "GETKEYS", "SET", "a", "b") == ["a"]
    assert rr.execute_command("COMMAND", "GETKEYS", "DEL", "a", "b", "c") == ["a", "b", "c"]
    assert rr.execute_command("COMMAND", "GETKEYS", "MEMORY", "USAGE", "k") == ["k"]
    flags = rr.execute_command("COMMAND", "GETKEYSANDFLAGS", "GET", "a")
    assert flags == [["a", ["RO", "access"]]]
    with pytest.raises(redis.ResponseError, match="^Invalid command specified$"):
        rr.execute_command("COMMAND", "GETKEYS", "nosuch", "x")
    with pytest.raises(redis.ResponseError, match="^Invalid number of arguments specified"):
        rr.execute_command("COMMAND", "GETKEYS", "SET", "a")
    with pytest.raises(redis.ResponseError, match="^The command has no key arguments$"):
        rr.execute_command("COMMAND", "GETKEYS", "PING", "x")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'command|getkeys'"):
        rr.execute_command("COMMAND", "GETKEYS", "GET")


def test_command_errors_and_help(rr):
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'foo'. Try COMMAND HELP.$"):
        rr.execute_command("COMMAND", "foo")
    assert rr.execute_command("COMMAND", "HELP")[0].startswith("COMMAND <subcommand>")


def test_command_with_redis_py_and_cli(server, r):
    table = r.command()
    assert table["get"]["arity"] == 2
    assert table["set"]["first_key_pos"] == 1
    assert r.command_count() == len(table)
    assert "flushall" in server.cli("COMMAND", "LIST")


def test_resp3_reply_types(server):
    with RawConn(server.port) as c:
        assert isinstance(c.command("HELLO", "3"), Map)
        (get,) = c.command("COMMAND", "INFO", "get")
        assert isinstance(get[2], Set) and list(get[2]) == ["readonly", "fast"]  # simple strings
        assert isinstance(get[6], Set)
        docs = c.command("COMMAND", "DOCS", "get")
        assert isinstance(docs, Map) and docs[0][0] == b"get" and isinstance(docs[0][1], Map)
        c.command("SET", "k", "v")
        stats = c.command("MEMORY", "STATS")
        assert isinstance(stats, Map)
        assert dict(stats.as_dict())[b"keys.count"] == 1
        assert isinstance(dict(stats.as_dict())[b"dataset.percentage"], float)
        doctor = c.command("MEMORY", "DOCTOR")
        assert isinstance(doctor, Verbatim) and doctor.fmt == "txt"
