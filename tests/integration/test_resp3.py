"""RESP3 after HELLO 3: every reply type on the wire (maps, sets, nulls, doubles, booleans,
verbatim strings), including replies of commands that ran on another thread's shard, inside
MULTI, and in pipelines. Debian's redis-py 4.3 speaks only RESP2, so these tests read raw
bytes."""

import pytest

from resp_raw import Error, Map, RawConn, Set, Simple, Verbatim, encode

KEYS_BOTH_SHARDS = 32  # different keys: both shards of --threads 2, whichever thread we are on
PIPELINE_LEN = 500


def resp3(port):
    c = RawConn(port)
    reply = c.command("HELLO", "3")
    assert isinstance(reply, Map)
    return c


def not_an_error(reply):
    assert not isinstance(reply, Error), reply
    return reply


def test_hello3_is_a_map_on_the_wire(server):
    with RawConn(server.port) as c:
        c.send(encode("HELLO", "3"))
        assert c.read_raw(4) == b"%7\r\n"
        assert c.read_reply() == b"server"


def test_null_is_underscore(server):
    with resp3(server.port) as c:
        for i in range(KEYS_BOTH_SHARDS):  # inline, and hops to the other shard
            c.send(encode("GET", f"missing:{i}"))
            assert c.read_raw(3) == b"_\r\n"
        c.send(encode("CLIENT", "GETNAME"))
        assert c.read_raw(3) == b"_\r\n"


def test_null_inside_an_array(server):
    with resp3(server.port) as c:
        c.command("SET", "present", "v")
        c.send(encode("MGET", "present", "absent"))
        reply = c.read_raw(len(b"*2\r\n$1\r\nv\r\n_\r\n"))
        assert reply == b"*2\r\n$1\r\nv\r\n_\r\n"


def test_simple_types_are_unchanged(server):
    with resp3(server.port) as c:
        assert c.command("SET", "n", "10") == Simple("OK")
        assert c.command("INCR", "n") == 11
        assert c.command("GET", "n") == b"11"
        assert c.command("PING") == Simple("PONG")
        err = c.command("INCR", "nope", "x")
        assert isinstance(err, Error) and err.startswith("ERR wrong number of arguments")


def test_map_from_config_get(server):
    with resp3(server.port) as c:
        c.send(encode("CONFIG", "GET", "maxmemory"))
        first = c.read_raw(4)
        assert first == b"%1\r\n"
        assert c.read_reply() == b"maxmemory"
        assert c.read_reply() == b"0"


def test_verbatim_from_client_info_and_list(server):
    with resp3(server.port) as c:
        info = c.command("CLIENT", "INFO")
        assert isinstance(info, Verbatim) and info.fmt == "txt"
        assert b" resp=3 " in info.data
        lst = c.command("CLIENT", "LIST")
        assert isinstance(lst, Verbatim) and lst.fmt == "txt"


def test_double_type(server):
    with resp3(server.port) as c:
        c.command("SET", "k", "v")
        reply = not_an_error(c.command("MEMORY", "STATS"))
        assert isinstance(reply, Map)
        fields = {k: v for k, v in reply}
        assert isinstance(fields[b"dataset.percentage"], float)
        assert isinstance(fields[b"fragmentation"], float)
    with RawConn(server.port) as c2:  # the same field is a bulk string in RESP2
        fields = c2.command("MEMORY", "STATS")
        i = fields.index(b"fragmentation")
        assert isinstance(fields[i + 1], bytes)
        float(fields[i + 1])


def test_set_type(server):
    with resp3(server.port) as c:
        reply = not_an_error(c.command("COMMAND", "INFO", "get"))
        (get_info,) = reply
        assert isinstance(get_info[2], Set)  # the flags
        assert Simple("readonly") in get_info[2]


def test_zset_double_scores(server):
    with resp3(server.port) as c:
        not_an_error(c.command("ZADD", "z", "1.5", "a"))
        assert c.command("ZSCORE", "z", "a") == 1.5
        c.send(encode("ZSCORE", "z", "a"))
        assert c.read_raw(6) == b",1.5\r\n"


def test_boolean_type(server):
    with resp3(server.port) as c:
        # A script that switched to RESP3 returns Lua booleans as RESP3 booleans (Redis 7.0).
        c.send(encode("EVAL", "redis.setresp(3); return true", "0"))
        assert c.read_raw(4) == b"#t\r\n"
        c.send(encode("EVAL", "redis.setresp(3); return false", "0"))
        assert c.read_raw(4) == b"#f\r\n"


def test_resp3_inside_multi(server):
    with resp3(server.port) as c:
        c.command("MULTI")
        for i in range(4):
            c.command("GET", f"tx-missing:{i}")
        c.send(encode("EXEC"))
        assert c.read_raw(4 + 3 * 4) == b"*4\r\n" + b"_\r\n" * 4


def test_resp3_pipeline_over_both_shards(server):
    with resp3(server.port) as c:
        parts, want = [], []
        for i in range(PIPELINE_LEN):
            key = f"p3:{i}"
            if i % 2:
                parts.append(encode("SET", key, i))
                want.append(b"+OK\r\n")
            else:
                parts.append(encode("GET", key))
                want.append(b"_\r\n")
        c.send(b"".join(parts))
        expected = b"".join(want)
        assert c.read_raw(len(expected)) == expected


def test_back_to_resp2(server):
    with resp3(server.port) as c:
        assert isinstance(c.command("HELLO", "2"), list)
        c.send(encode("GET", "missing"))
        assert c.read_raw(5) == b"$-1\r\n"
        c.command("HELLO", "3")
        assert c.command("RESET") == Simple("RESET")
        c.send(encode("GET", "missing"))
        assert c.read_raw(5) == b"$-1\r\n"


def test_each_connection_has_its_own_protocol(server):
    with resp3(server.port) as c3, RawConn(server.port) as c2:
        c3.send(encode("GET", "missing"))
        c2.send(encode("GET", "missing"))
        assert c3.read_raw(3) == b"_\r\n"
        assert c2.read_raw(5) == b"$-1\r\n"


@pytest.mark.parametrize(
    "args",
    [("GET", "missing"), ("CONFIG", "GET", "maxmemory"), ("CLIENT", "GETNAME"), ("PING",),
     ("ECHO", "x"), ("SET", "k", "v"), ("INCR", "missing-int"), ("EXISTS", "a", "b")],
    ids=lambda a: " ".join(a),
)  # fmt: skip
def test_same_bytes_as_redis(server, redis_server_factory, args):
    redis_server = redis_server_factory()
    got = []
    for port in (server.port, redis_server.port):
        with resp3(port) as c:
            c.send(encode(*args) + encode("PING", "end"))
            data = b""
            while not data.endswith(b"$3\r\nend\r\n"):
                data += c.sock.recv(65536)
            got.append(data)
    assert got[0] == got[1]
