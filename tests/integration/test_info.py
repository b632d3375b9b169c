"""INFO: Redis 7's sections, fields and text format, with counters summed over every thread
and shard of a --threads 2 server (keys deliberately on both shards)."""

import re
import resource
import socket
import time

import pytest
import redis

from conftest import allocates_with_mimalloc
from resp_raw import Map, RawConn, Verbatim
from shardkeys import key_shard, keys_per_shard

NSHARDS = 2
DEFAULT_SECTIONS = [
    "Server",
    "Clients",
    "Memory",
    "Persistence",
    "Stats",
    "Replication",
    "CPU",
    "Modules",
    "Errorstats",
    "Cluster",
    "Keyspace",
]
TTL_MS = 50
EXPIRE_DEADLINE_S = 10.0
LOAD_S = 0.6  # traffic for instantaneous_ops_per_sec (its window is 1.6 s)
PIPELINE = 200


def sections(text):
    return re.findall(r"^# (\w+)\r$", text, re.M)


def raw_info(server, *args):
    c = server.client()
    c.response_callbacks = {}
    return c.execute_command("INFO", *args)


def spread_keys(prefix, per_shard=5):
    keys = keys_per_shard(prefix, NSHARDS, per_shard)
    assert {key_shard(k, NSHARDS) for k in keys} == set(range(NSHARDS))
    return keys


def test_default_sections_in_redis_order(server):
    text = raw_info(server)
    assert sections(text) == DEFAULT_SECTIONS
    assert "\r\n\r\n# Clients\r\n" in text  # a blank line between sections
    assert sections(raw_info(server, "default")) == DEFAULT_SECTIONS


@pytest.mark.parametrize("arg", ["all", "everything", "ALL"])
def test_all_sections(server, arg):
    got = sections(raw_info(server, arg))
    assert "Commandstats" in got
    assert set(DEFAULT_SECTIONS) <= set(got)


def test_selected_sections(server):
    assert sections(raw_info(server, "server", "CLIENTS")) == ["Server", "Clients"]
    assert sections(raw_info(server, "commandstats")) == ["Commandstats"]
    assert raw_info(server, "nosuch") == ""
    assert sections(raw_info(server, "keyspace", "nosuch")) == ["Keyspace"]


def test_server_section(server, r):
    info = r.info("server")
    assert info["redis_version"] == "7.0.15"
    assert "dfly_version" in info
    assert info["redis_mode"] == "standalone"
    assert info["process_id"] == server.proc.pid
    assert info["tcp_port"] == server.port
    assert re.fullmatch(r"[0-9a-f]{40}", info["run_id"])
    assert info["arch_bits"] == 64
    assert info["thread_count"] == 2
    assert info["hz"] == 10
    assert info["uptime_in_seconds"] >= 0 and info["uptime_in_days"] == 0
    assert info["executable"].endswith("dfly-server")
    assert info["config_file"] == ""
    assert info["os"].startswith("Linux")


def test_clients_section(server, r):
    # The fixture's readiness probe may still be closing: wait until only `r` is connected.
    deadline = time.monotonic() + 5
    while r.info("clients")["connected_clients"] != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    base = r.info("clients")["connected_clients"]
    assert base == 1
    extra = [server.client() for _ in range(3)]
    for c in extra:
        c.ping()
    info = r.info("clients")
    assert info["connected_clients"] == base + 3
    assert info["maxclients"] == 10000
    assert info["blocked_clients"] == 0
    for c in extra:
        c.connection_pool.disconnect()
    deadline = time.monotonic() + 5
    while r.info("clients")["connected_clients"] != base and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.info("clients")["connected_clients"] == base


