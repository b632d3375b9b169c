"""A runaway script must not hang the clients of its own thread (issue 5).

While EVAL or FCALL runs past busy-reply-threshold, every other client gets Redis's -BUSY, also
the ones connected to the worker thread that runs the script (and connections accepted while it
runs), and SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE work from any connection. With
`--threads 1` (the control plane's default for nodes) every client is on the script's thread.
The replies are compared with Debian's redis-server 7.0 where the texts matter.
"""

import ssl
import time

import pytest

from conftest import free_port
from resp_raw import Error, RawConn, Simple, encode, thread_of
from test_tls import certs, tls_factory  # noqa: F401  (fixtures)

BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = (
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)
KILLED = "ERR Script killed by user with SCRIPT KILL... script: "
UNKILLABLE = (
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can"
    " either wait the script termination or kill the server in a hard way using the SHUTDOWN"
    " NOSAVE command."
)
BUSY_MS = 100  # busy-reply-threshold of these tests
BUSY_WAIT_S = 0.5  # long enough past BUSY_MS for the script to count as busy
SHUTDOWN_TIMEOUT_S = 10
EVAL_FOREVER = encode("EVAL", "while true do end", 0)
SPIN_LIBRARY = "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"
PER_THREAD = 3  # connections on each thread in the two-thread test
MAX_TRIES = 64  # connections opened to find enough on each thread

# Commands sent by one client while an EVAL is busy, and compared reply by reply with Redis 7.0.
COMPARED = [
    ("PING",),
    ("GET", "x"),
    ("SET", "x", "1"),
    ("SELECT", "0"),
    ("CLIENT", "ID"),
    ("INFO", "server"),
    ("SHUTDOWN",),
    ("FUNCTION", "KILL"),
    ("FUNCTION", "STATS"),
    ("SCRIPT", "FLUSH"),
    ("MULTI",),
    ("INCR", "x"),
    ("EXEC",),
    ("WATCH", "x"),
    ("UNWATCH",),
    ("DISCARD",),
    ("NOSUCHCOMMAND",),
]


def one_thread(server_factory, *args):
    return server_factory("--busy-reply-threshold", str(BUSY_MS), *args, threads=1)


def start_busy(port, request=EVAL_FOREVER):
    """A connection that starts a long script; returns it once the script counts as busy."""
    runner = RawConn(port)
    runner.send(request)
    time.sleep(BUSY_WAIT_S)
    return runner


def kill_and_check(runner, killer, kill=("SCRIPT", "KILL")):
    assert killer.command(*kill) == Simple("OK")
    reply = runner.read_reply()
    assert isinstance(reply, Error) and reply.startswith(KILLED), reply
    assert runner.command("PING") == Simple("PONG")


def test_same_thread_clients_get_busy_and_script_kill(server_factory):
    s = one_thread(server_factory)
    before = RawConn(s.port)  # connected before the script started
    runner = start_busy(s.port)
    assert before.command("PING") == Error(BUSY_EVAL)
    assert before.command("GET", "x") == Error(BUSY_EVAL)
    late = RawConn(s.port)  # accepted while the script runs
    assert late.command("PING") == Error(BUSY_EVAL)
    assert late.command("SHUTDOWN") == Error(BUSY_EVAL)
    assert late.command("FUNCTION", "KILL") == Error(BUSY_EVAL)
    kill_and_check(runner, RawConn(s.port))
    assert before.command("PING") == Simple("PONG")
    assert late.command("SCRIPT", "KILL") == Error("NOTBUSY No scripts in execution right now.")


def test_replies_match_redis(server_factory, redis_server_factory):
    """The same conversation with a busy script, on dfly (one thread) and on redis-server."""
    got = {}
    for name, srv in (
        ("dfly", one_thread(server_factory)),
        ("redis", redis_server_factory("--busy-reply-threshold", str(BUSY_MS))),
    ):
        other = RawConn(srv.port)
        runner = start_busy(srv.port)
        got[name] = [other.command(*cmd) for cmd in COMPARED]
        kill_and_check(runner, other)
    assert got["dfly"] == got["redis"]


def test_pipelined_client_gets_one_reply_per_command_in_order(server_factory):
    s = one_thread(server_factory)
    other = RawConn(s.port)
    runner = start_busy(s.port)
    other.send(encode("PING") + encode("GET", "x") + encode("MULTI") + encode("ECHO", "a"))
    assert [other.read_reply() for _ in range(4)] == [
        Error(BUSY_EVAL),
        Error(BUSY_EVAL),
        Simple("OK"),
        Error(BUSY_EVAL),
    ]
    assert other.nothing_within(0.2)
    kill_and_check(runner, RawConn(s.port))
    assert other.command("EXEC") == Error(
        "EXECABORT Transaction discarded because of previous errors."
    )


