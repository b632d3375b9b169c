"""Protocol robustness over raw sockets: malformed requests get Redis's exact error and close
only their own connection, while other clients keep working and the data stays intact; big
pipelines keep their order; very large values round-trip."""

import os

import pytest

from resp_raw import Error, RawConn, Simple, encode

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
OVER_INLINE = INLINE_MAX + 4096
PIPELINE_COMMANDS = 10_000
BIG_VALUE_BYTES = 100 * 1024 * 1024
BIG_VALUE_TIMEOUT = 120.0  # seconds for a 100 MB round trip (sanitizer builds are slow)
SEED_KEYS = 64  # keys written before each case, spread over both shards

ERR_MBULK = "ERR Protocol error: invalid multibulk length"
ERR_BULK = "ERR Protocol error: invalid bulk length"
ERR_QUOTES = "ERR Protocol error: unbalanced quotes in request"

# (name, bytes sent, exact error). Every one of these closes the connection after the error.
PROTOCOL_ERRORS = [
    ("multibulk_garbage", b"*abc\r\n", ERR_MBULK),
    ("multibulk_plus_sign", b"*+1\r\n$4\r\nPING\r\n", ERR_MBULK),
    ("multibulk_leading_zero", b"*01\r\n$4\r\nPING\r\n", ERR_MBULK),
    ("multibulk_minus_zero", b"*-0\r\n", ERR_MBULK),
    ("too_many_arguments", b"*99999999\r\n", ERR_MBULK),
    ("multibulk_overflow", b"*9223372036854775808\r\n", ERR_MBULK),
    ("bulk_minus_two", b"*1\r\n$-2\r\n", ERR_BULK),
    ("bulk_minus_one", b"*1\r\n$-1\r\n", ERR_BULK),
    ("bulk_huge", b"*1\r\n$9999999999999\r\n", ERR_BULK),
    ("bulk_overflow", b"*1\r\n$99999999999999999999999\r\n", ERR_BULK),
    ("bulk_garbage", b"*1\r\n$abc\r\n", ERR_BULK),
    ("bulk_empty_length", b"*1\r\n$\r\n", ERR_BULK),
    ("expected_dollar", b"*1\r\n+PING\r\n", "ERR Protocol error: expected '$', got '+'"),
    ("expected_dollar_integer", b"*2\r\n$4\r\nECHO\r\n:5\r\n", "ERR Protocol error: expected '$', got ':'"),
    ("unbalanced_double_quote", b'SET k "abc\r\n', ERR_QUOTES),
    ("unbalanced_single_quote", b"SET k 'abc\r\n", ERR_QUOTES),
    ("text_after_closing_quote", b'SET k "abc"def\r\n', ERR_QUOTES),
    ("inline_over_64k", b"x" * OVER_INLINE, "ERR Protocol error: too big inline request"),
    ("count_line_over_64k", b"*" + b"1" * OVER_INLINE, "ERR Protocol error: too big mbulk count string"),
    ("bulk_count_line_over_64k", b"*1\r\n$" + b"1" * OVER_INLINE, "ERR Protocol error: too big bulk count string"),
]  # fmt: skip

# The cases Redis 7.0 answers the same way (it has no max-multibulk-len, and checks an inline
# line's size only while no newline has arrived).
SAME_AS_REDIS = [c for c in PROTOCOL_ERRORS if c[0] not in ("too_many_arguments",)]


def seed(r):
    data = {f"seed:{i}": f"value-{i}" for i in range(SEED_KEYS)}
    for k, v in data.items():
        r.set(k, v)
    return data


def assert_intact(r, data):
    for k, v in data.items():
        assert r.get(k) == v
    assert r.ping() is True


@pytest.mark.parametrize("name,payload,error", PROTOCOL_ERRORS, ids=[c[0] for c in PROTOCOL_ERRORS])
def test_protocol_error_closes_only_that_connection(server, r, name, payload, error):
    data = seed(r)
    with RawConn(server.port) as other, RawConn(server.port) as bad:
        assert other.command("SET", "other:before", "1") == Simple("OK")
        bad.send(payload)
        got = bad.expect_closed()
        assert got == b"-" + error.encode() + b"\r\n"
        # The neighbour connection, opened before, is untouched and still works.
        assert other.command("GET", "other:before") == b"1"
        assert other.command("PING") == Simple("PONG")
    assert_intact(r, data)


def test_good_commands_before_an_error_are_answered(server, r):
    with RawConn(server.port) as c:
        c.send(encode("SET", "pre", "1") + b"PING\r\n" + b"*1\r\n$-5\r\n")
        got = c.expect_closed()
    assert got == b"+OK\r\n+PONG\r\n-" + ERR_BULK.encode() + b"\r\n"
    assert r.get("pre") == "1"


