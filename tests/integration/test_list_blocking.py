"""Blocking list commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP) on a two-thread server: a
client blocked on one thread is served by a push from a connection on the other thread, blocked
clients are served in the order they blocked, timeouts (fractional, and 0 = forever) behave as
in Redis, a blocked client that disconnects or is killed takes nothing, keys may live on
different shards, inside MULTI the commands answer nil at once, and a MULTI/EXEC or a script
that pushes serves waiters after it has finished, with what it left.
"""

import socket
import threading
import time

import pytest
import redis

from shardkeys import key_on_shard, keys_per_shard

NSHARDS = 2  # the `server` fixture runs --threads 2
WAIT_S = 5.0  # bound on every wait for a state change
POLL_S = 0.01
SHORT_TIMEOUT = "0.2"  # a blocking timeout that expires during the test
FRACTIONAL_TIMEOUT = "0.05"
STILL_BLOCKED_S = 0.5  # how long a timeout-0 client is watched to stay blocked
CONNECT_ATTEMPTS = 64  # connections tried to land one on a given thread


def conn_on_thread(server, thread):
    """A single-connection client whose connection the server handles on `thread`."""
    for _ in range(CONNECT_ATTEMPTS):
        c = server.client(single_connection_client=True)
        info = c.execute_command("CLIENT", "INFO")
        if isinstance(info, bytes):
            info = info.decode()
        if f"thread={thread}" in info.split():
            return c
        c.close()
    pytest.fail(f"no connection landed on thread {thread}")


def blocked_clients(r):
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, n):
    """Waits until exactly n clients are blocked."""
    deadline = time.monotonic() + WAIT_S
    while blocked_clients(r) != n:
        assert time.monotonic() < deadline, f"blocked_clients stays {blocked_clients(r)}, not {n}"
        time.sleep(POLL_S)


class Call:
    """Runs one command on client c in a background thread."""

    def __init__(self, c, *cmd):
        self.result = None
        self.error = None
        self.elapsed = None
        self._t = threading.Thread(target=self._run, args=(c, cmd), daemon=True)
        self._t.start()

    def _run(self, c, cmd):
        t0 = time.monotonic()
        try:
            res = c.execute_command(*cmd)
            # redis-py turns BLPOP's reply into a tuple: compare lists everywhere.
            self.result = list(res) if isinstance(res, tuple) else res
        except Exception as e:  # noqa: BLE001 - the test inspects it
            self.error = e
        self.elapsed = time.monotonic() - t0

    def done(self):
        return not self._t.is_alive()

    def wait(self):
        self._t.join(WAIT_S)
        assert not self._t.is_alive(), "the blocked command did not return"
        return self.result


def block(server, r, n_before, *cmd, thread=None):
    """Starts cmd on a new client (on `thread` when given) and waits until it is blocked."""
    c = conn_on_thread(server, thread) if thread is not None else server.client(
        single_connection_client=True
    )
    call = Call(c, *cmd)
    wait_blocked(r, n_before + 1)
    return call


# ---- served by pushes ------------------------------------------------------------------------


@pytest.mark.parametrize("key_shard", [0, 1])
def test_blpop_served_by_push_from_another_thread(server, key_shard):
    key = key_on_shard("bq", key_shard, NSHARDS)
    pusher = conn_on_thread(server, 1)
    w = block(server, pusher, 0, "BLPOP", key, "0", thread=0)
    assert pusher.rpush(key, "v1", "v2") == 2
    assert w.wait() == [key, "v1"]
    assert pusher.lrange(key, 0, -1) == ["v2"]
    wait_blocked(pusher, 0)


def test_brpop_takes_the_tail(server, r):
    w = block(server, r, 0, "BRPOP", "brq", "0")
    r.rpush("brq", "a", "b", "c")
    assert w.wait() == ["brq", "c"]
    assert r.lrange("brq", 0, -1) == ["a", "b"]


def test_first_blocked_first_served(server, r):
    calls = [block(server, r, i, "BLPOP", "fifo", "0", thread=i % NSHARDS) for i in range(3)]
    for i, value in enumerate(("first", "second", "third")):
        r.rpush("fifo", value)
        assert calls[i].wait() == ["fifo", value]
        for later in calls[i + 1 :]:
            assert not later.done()
    assert r.exists("fifo") == 0


def test_one_push_of_several_elements_serves_several_clients(server, r):
    calls = [block(server, r, i, "BLPOP", "multi:q", "0", thread=i % NSHARDS) for i in range(3)]
    assert r.rpush("multi:q", "a", "b", "c", "d") == 4
    assert [c.wait() for c in calls] == [["multi:q", v] for v in "abc"]
    assert r.lrange("multi:q", 0, -1) == ["d"]
    wait_blocked(r, 0)


