"""MULTI/EXEC/DISCARD and WATCH/UNWATCH: Redis 7 semantics, seen by real clients.

Queued errors abort EXEC (EXECABORT), runtime errors do not; WATCH makes EXEC return nil
when another client (on any thread) writes a watched key on any shard, when a watched key
expires, or on FLUSHALL; redis-py's pipelines and r.transaction() work unchanged.
"""

import random
import time

import pytest
import redis

from shardkeys import key_on_shard, keys_per_shard

EXECABORT = "EXECABORT Transaction discarded because of previous errors."
THREAD_COUNTS = (2, 4)
# Short TTLs for the expiry tests; the sleeps are several times longer so that a loaded
# machine cannot make the key outlive them.
SHORT_TTL_MS = 50
EXPIRE_WAIT_S = 0.3
EXPIRED_WAIT_S = 0.05  # after a 1 ms TTL
MANY_KEYS = 64  # keys per WATCH when a test wants every shard several times


def exec_raw(c):
    """EXEC's reply: a list, None for an aborted (WATCH) transaction; raises on errors."""
    return c.execute_command("EXEC")


def watched_tx(c, watch, body):
    """WATCH keys, MULTI, body(c) queues commands, EXEC; returns EXEC's reply."""
    c.execute_command("WATCH", *watch)
    c.execute_command("MULTI")
    body(c)
    return exec_raw(c)


def raw_client(server, **kw):
    """A redis-py client of server that returns replies as they come (no response
    callbacks): "QUEUED" stays "QUEUED" instead of becoming False."""
    c = server.client(**kw)
    c.response_callbacks = {}
    return c


@pytest.fixture
def rr(server):
    """A raw client (see raw_client) of `server`."""
    return raw_client(server)


@pytest.fixture(params=THREAD_COUNTS, ids=lambda n: f"threads{n}")
def srv(request, server_factory):
    """A dfly-server with 2 or 4 threads (both are run)."""
    s = server_factory(threads=request.param)
    s.nshards = request.param
    return s


# --- MULTI / EXEC / DISCARD -------------------------------------------------------------------


def test_multi_exec_basic(rr):
    assert rr.execute_command("MULTI") == "OK"
    assert rr.execute_command("SET", "a", "1") == "QUEUED"
    assert rr.execute_command("GET", "a") == "QUEUED"
    assert rr.execute_command("SET", "b", "2") == "QUEUED"
    assert rr.execute_command("EXEC") == ["OK", "1", "OK"]
    assert rr.get("b") == "2"


def test_empty_multi_exec(rr):
    assert rr.execute_command("MULTI") == "OK"
    assert rr.execute_command("EXEC") == []


def test_queued_commands_not_visible_before_exec(server, rr):
    other = raw_client(server)
    rr.execute_command("MULTI")
    rr.execute_command("SET", "pending", "x")
    assert other.get("pending") is None
    assert rr.execute_command("EXEC") == ["OK"]
    assert other.get("pending") == "x"


def test_exec_without_multi(rr):
    with pytest.raises(redis.ResponseError, match="^EXEC without MULTI$"):
        rr.execute_command("EXEC")


def test_discard_without_multi(rr):
    with pytest.raises(redis.ResponseError, match="^DISCARD without MULTI$"):
        rr.execute_command("DISCARD")


def test_discard_drops_queue(rr):
    rr.set("d", "before")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "d", "after")
    assert rr.execute_command("DISCARD") == "OK"
    assert rr.get("d") == "before"
    with pytest.raises(redis.ResponseError, match="^EXEC without MULTI$"):
        rr.execute_command("EXEC")


def test_nested_multi_is_an_error_but_keeps_transaction(rr):
    rr.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^MULTI calls can not be nested$"):
        rr.execute_command("MULTI")
    assert rr.execute_command("SET", "n", "1") == "QUEUED"
    assert rr.execute_command("EXEC") == ["OK"]
    assert rr.get("n") == "1"


