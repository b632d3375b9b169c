"""DUMP and RESTORE: payloads move both ways between dfly and Debian's redis-server 7.0 for every
type in its small and large encodings, RESTORE's options behave as Redis's, and corrupt payloads
are refused with Redis's errors while the server keeps serving."""

import time

import pytest
import redis

LARGE = 300  # elements: past every *-max-listpack-entries / set-max-intset-entries default


def fill(c):
    """Creates one key per type and encoding in c; returns the key names. Keys spread over both
    shards."""
    c.set("s:embstr", "hello")
    c.set("s:int", 12345)
    c.set("s:negint", -70000)
    c.set("s:bigint", 2**62)
    c.set("s:compressible", "abc" * 100 + "z")
    c.set("s:raw", "".join(chr(33 + (i * 7) % 90) for i in range(60)))
    c.set("s:bin", bytes(range(256)) * 3)
    c.rpush("l:small", "a", 1, 2, 300, -5, -70000, 2**40, "x" * 70)
    c.rpush("l:large", *[str(i) * (i % 40) for i in range(2000)])
    c.hset("h:small", mapping={"f": "v", "n": 1, "neg": -1})
    c.hset("h:large", mapping={f"f{i}": f"v{i}" for i in range(LARGE)})
    c.hset("h:longval", mapping={"f": "v" * 100})
    c.sadd("set:intset", 1, 2, 3, -100000, 2**40)
    c.sadd("set:small", "a", "b", 1)
    c.sadd("set:intlarge", *range(LARGE * 2))
    c.sadd("set:large", *[f"m{i}" for i in range(LARGE)])
    c.zadd("z:small", {"a": 1, "b": 2.5, "c": -3, "d": float("inf"), "e": 1e-7})
    c.zadd("z:large", {f"m{i}": i * 1.5 for i in range(LARGE)})
    c.zadd("z:longmember", {"x" * 100: 1})
    c.pfadd("hll:sparse", *range(50))
    c.pfadd("hll:dense", *range(5000))
    return sorted(c.keys())


def digest(c, k):
    return c.execute_command("DEBUG", "DIGEST-VALUE", k)


@pytest.fixture
def ref(redis_server_factory):
    return redis_server_factory("--enable-debug-command", "yes").client(decode_responses=False)


@pytest.fixture
def dfly(server):
    return server.client(decode_responses=False)


def test_redis_to_dfly_and_back(dfly, ref):
    keys = fill(ref)
    for k in keys:
        assert dfly.restore(k, 0, ref.dump(k)), k
        assert dfly.type(k) == ref.type(k), k
        assert digest(dfly, k) == digest(ref, k), k
        back = b"back:" + k
        assert ref.restore(back, 0, dfly.dump(k)), k
        assert digest(ref, back) == digest(ref, k), k
    assert dfly.pfcount(b"hll:dense") == ref.pfcount(b"hll:dense")
    assert dfly.lrange(b"l:small", 0, -1) == ref.lrange(b"l:small", 0, -1)
    assert dfly.zscore(b"z:small", b"d") == float("inf")


def test_dfly_to_redis(dfly, ref):
    keys = fill(dfly)
    for k in keys:
        assert ref.restore(k, 0, dfly.dump(k)), k
        assert digest(ref, k) == digest(dfly, k), k
    # Redis's own DUMP of what it loaded round-trips through us too.
    for k in keys:
        dfly.restore(b"again:" + k, 0, ref.dump(k))
        assert digest(dfly, b"again:" + k) == digest(dfly, k), k


def test_encodings_follow_dfly_limits(dfly, ref):
    fill(ref)
    for k, enc in [
        (b"set:intset", b"intset"),
        (b"set:large", b"hashtable"),
        (b"z:small", b"listpack"),
        (b"z:large", b"skiplist"),
        (b"z:longmember", b"skiplist"),
        (b"h:small", b"listpack"),
        (b"h:longval", b"hashtable"),
        (b"s:int", b"int"),
    ]:
        dfly.restore(k, 0, ref.dump(k))
        assert dfly.object("encoding", k) == enc, k


def test_dump_missing_key(dfly):
    assert dfly.dump("nokey") is None


def test_restore_ttl_and_options(dfly):
    dfly.set("src", "value")
    payload = dfly.dump("src")
    assert dfly.restore("k1", 0, payload)
    assert dfly.ttl("k1") == -1
    with pytest.raises(redis.ResponseError, match="^BUSYKEY Target key name already exists.$"):
        dfly.restore("k1", 0, payload)
    dfly.set("k1", "other")
    assert dfly.restore("k1", 10000, payload, replace=True)
    assert dfly.get("k1") == b"value"
    assert 0 < dfly.pttl("k1") <= 10000
    when = int(time.time() * 1000) + 100000
    assert dfly.restore("k2", when, payload, absttl=True)
    assert 90000 < dfly.pttl("k2") <= 100000
    # An absolute time in the past stores nothing, and REPLACE still removes the old key.
    dfly.set("k3", "x")
    assert dfly.restore("k3", 1, payload, replace=True, absttl=True)
    assert dfly.exists("k3") == 0
    assert dfly.restore("k4", 0, payload, idletime=1000)
    assert dfly.object("idletime", "k4") >= 1000
    assert dfly.restore("k5", 0, payload, frequency=10)


