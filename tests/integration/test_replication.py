"""Master-replica replication (Redis 7.0's PSYNC2 wire format): full sync of a big dataset while
the master takes writes, the stream after it, partial resync after a cut link, REPLICAOF NO ONE,
read-only replicas, WAIT and min-replicas-to-write, a planned takeover under load that loses no
acknowledged write, a master killed with SIGKILL, and interop with redis-server 7.0 in both
directions. Every comparison of datasets is DEBUG DIGEST (Redis's algorithm) over all databases.
"""

import threading
import time

import pytest
import redis
import requests

from dataset import DBS, db_client, digest, fill
from resp_raw import Error, RawConn

SYNC_TIMEOUT_S = 60.0  # a full sync of the big dataset, in the sanitizer build too
STATE_TIMEOUT_S = 20.0  # a link coming up, a takeover, a reconnection
POLL_S = 0.05
BIG_KEYS = 200_000  # DEBUG POPULATE keys of the big full sync
WRITER_KEYS = 500  # keys the background writers touch
TAKEOVER_TIMEOUT_S = 10  # REPLTAKEOVER's argument
WRITERS = 4  # concurrent writers during a takeover
ERR_READONLY = "READONLY You can't write against a read only replica."
READONLY_TEXT = "You can't write against a read only replica."  # redis-py drops the code
ERR_NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
SMALL_BACKLOG = "16384"  # the smallest repl-backlog-size
BEYOND_BACKLOG_WRITES = 200  # 1 KiB writes: far past SMALL_BACKLOG
EXPIRING_TTL_MS = 2000
PAST_EXPIRY_MS = 300  # an expiry that has passed when the stalled replica applies it
REPLICA_STALL_S = 1.5  # DEBUG SLEEP on the replica: well beyond PAST_EXPIRY_MS
STALL_SETTLE_S = 0.1  # for the DEBUG SLEEP, then the first write, to begin
BURST_HASHES = 1000  # HSETs of BURST_FIELDS fields: a ~7 MB stream in well under a second
BURST_FIELDS = 200
QUIET_PING_PERIOD = "60"  # seconds: no PING from the master during the burst test
BURST_CATCH_UP_S = 30.0
SLOW_LOAD_KEYS = 3000  # with LOAD_DELAY_US per key: a load of a few seconds
LOAD_DELAY_US = 1000
REDIS_ARGS = ("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes")


def wait_until(pred, what, timeout=STATE_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return
        except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


def repl_info(c):
    return c.info("replication")


def link_up(c):
    return repl_info(c).get("master_link_status") == "up"


def caught_up(master, replica):
    """The replica is connected and has applied everything the master streamed."""
    m, r = repl_info(master), repl_info(replica)
    return r.get("master_link_status") == "up" and r["slave_repl_offset"] == m["master_repl_offset"]


def wait_caught_up(master, replica, timeout=SYNC_TIMEOUT_S):
    wait_until(lambda: caught_up(master, replica), "the replica to catch up", timeout)


DIGEST_TIMEOUT_S = 180  # DEBUG DIGEST of 200k keys in the sanitizer build on a busy machine


def all_digests(c):
    """DEBUG DIGEST on a connection of its own with room for a large dataset."""
    kw = c.connection_pool.connection_kwargs
    slow = redis.Redis(host=kw["host"], port=kw["port"], socket_timeout=DIGEST_TIMEOUT_S,
                       password=kw.get("password"), decode_responses=True)
    try:
        return digest(slow)
    finally:
        slow.close()


def stats(c):
    s = c.info("stats")
    return s["sync_full"], s["sync_partial_ok"], s["sync_partial_err"]


def replicaof(replica, master_port):
    assert replica.execute_command("REPLICAOF", "127.0.0.1", master_port) == "OK"


class Writer(threading.Thread):
    """Writes (SET, INCR, RPUSH, HSET, EXPIRE...) to keys spread over both shards until stopped;
    remembers the last acknowledged value of each counter."""

    def __init__(self, port, tag, counters_only=False):
        super().__init__(daemon=True)
        self.port = port
        self.tag = tag
        self.counters_only = counters_only
        self.stop_flag = threading.Event()
        self.acked = {}  # counter key -> last value an INCR returned
        self.errors = 0
        self.ops = 0

    def run(self):
        c = redis.Redis(port=self.port, decode_responses=True, socket_timeout=5)
        i = 0
        while not self.stop_flag.is_set():
            k = f"{self.tag}:{i % WRITER_KEYS}"
            try:
                v = c.incr(f"cnt:{k}")
                self.acked[f"cnt:{k}"] = v
                if not self.counters_only:
                    p = c.pipeline(transaction=False)
                    p.set(f"s:{k}", i)
                    p.rpush(f"l:{k}", i)
                    p.hset(f"h:{k}", f"f{i % 7}", i)
                    p.zadd(f"z:{k}", {f"m{i % 11}": i})
                    if i % 5 == 0:
                        p.expire(f"s:{k}", 1000)
                    if i % 13 == 0:
                        p.delete(f"l:{k}")
                    p.execute()
                    if i % 17 == 0:
                        t = c.pipeline(transaction=True)
                        t.incr(f"tx:{k}")
                        t.lpush(f"txl:{k}", i)
                        t.execute()
                self.ops += 1
            except redis.exceptions.ResponseError:
                self.errors += 1
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                self.errors += 1
                time.sleep(POLL_S)
            i += 1
        c.close()

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=STATE_TIMEOUT_S)


