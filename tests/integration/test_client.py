"""CLIENT subcommands. CLIENT LIST and KILL cover the connections of every worker thread; CLIENT
PAUSE holds back commands on every thread and keeps each connection's replies in order."""

import re
import threading
import time

import pytest

from resp_raw import Error, RawConn, Simple, Verbatim, conns_per_thread, encode, info_text

PAUSE_LONG_MS = 20_000  # a pause that only UNPAUSE ends within the test
PAUSE_SHORT_MS = 600
HELD_BACK_CHECK = 0.3  # seconds in which a held-back command must not be answered
CONNS_PER_THREAD_TARGET = 3


def parse_list(text):
    """CLIENT LIST text -> list of dicts, in order."""
    out = []
    for line in text.splitlines():
        fields = {}
        for part in line.split(" "):
            k, _, v = part.partition("=")
            fields[k] = v
        out.append(fields)
    return out


def client_list(conn, *args):
    reply = conn.command("CLIENT", "LIST", *args)
    assert not isinstance(reply, Error), reply
    return parse_list(info_text(reply))


@pytest.fixture
def per_thread(server):
    conns = conns_per_thread(server.port)
    yield conns
    for c in conns.values():
        c.close()


# ---- the caller's own connection ---------------------------------------------------------


def test_id_is_unique_and_increasing(server):
    with RawConn(server.port) as a:
        ia = a.command("CLIENT", "ID")
        # b connects after a was accepted (a answered), so its id is higher, whichever thread.
        with RawConn(server.port) as b:
            ib = b.command("CLIENT", "ID")
        assert isinstance(ia, int) and ib > ia > 0
        assert a.command("CLIENT", "ID") == ia


def test_setname_getname(server):
    with RawConn(server.port) as c:
        assert c.command("CLIENT", "GETNAME") is None
        assert c.command("CLIENT", "SETNAME", "worker-1") == Simple("OK")
        assert c.command("CLIENT", "GETNAME") == b"worker-1"
        for bad in ("a b", "a\nb", "caf\xe9", "tab\there"):
            assert c.command("CLIENT", "SETNAME", bad) == Error(
                "ERR Client names cannot contain spaces, newlines or special characters."
            )
        assert c.command("CLIENT", "GETNAME") == b"worker-1"
        assert c.command("CLIENT", "SETNAME", "") == Simple("OK")  # clears the name
        assert c.command("CLIENT", "GETNAME") is None


def test_info_describes_the_caller(server):
    with RawConn(server.port) as c:
        c.command("CLIENT", "SETNAME", "me")
        c.command("SELECT", "4")
        (me,) = parse_list(info_text(c.command("CLIENT", "INFO")))
        assert me["id"] == str(c.command("CLIENT", "ID"))
        assert me["name"] == "me"
        assert me["db"] == "4"
        assert me["flags"] == "N"
        assert me["resp"] == "2"
        assert me["user"] == "default"
        assert re.fullmatch(r"127\.0\.0\.1:\d+", me["addr"])
        assert me["laddr"] == f"127.0.0.1:{server.port}"


def test_setinfo(server):
    with RawConn(server.port) as c:
        assert c.command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == Simple("OK")
        assert c.command("CLIENT", "SETINFO", "lib-ver", "4.3.4") == Simple("OK")
        (me,) = parse_list(info_text(c.command("CLIENT", "INFO")))
        assert me["lib-name"] == "redis-py"
        assert me["lib-ver"] == "4.3.4"
        assert c.command("CLIENT", "SETINFO", "lib-name", "a b") == Error(
            "ERR lib-name cannot contain spaces, newlines or special characters."
        )
        assert c.command("CLIENT", "SETINFO", "color", "x") == Error(
            "ERR Unrecognized option 'color'"
        )
        assert c.command("CLIENT", "SETINFO", "lib-name") == Error(
            "ERR wrong number of arguments for 'client|setinfo' command"
        )


def test_reply_off_on_skip(server):
    with RawConn(server.port) as c:
        c.send(
            encode("CLIENT", "REPLY", "OFF")
            + encode("SET", "silent", "1")
            + encode("PING")
            + encode("CLIENT", "REPLY", "ON")
            + encode("CLIENT", "REPLY", "SKIP")
            + encode("PING", "skipped")
            + encode("PING", "shown")
        )
        assert c.read_reply() == Simple("OK")  # REPLY ON's reply is the first one
        assert c.read_reply() == b"shown"
        assert c.nothing_within(0.2)
        assert c.command("GET", "silent") == b"1"
        assert c.command("CLIENT", "REPLY", "maybe") == Error("ERR syntax error")