@pytest.mark.parametrize(
    "args, err",
    [
        (("k", "-1", None), "^Invalid TTL value, must be >= 0$"),
        (("k", "abc", None), "^value is not an integer or out of range$"),
        (("k", "0", None, "IDLETIME", "-5"), "^Invalid IDLETIME value, must be >= 0$"),
        (("k", "0", None, "FREQ", "256"), "^Invalid FREQ value, must be >= 0 and <= 255$"),
        (("k", "0", None, "IDLETIME", "1", "FREQ", "1"), "^syntax error$"),
        (("k", "0", None, "BOGUS"), "^syntax error$"),
    ],
)
def test_restore_argument_errors_like_redis(dfly, ref, args, err):
    for c in (dfly, ref):
        c.set("src", "v")
        payload = c.dump("src")
        argv = [payload if a is None else a for a in args]
        with pytest.raises(redis.ResponseError, match=err):
            c.execute_command("RESTORE", *argv)


def corruptions(payload):
    """Damaged copies of a payload: each must be refused."""
    flipped = bytearray(payload)
    flipped[len(flipped) // 2] ^= 0x40
    wrong_version = bytearray(payload)
    wrong_version[-10] = 99
    return {
        "flipped": bytes(flipped),
        "truncated": payload[:-3],
        "tiny": b"\x00",
        "empty": b"",
        "version": bytes(wrong_version),
    }


def test_corrupt_payloads_rejected(dfly, ref):
    fill(ref)
    for k in ref.keys():
        for name, bad in corruptions(ref.dump(k)).items():
            for c in (dfly, ref):
                with pytest.raises(redis.ResponseError, match="^DUMP payload version or "
                                   "checksum are wrong$"):
                    c.restore(b"bad", 0, bad)
            assert dfly.exists(b"bad") == 0, (k, name)
    assert dfly.ping()


def with_footer(c, body):
    """A payload around a hand-made value body, with a valid version and checksum: borrowed
    from a real DUMP by replacing its value and recomputing the CRC through Redis is not
    possible, so the CRC is computed here (CRC-64/Jones, reflected)."""
    data = body + bytes([10, 0])
    crc = 0
    poly = 0x95AC9329AC4BC9B5
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return data + crc.to_bytes(8, "little")


def test_checksummed_garbage_is_bad_format(dfly, ref):
    good = dfly.set("s", "v") and dfly.dump("s")
    assert with_footer(dfly, good[:-10]) == good  # the test's CRC matches ours
    bodies = [
        b"\x00\x05ab",  # string shorter than its length
        b"\x00\xc3\x05\x40\x00ab",  # LZF claims more than it has
        b"\x00\xc3\x02\x10\x1f\x00",  # LZF literal run past the end
        b"\x00\xc5",  # unknown special encoding
        b"\x12\x01\x02\x07\x07\x00\x00\x00\x00\x00\xff",  # listpack header lies
        b"\x12\x01\x03\x00",  # unknown quicklist container
        b"\x12\x00",  # empty list
        b"\x0b\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x02\x00\x01\x00",  # intset not ascending
        b"\x04\x02\x01a\x011\x01a\x012",  # duplicate hash field
        b"\x02\x02\x01a\x01a",  # duplicate set member
        b"\x05\x01\x01a",  # zset score cut off
        b"\x0f\x00",  # a stream payload that ends after its first length
        b"\x63",  # unknown type
    ]
    for body in bodies:
        payload = with_footer(dfly, body)
        with pytest.raises(redis.ResponseError, match="^Bad data format$"):
            dfly.restore("garbage", 0, payload)
        assert dfly.exists("garbage") == 0
    assert dfly.ping()


def test_restore_many_keys_across_shards(dfly, ref):
    for i in range(50):
        ref.rpush(f"list{i}", *range(i + 1))
    for i in range(50):
        dfly.restore(f"list{i}", 0, ref.dump(f"list{i}"))
    assert [dfly.llen(f"list{i}") for i in range(50)] == list(range(1, 51))


def test_mutated_values_never_crash(dfly, ref):
    """Every value body with bytes changed (and the checksum made valid again) is either loaded
    or refused with Bad data format; the server keeps serving throughout."""
    fill(ref)
    for k in ref.keys():
        body = ref.dump(k)[:-10]
        step = max(1, len(body) // 40)
        for i in range(1, len(body), step):
            for delta in (0x01, 0x80, 0xFF):
                b = bytearray(body)
                b[i] ^= delta
                try:
                    dfly.restore(b"mut", 0, with_footer(dfly, bytes(b)), replace=True)
                except redis.ResponseError as e:
                    assert str(e) == "Bad data format", (k, i)
        for cut in range(1, len(body), step):
            with pytest.raises(redis.ResponseError):
                dfly.restore(b"cut", 0, with_footer(dfly, body[:cut]))
    assert dfly.ping()