def test_blpop_on_keys_of_both_shards(server, r):
    k0 = key_on_shard("bk", 0, NSHARDS)
    k1 = key_on_shard("bk", 1, NSHARDS)
    w = block(server, r, 0, "BLPOP", k0, k1, "0")
    r.rpush(k1, "from1")
    assert w.wait() == [k1, "from1"]
    w = block(server, r, 0, "BRPOP", k1, k0, "0")
    r.lpush(k0, "from0")
    assert w.wait() == [k0, "from0"]
    # Data already there: the first non-empty key in argument order, no blocking.
    r.rpush(k0, "x0")
    r.rpush(k1, "x1")
    assert r.blpop([k1, k0], 0) == (k1, "x1")


@pytest.mark.parametrize("same_shard", [True, False])
def test_blmove_across_shards(server, r, same_shard):
    src = key_on_shard("bm:src", 0, NSHARDS)
    dst = key_on_shard("bm:dst", 0 if same_shard else 1, NSHARDS)
    w = block(server, r, 0, "BLMOVE", src, dst, "RIGHT", "LEFT", "0")
    r.rpush(src, "a", "b")
    assert w.wait() == "b"
    assert r.lrange(dst, 0, -1) == ["b"]
    assert r.lrange(src, 0, -1) == ["a"]
    w = block(server, r, 0, "BRPOPLPUSH", "bm:none{x}", dst, "0")
    r.rpush("bm:none{x}", "c")
    assert w.wait() == "c"
    assert r.lrange(dst, 0, -1) == ["c", "b"]
    assert r.exists("bm:none{x}") == 0


def test_blmove_chain_serves_the_next_waiter(server, r):
    """A BLMOVE that is served pushes to its destination, which serves a BLPOP there."""
    a, b = keys_per_shard("chain", NSHARDS)
    pop = block(server, r, 0, "BLPOP", b, "0")
    move = block(server, r, 1, "BLMOVE", a, b, "LEFT", "LEFT", "0")
    r.rpush(a, "token")
    assert move.wait() == "token"
    assert pop.wait() == [b, "token"]
    assert r.exists(a) == 0 and r.exists(b) == 0


def test_blmpop_served_with_count(server, r):
    k0, k1 = keys_per_shard("bmp", NSHARDS)
    w = block(server, r, 0, "BLMPOP", "0", "2", k0, k1, "RIGHT", "COUNT", "2")
    r.rpush(k1, "a", "b", "c")
    assert w.wait() == [k1, ["c", "b"]]
    assert r.lrange(k1, 0, -1) == ["a"]
    assert r.execute_command("BLMPOP", "0", "2", k0, k1, "LEFT", "COUNT", "5") == [k1, ["a"]]


# ---- timeouts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cmd",
    [
        ("BLPOP", "t:a", "t:b", SHORT_TIMEOUT),
        ("BRPOP", "t:a", SHORT_TIMEOUT),
        ("BLMOVE", "t:a", "t:b", "LEFT", "RIGHT", SHORT_TIMEOUT),
        ("BRPOPLPUSH", "t:a", "t:b", SHORT_TIMEOUT),
        ("BLMPOP", SHORT_TIMEOUT, "2", "t:a", "t:b", "LEFT"),
    ],
    ids=lambda c: c[0],
)
def test_timeout_returns_nil(server, r, cmd):
    c = server.client(single_connection_client=True)
    t0 = time.monotonic()
    assert c.execute_command(*cmd) is None
    elapsed = time.monotonic() - t0
    assert float(SHORT_TIMEOUT) * 0.9 <= elapsed < WAIT_S
    assert blocked_clients(r) == 0
    assert c.ping()  # the connection goes on


def test_fractional_timeout(server):
    c = server.client(single_connection_client=True)
    t0 = time.monotonic()
    assert c.execute_command("BLPOP", "frac", FRACTIONAL_TIMEOUT) is None
    assert time.monotonic() - t0 < 1.0  # not rounded up to a whole second


def test_timeout_zero_waits_until_served(server, r):
    w = block(server, r, 0, "BLPOP", "forever", "0")
    time.sleep(STILL_BLOCKED_S)
    assert not w.done()
    assert blocked_clients(r) == 1
    r.lpush("forever", "finally")
    assert w.wait() == ["forever", "finally"]