def test_memory_section(r):
    before = r.info("memory")
    pipe = r.pipeline(transaction=False)
    for k in spread_keys("mem", per_shard=500):
        pipe.set(k, "x" * 100)
    pipe.execute()
    after = r.info("memory")
    assert after["used_memory"] > before["used_memory"] + 1000 * 100
    assert after["used_memory_peak"] >= after["used_memory"]
    assert re.fullmatch(r"\d+(\.\d\d[KMGTPE])?|\d+B", str(after["used_memory_human"]))
    assert after["used_memory_rss"] > 0
    assert after["maxmemory"] == 0 and after["maxmemory_human"] == "0B"
    assert after["maxmemory_policy"] == "noeviction"
    assert after["mem_allocator"]
    r.config_set("maxmemory", "100mb")
    info = r.info("memory")
    assert info["maxmemory"] == 100 * 1024 * 1024
    assert info["maxmemory_human"] == "100.00M"


RSS_GROWTH = 150 * 1024 * 1024  # at least what the data below adds to the resident set
RSS_RETURN_SLACK = 48 * 1024 * 1024  # what may stay resident after FLUSHALL (allocator caches)


def test_memory_goes_back_after_flushall(server, r):
    """A shard that frees much and goes quiet gives the memory back to the system: RSS falls
    after FLUSHALL without any further command (and MEMORY PURGE answers OK). The sanitizer
    build's allocator keeps freed blocks in quarantine by design: there only used_memory is
    checked."""
    rss = lambda: r.info("memory")["used_memory_rss"]  # noqa: E731
    baseline = rss()
    r.execute_command("DEBUG", "POPULATE", 400000, "rel", 400)
    assert rss() > baseline + RSS_GROWTH
    r.flushall()
    assert r.info("memory")["used_memory"] < 1024 * 1024
    if not allocates_with_mimalloc(r):
        assert r.execute_command("MEMORY", "PURGE") == "OK"
        return
    deadline = time.monotonic() + 10
    while rss() > baseline + RSS_RETURN_SLACK and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rss() <= baseline + RSS_RETURN_SLACK, (baseline, rss())
    assert r.execute_command("MEMORY", "PURGE") == "OK"


SPARSE_KEYS = 80000  # keys of SPARSE_VALUE bytes: several of mimalloc's 32 MiB segments a shard
SPARSE_VALUE = 3000
SPARSE_KEEP_EVERY = 5000  # the keys a DEL leaves: one in this many, spread over the segments


def test_memory_goes_back_after_a_del_that_leaves_a_few_keys(server, r):
    """One DEL of nearly every key, leaving a few spread over the data: the pages it empties go
    back to the system although their segments still hold live pages (mimalloc 2.0 decommits
    such spans only when its thread takes a page from the same segment; the workers' collection
    makes that happen in every segment). The old collection reached a few segments only and
    left over 100 MB of the 250 MB resident, MEMORY PURGE or not."""
    rss = lambda: r.info("memory")["used_memory_rss"]  # noqa: E731
    baseline = rss()
    r.execute_command("DEBUG", "POPULATE", SPARSE_KEYS, "sparse", SPARSE_VALUE)
    assert rss() > baseline + RSS_GROWTH
    doomed = [f"sparse:{i}" for i in range(SPARSE_KEYS) if i % SPARSE_KEEP_EVERY]
    assert r.delete(*doomed) == len(doomed)
    assert r.dbsize() == SPARSE_KEYS // SPARSE_KEEP_EVERY
    assert r.info("memory")["used_memory"] < 1024 * 1024
    if not allocates_with_mimalloc(r):
        return  # the sanitizer build's allocator keeps freed blocks in quarantine by design
    deadline = time.monotonic() + 10
    while rss() > baseline + RSS_RETURN_SLACK and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rss() <= baseline + RSS_RETURN_SLACK, (baseline, rss())
    assert len(r.get("sparse:0")) == SPARSE_VALUE  # the keys left are whole


CONN_BURST = 1000  # connections opened at once, each with a PING
CONN_RSS_GROWTH = 4 * 1024 * 1024  # at least what they add to the resident set
CONN_RSS_SLACK = 3 * 1024 * 1024  # what may stay resident once they are closed