# ---- dfly -> dfly ---------------------------------------------------------------------------


def test_full_sync_of_big_dataset_under_writes_then_stream(server_factory):
    # A small backlog: the writes made during the sync must stay for the replica anyway.
    master = server_factory("--repl_backlog_size", SMALL_BACKLOG)
    replica = server_factory()
    m, r = master.client(), replica.client()
    fill(m, seed=3)
    m.execute_command("DEBUG", "POPULATE", BIG_KEYS, "big", 64)
    w = Writer(master.port, "w")
    w.start()
    wait_until(lambda: w.ops > 20, "the writer to get going")
    replicaof(r, master.port)
    wait_until(lambda: link_up(r), "the link to come up", SYNC_TIMEOUT_S)
    time.sleep(0.3)  # writes keep flowing through the stream after the sync
    w.stop()
    assert w.ops > 0
    wait_caught_up(m, r)
    assert all_digests(r) == all_digests(m)
    assert r.dbsize() == m.dbsize()
    # The stream: every kind of write, expiry and deletion arrives.
    m.set("after", "sync")
    m.expire("after", 1000)
    m.delete(f"s:w:{1}")
    m.execute_command("FLUSHDB")  # database 0 only
    m.set("x", 1)
    m.pexpire("x", 1)  # expires at once on the master: the replica gets its DEL
    time.sleep(0.05)
    assert m.get("x") is None
    wait_caught_up(m, r)
    assert all_digests(r) == all_digests(m)
    assert stats(m)[0] == 1
    role = r.execute_command("ROLE")
    assert role[0] == "slave" and role[2] == master.port and role[3] == "connected"
    mrole = m.execute_command("ROLE")
    assert mrole[0] == "master" and mrole[2][0][1] == str(replica.port)


def test_a_burst_reaches_the_replica_with_no_write_after_it(server_factory):
    """The stream leaves a chunk at a time. When the kernel takes a chunk at once (no write
    completion follows), the next one must still go: a replica behind after a burst catches up
    without waiting for the next write or PING."""
    master = server_factory("--repl_ping_replica_period", QUIET_PING_PERIOD)
    replica = server_factory()
    m, r = master.client(), replica.client()
    replicaof(r, master.port)
    wait_caught_up(m, r)
    pipe = m.pipeline(transaction=False)
    for i in range(BURST_HASHES):
        pipe.hset(f"burst:{i}", mapping={f"f{j}": "v" * 20 for j in range(BURST_FIELDS)})
    pipe.execute()
    wait_caught_up(m, r, BURST_CATCH_UP_S)
    assert r.dbsize() == BURST_HASHES
    assert all_digests(r) == all_digests(m)