def test_queued_arity_error_aborts_exec(rr):
    rr.set("q", "old")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "q", "new")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'set'"):
        rr.execute_command("SET", "q")
    with pytest.raises(redis.ResponseError) as err:
        rr.execute_command("EXEC")
    assert str(err.value) == EXECABORT.split(" ", 1)[1]
    assert rr.get("q") == "old"
    # The transaction is over: a new one works.
    rr.execute_command("MULTI")
    rr.execute_command("SET", "q", "new")
    assert rr.execute_command("EXEC") == ["OK"]


def test_queued_unknown_command_aborts_exec(server):
    out = server.cli(input="MULTI\nSET u 1\nNOSUCHCOMMAND x\nEXEC\nGET u\n")
    lines = out.splitlines()
    assert lines[0] == "OK"
    assert lines[1] == "QUEUED"
    assert lines[2].startswith("ERR unknown command 'NOSUCHCOMMAND'")
    assert EXECABORT in out
    assert lines[-1] == ""  # GET u: nil, the SET never ran


def test_execabort_text_exact(server):
    out = server.cli(input="MULTI\nGET\nEXEC\n")
    assert EXECABORT in out.splitlines()


def test_runtime_error_does_not_abort_rest(rr):
    rr.execute_command("MULTI")
    rr.execute_command("SET", "r1", "1")
    rr.execute_command("SET", "r2", "v", "EX", "notanumber")  # fails only when it runs
    rr.execute_command("SET", "r3", "3")
    res = rr.execute_command("EXEC")
    assert res[0] == "OK" and res[2] == "OK"
    assert isinstance(res[1], redis.ResponseError)
    assert "not an integer" in str(res[1])
    assert rr.get("r1") == "1" and rr.get("r3") == "3"
    assert rr.get("r2") is None


def test_runtime_wrongtype_inside_exec(rr):
    """A type error inside EXEC is one error reply; the commands around it run."""
    rr.set("str", "abc")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "w1", "1")
    rr.execute_command("INCR", "str")
    rr.execute_command("SET", "w2", "2")
    res = rr.execute_command("EXEC")
    assert res[0] == "OK" and res[2] == "OK"
    assert isinstance(res[1], redis.ResponseError)
    assert rr.get("w1") == "1" and rr.get("w2") == "2" and rr.get("str") == "abc"


def test_watch_inside_multi_is_an_error_but_keeps_transaction(rr):
    rr.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^WATCH inside MULTI is not allowed$"):
        rr.execute_command("WATCH", "x")
    rr.execute_command("SET", "wim", "1")
    assert rr.execute_command("EXEC") == ["OK"]
    assert rr.get("wim") == "1"


def test_select_inside_multi(server):
    c = raw_client(server)
    c.execute_command("MULTI")
    c.execute_command("SELECT", "1")
    c.execute_command("SET", "sel", "in-db1")
    c.execute_command("SELECT", "0")
    c.execute_command("SET", "sel", "in-db0")
    c.execute_command("SELECT", "1")
    c.execute_command("GET", "sel")
    assert c.execute_command("EXEC") == ["OK", "OK", "OK", "OK", "OK", "in-db1"]
    # The connection stays in the database the transaction selected last.
    assert c.execute_command("GET", "sel") == "in-db1"
    assert raw_client(server, db=0).get("sel") == "in-db0"
    assert raw_client(server, db=1).get("sel") == "in-db1"


def test_exec_spanning_all_shards_is_applied(srv):
    c = raw_client(srv)
    keys = keys_per_shard("span", srv.nshards, per_shard=4)
    c.execute_command("MULTI")
    for k in keys:
        c.execute_command("SET", k, k + "-v")
    for k in keys:
        c.execute_command("GET", k)
    c.execute_command("DEL", *keys[:2])
    c.execute_command("EXISTS", *keys)
    res = c.execute_command("EXEC")
    n = len(keys)
    assert res[:n] == ["OK"] * n
    assert res[n : 2 * n] == [k + "-v" for k in keys]
    assert res[2 * n] == 2
    assert res[2 * n + 1] == n - 2


def test_multi_state_is_per_connection(server):
    a, b = raw_client(server), raw_client(server)
    a.execute_command("MULTI")
    assert b.set("per", "b") == "OK"  # b is not in a transaction
    a.execute_command("SET", "per", "a")
    assert a.execute_command("EXEC") == ["OK"]
    assert b.get("per") == "a"


