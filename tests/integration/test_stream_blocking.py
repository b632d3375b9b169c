"""XREAD BLOCK and XREADGROUP BLOCK on a two-thread server: a reader blocked on one thread is
woken by an XADD from a connection on the other thread, with the entries past the ID it gave
("$" meaning the last ID when it blocked); timeouts (and BLOCK 0 = forever) behave as in
Redis; a read over streams on both shards is answered with the one stream that woke it;
every XREAD reader gets the entry while in a group only one consumer does, and a reader with
nothing to take does not hold back those blocked after it; XGROUP DESTROY wakes group readers
with NOGROUP; inside MULTI BLOCK answers nil at once.
"""

import re
import threading
import time

import pytest
import redis

from resp_raw import Map, RawConn
from shardkeys import key_on_shard

NSHARDS = 2  # the `server` fixture runs --threads 2
WAIT_S = 5.0  # bound on every wait for a state change
POLL_S = 0.01
SHORT_BLOCK_MS = 150  # a BLOCK that expires during the test
STILL_BLOCKED_S = 0.4  # how long a blocked reader is watched to stay blocked
CONNECT_ATTEMPTS = 64  # connections tried to land one on a given thread


def raw_client(server, thread=None):
    """A single-connection client (on `thread` when given) returning unreshaped replies."""
    for _ in range(CONNECT_ATTEMPTS):
        c = server.client(single_connection_client=True)
        c.response_callbacks = {}
        if thread is None:
            return c
        if f"thread={thread}" in c.execute_command("CLIENT", "INFO").split():
            return c
        c.close()
    pytest.fail(f"no connection landed on thread {thread}")


def blocked_clients(r):
    raw = r.execute_command("INFO", "clients")
    if isinstance(raw, dict):
        return raw["blocked_clients"]
    return int(re.search(r"^blocked_clients:(\d+)", raw, re.M).group(1))


def wait_blocked(r, n):
    deadline = time.monotonic() + WAIT_S
    while blocked_clients(r) != n:
        assert time.monotonic() < deadline, f"blocked_clients stays {blocked_clients(r)}, not {n}"
        time.sleep(POLL_S)


class Call:
    """Runs one command on client c in a background thread."""

    def __init__(self, c, *cmd):
        self.result = self.error = self.elapsed = None
        self._t = threading.Thread(target=self._run, args=(c, cmd), daemon=True)
        self._t.start()

    def _run(self, c, cmd):
        t0 = time.monotonic()
        try:
            self.result = c.execute_command(*cmd)
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
    """Starts cmd on a new client and waits until it is blocked."""
    call = Call(raw_client(server, thread), *cmd)
    wait_blocked(r, n_before + 1)
    return call


@pytest.fixture
def r(server):
    c = server.client()
    c.response_callbacks = {}
    return c


# --- XREAD BLOCK --------------------------------------------------------------------------------


@pytest.mark.parametrize("key_shard", [0, 1])
def test_xread_woken_by_xadd_from_another_thread(server, key_shard):
    key = key_on_shard("bs", key_shard, NSHARDS)
    writer = raw_client(server, 1)
    writer.execute_command("XADD", key, "1-0", "old", "x")
    w = block(server, writer, 0, "XREAD", "BLOCK", "0", "STREAMS", key, "$", thread=0)
    assert writer.execute_command("XADD", key, "2-0", "new", "y") == "2-0"
    assert w.wait() == [[key, [["2-0", ["new", "y"]]]]]
    assert blocked_clients(writer) == 0


def test_xread_block_on_a_missing_key(server, r):
    w = block(server, r, 0, "XREAD", "BLOCK", "0", "STREAMS", "later", "$")
    r.execute_command("XADD", "later", "5-5", "f", "v")
    assert w.wait() == [["later", [["5-5", ["f", "v"]]]]]


def test_xread_block_with_an_explicit_id(server, r):
    r.execute_command("XADD", "ex", "1-0", "f", "1")
    w = block(server, r, 0, "XREAD", "BLOCK", "0", "STREAMS", "ex", "1-0")
    r.execute_command("XADD", "ex", "2-0", "f", "2")
    assert w.wait() == [["ex", [["2-0", ["f", "2"]]]]]
    # Something past the ID already: no blocking at all.
    assert r.execute_command("XREAD", "BLOCK", "0", "STREAMS", "ex", "0") == [
        ["ex", [["1-0", ["f", "1"]], ["2-0", ["f", "2"]]]]
    ]


def test_xread_block_timeout(r):
    t0 = time.monotonic()
    assert r.execute_command("XREAD", "BLOCK", str(SHORT_BLOCK_MS), "STREAMS", "none", "$") is None
    assert time.monotonic() - t0 >= SHORT_BLOCK_MS / 1000 * 0.9
    assert blocked_clients(r) == 0


