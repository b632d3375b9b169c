"""Loading RDB files at start: files written by a real redis-server 7.0 (every type in every
encoding it uses, expiry, several databases, a function library) load with every key, type,
value, TTL and database intact, whatever the thread count; hand-made files exercise the
opcodes; corrupt, truncated or unsupported files make dfly-server exit non-zero with a log line
naming the file and the offset, and nothing is served meanwhile; while a file loads, commands
get Redis's -LOADING error, PING and INFO answer, and INFO shows the progress."""

import os
import random
import shutil
import socket
import string
import struct
import subprocess
import time

import pytest
import redis

from conftest import free_port
from dataset import key_value

HOST = "127.0.0.1"
DBS = (0, 1, 7, 15)  # databases the Redis dataset uses
TTL_SLACK_MS = 60_000  # a TTL may shrink this much between SAVE and the comparison
LOAD_WAIT_S = 60  # bound on waiting for a load to finish
EXIT_WAIT_S = 30  # bound on waiting for a server that refuses its file to exit
POLL_S = 0.02
RSS_FILE_KEYS = 16_000  # RSS_VALUE bytes each: a file of about 66 MB
RSS_VALUE = 4096
RSS_KEY_DELAY_US = 100
LOADING_ERR = b"-LOADING Redis is loading the dataset in memory\r\n"
FUNC_LIB = """#!lua name=loadlib
redis.register_function('load_echo', function(keys, args) return args[1] end)
redis.register_function('load_get', function(keys, args) return redis.call('GET', keys[1]) end)
"""

# --- hand-made RDB files -------------------------------------------------------------------

CRC64_POLY = 0x95AC9329AC4BC9B5  # Jones, reflected (Redis's crc64)
_crc_table = []


def crc64(data, crc=0):
    if not _crc_table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ CRC64_POLY if c & 1 else c >> 1
            _crc_table.append(c)
    for b in data:
        crc = _crc_table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def rlen(n):
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    return b"\x80" + struct.pack(">I", n)


def rstr(s):
    s = s.encode() if isinstance(s, str) else s
    return rlen(len(s)) + s


def aux(k, v):
    return b"\xfa" + rstr(k) + rstr(v)


def kv(key, value):
    """A string key record (type 0)."""
    return b"\x00" + rstr(key) + rstr(value)


def rdb_file(body, version=10, checksum=True):
    data = b"REDIS%04d" % version + body + b"\xff"
    return data + struct.pack("<Q", crc64(data) if checksum else 0)


# --- servers -------------------------------------------------------------------------------


def dfly_dir(tmp_path, name, data=None, src=None, fname="dump.rdb"):
    """A fresh directory holding the file to load (bytes or a copy of src)."""
    d = tmp_path / name
    d.mkdir()
    if src is not None:
        shutil.copy(src, d / fname)
    elif data is not None:
        (d / fname).write_bytes(data)
    return d


def start_loaded(server_factory, d, *args, threads=2, fname="dump.rdb", wait=True):
    """dfly-server on directory d loading d/fname; waits until the load is over."""
    s = server_factory("--dir", str(d), "--dbfilename", fname, *args, threads=threads)
    if wait:
        s.wait_loaded()
    return s