def test_reply_off_hides_errors_too(server):
    with RawConn(server.port) as c:
        c.send(
            encode("CLIENT", "REPLY", "OFF")
            + encode("NOSUCHCOMMAND")
            + encode("CLIENT", "LIST")  # a deferred reply is dropped as well
            + encode("CLIENT", "REPLY", "ON")
        )
        assert c.read_reply() == Simple("OK")
        assert c.nothing_within(0.2)


def test_no_evict_and_no_touch_flags(server):
    with RawConn(server.port) as c:
        assert c.command("CLIENT", "NO-EVICT", "on") == Simple("OK")
        assert c.command("CLIENT", "NO-TOUCH", "ON") == Simple("OK")
        (me,) = parse_list(info_text(c.command("CLIENT", "INFO")))
        assert set(me["flags"]) == {"e", "T"}
        assert c.command("CLIENT", "NO-EVICT", "off") == Simple("OK")
        assert c.command("CLIENT", "NO-TOUCH", "off") == Simple("OK")
        (me,) = parse_list(info_text(c.command("CLIENT", "INFO")))
        assert me["flags"] == "N"
        assert c.command("CLIENT", "NO-EVICT", "maybe") == Error("ERR syntax error")
        assert c.command("CLIENT", "NO-TOUCH", "maybe") == Error("ERR syntax error")


def test_getredir(server):
    with RawConn(server.port) as c:
        assert c.command("CLIENT", "GETREDIR") == -1


def test_help_and_unknown_subcommands(server):
    with RawConn(server.port) as c:
        help_lines = c.command("CLIENT", "HELP")
        assert help_lines[0].startswith("CLIENT <subcommand>")
        assert all(isinstance(x, Simple) for x in help_lines)
        for sub in ("KILL", "LIST", "PAUSE", "REPLY", "SETNAME", "NO-EVICT"):
            assert any(x.startswith(sub) for x in help_lines), sub
        assert c.command("CLIENT", "foo") == Error("ERR unknown subcommand 'foo'. Try CLIENT HELP.")
        assert c.command("CLIENT") == Error("ERR wrong number of arguments for 'client' command")
        assert c.command("CLIENT", "ID", "1") == Error(
            "ERR wrong number of arguments for 'client|id' command"
        )
        assert c.command("client", "setname") == Error(
            "ERR wrong number of arguments for 'client|setname' command"
        )


# ---- CLIENT LIST --------------------------------------------------------------------------


def test_list_covers_every_thread(server, per_thread):
    for t, c in per_thread.items():
        c.command("CLIENT", "SETNAME", f"on-thread-{t}")
    for c in per_thread.values():  # asked from each thread, the answer is the same
        entries = client_list(c)
        names = {e["name"]: e for e in entries}
        for t in per_thread:
            assert names[f"on-thread-{t}"]["thread"] == str(t)
        ids = [int(e["id"]) for e in entries]
        assert ids == sorted(ids)  # oldest first, as Redis lists them


def test_list_shows_the_caller_running_list(server):
    with RawConn(server.port) as c:
        my_id = str(c.command("CLIENT", "ID"))
        (me,) = [e for e in client_list(c) if e["id"] == my_id]
        assert me["cmd"] in ("client|list", "list")


def test_list_by_type(server, per_thread):
    c = per_thread[0]
    assert len(client_list(c, "TYPE", "normal")) >= len(per_thread)
    assert client_list(c, "TYPE", "pubsub") == []
    assert client_list(c, "TYPE", "replica") == []
    assert client_list(c, "TYPE", "master") == []
    assert c.command("CLIENT", "LIST", "TYPE", "bogus") == Error("ERR Unknown client type 'bogus'")


def test_list_by_id_keeps_argument_order(server, per_thread):
    ids = {t: c.command("CLIENT", "ID") for t, c in per_thread.items()}
    c = per_thread[0]
    wanted = [ids[1], ids[0], 999_999, ids[1], 0, -3]
    entries = client_list(c, "ID", *wanted)
    assert [int(e["id"]) for e in entries] == [ids[1], ids[0], ids[1]]
    assert c.command("CLIENT", "LIST", "ID", "abc") == Error("ERR Invalid client ID")


def test_list_syntax_errors(server):
    with RawConn(server.port) as c:
        for args in (("TYPE",), ("ID",), ("foo",), ("TYPE", "normal", "ID", "1")):
            assert c.command("CLIENT", "LIST", *args) == Error("ERR syntax error"), args