@pytest.mark.parametrize(
    "timeout, message",
    [
        ("-1", "timeout is negative"),
        ("abc", "timeout is not a float or out of range"),
        ("inf", "timeout is not a float or out of range"),
    ],
)
def test_timeout_errors(r, timeout, message):
    for cmd in (
        ("BLPOP", "te", timeout),
        ("BLMOVE", "te", "te2", "LEFT", "LEFT", timeout),
        ("BLMPOP", timeout, "1", "te", "LEFT"),
    ):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*cmd)
        assert str(e.value) == message


# ---- clients that go away --------------------------------------------------------------------


def raw_blpop(server, key):
    """A raw socket that sent BLPOP key 0 (the caller closes it)."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT_S)
    k = key.encode()
    s.sendall(b"*3\r\n$5\r\nBLPOP\r\n$%d\r\n%s\r\n$1\r\n0\r\n" % (len(k), k))
    return s


def test_disconnected_blocked_client_takes_nothing(server, r):
    s = raw_blpop(server, "gone")
    wait_blocked(r, 1)
    s.close()
    wait_blocked(r, 0)
    r.rpush("gone", "kept")
    assert r.lrange("gone", 0, -1) == ["kept"]
    # A waiter that blocked after the gone one is served normally.
    s = raw_blpop(server, "gone2")
    wait_blocked(r, 1)
    w = block(server, r, 1, "BLPOP", "gone2", "0")
    s.close()
    wait_blocked(r, 1)
    r.rpush("gone2", "v")
    assert w.wait() == ["gone2", "v"]


def test_client_kill_of_a_blocked_client(server, r):
    c = server.client(single_connection_client=True)
    cid = c.client_id()
    w = Call(c, "BLPOP", "killed", "0")
    wait_blocked(r, 1)
    assert r.execute_command("CLIENT", "KILL", "ID", cid) == 1
    w.wait()
    assert isinstance(w.error, redis.ConnectionError)
    wait_blocked(r, 0)
    r.rpush("killed", "kept")
    assert r.lrange("killed", 0, -1) == ["kept"]


# ---- MULTI -----------------------------------------------------------------------------------


def test_blocking_commands_in_multi_return_nil_at_once(server):
    c = server.client(single_connection_client=True)
    c.response_callbacks = {}
    t0 = time.monotonic()
    assert c.execute_command("MULTI") in (b"OK", "OK")
    for cmd in (
        ("BLPOP", "mq", "0"),
        ("BRPOP", "mq", "mq2", "0"),
        ("BLMOVE", "mq", "mq2", "LEFT", "LEFT", "0"),
        ("BRPOPLPUSH", "mq", "mq2", "0"),
        ("BLMPOP", "0", "1", "mq", "LEFT"),
    ):
        c.execute_command(*cmd)
    assert c.execute_command("EXEC") == [None] * 5
    assert time.monotonic() - t0 < WAIT_S / 2


def test_blocking_commands_in_multi_pop_what_is_there(r):
    r.rpush("mqd", "a", "b")
    p = r.pipeline(transaction=True)
    p.blpop(["mqd"], 0)
    p.execute_command("BLMOVE", "mqd", "mqd2", "LEFT", "LEFT", "0")
    p.blpop(["mqd"], 0)
    assert p.execute() == [("mqd", "a"), "b", None]


# ---- pushes by a transaction or a script ------------------------------------------------------


@pytest.mark.parametrize("key_shard", [0, 1])
def test_exec_that_pushes_serves_with_the_final_state(server, r, key_shard):
    # As in Redis, the waiter is served after the whole EXEC, so it sees what EXEC left.
    key = key_on_shard("mxq", key_shard, NSHARDS)
    w = block(server, r, 0, "BLPOP", key, "0", thread=1 - key_shard)
    p = r.pipeline(transaction=True)
    p.rpush(key, "a")
    p.rpush(key, "b")
    p.lpop(key)
    assert p.execute() == [1, 2, "a"]
    assert w.wait() == [key, "b"]
    assert r.exists(key) == 0


@pytest.mark.parametrize("declared", [True, False])
def test_script_that_pushes_serves_after_the_script(server, r, declared):
    # Also when the script pushes to a key it did not declare (job-queue libraries do).
    key = key_on_shard("sxq", 1, NSHARDS)
    w = block(server, r, 0, "BLPOP", key, "0", thread=0)
    script = (
        "redis.call('rpush', KEYS[1] or ARGV[1], 'x', 'y') "
        "redis.call('lpop', KEYS[1] or ARGV[1]) "
        "return redis.call('llen', KEYS[1] or ARGV[1])"
    )
    if declared:
        assert r.eval(script, 1, key) == 1
    else:
        assert r.eval(script, 0, key) == 1
    assert w.wait() == [key, "y"]
    assert r.exists(key) == 0