def test_partial_resync_after_the_link_is_cut(server_factory):
    master = server_factory()
    replica = server_factory()
    m, r = master.client(), replica.client()
    fill(m, seed=5)
    replicaof(r, master.port)
    wait_caught_up(m, r)
    assert stats(m) == (1, 0, 0)
    for round_ in range(3):
        m.set(f"before-kill-{round_}", round_)
        killed = m.execute_command("CLIENT", "KILL", "TYPE", "replica")
        assert killed == 1
        m.set(f"after-kill-{round_}", round_)  # in the backlog, sent after the PSYNC
        m.incr("counter")
        wait_caught_up(m, r)
    assert stats(m) == (1, 3, 0)  # no second full sync
    assert all_digests(r) == all_digests(m)
    assert r.get("after-kill-2") == "2" and r.get("counter") == "3"
    # Out of the backlog: PSYNC fails and a full sync follows.
    m.config_set("repl-backlog-size", SMALL_BACKLOG)
    assert m.execute_command("CLIENT", "KILL", "TYPE", "replica") == 1
    p = m.pipeline(transaction=False)
    for i in range(BEYOND_BACKLOG_WRITES):
        p.set(f"big:{i}", "x" * 1024)
    p.execute()
    wait_caught_up(m, r)
    assert stats(m) == (2, 3, 1)
    assert all_digests(r) == all_digests(m)
    # The backlog is the last repl-backlog-size bytes of the stream, however its buffer's
    # blocks fall (they are larger than this backlog).
    info = repl_info(m)
    assert info["repl_backlog_histlen"] == int(SMALL_BACKLOG)
    assert info["repl_backlog_first_byte_offset"] == (
        info["master_repl_offset"] - int(SMALL_BACKLOG) + 1
    )


def test_replica_is_read_only_and_replicaof_no_one_promotes(server_factory):
    master = server_factory()
    replica = server_factory()
    m, r = master.client(), replica.client()
    m.set("k", "v")
    replicaof(r, master.port)
    wait_caught_up(m, r)
    assert r.get("k") == "v"
    reply = RawConn(replica.port).command("SET", "k", "other")  # the exact bytes
    assert isinstance(reply, Error) and reply == ERR_READONLY
    # Refused while queueing: EXEC aborts, as in Redis.
    p = r.pipeline(transaction=True)
    p.set("k", "x")
    with pytest.raises(redis.exceptions.ResponseError):
        p.execute()
    with pytest.raises(redis.exceptions.ResponseError, match="WAIT cannot be used with replica"):
        r.execute_command("WAIT", 0, 0)
    assert r.execute_command("REPLICAOF", "127.0.0.1", master.port) == (
        "OK Already connected to specified master"
    )
    info = repl_info(r)
    assert info["role"] == "slave" and info["slave_read_only"] == 1
    old_id = info["master_replid"]
    assert old_id == repl_info(m)["master_replid"]
    assert r.execute_command("REPLICAOF", "NO", "ONE") == "OK"
    info = repl_info(r)
    assert info["role"] == "master"
    assert info["master_replid2"] == old_id and info["master_replid"] != old_id
    assert info["second_repl_offset"] == info["master_repl_offset"] + 1
    assert r.set("k", "mine")
    assert m.get("k") == "v"  # not the other way round
    wait_until(lambda: repl_info(m)["connected_slaves"] == 0, "the master to see it go")


def test_writable_replica_and_expiry_follow_the_master(server_factory):
    master = server_factory()
    replica = server_factory("--replica_read_only", "no")
    m, r = master.client(), replica.client()
    replicaof(r, master.port)
    wait_caught_up(m, r)
    set_at = time.monotonic()
    m.set("gone", 1, px=EXPIRING_TTL_MS)  # long enough to be read on a loaded machine
    wait_caught_up(m, r)
    assert r.get("gone") == "1"
    time.sleep(max(0.0, set_at + EXPIRING_TTL_MS / 1000 + 0.1 - time.monotonic()))
    # Expired on the replica's clock: absent to readers, but kept until the master's DEL.
    assert r.get("gone") is None
    r.set("local", 1)  # a writable replica's own write stays local
    assert m.get("local") is None
    assert m.get("gone") is None  # the master expires it and streams DEL
    wait_caught_up(m, r)
    assert r.execute_command("DBSIZE") == 1  # only "local"


def test_an_expiry_already_past_when_the_replica_applies_it(server_factory):
    """The master gives a key 300 ms and renames it at once; the replica applies the stream
    only after the 300 ms. It keeps the key, expired, until the master's DEL (Redis's
    checkAlreadyExpired), so the RENAME after it works there too and the renamed key, made
    persistent, exists on both sides."""
    master = server_factory()
    replica = server_factory(threads=1)  # DEBUG SLEEP stops the thread that applies the stream
    m, r = master.client(), replica.client()
    replicaof(r, master.port)
    wait_caught_up(m, r)
    asleep = threading.Thread(
        target=lambda: replica.client().execute_command("DEBUG", "SLEEP", REPLICA_STALL_S)
    )
    asleep.start()
    time.sleep(STALL_SETTLE_S)
    m.set("first", 1)  # the replica's stream reader waits for this one to be applied
    time.sleep(STALL_SETTLE_S)
    p = m.pipeline(transaction=False)
    p.set("k", "v")
    p.execute_command("WAIT", 1, 1)  # a GETACK: the replica applies what came before it
    p.pexpire("k", PAST_EXPIRY_MS)
    p.rename("k", "k2")
    p.persist("k2")
    assert p.execute() == [True, 0, True, True, True]
    asleep.join()
    wait_caught_up(m, r)
    assert r.get("k2") == "v" and r.exists("k") == 0
    assert all_digests(r) == all_digests(m)
    assert "failed when replayed" not in replica.log()