def test_memory_goes_back_after_connections_close(server, r):
    """Connections' records and buffers are not part of used_memory, yet what a burst of them
    took goes back to the system once they close, without any command. (The sanitizer build's
    allocator keeps freed blocks in quarantine by design: there only the client count is
    checked.)"""
    mimalloc = allocates_with_mimalloc(r)
    clients = r.info("clients")["connected_clients"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONN_BURST + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, CONN_BURST + 100), hard))
    rss = lambda: r.info("memory")["used_memory_rss"]  # noqa: E731
    baseline = rss()
    conns = []
    try:
        for _ in range(CONN_BURST):
            c = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            c.sendall(b"PING\r\n")
            conns.append(c)
        for c in conns:
            assert c.recv(64) == b"+PONG\r\n"
        assert r.info("clients")["connected_clients"] == clients + CONN_BURST
        assert not mimalloc or rss() > baseline + CONN_RSS_GROWTH
    finally:
        for c in conns:
            c.close()
    back = lambda: (r.info("clients")["connected_clients"] == clients  # noqa: E731
                    and (not mimalloc or rss() <= baseline + CONN_RSS_SLACK))
    deadline = time.monotonic() + 10
    while not back() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert r.info("clients")["connected_clients"] == clients
    if mimalloc:
        assert rss() <= baseline + CONN_RSS_SLACK, (baseline, rss())


BIG_PIPELINE_HASHES = 2000  # HSETs of BIG_PIPELINE_FIELDS fields in one pipeline: ~14 MB
BIG_PIPELINE_FIELDS = 200
PIPELINE_RSS_SLACK = 2 * 1024 * 1024


def test_memory_goes_back_after_a_big_pipeline(server, r):
    """A connection that sent one huge pipeline and stays open holds no memory sized for it
    afterwards: after FLUSHALL the resident set returns (checked with mimalloc; the sanitizer
    build checks the replies and the data only)."""
    mimalloc = allocates_with_mimalloc(r)
    rss = lambda: r.info("memory")["used_memory_rss"]  # noqa: E731
    baseline = rss()
    big = redis.Redis(port=server.port, socket_timeout=120)
    try:
        pipe = big.pipeline(transaction=False)
        for i in range(BIG_PIPELINE_HASHES):
            pipe.hset(f"bp:{i}", mapping={f"f{j}": "v" * 20 for j in range(BIG_PIPELINE_FIELDS)})
        assert pipe.execute() == [BIG_PIPELINE_FIELDS] * BIG_PIPELINE_HASHES
        assert r.hlen("bp:7") == BIG_PIPELINE_FIELDS
        assert big.ping()  # the connection stays open and idle from here
        r.flushall()
        if mimalloc:
            deadline = time.monotonic() + 10
            while rss() > baseline + PIPELINE_RSS_SLACK and time.monotonic() < deadline:
                time.sleep(0.1)
            assert rss() <= baseline + PIPELINE_RSS_SLACK, (baseline, rss())
        assert r.dbsize() == 0
    finally:
        big.close()
        big.connection_pool.disconnect()


def test_persistence_and_replication_sections(r):
    info = r.info("persistence")
    assert info["loading"] == 0
    assert abs(info["rdb_last_save_time"] - time.time()) < 60
    changes = info["rdb_changes_since_last_save"]
    for k in spread_keys("dirty"):
        r.set(k, "v")
    assert r.info("persistence")["rdb_changes_since_last_save"] >= changes + 10
    repl = r.info("replication")
    assert repl["role"] == "master"
    assert repl["connected_slaves"] == 0
    assert re.fullmatch(r"[0-9a-f]{40}", repl["master_replid"])


def test_cpu_and_cluster_sections(r):
    cpu = r.info("cpu")
    assert cpu["used_cpu_sys"] >= 0 and cpu["used_cpu_user"] >= 0
    assert r.info("cluster") == {"cluster_enabled": 0}