def test_disconnect_inside_multi_discards(server):
    a = raw_client(server)
    a.execute_command("MULTI")
    a.execute_command("SET", "gone", "1")
    a.close()
    time.sleep(0.1)
    assert raw_client(server).get("gone") is None


FILL_VALUE = "x" * 100
FILL_BATCH = 50  # small pipelines: a big query buffer would count as used memory in Redis
FILL_MAX_KEYS = 200000  # 20 MB of values: well past the 1 MB limit below


def fill_until_oom(c):
    """Writes keys until the server answers OOM."""
    for start in range(0, FILL_MAX_KEYS, FILL_BATCH):
        pipe = c.pipeline(transaction=False)
        for i in range(start, start + FILL_BATCH):
            pipe.set(f"fill:{i}", FILL_VALUE)
        try:
            pipe.execute()
        except redis.ResponseError as e:
            assert "OOM" in str(e)
            break
    else:
        pytest.fail("no OOM error after writing well past maxmemory")
    # One command at a time until the next OOM: no pipeline buffer is left to be freed then.
    for i in range(FILL_MAX_KEYS):
        try:
            c.execute_command("SET", f"fill:single:{i}", FILL_VALUE)
        except redis.ResponseError as e:
            assert str(e).startswith("OOM command not allowed")
            return
    pytest.fail("no OOM error for single writes past maxmemory")


def test_queuing_over_maxmemory_is_rejected(server_factory):
    s = server_factory("--maxmemory", "1mb")
    c = raw_client(s)
    fill_until_oom(c)
    c.execute_command("MULTI")
    with pytest.raises(redis.ResponseError, match="^OOM command not allowed"):
        c.execute_command("GET", "q")  # even a read: queuing itself takes memory
    with pytest.raises(redis.ResponseError, match="^Transaction discarded"):
        c.execute_command("EXEC")


def test_exec_over_maxmemory_aborts_with_execabort(server_factory):
    """Queued while there was room, then memory ran out before EXEC: Redis refuses the EXEC."""
    s = server_factory("--maxmemory", "1mb")
    c1 = raw_client(s)
    c1.execute_command("MULTI")
    assert c1.execute_command("SET", "q", "1") == "QUEUED"
    fill_until_oom(raw_client(s))
    with pytest.raises(redis.ResponseError) as e:
        c1.execute_command("EXEC")
    assert str(e.value) == (
        "Transaction discarded because of: OOM command not allowed when used memory > "
        "'maxmemory'."
    )
    assert c1.execute_command("GET", "q") is None  # nothing ran, and MULTI is over


# --- WATCH -----------------------------------------------------------------------------------


def test_watch_untouched_key_execs(rr):
    rr.set("wu", "1")
    assert watched_tx(rr, ["wu", "absent"], lambda c: c.execute_command("SET", "wu", "2")) == [
        "OK"
    ]
    assert rr.get("wu") == "2"


def test_watch_then_other_client_writes_same_and_other_shards(srv):
    """For a watched key on every shard, a write by a second client (whichever thread it
    landed on) makes EXEC return nil; a write to an unwatched key does not."""
    c, other = raw_client(srv), raw_client(srv)
    for shard in range(srv.nshards):
        key = key_on_shard("wk", shard, srv.nshards)
        other.set(key, "v0")
        c.execute_command("WATCH", key)
        other.set(key, "v1")
        c.execute_command("MULTI")
        c.execute_command("SET", key, "mine")
        assert exec_raw(c) is None, f"shard {shard}"
        assert other.get(key) == "v1"

        unwatched = key_on_shard("wk", shard, srv.nshards, skip=1)
        c.execute_command("WATCH", key)
        other.set(unwatched, "x")
        c.execute_command("MULTI")
        c.execute_command("SET", key, "mine")
        assert exec_raw(c) == ["OK"], f"shard {shard}"