def test_publish_reaches_subscribers_of_replicas(server_factory):
    master = server_factory()
    replica = server_factory()
    m, r = master.client(), replica.client()
    replicaof(r, master.port)
    wait_caught_up(m, r)
    sub = RawConn(replica.port)
    assert sub.command("SUBSCRIBE", "news")[0] == b"subscribe"
    assert m.publish("news", "hello") == 0  # no subscriber on the master itself
    assert sub.read_reply() == [b"message", b"news", b"hello"]


def test_replicaof_flag_at_start(server_factory):
    master = server_factory()
    m = master.client()
    m.set("k", "v")
    replica = server_factory("--replicaof", f"127.0.0.1 {master.port}")
    r = replica.client()
    with pytest.raises(redis.exceptions.ReadOnlyError):
        r.set("x", 1)  # a replica from the first command on
    wait_caught_up(m, r)
    assert r.get("k") == "v"
    assert repl_info(r)["master_port"] == master.port


# ---- WAIT, min-replicas ------------------------------------------------------------------------


def test_wait_counts_acknowledgements(server_factory):
    master = server_factory()
    r1, r2 = server_factory(), server_factory()
    m = master.client()
    for rep in (r1, r2):
        replicaof(rep.client(), master.port)
    wait_until(lambda: repl_info(m)["connected_slaves"] == 2, "two replicas")
    for rep in (r1, r2):
        wait_caught_up(m, rep.client())
    m.set("w", 1)
    start = time.monotonic()
    assert m.execute_command("WAIT", 2, 5000) == 2
    assert time.monotonic() - start < 2.0  # GETACK makes them answer at once
    assert m.execute_command("WAIT", 3, 300) == 2  # times out with what it has
    info = repl_info(m)
    assert info["connected_slaves"] == 2
    assert info["slave0"]["state"] == "online"


def test_min_replicas_to_write(server_factory):
    master = server_factory()
    replica = server_factory()
    m = master.client()
    m.config_set("min-replicas-to-write", 1)
    with pytest.raises(redis.exceptions.ResponseError, match=ERR_NOREPLICAS):
        m.set("a", 1)
    assert m.get("a") is None  # reads still work
    replicaof(replica.client(), master.port)

    def write_ok():
        try:
            return m.set("a", 1)
        except redis.exceptions.ResponseError as e:
            assert str(e) == ERR_NOREPLICAS
            return False

    wait_until(write_ok, "writes to be accepted with a good replica")
    m.config_set("min-replicas-to-write", 2)
    with pytest.raises(redis.exceptions.ResponseError, match=ERR_NOREPLICAS):
        m.set("a", 2)
    assert repl_info(m)["min_slaves_good_slaves"] == 1
    m.config_set("min-replicas-to-write", 0)
    assert m.set("a", 3)


# ---- takeover, failures ----------------------------------------------------------------------


def test_takeover_under_load_loses_no_acknowledged_write(server_factory):
    master = server_factory()
    replica = server_factory()
    m, r = master.client(), replica.client()
    replicaof(r, master.port)
    wait_caught_up(m, r)
    writers = [Writer(master.port, f"t{i}", counters_only=(i % 2 == 0)) for i in range(WRITERS)]
    for w in writers:
        w.start()
    wait_until(lambda: all(w.ops > 50 for w in writers), "the writers to get going")
    assert r.execute_command("REPLTAKEOVER", TAKEOVER_TIMEOUT_S) == "OK"
    assert repl_info(r)["role"] == "master"
    r.set("new-master", 1)  # writable at once
    time.sleep(0.2)  # the writers now hit a read-only old master
    for w in writers:
        w.stop()
    lost = []
    for w in writers:
        for key, value in w.acked.items():
            got = r.get(key)
            if got is None or int(got) < value:
                lost.append((key, value, got))
    assert lost == [], f"{len(lost)} acknowledged writes lost: {lost[:5]}"
    assert sum(w.ops for w in writers) > 0
    # The old master follows the new one and refuses writes.
    wait_until(lambda: repl_info(m)["role"] == "slave" and link_up(m), "the old master to follow")
    with pytest.raises(redis.exceptions.ReadOnlyError, match=READONLY_TEXT):
        m.set("x", 1)
    wait_caught_up(r, m)
    assert m.get("new-master") == "1"
    assert all_digests(m) == all_digests(r)


