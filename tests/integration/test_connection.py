"""Connection commands: PING ECHO SELECT QUIT, AUTH and requirepass, HELLO, RESET, MONITOR.
Error texts are Redis 7.0's."""

import os
import re
import select
import subprocess
import time

import pytest
import redis

from resp_raw import Error, Map, RawConn, Simple, conns_per_thread, encode, info_text

PASSWORD = "s3cret-pw"
MONITOR_WAIT = 5.0  # seconds a monitor line may take to arrive

ERR_AUTH_NOPASS = (
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
ERR_WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
ERR_HELLO_NOAUTH = (
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
    "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
    "protocol version at the same time"
)
MONITOR_LINE = re.compile(r"^(\d+)\.(\d{6}) \[(\d+) ([^\]]+)\] (.*)$")


class Monitor:
    """A MONITOR connection that collects lines."""

    def __init__(self, port):
        self.conn = RawConn(port)
        assert self.conn.command("MONITOR") == Simple("OK")
        self.addr = None

    def wait_for(self, pred, what):
        deadline = time.monotonic() + MONITOR_WAIT
        seen = []
        while time.monotonic() < deadline:
            self.conn.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                line = self.conn.read_reply()
            except OSError:
                break
            assert isinstance(line, Simple), line
            m = MONITOR_LINE.match(line)
            assert m, f"not a monitor line: {line!r}"
            seen.append(line)
            if pred(m):
                return m
        raise AssertionError(f"no monitor line {what} within {MONITOR_WAIT} s; saw {seen}")

    def wait_args(self, args_text):
        return self.wait_for(lambda m: m.group(5) == args_text, args_text)

    def close(self):
        self.conn.close()


# ---- PING ECHO SELECT QUIT ---------------------------------------------------------------


def test_ping_and_echo(server):
    with RawConn(server.port) as c:
        assert c.command("PING") == Simple("PONG")
        assert c.command("PING", "hello") == b"hello"
        assert c.command("ping", "a", "b") == Error("ERR wrong number of arguments for 'ping' command")
        assert c.command("ECHO", b"\x00bin\r\n") == b"\x00bin\r\n"
        assert c.command("ECHO") == Error("ERR wrong number of arguments for 'echo' command")


def test_select(server):
    r0 = server.client()
    with RawConn(server.port) as c:
        assert c.command("SELECT", "3") == Simple("OK")
        assert c.command("SET", "k", "in3") == Simple("OK")
        assert c.command("SELECT", "16") == Error("ERR DB index is out of range")
        assert c.command("SELECT", "-1") == Error("ERR DB index is out of range")
        assert c.command("SELECT", "x") == Error("ERR value is not an integer or out of range")
        assert c.command("GET", "k") == b"in3"  # failed SELECTs keep db 3
    assert r0.get("k") is None


def test_quit_closes_after_ok(server):
    with RawConn(server.port) as c:
        c.send(encode("QUIT") + encode("PING"))
        assert c.expect_closed() == b"+OK\r\n"
    with RawConn(server.port) as c:
        c.send(b"QUIT with args\r\n")
        assert c.expect_closed() == b"+OK\r\n"


# ---- AUTH and requirepass ----------------------------------------------------------------


def test_auth_without_password_configured(server):
    with RawConn(server.port) as c:
        assert c.command("AUTH", "x") == Error(ERR_AUTH_NOPASS)
        # The default user has no password: AUTH default <anything> succeeds, others fail.
        assert c.command("AUTH", "default", "anything") == Simple("OK")
        assert c.command("AUTH", "nobody", "x") == Error(ERR_WRONGPASS)
        assert c.command("AUTH", "a", "b", "c") == Error("ERR syntax error")
        assert c.command("AUTH") == Error("ERR wrong number of arguments for 'auth' command")


def test_requirepass(server_factory):
    s = server_factory("--requirepass", PASSWORD)
    with RawConn(s.port) as c:
        assert c.command("PING") == Error("NOAUTH Authentication required.")
        assert c.command("GET", "k") == Error("NOAUTH Authentication required.")
        assert c.command("AUTH", "wrong") == Error(ERR_WRONGPASS)
        assert c.command("AUTH", "default", "wrong") == Error(ERR_WRONGPASS)
        assert c.command("AUTH", "other", PASSWORD) == Error(ERR_WRONGPASS)
        assert c.command("PING") == Error("NOAUTH Authentication required.")
        assert c.command("AUTH", PASSWORD) == Simple("OK")
        assert c.command("PING") == Simple("PONG")
        # A failed AUTH does not log an authenticated connection out.
        assert c.command("AUTH", "wrong") == Error(ERR_WRONGPASS)
        assert c.command("PING") == Simple("PONG")
    with RawConn(s.port) as c:
        assert c.command("AUTH", "default", PASSWORD) == Simple("OK")
        assert c.command("SET", "k", "v") == Simple("OK")
    r = s.client(password=PASSWORD)
    assert r.get("k") == "v"
    with pytest.raises(redis.exceptions.RedisError, match="WRONGPASS"):
        s.client(password="bad").ping()


def test_requirepass_inside_multi_is_refused_before_queueing(server_factory):
    s = server_factory("--requirepass", PASSWORD)
    with RawConn(s.port) as c:
        assert c.command("MULTI") == Error("NOAUTH Authentication required.")


def test_requirepass_by_config_set(server):
    r = server.client()
    assert r.config_set("requirepass", PASSWORD) is True
    assert r.ping() is True  # connections that were in stay in
    with RawConn(server.port) as c:
        assert c.command("PING") == Error("NOAUTH Authentication required.")
        assert c.command("AUTH", PASSWORD) == Simple("OK")
    assert r.config_set("requirepass", "") is True
    with RawConn(server.port) as c:
        assert c.command("PING") == Simple("PONG")


# ---- HELLO --------------------------------------------------------------------------------


def hello_fields(reply):
    if isinstance(reply, Map):
        return {k.decode(): v for k, v in reply}
    assert isinstance(reply, list) and len(reply) % 2 == 0
    return {reply[i].decode(): reply[i + 1] for i in range(0, len(reply), 2)}


def test_hello_reply(server):
    with RawConn(server.port) as c:
        my_id = c.command("CLIENT", "ID")
        reply = c.command("HELLO")
        assert isinstance(reply, list) and len(reply) == 14  # RESP2: a flat array
        f = hello_fields(reply)
        assert list(f) == ["server", "version", "proto", "id", "mode", "role", "modules"]
        assert f["server"] == b"redis"
        assert re.fullmatch(rb"7\.\d+\.\d+", f["version"])
        assert f["proto"] == 2
        assert f["id"] == my_id
        assert f["mode"] == b"standalone"
        assert f["role"] == b"master"
        assert f["modules"] == []

        reply = c.command("HELLO", "3")
        assert isinstance(reply, Map)  # the reply already speaks RESP3
        assert hello_fields(reply)["proto"] == 3
        assert hello_fields(c.command("HELLO"))["proto"] == 3
        assert isinstance(c.command("HELLO", "2"), list)


def test_hello_errors(server):
    with RawConn(server.port) as c:
        assert c.command("HELLO", "4") == Error("NOPROTO unsupported protocol version")
        assert c.command("HELLO", "1") == Error("NOPROTO unsupported protocol version")
        assert c.command("HELLO", "abc") == Error(
            "ERR Protocol version is not an integer or out of range"
        )
        assert c.command("HELLO", "3", "foo") == Error("ERR Syntax error in HELLO option 'foo'")
        assert c.command("HELLO", "3", "AUTH", "default") == Error(
            "ERR Syntax error in HELLO option 'AUTH'"
        )
        assert c.command("HELLO", "3", "setname") == Error(
            "ERR Syntax error in HELLO option 'setname'"
        )
        assert c.command("HELLO", "3", "SETNAME", "a b") == Error(
            "ERR Client names cannot contain spaces, newlines or special characters."
        )
        # None of the failures switched the protocol.
        assert hello_fields(c.command("HELLO"))["proto"] == 2


def test_hello_setname(server):
    with RawConn(server.port) as c:
        f = hello_fields(c.command("HELLO", "3", "SETNAME", "conn-a"))
        assert f["proto"] == 3
        assert c.command("CLIENT", "GETNAME") == b"conn-a"


def test_hello_with_auth(server_factory):
    s = server_factory("--requirepass", PASSWORD)
    with RawConn(s.port) as c:
        assert c.command("HELLO") == Error(ERR_HELLO_NOAUTH)
        assert c.command("HELLO", "3") == Error(ERR_HELLO_NOAUTH)
        assert c.command("HELLO", "3", "AUTH", "default", "bad") == Error(ERR_WRONGPASS)
        assert c.command("HELLO", "3", "AUTH", "bob", PASSWORD) == Error(ERR_WRONGPASS)
        f = hello_fields(c.command("HELLO", "3", "AUTH", "default", PASSWORD, "SETNAME", "n1"))
        assert f["proto"] == 3
        assert c.command("CLIENT", "GETNAME") == b"n1"
        assert c.command("PING") == Simple("PONG")


# ---- RESET --------------------------------------------------------------------------------


def test_reset_restores_a_fresh_connection(server):
    r = server.client()
    r.set("k", "db0")
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        c.command("SELECT", "5")
        c.command("CLIENT", "SETNAME", "before-reset")
        c.command("CLIENT", "NO-EVICT", "on")
        c.command("WATCH", "k")
        assert c.command("MULTI") == Simple("OK")
        assert c.command("SET", "k", "queued") == Simple("QUEUED")
        assert c.command("RESET") == Simple("RESET")
        assert c.command("GET", "k") == b"db0"  # db 0 again
        assert c.command("GET", "missing") is None
        c.send(encode("GET", "missing"))
        assert c.read_raw(5) == b"$-1\r\n"  # RESP2 again
        assert c.command("CLIENT", "GETNAME") is None
        assert c.command("EXEC") == Error("ERR EXEC without MULTI")
        info = info_text(c.command("CLIENT", "INFO"))
        assert " flags=N " in info
        assert " resp=2 " in info
    assert r.get("k") == "db0"  # the queued SET was discarded


def test_reset_turns_replies_back_on(server):
    with RawConn(server.port) as c:
        c.send(encode("CLIENT", "REPLY", "OFF") + encode("PING") + encode("RESET") + encode("PING"))
        assert c.read_reply() == Simple("RESET")
        assert c.read_reply() == Simple("PONG")


def test_reset_logs_out_when_a_password_is_required(server_factory):
    s = server_factory("--requirepass", PASSWORD)
    with RawConn(s.port) as c:
        assert c.command("AUTH", PASSWORD) == Simple("OK")
        assert c.command("RESET") == Simple("RESET")  # RESET needs no authentication
        assert c.command("PING") == Error("NOAUTH Authentication required.")


def test_reset_arity(server):
    with RawConn(server.port) as c:
        assert c.command("RESET", "x") == Error("ERR wrong number of arguments for 'reset' command")


# ---- MONITOR ------------------------------------------------------------------------------


def test_monitor_sees_commands_from_every_thread(server):
    conns = conns_per_thread(server.port)
    mon = Monitor(server.port)
    try:
        for t, c in sorted(conns.items()):
            for i in range(20):  # keys on both shards: inline, hops and squashed batches
                assert c.command("SET", f"t{t}:k{i}", f"v{i}") == Simple("OK")
        for t, c in sorted(conns.items()):
            addr = re.search(r"\baddr=(\S+)", info_text(c.command("CLIENT", "INFO"))).group(1)
            for i in range(20):
                m = mon.wait_args(f'"SET" "t{t}:k{i}" "v{i}"')
                assert m.group(3) == "0"
                assert m.group(4) == addr
    finally:
        mon.close()
        for c in conns.values():
            c.close()


def test_monitor_line_format(server):
    mon = Monitor(server.port)
    try:
        with RawConn(server.port) as c:
            before = time.time()
            c.command("SELECT", "2")
            c.command("set", "quoted", b'a "b"\\\n\r\t\x07\x08\x01\xff')
            m = mon.wait_args('"SELECT" "2"')
            assert m.group(3) == "2"  # the db after the command
            m = mon.wait_args(r'"set" "quoted" "a \"b\"\\\n\r\t\a\b\x01\xff"')
            assert m.group(3) == "2"
            assert abs(int(m.group(1)) - before) < 60
    finally:
        mon.close()


def test_monitor_redacts_secrets_and_skips_admin_commands(server):
    mon = Monitor(server.port)
    try:
        with RawConn(server.port) as c:
            c.command("AUTH", "pw")
            c.command("AUTH", "default", "pw")
            c.command("HELLO", "2", "AUTH", "default", "pw", "SETNAME", "nm")
            c.command("CLIENT", "LIST")  # admin: not shown
            c.command("CLIENT", "SETNAME", "x")
            c.command("MONITOR")  # admin: not shown (and turns c into a monitor)
            c.command("PING")
        mon.wait_args('"AUTH" "(redacted)"')
        mon.wait_args('"AUTH" "(redacted)" "(redacted)"')
        mon.wait_args('"HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "nm"')
        m = mon.wait_for(lambda m: "CLIENT" in m.group(5) or m.group(5) == '"PING"', "CLIENT")
        assert m.group(5) == '"CLIENT" "SETNAME" "x"'
        mon.wait_args('"PING"')
    finally:
        mon.close()


def test_monitor_shows_transactions_after_their_commands(server):
    mon = Monitor(server.port)
    try:
        with RawConn(server.port) as c:
            c.command("MULTI")
            c.command("SET", "{t}a", "1")
            c.command("SET", "other-shard-key", "2")
            c.command("EXEC")
        order = [mon.wait_for(lambda m: True, "any").group(5) for _ in range(4)]
        assert order == ['"MULTI"', '"SET" "{t}a" "1"', '"SET" "other-shard-key" "2"', '"EXEC"']
    finally:
        mon.close()


def test_monitor_client_may_still_run_commands(server):
    with RawConn(server.port) as m:
        assert m.command("MONITOR") == Simple("OK")
        m.send(encode("MONITOR"))  # a second MONITOR is ignored without a reply
        m.send(encode("ECHO", "hi"))
        assert m.read_reply() == b"hi"
        line = m.read_reply()  # its own ECHO, fed after it ran
        assert MONITOR_LINE.match(line).group(5) == '"ECHO" "hi"'
        assert " flags=O " in info_text(m.command("CLIENT", "INFO"))


def test_monitor_refused_inside_multi(server):
    with RawConn(server.port) as c:
        c.command("MULTI")
        assert c.command("MONITOR") == Simple("QUEUED")
        assert c.command("EXEC") == [Error("ERR MONITOR isn't allowed for DENY BLOCKING client")]


def test_reset_leaves_monitor_mode(server):
    with RawConn(server.port) as m, RawConn(server.port) as c:
        assert m.command("MONITOR") == Simple("OK")
        assert m.command("RESET") == Simple("RESET")
        c.command("SET", "after-reset", "1")
        assert m.nothing_within(0.3)
        assert m.command("PING") == Simple("PONG")


def test_monitors_that_disconnect_under_traffic(server):
    r = server.client()
    for round_ in range(5):
        mons = [RawConn(server.port) for _ in range(4)]
        for m in mons:
            m.send(encode("MONITOR"))
        for i in range(50):
            r.set(f"traffic:{i}", round_)
        for m in mons:
            m.close()
    assert r.get("traffic:7") == "4"
    assert r.ping() is True


def test_monitor_with_redis_py(server):
    """redis-py parses monitor lines with its own regex: our format must satisfy it."""
    r = server.client()
    with r.monitor() as m:
        server.client().set("py:key", "py value")
        deadline = time.monotonic() + MONITOR_WAIT
        while time.monotonic() < deadline:
            cmd = m.next_command()
            if cmd["command"].startswith("SET"):
                break
        assert cmd["command"] == "SET py:key py value"
        assert cmd["db"] == 0
        assert cmd["client_address"] == "127.0.0.1"
        assert cmd["client_type"] == "tcp"
        assert abs(cmd["time"] - time.time()) < 60


class LineReader:
    """Lines of a child's stdout, each awaited until a deadline (never blocks past it)."""

    def __init__(self, fd):
        self.fd = fd
        self.pending = b""

    def line(self, deadline):
        while b"\n" not in self.pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                return ""
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return ""
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode(errors="replace")


def test_monitor_with_redis_cli(server):
    proc = subprocess.Popen(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "MONITOR"],
        stdout=subprocess.PIPE,
    )
    out = LineReader(proc.stdout.fileno())
    try:
        deadline = time.monotonic() + MONITOR_WAIT
        assert out.line(deadline).strip() == "OK"
        server.client().set("cli:key", "1")
        line = "-"
        while line and '"cli:key"' not in line:
            line = out.line(deadline)
        assert re.match(r'^\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "cli:key" "1"$', line.strip())
    finally:
        proc.kill()
        proc.wait()