def test_watch_many_connections_every_shard(srv):
    """Several watcher connections (spread over the threads by the kernel) watch keys on all
    shards; one write invalidates exactly those that watched the written key."""
    conns = [raw_client(srv) for _ in range(2 * srv.nshards)]
    writer = raw_client(srv)
    keys = keys_per_shard("mc", srv.nshards)
    for i, c in enumerate(conns):
        c.execute_command("WATCH", keys[i % len(keys)])
    target = keys[0]
    writer.set(target, "changed")
    for i, c in enumerate(conns):
        c.execute_command("MULTI")
        c.execute_command("SET", "mc:out:" + str(i), "1")
        res = exec_raw(c)
        if keys[i % len(keys)] == target:
            assert res is None, i
        else:
            assert res == ["OK"], i


def test_watch_multiple_keys_across_shards_one_touched(srv):
    c, other = raw_client(srv), raw_client(srv)
    keys = keys_per_shard("multi-w", srv.nshards, per_shard=2)
    c.execute_command("WATCH", *keys)
    other.set(keys[-1], "touched")
    c.execute_command("MULTI")
    c.execute_command("SET", keys[0], "mine")
    assert exec_raw(c) is None
    assert other.get(keys[0]) is None


def test_watch_own_write_before_multi_invalidates(rr):
    rr.set("own", "1")
    rr.execute_command("WATCH", "own")
    rr.set("own", "2")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "own", "3")
    assert exec_raw(rr) is None
    assert rr.get("own") == "2"


def test_watch_delete_invalidates_but_noop_delete_does_not(server, rr):
    other = raw_client(server)
    rr.set("del-me", "1")
    rr.execute_command("WATCH", "del-me", "never-there")
    other.delete("never-there")  # deletes nothing: no change
    rr.execute_command("MULTI")
    rr.execute_command("SET", "x", "1")
    assert exec_raw(rr) == ["OK"]

    rr.execute_command("WATCH", "del-me")
    other.delete("del-me")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "x", "2")
    assert exec_raw(rr) is None


def test_watch_set_same_value_still_invalidates(server, rr):
    other = raw_client(server)
    rr.set("same", "1")
    rr.execute_command("WATCH", "same")
    other.set("same", "1")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "x", "1")
    assert exec_raw(rr) is None


def test_watch_creation_of_absent_key_invalidates(server, rr):
    other = raw_client(server)
    rr.execute_command("WATCH", "born")
    other.set("born", "1")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "born", "mine")
    assert exec_raw(rr) is None
    assert rr.get("born") == "1"


def test_watch_is_per_database(server):
    c = raw_client(server, db=0)
    other0, other1 = raw_client(server, db=0), raw_client(server, db=1)
    c.set("dbk", "1")
    c.execute_command("WATCH", "dbk")
    other1.set("dbk", "in-db1")  # same name, other database
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) == ["OK"]

    c.execute_command("WATCH", "dbk")
    other0.set("dbk", "in-db0")
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "2")
    assert exec_raw(c) is None


def test_watch_key_in_selected_database(server):
    """WATCH remembers the database selected when it ran, not the one at EXEC."""
    c = raw_client(server, db=0)
    other1 = raw_client(server, db=1)
    c.execute_command("SELECT", "1")
    c.execute_command("WATCH", "sk")
    c.execute_command("SELECT", "0")
    other1.set("sk", "changed")
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) is None


def test_watch_key_that_expires(rr):
    rr.set("ttl", "1", px=SHORT_TTL_MS)
    rr.execute_command("WATCH", "ttl")
    time.sleep(EXPIRE_WAIT_S)
    rr.execute_command("MULTI")
    rr.execute_command("SET", "x", "1")
    assert exec_raw(rr) is None


def test_watch_keys_that_expire_on_every_shard(srv):
    c = raw_client(srv)
    keys = keys_per_shard("ttlw", srv.nshards, per_shard=4)
    for k in keys:
        c.set(k, "1", px=SHORT_TTL_MS)
    c.execute_command("WATCH", keys[-1])
    time.sleep(EXPIRE_WAIT_S)
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) is None


def test_watch_key_with_distant_ttl_is_not_dirty(rr):
    rr.set("far", "1", ex=1000)
    rr.execute_command("WATCH", "far")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "x", "1")
    assert exec_raw(rr) == ["OK"]