def test_list_in_a_pipeline_keeps_reply_order(server, per_thread):
    c = per_thread[1]
    c.send(
        encode("SET", "order", "1")
        + encode("CLIENT", "LIST")
        + encode("INCR", "order")
        + encode("CLIENT", "KILL", "ID", "999999")
        + encode("GET", "order")
    )
    assert c.read_reply() == Simple("OK")
    assert b"id=" in c.read_reply()
    assert c.read_reply() == 2
    assert c.read_reply() == 0
    assert c.read_reply() == b"2"


def test_list_and_kill_are_refused_inside_multi(server):
    with RawConn(server.port) as c:
        c.command("MULTI")
        assert c.command("CLIENT", "LIST") == Error("ERR Command not allowed inside a transaction")
        assert c.command("EXEC") == Error(
            "EXECABORT Transaction discarded because of previous errors."
        )


def test_list_in_resp3_is_verbatim(server):
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        reply = c.command("CLIENT", "LIST")
        assert isinstance(reply, Verbatim) and reply.fmt == "txt"
        assert b" resp=3 " in reply.data


def test_list_many_connections(server):
    conns = [RawConn(server.port) for _ in range(40)]
    try:
        for i, c in enumerate(conns):
            c.command("CLIENT", "SETNAME", f"many-{i}")
        names = {e["name"] for e in client_list(conns[0])}
        assert {f"many-{i}" for i in range(40)} <= names
    finally:
        for c in conns:
            c.close()


IDLE_BIG_VALUE = 40_000  # a request and a reply larger than a read


def test_idle_connections_hold_no_buffers(server, per_thread):
    """After a large request and a large reply, an idle connection keeps no input or output
    buffer (CLIENT LIST: qbuf-free, rbs, omem and tot-mem are 0), on every thread."""
    for t, c in per_thread.items():
        assert c.command("CLIENT", "SETNAME", f"idle-{t}") == Simple("OK")
        assert c.command("SET", f"idle:{t}", "v" * IDLE_BIG_VALUE) == Simple("OK")
        assert c.command("GET", f"idle:{t}") == b"v" * IDLE_BIG_VALUE
    observer = RawConn(server.port)
    try:
        entries = [e for e in client_list(observer) if e["name"].startswith("idle-")]
    finally:
        observer.close()
    assert sorted(e["name"] for e in entries) == sorted(f"idle-{t}" for t in per_thread)
    for e in entries:
        assert (e["qbuf"], e["qbuf-free"], e["rbs"], e["omem"], e["tot-mem"]) == (
            "0", "0", "0", "0", "0"
        ), e


# ---- CLIENT KILL --------------------------------------------------------------------------


def assert_killed(conn):
    with pytest.raises(OSError):
        conn.send(encode("PING"))
        conn.read_reply()


def test_kill_by_id_on_another_thread(server, per_thread):
    victim, killer = per_thread[0], per_thread[1]
    vid = victim.command("CLIENT", "ID")
    assert killer.command("CLIENT", "KILL", "ID", vid) == 1
    assert_killed(victim)
    assert killer.command("CLIENT", "KILL", "ID", vid) == 0
    assert killer.command("PING") == Simple("PONG")
    assert str(vid) not in {e["id"] for e in client_list(killer)}


def test_kill_old_form_by_address(server, per_thread):
    victim, killer = per_thread[1], per_thread[0]
    (info,) = parse_list(info_text(victim.command("CLIENT", "INFO")))
    assert killer.command("CLIENT", "KILL", info["addr"]) == Simple("OK")
    assert_killed(victim)
    assert killer.command("CLIENT", "KILL", info["addr"]) == Error("ERR No such client")
    assert killer.command("CLIENT", "KILL", "1.2.3.4:5") == Error("ERR No such client")


def test_kill_old_form_may_kill_the_caller(server):
    with RawConn(server.port) as c:
        (me,) = parse_list(info_text(c.command("CLIENT", "INFO")))
        c.send(encode("CLIENT", "KILL", me["addr"]) + encode("PING"))
        assert c.expect_closed() == b"+OK\r\n"  # answered, then closed; PING never ran


def test_kill_skipme(server, per_thread):
    c = per_thread[0]
    (me,) = parse_list(info_text(c.command("CLIENT", "INFO")))
    assert c.command("CLIENT", "KILL", "ADDR", me["addr"]) == 0  # SKIPME yes by default
    assert c.command("CLIENT", "KILL", "ADDR", me["addr"], "SKIPME", "yes") == 0
    c.send(encode("CLIENT", "KILL", "ADDR", me["addr"], "SKIPME", "no") + encode("PING"))
    assert c.expect_closed() == b":1\r\n"


