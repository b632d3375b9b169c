"""Client limits: maxclients, idle timeout, client-query-buffer-limit, client-output-buffer-limit
(normal class, hard and soft), proto-max-bulk-len, the multibulk length, protected mode, and
abuse that must stay harmless to others: slowloris senders, a client that never reads its
replies, 10k idle connections — each while a well-behaved client keeps being served."""

import socket
import threading
import time

import pytest

from conftest import HOST
from resp_raw import Error, RawConn, encode

SERVED_WITHIN = 0.5  # seconds a well-behaved client's command may take under abuse
KEYS = 32  # spread over both shards
IDLE_CONNECTIONS = 10000
CONNECT_CHUNK = 500  # connections opened between checks on the well-behaved client
NON_LOCAL_SOURCE = "127.0.0.2"  # loopback to the kernel, not "local" to protected mode

PROTECTED_DENIED_PREFIX = (
    "DENIED Redis is running in protected mode because protected mode is enabled and no password "
    "is set for the default user."
)


def served(r):
    """The well-behaved client: writes and reads keys on both shards, quickly."""
    start = time.monotonic()
    for i in range(KEYS):
        r.set(f"good:{i}", i)
    assert r.mget([f"good:{i}" for i in range(KEYS)]) == [str(i) for i in range(KEYS)]
    return time.monotonic() - start