def test_xread_block_zero_waits_until_served(server, r):
    w = block(server, r, 0, "XREAD", "BLOCK", "0", "STREAMS", "forever", "$")
    time.sleep(STILL_BLOCKED_S)
    assert not w.done()
    r.execute_command("XADD", "forever", "1-1", "f", "v")
    assert w.wait() == [["forever", [["1-1", ["f", "v"]]]]]


def test_xread_several_streams_on_both_shards(server, r):
    a, b = key_on_shard("ms", 0, NSHARDS), key_on_shard("ms", 1, NSHARDS)
    r.execute_command("XADD", a, "1-0", "f", "a")
    w = block(server, r, 0, "XREAD", "BLOCK", "0", "COUNT", "10", "STREAMS", a, b, "$", "$")
    r.execute_command("XADD", b, "7-0", "f", "b")
    # Redis 7.0 answers with the stream that woke the reader.
    assert w.wait() == [[b, [["7-0", ["f", "b"]]]]]


def test_xadd_to_another_key_does_not_wake(server, r):
    w = block(server, r, 0, "XREAD", "BLOCK", "0", "STREAMS", "mine", "$")
    r.execute_command("XADD", "other", "1-0", "f", "v")
    time.sleep(STILL_BLOCKED_S)
    assert not w.done()
    r.execute_command("XADD", "mine", "1-0", "f", "v")
    assert w.wait() == [["mine", [["1-0", ["f", "v"]]]]]


def test_every_xread_reader_gets_the_entry(server, r):
    readers = [block(server, r, n, "XREAD", "BLOCK", "0", "STREAMS", "fan", "$") for n in range(3)]
    r.execute_command("XADD", "fan", "3-0", "f", "v")
    for w in readers:
        assert w.wait() == [["fan", [["3-0", ["f", "v"]]]]]


def test_xread_block_replaced_by_another_type(server, r):
    w = block(server, r, 0, "XREAD", "BLOCK", "0", "STREAMS", "typed", "$")
    r.execute_command("LPUSH", "typed", "x")  # not a stream: the reader keeps waiting
    time.sleep(STILL_BLOCKED_S)
    assert not w.done()
    r.delete("typed")
    r.execute_command("XADD", "typed", "1-0", "f", "v")
    assert w.wait() == [["typed", [["1-0", ["f", "v"]]]]]


def test_xread_block_resp3_reply(server, r):
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        c.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$2\r\nr3\r\n$1\r\n$\r\n")
        wait_blocked(r, 1)
        r.execute_command("XADD", "r3", "1-0", "f", "v")
        got = c.read_reply()
        assert isinstance(got, Map) and got.as_dict() == {b"r3": [[b"1-0", [b"f", b"v"]]]}


def test_blocked_reader_that_disconnects(server, r):
    c = RawConn(server.port)
    c.command("PING")
    c.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$4\r\ngone\r\n$1\r\n$\r\n")
    wait_blocked(r, 1)
    c.close()
    wait_blocked(r, 0)
    assert r.execute_command("XADD", "gone", "1-0", "f", "v") == "1-0"


def test_client_unblock_of_a_reader(server, r):
    c = raw_client(server)
    cid = c.execute_command("CLIENT", "ID")
    w = Call(c, "XREAD", "BLOCK", "0", "STREAMS", "ub", "$")
    wait_blocked(r, 1)
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 1
    assert w.wait() is None


def test_block_inside_multi_answers_at_once(r):
    p = r.pipeline(transaction=True)
    p.execute_command("XREAD", "BLOCK", "0", "STREAMS", "mu", "$")
    p.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "mu", ">")
    r.execute_command("XGROUP", "CREATE", "mu", "g", "$", "MKSTREAM")
    assert p.execute() == [None, None]


# --- XREADGROUP BLOCK ---------------------------------------------------------------------------