def test_kill_by_filters(server, per_thread):
    a, b = per_thread[0], per_thread[1]
    (binfo,) = parse_list(info_text(b.command("CLIENT", "INFO")))
    assert a.command("CLIENT", "KILL", "LADDR", "1.2.3.4:1") == 0
    assert a.command("CLIENT", "KILL", "ADDR", binfo["addr"], "ID", "999999") == 0  # both must match
    assert a.command("CLIENT", "KILL", "TYPE", "pubsub") == 0
    assert a.command("CLIENT", "KILL", "ADDR", binfo["addr"], "USER", "default") == 1
    assert_killed(b)


def test_kill_type_normal_spares_the_caller(server):
    others = [RawConn(server.port) for _ in range(6)]
    with RawConn(server.port) as c:
        killed = c.command("CLIENT", "KILL", "TYPE", "normal")
        assert killed >= len(others)
        for o in others:
            assert_killed(o)
            o.close()
        assert c.command("PING") == Simple("PONG")


def test_kill_laddr(server):
    victims = [RawConn(server.port) for _ in range(4)]
    with RawConn(server.port) as c:
        n = c.command("CLIENT", "KILL", "LADDR", f"127.0.0.1:{server.port}")
        assert n >= len(victims)
        assert c.command("PING") == Simple("PONG")
    for v in victims:
        assert_killed(v)
        v.close()


def test_kill_errors(server):
    with RawConn(server.port) as c:
        for bad in ("0", "-1", "abc"):
            assert c.command("CLIENT", "KILL", "ID", bad) == Error(
                "ERR client-id should be greater than 0"
            )
        assert c.command("CLIENT", "KILL", "TYPE", "foo") == Error("ERR Unknown client type 'foo'")
        assert c.command("CLIENT", "KILL", "USER", "bob") == Error("ERR No such user 'bob'")
        assert c.command("CLIENT", "KILL", "SKIPME", "maybe") == Error("ERR syntax error")
        assert c.command("CLIENT", "KILL", "ID", "1", "SKIPME") == Error("ERR syntax error")
        assert c.command("CLIENT", "KILL", "FOO", "bar") == Error("ERR syntax error")
        assert c.command("CLIENT", "KILL") == Error(
            "ERR wrong number of arguments for 'client|kill' command"
        )


def test_killed_client_with_a_command_in_flight(server, per_thread):
    """A victim busy with a pipeline on the other thread is closed cleanly."""
    victim, killer = per_thread[0], per_thread[1]
    vid = victim.command("CLIENT", "ID")
    victim.send(b"".join(encode("SET", f"busy:{i}", i) for i in range(2000)))
    assert killer.command("CLIENT", "KILL", "ID", vid) == 1
    assert killer.command("PING") == Simple("PONG")


# ---- CLIENT PAUSE -------------------------------------------------------------------------


@pytest.fixture
def unpause(server):
    yield
    with RawConn(server.port) as c:
        c.command("CLIENT", "UNPAUSE")


def test_pause_write_holds_writes_on_every_thread(server, per_thread, unpause):
    admin = RawConn(server.port)
    try:
        assert admin.command("SET", "pw", "0") == Simple("OK")
        assert admin.command("CLIENT", "PAUSE", PAUSE_LONG_MS, "WRITE") == Simple("OK")
        for t, c in per_thread.items():
            c.send(encode("SET", "pw", t) + encode("GET", "pw"))
        for c in per_thread.values():
            assert c.nothing_within(HELD_BACK_CHECK)  # the SET waits, and the GET behind it
        assert admin.command("GET", "pw") == b"0"  # reads go on
        assert admin.command("CLIENT", "UNPAUSE") == Simple("OK")
        for c in per_thread.values():
            assert c.read_reply() == Simple("OK")
            assert c.read_reply() in (b"0", b"1")
    finally:
        admin.close()


def test_pause_write_holds_queued_writes_and_exec(server, per_thread, unpause):
    c, admin = per_thread[0], per_thread[1]
    assert c.command("MULTI") == Simple("OK")
    assert c.command("GET", "x") == Simple("QUEUED")
    assert admin.command("CLIENT", "PAUSE", PAUSE_LONG_MS, "WRITE") == Simple("OK")
    c.send(encode("SET", "x", "1"))  # queueing a write is held back, as in Redis
    assert c.nothing_within(HELD_BACK_CHECK)
    admin.command("CLIENT", "UNPAUSE")
    assert c.read_reply() == Simple("QUEUED")
    assert c.command("EXEC") == [None, Simple("OK")]