@pytest.mark.parametrize("threads", THREAD_COUNTS)
def test_watch_already_expired_keys_is_no_change(server_factory, threads):
    """Keys that had expired before WATCH but were not reclaimed yet count as absent: their
    removal later (here lazily, at EXEC) is no change, so EXEC runs, as in Redis 7."""
    srv = server_factory("--active_expire_enabled", "no", threads=threads)
    c = raw_client(srv)
    keys = keys_per_shard("gone", threads, per_shard=MANY_KEYS // threads)
    pipe = c.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, "1", px=1)
    pipe.execute()
    time.sleep(EXPIRED_WAIT_S)
    c.execute_command("WATCH", *keys)
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) == ["OK"]
    assert c.execute_command("EXISTS", *keys) == 0


def test_unwatch(server, rr):
    other = raw_client(server)
    rr.set("uw", "1")
    rr.execute_command("WATCH", "uw")
    assert rr.execute_command("UNWATCH") == "OK"
    other.set("uw", "2")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "uw", "3")
    assert exec_raw(rr) == ["OK"]
    assert rr.get("uw") == "3"


def test_unwatch_without_watch(rr):
    assert rr.execute_command("UNWATCH") == "OK"


def test_exec_clears_watches(server, rr):
    other = raw_client(server)
    rr.set("cw", "1")
    assert watched_tx(rr, ["cw"], lambda c: c.execute_command("SET", "y", "1")) == ["OK"]
    other.set("cw", "2")  # no longer watched
    rr.execute_command("MULTI")
    rr.execute_command("SET", "y", "2")
    assert exec_raw(rr) == ["OK"]


def test_failed_exec_clears_watches(server, rr):
    other = raw_client(server)
    rr.set("fw", "1")
    rr.execute_command("WATCH", "fw")
    other.set("fw", "2")
    rr.execute_command("MULTI")
    assert exec_raw(rr) is None
    other.set("fw", "3")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "y", "1")
    assert exec_raw(rr) == ["OK"]


def test_discard_clears_watches(server, rr):
    other = raw_client(server)
    rr.set("dw", "1")
    rr.execute_command("WATCH", "dw")
    rr.execute_command("MULTI")
    rr.execute_command("DISCARD")
    other.set("dw", "2")
    rr.execute_command("MULTI")
    rr.execute_command("SET", "y", "1")
    assert exec_raw(rr) == ["OK"]


def test_execabort_wins_over_dirty_watch(server, rr):
    other = raw_client(server)
    rr.set("ab", "1")
    rr.execute_command("WATCH", "ab")
    other.set("ab", "2")
    rr.execute_command("MULTI")
    with pytest.raises(redis.ResponseError):
        rr.execute_command("GET")
    with pytest.raises(redis.ResponseError, match="^Transaction discarded"):
        rr.execute_command("EXEC")


def test_flushall_invalidates_watch(srv):
    c, other = raw_client(srv), raw_client(srv)
    keys = keys_per_shard("fa", srv.nshards)
    for k in keys:
        for key in keys:  # FLUSHALL touches the watched keys that existed
            other.set(key, "1")
        c.execute_command("WATCH", k)
        other.flushall()
        c.execute_command("MULTI")
        c.execute_command("SET", k, "mine")
        assert exec_raw(c) is None, k
        assert other.exists(k) == 0


def test_flushdb_invalidates_watch_in_that_db_only(server):
    c = raw_client(server, db=0)
    other0, other1 = raw_client(server, db=0), raw_client(server, db=1)
    c.set("fd", "1")
    c.execute_command("WATCH", "fd")
    other1.flushdb()
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) == ["OK"]

    c.execute_command("WATCH", "fd")
    other0.flushdb()
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) is None


def test_flush_leaves_watch_of_absent_key_alone(server):
    """Redis 7: FLUSHALL and FLUSHDB touch only the watched keys that existed."""
    c, other = raw_client(server), raw_client(server)
    other.set("present", "1")
    for flush in ("FLUSHALL", "FLUSHDB"):
        c.execute_command("WATCH", "absent")
        other.execute_command(flush)
        c.execute_command("MULTI")
        c.execute_command("SET", "x", "1")
        assert exec_raw(c) == ["OK"], flush