@pytest.mark.parametrize("key_shard", [0, 1])
def test_xreadgroup_woken_by_xadd(server, key_shard):
    key = key_on_shard("gb", key_shard, NSHARDS)
    writer = raw_client(server, 1)
    writer.execute_command("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
    w = block(server, writer, 0, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", key, ">", thread=0)
    writer.execute_command("XADD", key, "1-0", "job", "1")
    assert w.wait() == [[key, [["1-0", ["job", "1"]]]]]
    pending = writer.execute_command("XPENDING", key, "g", "-", "+", "10")
    assert [(p[0], p[1], p[3]) for p in pending] == [("1-0", "alice", 1)]


def test_one_consumer_of_a_group_gets_each_entry(server, r):
    r.execute_command("XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM")
    first = block(server, r, 0, "XREADGROUP", "GROUP", "g", "w1", "BLOCK", "0", "STREAMS", "jobs", ">")
    second = block(server, r, 1, "XREADGROUP", "GROUP", "g", "w2", "BLOCK", "0", "STREAMS", "jobs", ">")
    r.execute_command("XADD", "jobs", "1-0", "n", "1")
    assert first.wait() == [["jobs", [["1-0", ["n", "1"]]]]]
    time.sleep(STILL_BLOCKED_S)
    assert not second.done()  # the entry went to w1
    r.execute_command("XADD", "jobs", "2-0", "n", "2")
    assert second.wait() == [["jobs", [["2-0", ["n", "2"]]]]]
    assert r.execute_command("XPENDING", "jobs", "g")[3] == [["w1", "1"], ["w2", "1"]]


def test_xreadgroup_noack_and_count_when_woken(server, r):
    r.execute_command("XGROUP", "CREATE", "na", "g", "$", "MKSTREAM")
    w = block(server, r, 0, "XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "NOACK", "BLOCK", "0", "STREAMS", "na", ">")
    r.execute_command("XADD", "na", "1-0", "f", "v")
    assert w.wait() == [["na", [["1-0", ["f", "v"]]]]]
    assert r.execute_command("XPENDING", "na", "g")[0] == 0


def test_xreadgroup_timeout_and_history(server, r):
    r.execute_command("XGROUP", "CREATE", "ht", "g", "$", "MKSTREAM")
    t0 = time.monotonic()
    assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", str(SHORT_BLOCK_MS), "STREAMS", "ht", ">") is None
    assert time.monotonic() - t0 >= SHORT_BLOCK_MS / 1000 * 0.9
    # A history read never blocks, even when there is no history.
    assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "ht", "0") == [["ht", []]]


def test_xgroup_destroy_wakes_readers_with_nogroup(server, r):
    r.execute_command("XGROUP", "CREATE", "dg", "g", "$", "MKSTREAM")
    w = block(server, r, 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "dg", ">")
    assert r.execute_command("XGROUP", "DESTROY", "dg", "g") == 1
    w.wait()
    assert isinstance(w.error, redis.ResponseError)
    assert str(w.error) == "NOGROUP the consumer group this client was blocked on no longer exists"


def test_xreadgroup_several_streams_on_both_shards(server, r):
    a, b = key_on_shard("gm", 0, NSHARDS), key_on_shard("gm", 1, NSHARDS)
    for k in (a, b):
        r.execute_command("XGROUP", "CREATE", k, "g", "$", "MKSTREAM")
    w = block(server, r, 0, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", a, b, ">", ">")
    r.execute_command("XADD", a, "4-0", "f", "v")
    assert w.wait() == [[a, [["4-0", ["f", "v"]]]]]
    assert r.execute_command("XPENDING", a, "g")[0] == 1 and r.execute_command("XPENDING", b, "g")[0] == 0


def test_each_group_gets_the_entry_when_another_consumer_keeps_waiting(server, r):
    """A reader with nothing to take (w2: its group's entry went to w1) must not hold back the
    readers blocked after it (w3, another group)."""
    for g in ("g1", "g2"):
        r.execute_command("XGROUP", "CREATE", "multi", g, "$", "MKSTREAM")
    w1 = block(server, r, 0, "XREADGROUP", "GROUP", "g1", "w1", "BLOCK", "0", "STREAMS", "multi", ">")
    w2 = block(server, r, 1, "XREADGROUP", "GROUP", "g1", "w2", "BLOCK", "0", "STREAMS", "multi", ">")
    w3 = block(server, r, 2, "XREADGROUP", "GROUP", "g2", "w3", "BLOCK", "0", "STREAMS", "multi", ">")
    r.execute_command("XADD", "multi", "1-0", "f", "v")
    assert w1.wait() == [["multi", [["1-0", ["f", "v"]]]]]
    assert w3.wait() == [["multi", [["1-0", ["f", "v"]]]]]
    assert not w2.done()
    r.execute_command("XADD", "multi", "2-0", "f", "v")
    assert w2.wait() == [["multi", [["2-0", ["f", "v"]]]]]


def test_a_reader_waiting_for_a_later_id_does_not_hold_back_others(server, r):
    late = block(server, r, 0, "XREAD", "BLOCK", "0", "STREAMS", "later", "100-0")
    now = block(server, r, 1, "XREAD", "BLOCK", "0", "STREAMS", "later", "$")
    r.execute_command("XADD", "later", "50-0", "f", "v")
    assert now.wait() == [["later", [["50-0", ["f", "v"]]]]]
    assert not late.done()
    r.execute_command("XADD", "later", "101-0", "f", "v")
    assert late.wait() == [["later", [["101-0", ["f", "v"]]]]]