def test_takeover_errors(server_factory):
    master = server_factory()
    m = master.client()
    assert m.execute_command("REPLTAKEOVER", 1) == "OK"  # a master: nothing to do
    with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
        m.execute_command("REPLTAKEOVER", "soon")
    replica = server_factory()
    r = replica.client()
    replicaof(r, master.port)
    wait_caught_up(m, r)
    master.kill()
    wait_until(lambda: not link_up(r), "the link to drop")
    with pytest.raises(redis.exceptions.ResponseError, match="Takeover failed"):
        r.execute_command("REPLTAKEOVER", 1)
    assert repl_info(r)["role"] == "slave"


def test_master_killed_replicas_serve_reads_and_reconnect(server_factory):
    master = server_factory("--dbfilename", "dump.rdb")
    r1, r2 = server_factory(), server_factory()
    m = master.client()
    fill(m, seed=7)
    m.set("survivor", "yes")
    reps = [r1.client(), r2.client()]
    for c in reps:
        replicaof(c, master.port)
    for c in reps:
        wait_caught_up(m, c)
    m.save()
    port, workdir = master.port, master.workdir
    master.kill()
    for c in reps:
        wait_until(lambda: not link_up(c), "master_link_status:down")
        info = repl_info(c)
        assert info["master_link_status"] == "down"
        assert info["master_link_down_since_seconds"] >= 0
        assert c.get("survivor") == "yes"  # reads go on
        assert c.execute_command("ROLE")[3] in ("connect", "connecting")
    # The master comes back (on its port, with its snapshot): the replicas reconnect.
    master2 = server_factory("--dbfilename", "dump.rdb", port=port, workdir=workdir)
    m2 = master2.client()
    wait_until(lambda: m2.set("after-restart", 1), "the master to load its snapshot")
    for c in reps:
        wait_caught_up(m2, c)
        assert c.get("after-restart") == "1"
        assert all_digests(c) == all_digests(m2)


def test_replica_answers_loading_while_it_loads_and_info_fields(server_factory):
    master = server_factory()
    replica = server_factory("--key_load_delay", LOAD_DELAY_US)
    m, r = master.client(), replica.client()
    m.execute_command("DEBUG", "POPULATE", SLOW_LOAD_KEYS, "k", 10)
    replicaof(r, master.port)
    raw = RawConn(replica.port)

    def loading():
        return raw.command("GET", "k:1") == Error("LOADING Redis is loading the dataset in memory")

    wait_until(loading, "the replica to load the snapshot")
    assert raw.command("ROLE")[0] == b"slave"  # allowed while loading, as in Redis
    wait_caught_up(m, r)
    assert r.get("k:1") == m.get("k:1")
    info = repl_info(r)
    for field in (
        "master_host",
        "master_port",
        "master_last_io_seconds_ago",
        "master_sync_in_progress",
        "slave_read_repl_offset",
        "slave_repl_offset",
        "slave_priority",
        "replica_announced",
        "connected_slaves",
        "master_failover_state",
        "repl_backlog_active",
        "repl_backlog_first_byte_offset",
        "repl_backlog_histlen",
    ):
        assert field in info, field
    minfo = repl_info(m)
    assert minfo["repl_backlog_active"] == 1
    assert minfo["slave0"]["ip"] == "127.0.0.1" and minfo["slave0"]["port"] == replica.port
    lines = m.execute_command("CLIENT", "LIST", "TYPE", "replica")
    assert "flags=S" in lines
    metrics = requests.get(f"http://127.0.0.1:{master.port}/metrics", timeout=STATE_TIMEOUT_S).text
    assert "dragonfly_connected_replicas 1" in metrics
    assert "dragonfly_master 1" in metrics


def test_masterauth(server_factory):
    master = server_factory("--requirepass", "s3cret")
    good = server_factory("--masterauth", "s3cret")
    user = server_factory("--masteruser", "default", "--masterauth", "s3cret")
    bad = server_factory("--masterauth", "wrong")
    m = master.client(password="s3cret")
    m.set("k", "v")
    g, u, b = good.client(), user.client(), bad.client()
    for c in (g, u, b):
        replicaof(c, master.port)
    for c in (g, u):
        wait_caught_up(m, c)
        assert c.get("k") == "v"
    time.sleep(1.5)  # a few attempts
    assert not link_up(b)
    assert "Unable to AUTH to MASTER" in bad.log()