def test_keyspace_counts_every_shard_and_db(server):
    c0 = server.client(db=0)
    c2 = server.client(db=2)
    keys = spread_keys("ks")
    for i, k in enumerate(keys):
        c0.set(k, "v", ex=1000 if i % 2 else None)
    c2.set(keys[0], "v")
    info = c0.info("keyspace")
    assert info["db0"] == {"keys": len(keys), "expires": len(keys) // 2, "avg_ttl": 0}
    assert info["db2"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    assert "db1" not in info


def test_stats_counters(server, r):
    before = r.info("stats")
    keys = spread_keys("st")
    for k in keys:
        r.set(k, "v")
    for k in keys:
        assert r.get(k) == "v"
        assert r.get(k + ":missing") is None
    after = r.info("stats")
    assert after["total_commands_processed"] >= before["total_commands_processed"] + 3 * len(keys)
    assert after["keyspace_hits"] == before["keyspace_hits"] + len(keys)
    assert after["keyspace_misses"] == before["keyspace_misses"] + len(keys)
    assert after["total_net_input_bytes"] > before["total_net_input_bytes"]
    assert after["total_net_output_bytes"] > before["total_net_output_bytes"]
    assert after["total_connections_received"] >= 1
    assert after["rejected_connections"] == 0


def test_expired_keys(r):
    keys = spread_keys("exp")
    for k in keys:
        r.set(k, "v", px=TTL_MS)
    deadline = time.monotonic() + EXPIRE_DEADLINE_S
    while r.info("stats")["expired_keys"] < len(keys) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert r.info("stats")["expired_keys"] == len(keys)


def test_errors_in_commandstats_and_errorstats(server, r):
    r.set("str", "v")
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")  # wrong arity: rejected
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "nosuch", "1")  # runs and fails
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCHCOMMAND")
    stats = r.info("commandstats")
    assert stats["cmdstat_get"]["rejected_calls"] == 1
    assert stats["cmdstat_config|set"]["failed_calls"] == 1
    assert stats["cmdstat_config|set"]["calls"] == 1
    assert stats["cmdstat_set"]["calls"] == 1
    assert set(stats["cmdstat_set"]) == {
        "calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"
    }
    assert raw_info(server, "errorstats") == "# Errorstats\r\nerrorstat_ERR:count=3\r\n"
    assert r.info("stats")["total_error_replies"] == 3


def test_commandstats_text_format(server, r):
    r.set("k", "v")
    line = next(
        ln for ln in raw_info(server, "commandstats").split("\r\n") if ln.startswith("cmdstat_set:")
    )
    assert re.fullmatch(
        r"cmdstat_set:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0",
        line,
    )


def test_instantaneous_ops(server, r):
    pipe = r.pipeline(transaction=False)
    deadline = time.monotonic() + LOAD_S
    while time.monotonic() < deadline:
        for i in range(PIPELINE):
            pipe.ping()
        pipe.execute()
    assert r.info("stats")["instantaneous_ops_per_sec"] > 0


def test_config_resetstat(r):
    for k in spread_keys("rs"):
        r.set(k, "v")
        r.get(k)
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "nosuch", "1")
    assert r.config_resetstat() is True
    stats = r.info("stats")
    assert stats["total_commands_processed"] <= 2
    assert stats["keyspace_hits"] == 0 and stats["total_error_replies"] == 0
    commandstats = r.info("commandstats")
    assert "cmdstat_set" not in commandstats and "cmdstat_get" not in commandstats
    assert r.info("errorstats") == {}


def test_info_with_redis_cli(server):
    out = server.cli("INFO", "server")
    assert "redis_version:7.0.15" in out
    assert server.cli("INFO", "keyspace").strip() == "# Keyspace"


def test_info_is_verbatim_text_in_resp3(server):
    with RawConn(server.port) as c:
        assert isinstance(c.command("HELLO", "3"), Map)
        info = c.command("INFO", "server")
        assert isinstance(info, Verbatim) and info.fmt == "txt"
        assert info.data.startswith(b"# Server\r\nredis_version:7.0.15\r\n")