def test_swapdb_touches_watched_keys_existing_in_either_db(server):
    c = raw_client(server, db=0)
    other1 = raw_client(server, db=1)
    c.execute_command("WATCH", "sw")  # absent in db 0 and db 1
    c.execute_command("SWAPDB", "0", "1")
    c.execute_command("MULTI")
    c.execute_command("SET", "x", "1")
    assert exec_raw(c) == ["OK"]

    other1.set("sw", "in-db1")  # absent in db 0, present in db 1: SWAPDB brings it in
    c.execute_command("WATCH", "sw")
    other1.execute_command("SWAPDB", "0", "1")
    c.execute_command("MULTI")
    c.execute_command("GET", "sw")
    assert exec_raw(c) is None
    assert c.execute_command("GET", "sw") == "in-db1"


def test_watch_survives_disconnect_of_other_watcher(server):
    """A watcher that goes away must not disturb the others' watches on the same key."""
    keeper, leaver, other = raw_client(server), raw_client(server), raw_client(server)
    keeper.set("sh", "1")
    keeper.execute_command("WATCH", "sh")
    leaver.execute_command("WATCH", "sh")
    leaver.close()
    time.sleep(0.1)
    other.set("sh", "2")
    keeper.execute_command("MULTI")
    keeper.execute_command("SET", "x", "1")
    assert exec_raw(keeper) is None


WATCH_CHURN_ROUNDS = 20
WATCH_CHURN_KEYS = 200


def test_watch_churn_of_departed_clients(srv):
    """Many watches that end by EXEC, UNWATCH or disconnect, on keys nobody writes, are
    cleaned up as new watches arrive; watches made afterwards still work on every shard."""
    for rnd in range(WATCH_CHURN_ROUNDS):
        c = raw_client(srv)
        c.execute_command("WATCH", *[f"churn:{rnd}:{i}" for i in range(WATCH_CHURN_KEYS)])
        ending = rnd % 3
        if ending == 0:
            c.execute_command("MULTI")
            assert exec_raw(c) == []
        elif ending == 1:
            c.execute_command("UNWATCH")
        c.close()
    c, other = raw_client(srv), raw_client(srv)
    keys = keys_per_shard("after-churn", srv.nshards)
    c.execute_command("WATCH", *keys)
    other.set(keys[-1], "x")
    c.execute_command("MULTI")
    c.execute_command("SET", keys[0], "mine")
    assert exec_raw(c) is None


# --- redis-py's transaction helpers -----------------------------------------------------------


def test_redis_py_pipeline_transaction(srv):
    c = srv.client()
    keys = keys_per_shard("pt", srv.nshards, per_shard=2)
    with c.pipeline(transaction=True) as p:
        for i, k in enumerate(keys):
            p.set(k, str(i))
        p.get(keys[0])
        p.exists(*keys)
        res = p.execute()
    assert res == [True] * len(keys) + ["0", len(keys)]
    assert c.get(keys[-1]) == str(len(keys) - 1)


def test_redis_py_pipeline_transaction_queued_error(r):
    r.set("pe", "old")
    with r.pipeline(transaction=True) as p:
        p.set("pe", "new")
        p.execute_command("SET", "pe")  # wrong arity: rejected while queuing
        with pytest.raises(redis.ResponseError):
            p.execute()
    assert r.get("pe") == "old"


def test_redis_py_pipeline_watch_error(server, r):
    other = server.client()
    r.set("pw", "1")
    with r.pipeline() as p:
        p.watch("pw")
        assert p.get("pw") == "1"  # immediate mode after WATCH
        other.set("pw", "2")
        p.multi()
        p.set("pw", "3")
        with pytest.raises(redis.WatchError):
            p.execute()
    assert r.get("pw") == "2"


def test_redis_py_transaction_helper_retries(srv):
    """r.transaction(func, *watches) retries on WatchError until EXEC succeeds."""
    c, other = srv.client(), srv.client()
    keys = keys_per_shard("th", srv.nshards)
    for k in keys:
        c.set(k, "10")
    attempts = []

    def move(pipe):
        values = [int(pipe.get(k)) for k in keys]
        attempts.append(values)
        if len(attempts) == 1:
            other.set(keys[-1], "100")  # a concurrent change: the first EXEC must fail
        pipe.multi()
        for k, v in zip(keys, values):
            pipe.set(k, str(v + 1))

    res = c.transaction(move, *keys)
    assert res == [True] * len(keys)
    assert len(attempts) == 2
    assert [c.get(k) for k in keys] == ["11"] * (len(keys) - 1) + ["101"]