# ---- interop with redis-server 7.0 -----------------------------------------------------------


def test_redis_server_replicates_from_dfly(server_factory, redis_server_factory):
    master = server_factory()
    m = master.client()
    fill(m, seed=11)
    m.execute_command("DEBUG", "POPULATE", 20_000, "pop", 32)
    w = Writer(master.port, "rw")
    w.start()
    wait_until(lambda: w.ops > 20, "the writer to get going")
    redis_replica = redis_server_factory(
        "--replicaof", "127.0.0.1", str(master.port), *REDIS_ARGS
    )
    rr = redis_replica.client()
    wait_until(lambda: link_up(rr), "redis-server's link to come up", SYNC_TIMEOUT_S)
    time.sleep(0.3)
    w.stop()
    m.set("stream", "after")
    wait_caught_up(m, rr)
    assert all_digests(rr) == all_digests(m)
    assert rr.get("stream") == "after"
    # A partial resync works with Redis too.
    m.execute_command("CLIENT", "KILL", "TYPE", "replica")
    m.set("after-kill", 1)
    wait_caught_up(m, rr)
    assert rr.get("after-kill") == "1"
    assert stats(m)[:2] == (1, 1)


def test_dfly_replicates_from_redis_server(server_factory, redis_server_factory):
    redis_master = redis_server_factory(*REDIS_ARGS)
    rm = redis_master.client()
    fill(rm, seed=13)
    rm.execute_command("DEBUG", "POPULATE", 20_000, "pop", 32)
    w = Writer(redis_master.port, "dw")
    w.start()
    wait_until(lambda: w.ops > 20, "the writer to get going")
    replica = server_factory()
    r = replica.client()
    replicaof(r, redis_master.port)
    wait_until(lambda: link_up(r), "the link to redis-server to come up", SYNC_TIMEOUT_S)
    time.sleep(0.3)
    w.stop()
    rm.set("from", "redis")
    rm.expire("from", 1000)
    wait_caught_up(rm, r)
    assert all_digests(r) == all_digests(rm)
    for db in DBS:
        assert db_client(r, db).dbsize() == db_client(rm, db).dbsize()
    assert r.get("from") == "redis"


# ---- cluster mode ------------------------------------------------------------------------------


def test_cluster_replica_follows_its_shard_master(server_factory):
    import json

    from conftest import free_port

    def node(*extra):
        admin = free_port()
        s = server_factory("--cluster_mode=yes", f"--admin_port={admin}", *extra)
        return s, admin, s.client().execute_command("CLUSTER", "MYID")

    (ms, madmin, mid), (rs, radmin, rid) = node(), node()
    cfg = [
        {
            "slot_ranges": [{"start": 0, "end": 16383}],
            "master": {"id": mid, "ip": "127.0.0.1", "port": ms.port},
            "replicas": [{"id": rid, "ip": "127.0.0.1", "port": rs.port}],
        }
    ]
    for admin in (madmin, radmin):
        a = redis.Redis(port=admin, decode_responses=True)
        assert a.execute_command("DFLYCLUSTER", "CONFIG", json.dumps(cfg)) == "OK"
        a.close()
    m, r = ms.client(), rs.client()
    wait_until(lambda: link_up(r), "the replica to follow its shard's master")
    m.set("ck", "v")
    wait_caught_up(m, r)
    with pytest.raises(redis.exceptions.ResponseError, match="MOVED"):
        r.get("ck")  # no READONLY: redirected to the master
    raw = RawConn(rs.port)
    assert raw.command("READONLY") == "OK"
    assert raw.command("GET", "ck") == b"v"
    assert str(raw.command("SET", "ck", "x")).startswith("MOVED")  # writes go to the master
    # A configuration that makes it the master promotes it.
    cfg[0]["master"], cfg[0]["replicas"] = cfg[0]["replicas"][0], []
    a = redis.Redis(port=radmin, decode_responses=True)
    assert a.execute_command("DFLYCLUSTER", "CONFIG", json.dumps(cfg)) == "OK"
    a.close()
    wait_until(lambda: repl_info(r)["role"] == "master", "the promotion")
    assert r.set("ck", "mine")