def test_garbage_inline_is_an_unknown_command(server, r):
    with RawConn(server.port) as c:
        c.send(b"\x01\x02garbage \xff\xfe\r\n")
        reply = c.read_reply()
        assert isinstance(reply, Error)
        assert reply.startswith("ERR unknown command")
        assert c.command("PING") == Simple("PONG")  # not a protocol error: the connection stays


def test_empty_and_negative_multibulk_are_ignored(server):
    with RawConn(server.port) as c:
        c.send(b"*0\r\n*-1\r\n*-5\r\n\r\n\n   \r\nPING\r\n")
        assert c.read_reply() == Simple("PONG")
        assert c.nothing_within(0.2)


def test_truncated_frames_then_close(server, r):
    data = seed(r)
    truncated = [
        b"*3\r\n$3\r\nSET\r\n$5\r\ntrunc",
        b"*3\r\n$3\r\nSET\r\n$5\r\ntrunc\r\n$10\r\n01234",
        b"*3\r\n$3\r\nSET\r\n$5\r\ntrunc\r\n$100000\r\n" + b"x" * 50_000,
        b"*3\r\n$3\r\nSE",
        b"*3",
        b"SET trunc value",  # inline without its newline
    ]
    for payload in truncated:
        c = RawConn(server.port)
        c.send(payload)
        c.close()
    assert r.get("trunc") is None
    assert_intact(r, data)


def test_split_writes_are_reassembled(server):
    request = encode("SET", "split", "a\r\nb") + encode("GET", "split")
    with RawConn(server.port) as c:
        for i in range(len(request)):
            c.send(request[i : i + 1])
        assert c.read_reply() == Simple("OK")
        assert c.read_reply() == b"a\r\nb"


def test_inline_quoting(server, r):
    with RawConn(server.port) as c:
        c.send(b"SET \"key with spaces\" 'it\\'s'\r\n")
        assert c.read_reply() == Simple("OK")
        c.send(b'SET esc "\\x41\\x00\\n\\t\\"q\\\\"\r\n')
        assert c.read_reply() == Simple("OK")
        c.send(b"ECHO a\"b c\"\r\n")
        assert c.read_reply() == b"ab c"
        c.send(b"ECHO '' \"\"\r\n")
        assert isinstance(c.read_reply(), Error)  # three arguments: wrong number for ECHO
        c.send(b"ECHO \"\"\r\n")
        assert c.read_reply() == b""
    assert r.get("key with spaces") == "it's"
    assert server.client(decode_responses=False).get("esc") == b'A\x00\n\t"q\\'


def test_inline_with_many_arguments(server, r):
    keys = [f"many:{i}" for i in range(3000)]
    r.set("many:7", "x")
    with RawConn(server.port) as c:
        c.send(("EXISTS " + " ".join(keys) + "\r\n").encode())
        assert c.read_reply() == 1


def test_inline_line_just_under_the_limit(server):
    value = "v" * (INLINE_MAX - 100)
    with RawConn(server.port) as c:
        c.send(f"ECHO {value}\r\n".encode())
        assert c.read_reply() == value.encode()


def test_pipeline_of_10000_commands_in_one_write(server):
    parts = []
    expected = []
    for i in range(PIPELINE_COMMANDS // 4):
        key = f"pipe:{i}"  # different keys: both shards, hops and squashed batches
        parts.append(encode("SET", key, i))
        expected.append(Simple("OK"))
        parts.append(encode("INCR", key))
        expected.append(i + 1)
        parts.append(encode("GET", key))
        expected.append(str(i + 1).encode())
        parts.append(encode("ECHO", f"e{i}"))
        expected.append(f"e{i}".encode())
    with RawConn(server.port) as c:
        c.send(b"".join(parts))
        for i, want in enumerate(expected):
            got = c.read_reply()
            assert got == want, f"reply {i}: {got!r} != {want!r}"
        assert c.nothing_within(0.2)


def test_pipeline_mixing_inline_and_multibulk(server):
    with RawConn(server.port) as c:
        c.send(b"SET mix 1\r\n" + encode("INCR", "mix") + b"GET mix\r\n" + encode("GET", "mix"))
        assert [c.read_reply() for _ in range(4)] == [Simple("OK"), 2, b"2", b"2"]


def test_100mb_value_round_trip(server):
    value = os.urandom(1024) * (BIG_VALUE_BYTES // 1024)
    c = server.client(decode_responses=False, socket_timeout=BIG_VALUE_TIMEOUT)
    assert c.set("big", value) is True
    assert c.strlen("big") == BIG_VALUE_BYTES
    assert c.get("big") == value
    assert c.ping() is True
    assert c.delete("big") == 1


@pytest.mark.parametrize("name,payload,error", SAME_AS_REDIS, ids=[c[0] for c in SAME_AS_REDIS])
def test_errors_match_redis(redis_server_factory, name, payload, error):
    """The table above is Redis's behaviour, not our reading of it."""
    redis = redis_server_factory()
    with RawConn(redis.port) as c:
        c.send(payload)
        got = c.expect_closed()
    assert got == b"-" + error.encode() + b"\r\n"
