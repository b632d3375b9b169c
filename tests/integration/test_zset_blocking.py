"""Blocking sorted-set pops: BZPOPMIN, BZPOPMAX and BZMPOP wait for a write to one of their keys
(on either shard), time out with a null reply, serve waiters in the order they blocked, keep
waiting when the key they get is not a sorted set, and never block inside MULTI. Each blocking
call runs on its own connection in a thread; every wait is bounded.
"""

import threading
import time

import redis

from resp_raw import RawConn, encode
from shardkeys import key_shard, keys_per_shard

WAIT = 10.0  # seconds a blocked call may take at most in these tests
SETTLE = 0.2  # seconds for a client to be blocked before the write that serves it
TIMEOUT_SHORT = "0.2"  # seconds: a BZPOP timeout that must expire


def raw_client(server):
    c = server.client()
    c.response_callbacks = {}
    return c


class Blocked:
    """Runs one blocking command on its own connection in a thread."""

    def __init__(self, server, *args):
        self.client = raw_client(server)
        self.args = args
        self.reply = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            self.reply = self.client.execute_command(*self.args)
        except redis.RedisError as e:
            self.error = e

    def result(self, timeout=WAIT):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.args} still blocked"
        if self.error:
            raise self.error
        return self.reply

    def still_blocked(self):
        self.thread.join(SETTLE)
        return self.thread.is_alive()


def blocked_clients(r):
    return r.info("clients")["blocked_clients"]


def wait_blocked(r, n):
    deadline = time.monotonic() + WAIT
    while blocked_clients(r) < n:
        assert time.monotonic() < deadline, "client did not block"
        time.sleep(0.01)


def test_bzpopmin_served_by_zadd_on_either_shard(server, r):
    keys = keys_per_shard("bk", 2, 2)
    assert {key_shard(k, 2) for k in keys} == {0, 1}
    for target in keys:
        b = Blocked(server, "BZPOPMIN", *keys, "0")
        wait_blocked(r, 1)
        r.zadd(target, {"x": 3, "y": 1})
        assert b.result() == [target, "y", "1"]
        assert r.zrange(target, 0, -1) == ["x"]
        r.delete(target)


def test_bzpopmax_and_bzmpop(server, r):
    k1, k2 = keys_per_shard("bm", 2, 1)
    b = Blocked(server, "BZPOPMAX", k1, k2, "0")
    wait_blocked(r, 1)
    r.zadd(k2, {"a": 1, "b": 2})
    assert b.result() == [k2, "b", "2"]
    b = Blocked(server, "BZMPOP", "0", "2", k1, k2, "MIN", "COUNT", "5")
    wait_blocked(r, 0)  # k2 still has "a": served at once
    assert b.result() == [k2, [["a", "1"]]]
    b = Blocked(server, "BZMPOP", "0", "2", k1, k2, "MAX", "COUNT", "2")
    wait_blocked(r, 1)
    r.zadd(k1, {"p": 1, "q": 2, "r": 3})
    assert b.result() == [k1, [["r", "3"], ["q", "2"]]]


def test_timeout_gives_null(server, r):
    start = time.monotonic()
    assert raw_client(server).execute_command("BZPOPMIN", "nothing", TIMEOUT_SHORT) is None
    assert time.monotonic() - start >= float(TIMEOUT_SHORT) * 0.9
    c = raw_client(server)
    assert c.execute_command("BZMPOP", TIMEOUT_SHORT, "1", "nothing", "MIN") is None
    assert blocked_clients(r) == 0


def test_waiters_served_in_order(server, r):
    key = "fifo"
    first = Blocked(server, "BZPOPMIN", key, "0")
    wait_blocked(r, 1)
    second = Blocked(server, "BZPOPMIN", key, "0")
    wait_blocked(r, 2)
    r.zadd(key, {"a": 1, "b": 2})
    assert first.result() == [key, "a", "1"]
    assert second.result() == [key, "b", "2"]
    assert r.exists(key) == 0


def test_one_element_serves_one_waiter(server, r):
    key = "one"
    first = Blocked(server, "BZPOPMAX", key, "0")
    wait_blocked(r, 1)
    second = Blocked(server, "BZPOPMAX", key, "0")
    wait_blocked(r, 2)
    r.zadd(key, {"only": 7})
    assert first.result() == [key, "only", "7"]
    assert second.still_blocked()
    r.zadd(key, {"next": 8})
    assert second.result() == [key, "next", "8"]


def test_wrong_type_keeps_waiting(server, r):
    key = "typed"
    b = Blocked(server, "BZPOPMIN", key, "0")
    wait_blocked(r, 1)
    r.rpush(key, "not-a-zset") if _has_lists(r) else r.set(key, "str")
    assert b.still_blocked()
    r.delete(key)
    r.zadd(key, {"z": 1})
    assert b.result() == [key, "z", "1"]


def _has_lists(r):
    try:
        r.rpush("probe-list", "x")
        r.delete("probe-list")
        return True
    except redis.ResponseError:
        return False


def test_store_commands_serve_waiters(server, r):
    src, dst = keys_per_shard("st", 2, 1)
    r.zadd(src, {"a": 1, "b": 2})
    b = Blocked(server, "BZPOPMIN", dst, "0")
    wait_blocked(r, 1)
    assert r.execute_command("ZUNIONSTORE", dst, "1", src) == 2
    assert b.result() == [dst, "a", "1"]
    b = Blocked(server, "BZPOPMAX", "rs-dst", "0")
    wait_blocked(r, 1)
    r.execute_command("ZRANGESTORE", "rs-dst", src, "0", "-1")
    assert b.result() == ["rs-dst", "b", "2"]


def test_no_blocking_inside_multi(server, r):
    p = r.pipeline(transaction=True)
    p.execute_command("BZPOPMIN", "empty", "0")
    p.execute_command("BZPOPMAX", "empty", "0")
    p.execute_command("BZMPOP", "0", "1", "empty", "MIN")
    assert p.execute() == [None, None, None]
    # A MULTI that fills the key serves a client blocked before it.
    b = Blocked(server, "BZPOPMIN", "filled", "0")
    wait_blocked(r, 1)
    p = r.pipeline(transaction=True)
    p.zadd("filled", {"m": 1})
    p.zadd("filled", {"n": 2})
    p.execute()
    assert b.result() == ["filled", "m", "1"]
    assert r.zrange("filled", 0, -1) == ["n"]


def test_disconnected_waiter_is_forgotten(server, r):
    conn = RawConn(server.port)
    conn.send(encode("BZPOPMIN", "gone", "0"))
    wait_blocked(r, 1)
    conn.close()
    deadline = time.monotonic() + WAIT
    while blocked_clients(r) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert blocked_clients(r) == 0
    r.zadd("gone", {"kept": 1})
    assert r.zrange("gone", 0, -1) == ["kept"]