def test_unkillable_script_and_shutdown_nosave(server_factory):
    s = one_thread(server_factory)
    other = RawConn(s.port)
    runner = start_busy(s.port, encode("EVAL", "redis.call('set', 'w', 1) while true do end", 0))
    assert other.command("SCRIPT", "KILL") == Error(UNKILLABLE)
    assert other.command("SHUTDOWN") == Error(BUSY_EVAL)
    other.send(encode("SHUTDOWN", "NOSAVE"))
    other.expect_closed()
    runner.expect_closed()
    s.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
    assert s.proc.returncode == 0


def test_long_function_and_function_kill(server_factory):
    s = one_thread(server_factory)
    other = RawConn(s.port)
    assert other.command("FUNCTION", "LOAD", SPIN_LIBRARY) == b"spin"
    runner = start_busy(s.port, encode("FCALL", "spin", 0))
    assert other.command("PING") == Error(BUSY_FUNCTION)
    stats = other.command("FUNCTION", "STATS")
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert running[b"name"] == b"spin"
    assert other.command("SCRIPT", "KILL") == Error(BUSY_FUNCTION)
    kill_and_check(runner, other, kill=("FUNCTION", "KILL"))


def test_clients_on_both_threads_get_busy(server_factory):
    s = server_factory("--busy-reply-threshold", str(BUSY_MS), threads=2)
    runner = RawConn(s.port)
    script_thread = thread_of(runner)
    by_thread = {0: [], 1: []}
    for _ in range(MAX_TRIES):
        if all(len(v) >= PER_THREAD for v in by_thread.values()):
            break
        c = RawConn(s.port)
        by_thread[thread_of(c)].append(c)
    assert all(len(v) >= PER_THREAD for v in by_thread.values())
    runner.send(EVAL_FOREVER)
    time.sleep(BUSY_WAIT_S)
    for conns in by_thread.values():
        for c in conns:
            assert c.command("PING") == Error(BUSY_EVAL)
    # The kill may come from the script's own thread too.
    kill_and_check(runner, by_thread[script_thread][0])
    for conns in by_thread.values():
        for c in conns:
            assert c.command("PING") == Simple("PONG")


class TlsConn(RawConn):
    """RawConn over TLS, with the test CA and a client certificate."""

    def __init__(self, port, certs):
        super().__init__(port)
        ctx = ssl.create_default_context(cafile=certs.crt("ca"))
        ctx.load_cert_chain(certs.crt("client"), certs.key("client"))
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")


def test_tls_clients_get_busy_and_script_kill(tls_factory):  # noqa: F811
    s = tls_factory("--busy-reply-threshold", str(BUSY_MS), threads=1)
    before = TlsConn(s.port, s.certs)
    assert before.command("PING") == Simple("PONG")
    runner = TlsConn(s.port, s.certs)
    runner.send(EVAL_FOREVER)
    time.sleep(BUSY_WAIT_S)
    assert before.command("PING") == Error(BUSY_EVAL)
    late = TlsConn(s.port, s.certs)  # the handshake happens while the script runs
    assert late.command("PING") == Error(BUSY_EVAL)
    kill_and_check(runner, late)


@pytest.mark.parametrize("threshold_flag", ["--busy-reply-threshold", "--lua-time-limit"])
def test_threshold_flags(server_factory, threshold_flag):
    s = server_factory(threshold_flag, str(BUSY_MS), threads=1)
    other = RawConn(s.port)
    runner = start_busy(s.port)
    assert other.command("PING") == Error(BUSY_EVAL)
    kill_and_check(runner, other)


def test_memcached_connections_wait_for_the_script(server_factory):
    """memcached has no busy reply: its connections are answered when the script ends."""
    mc_port = free_port()
    s = one_thread(server_factory, "--memcached_port", str(mc_port))
    mc = RawConn(mc_port)
    mc.send(b"version\r\n")
    assert mc.read_line().startswith(b"VERSION ")
    other = RawConn(s.port)
    runner = start_busy(s.port)
    mc.send(b"version\r\n")
    assert mc.nothing_within(0.3)
    kill_and_check(runner, other)
    assert mc.read_line().startswith(b"VERSION ")