def wait_closed(sock, timeout=5.0):
    """True when the server closes sock within timeout (whatever it sent first)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(1 << 16):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    return False


def connected_clients(r):
    return int(r.info("clients")["connected_clients"])


# --- maxclients ------------------------------------------------------------------------------


def test_maxclients(server_factory):
    s = server_factory("--maxclients", 4)
    r = s.client()
    r.ping()
    held = [RawConn(s.port) for _ in range(3)]
    for c in held:
        c.send(encode("PING"))
        assert c.read_reply() == "PONG"
    extra = RawConn(s.port)
    assert extra.read_reply() == Error("ERR max number of clients reached")
    extra.expect_closed()
    assert int(r.info("stats")["rejected_connections"]) >= 1
    for c in held:
        c.close()
    deadline = time.monotonic() + 5
    while connected_clients(r) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    with RawConn(s.port) as again:
        again.send(encode("PING"))
        assert again.read_reply() == "PONG"
    served(r)


def test_maxclients_config_set(server_factory):
    s = server_factory()
    r = s.client()
    r.config_set("maxclients", 2)
    one = RawConn(s.port)
    one.send(encode("PING"))
    assert one.read_reply() == "PONG"
    two = RawConn(s.port)
    assert two.read_reply() == Error("ERR max number of clients reached")
    one.close()
    two.close()


# --- idle timeout -----------------------------------------------------------------------------


def test_idle_clients_are_closed_after_timeout(server_factory):
    s = server_factory("--timeout", 1)
    r = s.client()
    idle = RawConn(s.port)
    idle.send(encode("PING"))
    assert idle.read_reply() == "PONG"
    sub = RawConn(s.port)
    sub.send(encode("SUBSCRIBE", "chan"))
    sub.read_reply()
    busy_until = time.monotonic() + 2.5
    while time.monotonic() < busy_until:  # r stays active: never timed out
        served(r)
        time.sleep(0.2)
    idle.expect_closed()
    sub.send(encode("PING"))  # subscribers are exempt, as in Redis
    assert sub.read_reply()[0] == b"pong"
    sub.close()


# --- query buffer, bulk and multibulk lengths --------------------------------------------------


def test_query_buffer_limit_closes_only_that_client(server_factory):
    s = server_factory()
    r = s.client()
    r.config_set("client-query-buffer-limit", "1mb")
    big = socket.create_connection((HOST, s.port), timeout=5)
    big.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$4000000\r\n")
    chunk = b"x" * 65536
    try:
        for _ in range(40):  # 2.5 MB of a 4 MB bulk: over the limit before it completes
            big.sendall(chunk)
    except (ConnectionResetError, BrokenPipeError):
        pass
    assert wait_closed(big)
    assert r.exists("big") == 0
    served(r)


def test_proto_max_bulk_len(server_factory):
    s = server_factory()
    r = s.client()
    r.config_set("proto-max-bulk-len", "2mb")
    with RawConn(s.port) as c:
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        assert c.read_reply() == Error("ERR Protocol error: invalid bulk length")
        c.expect_closed()
    r.set("k", "x" * (1 << 20))  # under the limit
    assert r.strlen("k") == 1 << 20


def test_multibulk_length_limit(server_factory):
    s = server_factory("--max_multibulk_len", 16)
    r = s.client()
    with RawConn(s.port) as c:
        c.send(b"*17\r\n")
        assert c.read_reply() == Error("ERR Protocol error: invalid multibulk length")
        c.expect_closed()
    with RawConn(s.port) as c:
        c.send(b"*1048577\r\n")  # beyond any setting
        assert c.read_reply() == Error("ERR Protocol error: invalid multibulk length")
    assert r.mset({f"m{i}": i for i in range(7)})  # 15 arguments: fine


def test_slowloris_senders_do_not_stall_others(server_factory):
    s = server_factory("--timeout", 5)
    r = s.client()
    request = encode("SET", "slow", "v" * 200)
    senders = []
    for _ in range(20):
        sock = socket.create_connection((HOST, s.port), timeout=5)
        senders.append(sock)
    stop = threading.Event()

    def trickle():
        # One byte per 100 ms from every sender, for about three seconds.
        for i in range(30):
            if stop.is_set():
                return
            for sock in senders:
                sock.sendall(request[i : i + 1])
            time.sleep(0.1)

    t = threading.Thread(target=trickle)
    t.start()
    try:
        worst = 0.0
        while t.is_alive():
            worst = max(worst, served(r))
            time.sleep(0.05)
        assert worst < SERVED_WITHIN
    finally:
        stop.set()
        t.join()
    # The slow requests are still incomplete and held, not executed, not errors.
    assert r.exists("slow") == 0
    for sock in senders:
        sock.sendall(request[30:])
    for sock in senders:
        sock.settimeout(5)
        assert sock.recv(64) == b"+OK\r\n"
        sock.close()
    assert r.strlen("slow") == 200


# --- output buffers ---------------------------------------------------------------------------


def _never_reader(port, value_key, count):
    """A client that pipelines count GETs of a big value and never reads the replies."""
    sock = socket.create_connection((HOST, port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    payload = encode("GET", value_key) * count
    try:
        sock.sendall(payload)
    except (ConnectionResetError, BrokenPipeError):
        pass
    return sock


def test_output_buffer_hard_limit_closes_a_client_that_never_reads(server_factory):
    s = server_factory()
    r = s.client()
    r.config_set("client-output-buffer-limit", "normal 4mb 0 0")
    r.set("{v}big", "x" * 100_000)
    before = int(r.info("memory")["used_memory"])
    sock = _never_reader(s.port, "{v}big", 2000)  # 200 MB of replies if it were allowed
    time.sleep(0.5)
    served(r)
    deadline = time.monotonic() + 5
    closed = False
    while time.monotonic() < deadline and not closed:
        closed = any(
            "client-output-buffer-limit normal" in line for line in s.log().splitlines()
        )
        time.sleep(0.05)
    assert closed
    assert int(r.info("memory")["used_memory"]) < before + 64 * 1024 * 1024
    assert served(r) < SERVED_WITHIN
    sock.close()


def test_output_buffer_soft_limit_after_seconds(server_factory):
    s = server_factory()
    r = s.client()
    r.config_set("client-output-buffer-limit", "normal 0 1mb 1")
    r.set("{v}big", "x" * 100_000)
    sock = _never_reader(s.port, "{v}big", 100)  # ~10 MB: over the soft limit, no hard one
    time.sleep(0.3)
    log = s.log()
    assert "client-output-buffer-limit normal" not in log  # not yet: under the soft seconds
    # More output past the soft seconds: the limit is checked as replies accumulate.
    time.sleep(1.2)
    try:
        sock.sendall(encode("GET", "{v}big") * 20)
    except (ConnectionResetError, BrokenPipeError):
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "client-output-buffer-limit normal" not in s.log():
        time.sleep(0.05)
    assert "client-output-buffer-limit normal" in s.log()
    served(r)
    sock.close()


def test_output_buffer_limit_config_roundtrip(r):
    r.config_set("client-output-buffer-limit", "normal 10mb 5mb 30")
    got = r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
    assert got.startswith("normal 10485760 5242880 30 ")


# --- many idle connections -------------------------------------------------------------------


def test_ten_thousand_idle_connections(server_factory):
    s = server_factory("--maxclients", IDLE_CONNECTIONS + 100)
    r = s.client()
    socks = []
    try:
        while len(socks) < IDLE_CONNECTIONS:
            for _ in range(CONNECT_CHUNK):
                socks.append(socket.create_connection((HOST, s.port), timeout=10))
            assert served(r) < SERVED_WITHIN
        deadline = time.monotonic() + 10
        while connected_clients(r) < IDLE_CONNECTIONS + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert connected_clients(r) >= IDLE_CONNECTIONS + 1
        assert served(r) < SERVED_WITHIN
        # An idle one still answers.
        socks[-1].sendall(encode("PING"))
        socks[-1].settimeout(5)
        assert socks[-1].recv(16) == b"+PONG\r\n"
    finally:
        for sock in socks:
            sock.close()
    deadline = time.monotonic() + 10
    while connected_clients(r) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connected_clients(r) == 1


# --- protected mode -----------------------------------------------------------------------------


def _from_non_local(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.bind((NON_LOCAL_SOURCE, 0))
    sock.connect((HOST, port))
    return sock


def _read_all(sock):
    data = b""
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, socket.timeout):
        return data


@pytest.mark.parametrize("kind", ["dfly", "redis"])
def test_protected_mode_denies_non_loopback_without_password(
    kind, server_factory, redis_server_factory
):
    if kind == "dfly":
        s = server_factory("--bind", "0.0.0.0")
    else:
        s = redis_server_factory("--protected-mode", "yes")
    sock = _from_non_local(s.port)
    sock.sendall(encode("PING"))
    reply = _read_all(sock).decode()
    sock.close()
    assert reply.startswith("-" + PROTECTED_DENIED_PREFIX)
    assert reply.endswith("accepting connections from the outside.\r\n")


def test_protected_mode_text_matches_redis(server_factory, redis_server_factory):
    texts = []
    for s in (server_factory(), redis_server_factory("--protected-mode", "yes")):
        sock = _from_non_local(s.port)
        texts.append(_read_all(sock))
        sock.close()
    assert texts[0] == texts[1]


def test_protected_mode_off_or_password_lets_others_in(server_factory):
    s = server_factory("--protected_mode", "no")
    sock = _from_non_local(s.port)
    sock.sendall(encode("PING"))
    assert sock.recv(16) == b"+PONG\r\n"
    sock.close()
    s2 = server_factory("--requirepass", "secret")
    sock = _from_non_local(s2.port)
    sock.sendall(encode("PING"))
    assert sock.recv(64).startswith(b"-NOAUTH")
    sock.close()
    # Loopback is always fine, and CONFIG SET turns it off at once.
    r = server_factory().client()
    r.config_set("protected-mode", "no")
    sock = _from_non_local(int(r.connection_pool.connection_kwargs["port"]))
    sock.sendall(encode("PING"))
    assert sock.recv(16) == b"+PONG\r\n"
    sock.close()


# --- the replica class ---------------------------------------------------------------------------


def _read_until(sock, marker, timeout=10.0):
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(1 << 16)
        assert chunk, "closed before the marker"
        data += chunk
    return data


def test_replica_output_limit_closes_a_replica_that_never_reads(server_factory):
    s = server_factory()
    r = s.client()
    r.config_set("client-output-buffer-limit", "replica 1mb 0 0")
    replica = socket.create_connection((HOST, s.port), timeout=10)
    replica.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    replica.sendall(encode("REPLCONF", "listening-port", "1") + encode("PSYNC", "?", "-1"))
    _read_until(replica, b"REDIS")  # +FULLRESYNC, then the snapshot begins; now it stops reading
    value = "z" * 10_000
    deadline = time.monotonic() + 10
    marker = "closed for overcoming of output buffer limits (replica)"
    while marker not in s.log():
        assert time.monotonic() < deadline, "the stuck replica was not disconnected"
        p = r.pipeline(transaction=False)
        for i in range(100):
            p.set(f"flood:{i}", value)
        p.execute()
    assert served(r) < SERVED_WITHIN
    assert r.info("replication")["connected_slaves"] == 0
    replica.close()