def test_redis_py_transaction_value_from_callable(r):
    r.set("tv", "5")

    def read_and_set(pipe):
        v = int(pipe.get("tv"))
        pipe.multi()
        pipe.set("tv", str(v * 2))
        return v

    assert r.transaction(read_and_set, "tv", value_from_callable=True) == 5
    assert r.get("tv") == "10"



# --- the same command sequences against Redis -------------------------------------------------

DIFF_SEEDS = 100
DIFF_STEPS = 200
DIFF_MAX_BATCH = 6  # commands one connection sends in one write (a pipeline)
DIFF_KEYS = ("k0", "k1", "k2", "k3", "{t}a", "{t}b", "n0")


def random_command(rng):
    """One command of the transaction vocabulary, valid or not."""

    def key():
        return rng.choice(DIFF_KEYS)

    def keys():
        return rng.sample(DIFF_KEYS, rng.randint(1, 3))

    def digit():
        return str(rng.randint(0, 9))

    makers = [
        lambda: ["MULTI"],
        lambda: ["EXEC"],
        lambda: ["EXEC"],
        lambda: ["DISCARD"],
        lambda: ["WATCH", *keys()],
        lambda: ["UNWATCH"],
        lambda: ["SET", key(), digit()],
        lambda: ["SET", key(), digit()],
        lambda: ["GET", key()],
        lambda: ["DEL", *keys()],
        lambda: ["EXISTS", *keys()],
        lambda: ["SELECT", str(rng.randint(0, 1))],
        lambda: ["GET"],  # arity error: queued errors abort EXEC
        lambda: ["NOSUCHCMD", key()],
        lambda: ["SET", key(), "v", "EX", "bad"],  # runtime error
        lambda: ["INCR", key()],
        lambda: ["MSET", *[a for k in keys() for a in (k, digit())]],
        lambda: ["MGET", *keys()],
        lambda: ["RENAME", key(), key()],
        lambda: ["SWAPDB", "0", "1"],
        lambda: ["FLUSHDB"],
        lambda: ["FLUSHALL"],
        lambda: ["PING"],
    ]
    return rng.choice(makers)()


def _plain(reply):
    if isinstance(reply, Exception):
        return "error: " + str(reply)
    if isinstance(reply, list):
        return [_plain(x) for x in reply]
    return reply


def replay(port, seed):
    """Runs seed's random sequence over two connections, each step a pipelined batch of one
    connection whose replies are read before the next step; returns every reply."""
    rng = random.Random(seed)
    conns = [redis.Connection(host="127.0.0.1", port=port, decode_responses=True) for _ in "ab"]
    try:
        conns[0].send_command("FLUSHALL")
        conns[0].read_response()
        log, steps = [], 0
        while steps < DIFF_STEPS:
            who = rng.randrange(len(conns))
            batch = [random_command(rng) for _ in range(rng.randint(1, DIFF_MAX_BATCH))]
            steps += len(batch)
            c = conns[who]
            c.send_packed_command(c.pack_commands(batch))
            for cmd in batch:
                try:
                    reply = c.read_response()
                except redis.ResponseError as e:
                    reply = e
                log.append((who, cmd, _plain(reply)))
        return log
    finally:
        for c in conns:
            c.disconnect()


@pytest.mark.parametrize("threads", THREAD_COUNTS)
def test_transaction_sequences_match_redis(server_factory, redis_server_factory, threads):
    """Random sequences of MULTI/EXEC/DISCARD/WATCH/UNWATCH, writes, errors, SELECT, SWAPDB and
    FLUSH from two pipelining connections get the same replies as from Redis 7."""
    dfly = server_factory(threads=threads)
    ref = redis_server_factory()
    for seed in range(DIFF_SEEDS):
        want, got = replay(ref.port, seed), replay(dfly.port, seed)
        for i, (w, g) in enumerate(zip(want, got)):
            assert g == w, f"seed {seed} step {i}: after {want[max(0, i - 8) : i]}"
