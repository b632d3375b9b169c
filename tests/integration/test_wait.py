"""WAIT numreplicas timeout on a standalone two-thread server: no replica ever acknowledges, so
WAIT answers 0 at once when it asks for none (or inside MULTI), and otherwise after its timeout;
meanwhile the waiting connection's pipeline waits and every other connection keeps working. A
WAIT with timeout 0 waits until the client leaves, which is clean; CLIENT UNBLOCK ends it.
Exact errors as Redis 7.0.
"""

import time

import pytest

from resp_raw import Error, RawConn, conns_per_thread, encode, info_text

NTHREADS = 2  # the `server` fixture runs --threads 2
WAIT_MS = 200  # the timeout of the timed waits
MIN_ELAPSED_S = 0.15  # a timed wait may not answer before this
MAX_ELAPSED_S = 5.0  # ... and must answer before this
LONG_WAIT_MS = 1500  # a wait during which other clients work
OTHERS_DONE_S = 1.0  # those clients' commands must all be answered within this
POLL_S = 0.01
STATE_WAIT_S = 5.0  # bound on waiting for the server to show a state change


def wait_until(pred, what):
    deadline = time.monotonic() + STATE_WAIT_S
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


def blocked_clients(r):
    return r.info("clients")["blocked_clients"]


def timed(conn, *args):
    start = time.monotonic()
    reply = conn.command(*args)
    return reply, time.monotonic() - start


def test_wait_for_no_replica_answers_at_once(server):
    c = RawConn(server.port)
    for args in (("0", "0"), ("0", "1000"), ("-1", "0")):
        reply, elapsed = timed(c, "WAIT", *args)
        assert reply == 0
        assert elapsed < MIN_ELAPSED_S


@pytest.mark.parametrize("thread", range(NTHREADS))
def test_wait_for_a_replica_times_out_with_zero(server, thread):
    c = conns_per_thread(server.port, NTHREADS)[thread]
    reply, elapsed = timed(c, "WAIT", "1", str(WAIT_MS))
    assert reply == 0
    assert MIN_ELAPSED_S <= elapsed < MAX_ELAPSED_S
    assert c.command("PING") == "PONG"


def test_pipeline_after_wait_keeps_its_order(server):
    c = RawConn(server.port)
    c.send(encode("WAIT", "3", str(WAIT_MS)) + encode("SET", "wk", "1") + encode("GET", "wk"))
    start = time.monotonic()
    assert c.read_reply() == 0
    assert time.monotonic() - start >= MIN_ELAPSED_S
    assert c.read_reply() == "OK"
    assert c.read_reply() == b"1"


def test_other_clients_work_while_one_waits(server, r):
    conns = conns_per_thread(server.port, NTHREADS)
    waiter = RawConn(server.port)
    waiter.send(encode("WAIT", "1", str(LONG_WAIT_MS)))
    start = time.monotonic()
    wait_until(lambda: blocked_clients(r) == 1, "the WAIT to block")
    for t, c in conns.items():  # one connection on each thread, the waiter's included
        for i in range(20):
            assert c.command("SET", f"other:{t}:{i}", i) == "OK"
            assert c.command("GET", f"other:{t}:{i}") == str(i).encode()
    assert time.monotonic() - start < OTHERS_DONE_S
    assert "flags=b " in info_text(conns[0].command("CLIENT", "LIST"))
    assert waiter.read_reply() == 0
    assert time.monotonic() - start >= LONG_WAIT_MS / 1000 * 0.75
    assert blocked_clients(r) == 0


def test_forever_wait_ends_cleanly_when_the_client_leaves(server, r):
    before = r.info("clients")["connected_clients"]
    for _ in range(3):
        c = RawConn(server.port)
        c.send(encode("WAIT", "1", "0"))
        wait_until(lambda: blocked_clients(r) == 1, "the WAIT to block")
        assert c.nothing_within(0.2)  # forever means forever
        c.close()
        wait_until(lambda: blocked_clients(r) == 0, "the WAIT to end with its client")
    wait_until(lambda: r.info("clients")["connected_clients"] == before, "the clients to go")
    assert r.ping()


def test_client_unblock_ends_a_wait(server, r):
    c = RawConn(server.port)
    cid = c.command("CLIENT", "ID")
    c.send(encode("WAIT", "1", "0"))
    wait_until(lambda: blocked_clients(r) == 1, "the WAIT to block")
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 1
    assert c.read_reply() == 0
    c.send(encode("WAIT", "1", "0"))
    wait_until(lambda: blocked_clients(r) == 1, "the WAIT to block")
    assert r.execute_command("CLIENT", "UNBLOCK", cid, "ERROR") == 1
    assert c.read_reply() == Error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    assert r.execute_command("CLIENT", "UNBLOCK", cid) == 0  # not waiting any more
    assert c.command("PING") == "PONG"


def test_wait_inside_multi_answers_at_once(server):
    c = RawConn(server.port)
    assert c.command("MULTI") == "OK"
    assert c.command("WAIT", "1", "0") == "QUEUED"
    reply, elapsed = timed(c, "EXEC")
    assert reply == [0]
    assert elapsed < MIN_ELAPSED_S


def test_wait_is_refused_in_scripts(r):
    with pytest.raises(Exception, match="not allowed from script"):
        r.eval("return redis.call('wait', 1, 1000)", 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (("1", "-1"), "ERR timeout is negative"),
        (("x", "1"), "ERR value is not an integer or out of range"),
        (("1", "x"), "ERR timeout is not an integer or out of range"),
        (("1", "1.5"), "ERR timeout is not an integer or out of range"),
        (("1", "9223372036854775807"), "ERR timeout is out of range"),
        (("1",), "ERR wrong number of arguments for 'wait' command"),
    ],
)
def test_wait_errors(server, args, message):
    c = RawConn(server.port)
    assert c.command("WAIT", *args) == Error(message)


def test_command_info(server):
    info = RawConn(server.port).command("COMMAND", "INFO", "wait")[0]
    assert info[:3] == [b"wait", 3, ["noscript"]]
    assert info[6] == ["@slow", "@connection"]