def run_refused(dfly_binary, d, *args, fname="dump.rdb"):
    """Runs dfly-server on d, which must refuse its file: returns (exit code, log)."""
    log = d / "dfly.log"
    proc = subprocess.Popen(
        [dfly_binary, "--port", str(free_port()), "--bind", HOST, "--threads", "2",
         "--dir", str(d), "--dbfilename", fname, "--logfile", str(log), *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=EXIT_WAIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"dfly-server did not exit on a bad file:\n{log.read_text()}")
    text = log.read_text(errors="replace")
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in out.decode(errors="replace"), out.decode(errors="replace")
    return proc.returncode, text


def assert_refused(dfly_binary, d, *needles, fname="dump.rdb", args=()):
    rc, log = run_refused(dfly_binary, d, *args, fname=fname)
    assert rc != 0, log
    assert f"{fname}: " in log and " at offset " in log, log
    for n in needles:
        assert n in log, log
    return log


def raw_request(port, payload, replies):
    """Sends raw RESP bytes and returns the first `replies` lines of the answer."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        s.sendall(payload)
        buf = b""
        while buf.count(b"\r\n") < replies:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\r\n")[:replies]


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


# --- the Redis dataset ---------------------------------------------------------------------


def db_client(server, db):
    return server.client(decode_responses=False, db=db)


def fill_redis(rs):
    """Writes every type in every encoding Redis 7.0 uses into several databases."""
    for db in DBS:
        c = db_client(rs, db)
        p = c.pipeline(transaction=False)
        t = f"d{db}:"
        p.set(t + "int", 12345)
        p.set(t + "negint", -987654321012)
        p.set(t + "embstr", "hello world")
        p.set(t + "raw", "r" * 10 + "".join(chr(97 + i % 26) for i in range(90)))
        p.set(t + "bigint", "123456789012345678901234567890")
        p.set(t + "lzf", "abcdefgh" * 20000)  # compresses: an LZF string in the file
        p.set(t + "binary", bytes(range(256)) * 3)
        p.set(b"\x00\xffbin\x01key" + t.encode(), b"\x00\x01\x02")
        p.rpush(t + "list:small", "a", "b", 1, 2, -3, "x" * 30)
        p.rpush(t + "list:big", *[f"item{i}" * (1 + i % 5) for i in range(3000)])
        p.rpush(t + "list:lzf", *["y" * 5000 for _ in range(10)])
        p.hset(t + "hash:small", mapping={"f1": "v1", "f2": 2, "f3": "x" * 20})
        p.hset(t + "hash:big", mapping={f"field{i}": f"value{i}" for i in range(1000)})
        p.hset(t + "hash:longval", mapping={"a": "v" * 100, "b": "c"})
        p.sadd(t + "set:intset", 1, 2, 3, -100, 2**40)
        p.sadd(t + "set:bigint", *range(1000))
        p.sadd(t + "set:strs", "a", "b", "c")
        p.sadd(t + "set:big", *[f"member{i}" for i in range(700)])
        p.zadd(t + "zset:small", {"a": 1, "b": 2.5, "c": -3, "d": float("inf")})
        p.zadd(t + "zset:big", {f"m{i}": i * 1.5 - 100 for i in range(500)})
        p.zadd(t + "zset:longmember", {"m" * 100: 1, "n": 2})
        p.pfadd(t + "hll", *[f"e{i}" for i in range(500)])
        p.set(t + "ttl:str", "v", ex=3600)
        p.set(t + "ttl:ms", "v", px=5_000_000)
        p.hset(t + "ttl:hash", "a", 1)
        p.expire(t + "ttl:hash", 7200)
        p.rpush(t + "ttl:list", *range(200))
        p.expire(t + "ttl:list", 10_000)
        k = t + "stream"
        for j in range(150):
            p.xadd(k, {"f": j, "g": "x" * (j % 7)}, id=f"{1000 + j}-{j % 3}")
        p.xdel(k, "1005-2")
        p.xgroup_create(k, "grp", id="0")
        p.xreadgroup("grp", "alice", {k: ">"}, count=7)
        p.xreadgroup("grp", "bob", {k: ">"}, count=3)
        p.xack(k, "grp", "1000-0")
        p.xgroup_create(k, "late", id="1100-0")
        p.xadd(t + "stream:emptied", {"a": 1}, id="5-5")
        p.xtrim(t + "stream:emptied", maxlen=0)
        for i in range(100):  # plenty of keys, spread over every shard
            p.set(f"{t}n:{i}", i)
            p.set(f"{{tag}}{t}{i}", i)
        p.execute()
    rs.client().execute_command("FUNCTION", "LOAD", FUNC_LIB)


EXPECTED_ENCODINGS = {
    "int", "embstr", "raw", "listpack", "quicklist", "hashtable", "intset", "skiplist", "stream",
}  # fmt: skip


def encodings(server):
    c = db_client(server, 0)
    return {c.object("encoding", k).decode() for k in c.scan_iter(count=1000)}


def contents(server, dbs=range(16)):
    """{db: {key: (type, value, pttl)}} read key by key, by type."""
    out = {}
    for db in dbs:
        c = db_client(server, db)
        out[db] = {k: (*key_value(c, k), c.pttl(k)) for k in c.scan_iter(count=1000)}
    return out


def assert_same_contents(want, got):
    assert want.keys() == got.keys()
    for db in want:
        w, g = want[db], got[db]
        assert sorted(w) == sorted(g), f"db {db}: keys differ"
        for k in w:
            wt, wv, wttl = w[k]
            gt, gv, gttl = g[k]
            assert (gt, gv) == (wt, wv), f"db {db} key {k!r}"
            if wttl < 0:
                assert gttl == wttl, f"db {db} key {k!r}: ttl {gttl}, want {wttl}"
            else:
                assert wttl - TTL_SLACK_MS < gttl <= wttl + TTL_SLACK_MS, f"db {db} key {k!r}"


def redis_dump(redis_server_factory, fill, *args):
    """Starts redis-server 7.0, fills it, SAVEs; returns (server, path of its dump.rdb)."""
    rs = redis_server_factory("--enable-debug-command", "yes", *args)
    fill(rs)
    rs.client().save()
    return rs, rs.workdir / "dump.rdb"


# --- interop with Redis 7.0 ----------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 3])
def test_redis_file_loads_with_every_key(server_factory, redis_server_factory, tmp_path, threads):
    rs, path = redis_dump(redis_server_factory, fill_redis)
    assert encodings(rs) >= EXPECTED_ENCODINGS  # the file holds every encoding
    want = contents(rs)
    d = dfly_dir(tmp_path, "load", src=path, fname="redis.rdb")
    s = start_loaded(server_factory, d, threads=threads, fname="redis.rdb")
    c = s.client()
    assert_same_contents(want, contents(s))
    for db in range(16):
        assert db_client(s, db).dbsize() == db_client(rs, db).dbsize()
    info = c.info("keyspace")
    assert set(info) == {f"db{db}" for db in DBS}
    assert info["db0"]["expires"] == db_client(rs, 0).info("keyspace")["db0"]["expires"]
    # DEBUG DIGEST is computed as Redis does: equal datasets, equal digests.
    assert c.execute_command("DEBUG", "DIGEST") == rs.client().execute_command("DEBUG", "DIGEST")
    # The function library came along.
    assert c.fcall("load_echo", 0, "hi") == "hi"
    assert c.fcall("load_get", 1, "d0:embstr") == "hello world"
    assert c.execute_command("FUNCTION", "LIST")[0][:2] == ["library_name", "loadlib"]
    log = s.log()
    assert "Loading RDB produced by version 7.0" in log
    assert "DB loaded from disk" in log


def test_round_trip_through_our_own_writer(server_factory, redis_server_factory, tmp_path):
    """Redis's file, loaded by dfly with 3 threads, saved by it, loaded by another dfly with 2."""
    rs, path = redis_dump(redis_server_factory, fill_redis)
    want = contents(rs)
    d = dfly_dir(tmp_path, "first", src=path)
    s = start_loaded(server_factory, d, threads=3)
    s.client().save()
    s2 = start_loaded(server_factory, dfly_dir(tmp_path, "second", src=d / "dump.rdb"))
    assert_same_contents(want, contents(s2))
    assert s2.client().fcall("load_echo", 0, "again") == "again"


def test_encrypted_snapshot(server_factory, dfly_binary, tmp_path):
    """A file our writer encrypted loads with the key; without a key, or with another one, the
    server refuses it and says why."""
    key, other = tmp_path / "key", tmp_path / "other"
    for k in (key, other):
        k.write_bytes(os.urandom(32))
        k.chmod(0o600)
    d = dfly_dir(tmp_path, "enc")
    s = server_factory("--dir", str(d), "--snapshot_encryption_key_file", str(key))
    fill_redis(s)
    want = contents(s)
    s.client().save()
    s.stop()
    data = (d / "dump.rdb").read_bytes()
    assert not data.startswith(b"REDIS") and b"hello world" not in data
    s2 = start_loaded(server_factory, dfly_dir(tmp_path, "with_key", data=data),
                      "--snapshot_encryption_key_file", str(key))  # fmt: skip
    assert_same_contents(want, contents(s2))
    rc, log = run_refused(dfly_binary, dfly_dir(tmp_path, "no_key", data=data))
    assert rc != 0 and "dump.rdb: the file is encrypted, but no key is configured" in log, log
    rc, log = run_refused(dfly_binary, dfly_dir(tmp_path, "wrong_key", data=data),
                          "--snapshot_encryption_key_file", str(other))  # fmt: skip
    assert rc != 0 and "dump.rdb: cannot decrypt" in log, log


def test_expired_keys_are_not_loaded(server_factory, redis_server_factory, tmp_path):
    def fill(rs):
        c = rs.client()
        c.set("gone", "x", px=300)
        c.set("stays", "y", ex=1000)
        c.set("plain", "z")

    _, path = redis_dump(redis_server_factory, fill)
    time.sleep(0.5)  # "gone" expires before the load
    s = start_loaded(server_factory, dfly_dir(tmp_path, "load", src=path))
    c = s.client()
    assert sorted(c.keys()) == ["plain", "stays"]
    ks = c.info("keyspace")["db0"]
    assert (ks["keys"], ks["expires"]) == (2, 1)
    assert "keys expired: 1" in s.log()


def test_empty_redis_file(server_factory, redis_server_factory, tmp_path):
    _, path = redis_dump(redis_server_factory, lambda rs: None)
    s = start_loaded(server_factory, dfly_dir(tmp_path, "load", src=path))
    assert s.client().dbsize() == 0
    assert "DB loaded from disk: 0 keys" in s.log()


def test_no_file_means_an_empty_start(server_factory, tmp_path):
    s = start_loaded(server_factory, dfly_dir(tmp_path, "empty"))
    c = s.client()
    assert c.dbsize() == 0
    assert c.info("persistence")["loading"] == 0
    assert "Loading" not in s.log()


def mapped_rss_kb(pid, name):
    """Resident KB of the mappings of file `name` in process pid (0 when not mapped)."""
    total, inside = 0, False
    try:
        lines = open(f"/proc/{pid}/smaps").read().splitlines()
    except OSError:
        return 0
    for line in lines:
        head = line.split()
        if head and "-" in head[0] and len(head) >= 5:  # a mapping's header line
            inside = line.endswith("/" + name)
        elif inside and line.startswith("Rss:"):
            total += int(head[1])
    return total


def test_file_pages_are_given_back_while_loading(server_factory, tmp_path):
    """The file is mapped and its pages dropped as the parse moves on: while a file of keys that
    all expired (nothing kept) loads, only a small part of it is ever resident."""
    rnd = random.Random(3)
    value = bytes(rnd.getrandbits(8) for _ in range(2 * RSS_VALUE))
    parts = [b"\xfe\x00"]
    for i in range(RSS_FILE_KEYS):
        at = (i * 97) % RSS_VALUE
        parts.append(b"\xfc" + struct.pack("<Q", 1000) + kv(f"k{i}", value[at : at + RSS_VALUE]))
    data = rdb_file(b"".join(parts), checksum=False)
    d = dfly_dir(tmp_path, "load", data=data)
    s = start_loaded(server_factory, d, "--key_load_delay", RSS_KEY_DELAY_US, wait=False)
    c = s.client()
    peak = 0
    deadline = time.monotonic() + LOAD_WAIT_S
    while c.info("persistence")["loading"] and time.monotonic() < deadline:
        peak = max(peak, mapped_rss_kb(s.proc.pid, "dump.rdb"))
        time.sleep(POLL_S)
    s.wait_loaded()
    assert c.dbsize() == 0
    assert 0 < peak and peak * 1024 < len(data) / 8, (peak, len(data))
    assert f"keys expired: {RSS_FILE_KEYS}" in s.log()


# --- hand-made files: the opcodes ----------------------------------------------------------


def test_opcodes_of_newer_versions(server_factory, tmp_path):
    """Version 11 (Redis 7.2, Valkey), SLOT_INFO skipped, RESIZEDB, EXPIRETIME in seconds and
    ms, IDLE and FREQ hints, SELECTDB."""
    future_s = int(time.time()) + 5000
    future_ms = int(time.time() * 1000) + 9_000_000
    body = (
        aux("redis-ver", "7.2.4") + aux("redis-bits", "64") + aux("used-mem", "1000000")
        + b"\xfe" + rlen(0) + b"\xfb" + rlen(4) + rlen(2)
        + b"\xf4" + rlen(1234) + rlen(3) + rlen(1)  # SLOT_INFO
        + kv("plain", "v")
        + b"\xfd" + struct.pack("<I", future_s) + kv("secs", "s")
        + b"\xfc" + struct.pack("<Q", future_ms) + kv("millis", "m")
        + b"\xf8" + rlen(1000) + kv("idle", "i")
        + b"\xf9" + b"\x07" + kv("freq", "f")
        + b"\xfe" + rlen(3) + kv("db3key", "three")
    )  # fmt: skip
    d = dfly_dir(tmp_path, "load", data=rdb_file(body, version=11))
    s = start_loaded(server_factory, d)
    c = s.client()
    assert sorted(c.keys()) == ["freq", "idle", "millis", "plain", "secs"]
    assert abs(c.ttl("secs") - 5000) < 60
    assert abs(c.pttl("millis") - 9_000_000) < 60_000
    assert c.ttl("plain") == -1
    assert 990 <= c.object("idletime", "idle") <= 1100
    assert c.get("idle") == "i"
    c.execute_command("SELECT", 3)
    assert c.get("db3key") == "three"


def test_lfu_hint_under_an_lfu_policy(server_factory, tmp_path):
    body = b"\xfe" + rlen(0) + b"\xf9" + b"\x64" + kv("hot", "h") + kv("cold", "c")
    d = dfly_dir(tmp_path, "load", data=rdb_file(body))
    s = start_loaded(server_factory, d, "--maxmemory-policy", "allkeys-lfu")
    c = s.client()
    assert c.object("freq", "hot") == 100
    assert c.object("freq", "cold") == 5  # a fresh key's counter (LFU_INIT_VAL)


def test_zero_checksum_is_accepted(server_factory, tmp_path):
    d = dfly_dir(tmp_path, "load", data=rdb_file(kv("k", "v"), checksum=False))
    s = start_loaded(server_factory, d)
    assert s.client().get("k") == "v"


def test_old_version_without_checksum(server_factory, tmp_path):
    """RDB 4 had no checksum after EOF."""
    data = b"REDIS0004" + b"\xfe\x00" + kv("old", "file") + b"\xff"
    s = start_loaded(server_factory, dfly_dir(tmp_path, "load", data=data))
    assert s.client().get("old") == "file"


def test_duplicate_keys_the_later_wins(server_factory, tmp_path):
    body = (
        b"\xfe\x00" + b"\xfc" + struct.pack("<Q", int(time.time() * 1000) + 10**8)
        + kv("dup", "first") + kv("other", "o") + kv("dup", "second")
    )  # fmt: skip
    s = start_loaded(server_factory, dfly_dir(tmp_path, "load", data=rdb_file(body)))
    c = s.client()
    assert c.get("dup") == "second"
    assert c.ttl("dup") == -1  # the later record had no expiry
    assert c.info("keyspace")["db0"]["keys"] == 2
    assert c.info("keyspace")["db0"].get("expires", 0) == 0
    assert "duplicated key 'dup' in DB 0" in s.log()


def test_function_record(server_factory, tmp_path):
    body = b"\xf5" + rstr(FUNC_LIB) + b"\xfe\x00" + kv("k", "v")
    s = start_loaded(server_factory, dfly_dir(tmp_path, "load", data=rdb_file(body)))
    c = s.client()
    assert c.fcall("load_get", 1, "k") == "v"


# --- refused files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_file(tmp_path_factory):
    """A small file of redis-server 7.0 with a recognisable incompressible string."""
    d = tmp_path_factory.mktemp("redisfile")
    port = free_port()
    proc = subprocess.Popen(
        ["/usr/bin/redis-server", "--port", str(port), "--bind", HOST, "--save", "",
         "--appendonly", "no", "--dir", str(d), "--logfile", str(d / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        c = redis.Redis(host=HOST, port=port, socket_timeout=10)
        deadline = time.monotonic() + 10
        while True:
            try:
                c.ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(POLL_S)
        rnd = random.Random(7)
        marker = "".join(rnd.choice(string.ascii_letters) for _ in range(200))  # no LZF gain
        for i in range(50):
            c.set(f"key:{i}", f"value:{i}")
        c.set("marked", marker)
        c.rpush("list", *range(100))
        c.execute_command("SELECT", 5)
        c.set("five", "5")
        c.save()
        c.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    data = (d / "dump.rdb").read_bytes()
    return data, data.index(marker.encode())


def test_truncated_files_are_refused(dfly_binary, redis_file, tmp_path):
    data, _ = redis_file
    for cut in (3, 9, 20, len(data) // 2, len(data) - 9, len(data) - 8, len(data) - 1):
        d = dfly_dir(tmp_path, f"cut{cut}", data=data[:cut])
        assert_refused(dfly_binary, d)


def test_truncated_file_messages(dfly_binary, redis_file, tmp_path):
    data, _ = redis_file
    log = assert_refused(dfly_binary, dfly_dir(tmp_path, "a", data=data[:-9]), "end of file")
    assert f"offset {len(data) - 9}" in log
    log = assert_refused(dfly_binary, dfly_dir(tmp_path, "b", data=data[:-4]), "checksum")
    assert f"offset {len(data) - 8}" in log


def test_flipped_byte_fails_the_checksum(dfly_binary, redis_file, tmp_path):
    data, at = redis_file
    bad = bytearray(data)
    bad[at + 100] ^= 0x01  # inside the marker: still parses, only the checksum tells
    log = assert_refused(dfly_binary, dfly_dir(tmp_path, "flip", data=bytes(bad)),
                         "checksum mismatch")  # fmt: skip
    assert f"offset {len(data) - 8}" in log


def test_wrong_magic_and_versions(dfly_binary, redis_file, tmp_path):
    data, _ = redis_file
    assert_refused(dfly_binary, dfly_dir(tmp_path, "magic", data=b"REDIX" + data[5:]),
                   "not an RDB file", "offset 0")  # fmt: skip
    assert_refused(dfly_binary, dfly_dir(tmp_path, "v12", data=b"REDIS0012" + data[9:]),
                   "unsupported RDB version 12")  # fmt: skip
    assert_refused(dfly_binary, dfly_dir(tmp_path, "v0", data=b"REDIS0000" + data[9:]),
                   "unsupported RDB version 0")  # fmt: skip
    assert_refused(dfly_binary, dfly_dir(tmp_path, "vx", data=b"REDIS00x1" + data[9:]),
                   "bad version")  # fmt: skip
    assert_refused(dfly_binary, dfly_dir(tmp_path, "empty", data=b""), "not an RDB file")


def test_trailing_garbage_is_refused(dfly_binary, redis_file, tmp_path):
    data, _ = redis_file
    log = assert_refused(dfly_binary, dfly_dir(tmp_path, "tail", data=data + b"junk"),
                         "4 bytes of trailing data")  # fmt: skip
    assert f"offset {len(data)}" in log


def test_database_beyond_databases_is_refused(dfly_binary, redis_file, tmp_path):
    data, _ = redis_file
    assert_refused(dfly_binary, dfly_dir(tmp_path, "dbs", data=data),
                   "database 5", "--databases", args=("--databases", "4"))  # fmt: skip


@pytest.mark.parametrize(
    "body,needle",
    [
        (b"\xf7" + rlen(5) + rlen(1), "module data is not supported"),
        (b"\xf6" + rstr("x"), "pre-GA"),
        (b"\x07" + rstr("k") + rlen(1), "module data is not supported"),
        (b"\x0d" + rstr("k") + rstr("zl"), "ziplist"),
        (b"\x60" + rstr("k"), "unknown record type 96"),
        (b"\xfe\x00\x04" + rstr("h") + rlen(3) + rstr("f"), "value of RDB type 4 for key 'h'"),
        (b"\xf5" + rstr("#!lua name=bad\nerror('no')"), "function library"),
        (b"\xf5" + rstr("#!lua name=loadlib\nredis.register_function('f', function() end)")
         + b"\xf5" + rstr("#!lua name=loadlib\nredis.register_function('g', function() end)"),
         "already exists"),
    ],
)  # fmt: skip
def test_unsupported_records_are_refused(dfly_binary, tmp_path, body, needle):
    d = dfly_dir(tmp_path, "bad", data=rdb_file(body))
    assert_refused(dfly_binary, d, needle)


def test_half_loaded_dataset_is_never_served(dfly_binary, tmp_path):
    """A file whose end is corrupt: during the (slowed) load every GET gets -LOADING, then the
    server exits non-zero; no key was ever served."""
    body = b"\xfe\x00" + b"".join(kv(f"k{i}", f"v{i}") for i in range(300))
    data = rdb_file(body)
    data = data[:-8] + bytes(8 * [0x5A])  # a wrong checksum: found only at the very end
    d = dfly_dir(tmp_path, "half", data=data)
    port = free_port()
    log = d / "dfly.log"
    proc = subprocess.Popen(
        [dfly_binary, "--port", str(port), "--bind", HOST, "--threads", "2", "--dir", str(d),
         "--logfile", str(log), "--key_load_delay", "5000"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        answers = set()
        deadline = time.monotonic() + EXIT_WAIT_S
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                answers.add(raw_request(port, resp("GET", "k0"), 1)[0])
            except OSError:
                pass
            time.sleep(POLL_S)
        assert proc.wait(timeout=EXIT_WAIT_S) != 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answers <= {LOADING_ERR[:-2], b""}, answers
    assert LOADING_ERR[:-2] in answers
    assert "checksum mismatch" in log.read_text()


# --- the loading state ---------------------------------------------------------------------


LOADING_KEYS = 3000
KEY_DELAY_US = 1000  # 3000 keys at 1 ms each: a load of about 3 s


def populate(rs):
    rs.client().execute_command("DEBUG", "POPULATE", LOADING_KEYS)


def test_loading_state(server_factory, redis_server_factory, tmp_path):
    _, path = redis_dump(redis_server_factory, populate)
    size = path.stat().st_size
    d = dfly_dir(tmp_path, "load", src=path)
    s = start_loaded(server_factory, d, "--key_load_delay", KEY_DELAY_US, wait=False)
    c = s.client()
    assert c.ping()
    info = c.info("persistence")
    assert info["loading"] == 1 and info["async_loading"] == 0
    assert info["loading_total_bytes"] == size
    assert 0 <= info["loading_loaded_perc"] < 100
    assert info["loading_eta_seconds"] >= 0
    assert abs(info["loading_start_time"] - time.time()) < 60
    assert "loading_rdb_used_mem" in info and "loading_loaded_bytes" in info
    # GET, plain and pipelined, and inside MULTI: Redis's exact error.
    assert raw_request(s.port, resp("GET", "key:1"), 1) == [LOADING_ERR[:-2]]
    assert raw_request(s.port, resp("GET", "key:1") * 3 + resp("PING"), 4) == [
        LOADING_ERR[:-2]
    ] * 3 + [b"+PONG"]
    got = raw_request(s.port, resp("MULTI") + resp("SET", "a", "1") + resp("EXEC"), 3)
    assert got == [
        b"+OK",
        LOADING_ERR[:-2],
        b"-EXECABORT Transaction discarded because of previous errors.",
    ]
    with pytest.raises(redis.exceptions.BusyLoadingError):
        c.get("key:1")
    assert c.config_get("key-load-delay") == {"key-load-delay": str(KEY_DELAY_US)}
    s.wait_loaded()
    assert c.dbsize() == LOADING_KEYS
    assert c.get("key:1") == "value:1"
    assert c.get(f"key:{LOADING_KEYS - 1}") == f"value:{LOADING_KEYS - 1}"
    assert "loading_total_bytes" not in c.info("persistence")
    assert f"DB loaded from disk: {LOADING_KEYS} keys" in s.log()


def test_shutdown_during_loading(server_factory, redis_server_factory, tmp_path):
    """SIGTERM while loading: a prompt, clean exit, and the file is left as it was (a partial
    dataset is never saved over it)."""
    _, path = redis_dump(redis_server_factory, populate)
    d = dfly_dir(tmp_path, "load", src=path)
    before = (d / "dump.rdb").read_bytes()
    s = start_loaded(server_factory, d, "--key_load_delay", 10_000, wait=False)
    assert s.client().info("persistence")["loading"] == 1
    t0 = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - t0 < 5
    assert (d / "dump.rdb").read_bytes() == before
    assert "Loading interrupted by shutdown" in s.log()