def test_pause_all_holds_everything_until_it_expires(server, per_thread):
    a, b = per_thread[0], per_thread[1]
    start = time.monotonic()
    assert a.command("CLIENT", "PAUSE", PAUSE_SHORT_MS) == Simple("OK")  # ALL by default
    b.send(encode("PING") + encode("CLIENT", "UNPAUSE") + encode("ECHO", "after"))
    a.send(encode("PING"))
    assert b.read_reply() == Simple("PONG")
    elapsed = time.monotonic() - start
    assert elapsed >= PAUSE_SHORT_MS / 1000 - 0.05  # even UNPAUSE waits under PAUSE ALL
    assert b.read_reply() == Simple("OK")
    assert b.read_reply() == b"after"
    assert a.read_reply() == Simple("PONG")


def test_pause_keeps_pipeline_order(server, per_thread, unpause):
    c, admin = per_thread[1], per_thread[0]
    admin.command("CLIENT", "PAUSE", PAUSE_LONG_MS, "WRITE")
    pipeline = []
    for i in range(200):
        pipeline.append(encode("GET", f"po:{i}"))
        pipeline.append(encode("SET", f"po:{i}", i))
    c.send(b"".join(pipeline))
    assert c.read_reply() is None  # the first GET runs, then the first SET waits
    assert c.nothing_within(HELD_BACK_CHECK)
    admin.command("CLIENT", "UNPAUSE")
    assert c.read_reply() == Simple("OK")
    for i in range(1, 200):
        assert c.read_reply() is None
        assert c.read_reply() == Simple("OK")


def test_pause_extends_to_the_later_end_and_stronger_mode(server, per_thread):
    a, b = per_thread[0], per_thread[1]
    start = time.monotonic()
    assert a.command("CLIENT", "PAUSE", PAUSE_SHORT_MS * 2, "WRITE") == Simple("OK")
    # CLIENT PAUSE is no write, so it runs; the pause becomes ALL (the stronger mode) until the
    # later end, as Redis's pauseClients merges them.
    assert a.command("CLIENT", "PAUSE", 10, "ALL") == Simple("OK")
    b.send(encode("GET", "x"))
    assert b.nothing_within(HELD_BACK_CHECK)
    assert b.read_reply() is None
    assert time.monotonic() - start >= PAUSE_SHORT_MS * 2 / 1000 - 0.05


def test_closing_a_paused_client(server, unpause):
    with RawConn(server.port) as admin:
        admin.command("CLIENT", "PAUSE", PAUSE_LONG_MS, "WRITE")
        for i in range(5):
            c = RawConn(server.port)
            c.send(encode("SET", f"gone:{i}", i))
            c.close()
        time.sleep(HELD_BACK_CHECK)
        admin.command("CLIENT", "UNPAUSE")
        assert admin.command("PING") == Simple("PONG")


def test_pause_from_redis_py_with_concurrent_writers(server, unpause):
    r = server.client()
    r.execute_command("CLIENT", "PAUSE", PAUSE_LONG_MS, "WRITE")
    done = []

    def writer(i):
        c = server.client()
        c.set(f"bg:{i}", i)
        done.append(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(HELD_BACK_CHECK)
    assert done == []
    assert r.get("bg:0") is None
    r.execute_command("CLIENT", "UNPAUSE")
    for t in threads:
        t.join(timeout=10)
    assert sorted(done) == list(range(8))
    assert r.get("bg:7") == "7"


def test_pause_errors(server):
    with RawConn(server.port) as c:
        assert c.command("CLIENT", "PAUSE", "abc") == Error(
            "ERR timeout is not an integer or out of range"
        )
        assert c.command("CLIENT", "PAUSE", "abc", "foo") == Error(
            "ERR CLIENT PAUSE mode must be WRITE or ALL"
        )
        assert c.command("CLIENT", "PAUSE", "10", "foo") == Error(
            "ERR CLIENT PAUSE mode must be WRITE or ALL"
        )
        assert c.command("CLIENT", "PAUSE", "-5", "WRITE") == Error("ERR timeout is negative")
        assert c.command("CLIENT", "PAUSE", "10", "write", "extra") == Error(
            "ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP."
        )
        assert c.command("CLIENT", "PAUSE") == Error(
            "ERR wrong number of arguments for 'client|pause' command"
        )
        assert c.command("CLIENT", "UNPAUSE", "x") == Error(
            "ERR wrong number of arguments for 'client|unpause' command"
        )
        assert c.command("CLIENT", "PAUSE", "0") == Simple("OK")  # ends at once
        assert c.command("SET", "after-zero-pause", "1") == Simple("OK")
