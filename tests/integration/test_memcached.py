"""The memcached listener (--memcached_port): text, meta and binary protocols on the RESP
keyspace, driven by pymemcache and by raw sockets. Differential runs against Debian's memcached,
memcapable and garbage input are in test_memcached_compat.py."""

import struct
import time

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheServerError

from memcache_support import (
    OP,
    STATUS,
    BinConn,
    TextConn,
    free_port,
    incr_extras,
    set_extras,
)
from shardkeys import key_shard, keys_per_shard

THREADS = 2
MAX_ITEM = 1024 * 1024  # the default of --memcached_max_item_size, as memcached's -I


def start(server_factory, *args, threads=THREADS):
    port = free_port()
    s = server_factory("--memcached_port", port, *args, threads=threads)
    s.mc_port = port
    return s


@pytest.fixture
def mcs(server_factory):
    return start(server_factory)


@pytest.fixture
def mc(mcs):
    c = Client(
        ("127.0.0.1", mcs.mc_port), timeout=10, connect_timeout=10, default_noreply=False
    )
    yield c
    c.close()


@pytest.fixture
def text(mcs):
    c = TextConn(mcs.mc_port)
    yield c
    c.close()


@pytest.fixture
def binc(mcs):
    c = BinConn(mcs.mc_port)
    yield c
    c.close()


# ---- text protocol through pymemcache --------------------------------------------------------


def test_set_get_delete(mc):
    assert mc.set("a", b"hello")
    assert mc.get("a") == b"hello"
    assert mc.delete("a") is True
    assert mc.get("a") is None
    assert mc.delete("a", noreply=False) is False


def test_flags_are_kept(mc, text):
    mc.set("f", b"v", flags=4294967295)
    assert text.call(b"get f\r\n") == b"VALUE f 4294967295 1\r\nv\r\nEND\r\n"
    mc.set("g", b"w", flags=0)
    assert text.call(b"gets g\r\n").startswith(b"VALUE g 0 1 ")


def test_multi_get_spans_shards_in_request_order(mc, text):
    keys = keys_per_shard("mg", THREADS, per_shard=4)
    assert len({key_shard(k, THREADS) for k in keys}) == THREADS
    for i, k in enumerate(keys):
        mc.set(k, str(i).encode())
    got = mc.get_many(keys + ["missing"])
    assert got == {k: str(i).encode() for i, k in enumerate(keys)}
    # On the wire: VALUE lines in the order asked, misses skipped.
    order = list(reversed(keys))
    reply = text.call(b"get " + b" ".join(k.encode() for k in order) + b" nope\r\n")
    lines = [l for l in reply.split(b"\r\n") if l.startswith(b"VALUE")]
    assert [l.split()[1].decode() for l in lines] == order


def test_add_replace_append_prepend(mc):
    assert mc.add("k", b"1", noreply=False) is True
    assert mc.add("k", b"2", noreply=False) is False
    assert mc.replace("k", b"3", noreply=False) is True
    assert mc.replace("nope", b"3", noreply=False) is False
    assert mc.append("k", b"4", noreply=False) is True
    assert mc.prepend("k", b"0", noreply=False) is True
    assert mc.get("k") == b"034"
    assert mc.append("nope", b"x", noreply=False) is False


def test_cas(mc):
    mc.set("c", b"one")
    value, cas = mc.gets("c")
    assert value == b"one"
    assert mc.cas("c", b"two", cas, noreply=False) is True
    assert mc.cas("c", b"three", cas, noreply=False) is False  # EXISTS: changed since
    assert mc.get("c") == b"two"
    assert mc.cas("nope", b"x", cas, noreply=False) is None  # NOT_FOUND


def test_cas_changes_on_resp_writes(mcs, mc):
    r = mcs.client()
    mc.set("x", b"10")
    _, cas1 = mc.gets("x")
    r.incr("x")  # RESP changes the item in place
    value, cas2 = mc.gets("x")
    assert value == b"11" and cas2 != cas1
    assert mc.cas("x", b"12", cas1, noreply=False) is False
    r.set("x", "20")  # RESP replaces it: flags 0, and no memcached CAS matches
    value, cas3 = mc.gets("x")
    assert value == b"20" and cas3 not in (cas1, cas2)
    assert mc.cas("x", b"21", cas2, noreply=False) is False
    assert mc.cas("x", b"21", cas3, noreply=False) is True
    r.append("x", "!")
    assert mc.cas("x", b"22", cas3, noreply=False) is False


def test_one_keyspace_with_resp(mcs, mc):
    r = mcs.client()
    mc.set("shared", b"from-mc", expire=100)
    assert r.get("shared") == "from-mc"
    assert 90 < r.ttl("shared") <= 100
    r.set("resp", "from-resp")
    assert mc.get("resp") == b"from-resp"
    r.rpush("alist", "x")
    assert mc.get("alist") is None  # only strings are memcached items
    assert mc.set("alist", b"now a string")
    assert r.type("alist") == "string"
    r.select(1)
    r.set("db1", "x")
    assert mc.get("db1") is None  # memcached sees database 0


def test_incr_decr(mc, text):
    mc.set("n", b"10")
    assert mc.incr("n", 5) == 15
    assert mc.decr("n", 20) == 0  # decr stops at 0
    mc.set("n", b"18446744073709551615")
    assert mc.incr("n", 2) == 1  # incr wraps at 2^64
    assert mc.incr("missing", 1) is None
    mc.set("s", b"abc")
    assert text.call(b"incr s 1\r\n") == (
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    )
    assert text.call(b"incr s x\r\n") == b"CLIENT_ERROR invalid numeric delta argument\r\n"


def test_touch_and_gat(mc, text, mcs):
    r = mcs.client()
    mc.set("t", b"v")
    assert mc.touch("t", 100, noreply=False) is True
    assert 90 < r.ttl("t") <= 100
    assert mc.touch("nope", 100, noreply=False) is False
    assert text.call(b"gat 200 t nope\r\n") == b"VALUE t 0 1\r\nv\r\nEND\r\n"
    assert 190 < r.ttl("t") <= 200
    reply = text.call(b"gats 0 t\r\n")
    assert reply.startswith(b"VALUE t 0 1 ") and reply.endswith(b"\r\nv\r\nEND\r\n")
    assert r.ttl("t") == -1


def test_exptime_forms(mc, mcs):
    r = mcs.client()
    mc.set("rel", b"v", expire=1000)
    assert 990 < r.ttl("rel") <= 1000
    future = int(time.time()) + 3600 * 24 * 60  # past 30 days: a unix time
    mc.set("abs", b"v", expire=future)
    assert abs(r.ttl("abs") - 3600 * 24 * 60) < 5
    mc.set("old", b"v")
    mc.set("old", b"v", expire=int(time.time()) - 10)  # in the past: gone at once
    assert mc.get("old") is None and r.exists("old") == 0
    mc.set("neg", b"v")
    mc.set("neg", b"v", expire=-1)
    assert mc.get("neg") is None
    mc.set("short", b"v", expire=1)
    time.sleep(2.1)
    assert mc.get("short") is None


def test_noreply(text, mc):
    assert text.call(b"set nr 0 0 1 noreply\r\na\r\n") == b""
    assert text.call(b"add nr 0 0 1 noreply\r\nb\r\n") == b""
    assert text.call(b"incr nr 1 noreply\r\n") == b""
    assert text.call(b"delete nr noreply\r\n") == b""
    assert text.call(b"touch nr 10 noreply\r\n") == b""
    assert text.call(b"flush_all noreply\r\n") == b""
    assert text.call(b"verbosity 1 noreply\r\n") == b""
    assert mc.get("nr") is None


def test_key_length_limit(text):
    k250 = b"k" * 250
    assert text.call(b"set " + k250 + b" 0 0 1\r\nx\r\n") == b"STORED\r\n"
    assert text.call(b"get " + k250 + b"\r\n") == b"VALUE " + k250 + b" 0 1\r\nx\r\nEND\r\n"
    k251 = b"k" * 251
    assert text.call(b"get " + k251 + b"\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    # memcached does not read the data of a refused line: it is a command of its own
    assert text.call(b"set " + k251 + b" 0 0 1\r\nx\r\n") == (
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n"
    )


def test_max_item_size(server_factory):
    s = start(server_factory, "--memcached_max_item_size", "2048")
    t = TextConn(s.mc_port)
    assert t.call(b"set k 0 0 1000\r\n" + b"x" * 1000 + b"\r\n") == b"STORED\r\n"
    big = b"y" * 4000
    assert t.call(b"set k 0 0 4000\r\n" + big + b"\r\n") == (
        b"SERVER_ERROR object too large for cache\r\n"
    )
    assert t.call(b"get k\r\n") == b"END\r\n"  # a too-large set drops the old item
    assert t.call(b"set k2 0 0 10\r\n0123456789\r\n") == b"STORED\r\n"
    b = BinConn(s.mc_port)
    resp = b.call("SET", b"k2", set_extras(), big)
    assert resp.status == STATUS["E2BIG"] and resp.value == b"Too large."
    assert b.call("NOOP").status == STATUS["OK"]


def test_default_max_item_size(mc):
    with pytest.raises(MemcacheServerError, match="object too large"):
        mc.set("huge", b"z" * (MAX_ITEM + 1), noreply=False)
    assert mc.set("fits", b"z" * (MAX_ITEM - 1024), noreply=False)
    assert len(mc.get("fits")) == MAX_ITEM - 1024


def test_flush_all_and_delay(mc):
    mc.set("a", b"1")
    assert mc.flush_all(noreply=False)
    assert mc.get("a") is None
    mc.set("b", b"1")
    assert mc.flush_all(delay=2, noreply=False)
    assert mc.get("b") == b"1"
    time.sleep(3)
    assert mc.get("b") is None
    mc.set("c", b"1")  # stored after the deadline: stays
    time.sleep(0.2)
    assert mc.get("c") == b"1"


def test_flush_all_later_one_wins(mc):
    mc.set("a", b"1")
    mc.flush_all(delay=1, noreply=False)
    mc.flush_all(delay=100, noreply=False)  # replaces the first
    time.sleep(2)
    assert mc.get("a") == b"1"


def test_version_verbosity_quit(text, mc):
    assert text.call(b"version\r\n").startswith(b"VERSION 1.6")
    assert text.call(b"verbosity 1\r\n") == b"OK\r\n"
    assert text.call(b"verbosity x\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    assert mc.version().startswith(b"1.6")
    text.send(b"quit\r\n")
    assert text.closed_by_peer()


def test_error_lines(text):
    assert text.call(b"bogus\r\n") == b"ERROR\r\n"
    assert text.call(b"\r\n") == b"ERROR\r\n"
    assert text.call(b"set k 0 0\r\n") == b"ERROR\r\n"
    assert text.call(b"set k x 0 1\r\na\r\n") == b"CLIENT_ERROR bad command line format\r\nERROR\r\n"
    assert text.call(b"set k 0 0 3\r\nabcde\r\n") == b"CLIENT_ERROR bad data chunk\r\nERROR\r\n"
    assert text.call(b"delete k 5\r\n") == (
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"
    )
    assert text.call(b"touch k x\r\n") == b"CLIENT_ERROR invalid exptime argument\r\n"
    assert text.call(b"flush_all x\r\n") == b"CLIENT_ERROR invalid exptime argument\r\n"


def test_stats_groups(mc, text):
    mc.set("s", b"v")
    mc.get("s")
    mc.get("nope")
    stats = mc.stats()
    for field in (b"pid", b"uptime", b"curr_items", b"bytes", b"get_hits", b"get_misses",
                  b"cmd_get", b"cmd_set", b"curr_connections", b"limit_maxbytes", b"threads"):
        assert field in stats, field
    assert stats[b"get_hits"] >= 1 and stats[b"get_misses"] >= 1
    assert stats[b"curr_items"] == 1
    settings = mc.stats("settings")
    assert settings[b"item_size_max"] == MAX_ITEM and settings[b"cas_enabled"] in (True, b"yes")
    items = text.call(b"stats items\r\n")
    assert b"STAT items:1:number 1\r\n" in items and items.endswith(b"END\r\n")
    slabs = text.call(b"stats slabs\r\n")
    assert b"STAT active_slabs 1\r\n" in slabs and b"STAT 1:chunk_size" in slabs
    assert text.call(b"stats nonsense\r\n") == b"ERROR\r\n"
    assert text.call(b"stats reset\r\n") == b"RESET\r\n"


def test_oom_is_a_server_error(server_factory):
    s = start(server_factory, "--maxmemory", "1mb")
    t = TextConn(s.mc_port)
    answers = set()
    for i in range(200):
        answers.add(t.call(b"set k%d 0 0 50000\r\n" % i + b"x" * 50000 + b"\r\n"))
    assert b"SERVER_ERROR out of memory storing object\r\n" in answers
    assert t.call(b"get k0\r\n").endswith(b"END\r\n")


# ---- meta commands --------------------------------------------------------------------------


def test_meta_get_set(text):
    assert text.call(b"ms foo 3 T100 F5 c k O9\r\nbar\r\n").startswith(b"HD c")
    reply = text.call(b"mg foo s v t f k O1 q\r\n")
    assert reply == b"VA 3 s3 t100 f5 kfoo O1\r\nbar\r\n"
    assert text.call(b"mg nope v O7 k\r\n") == b"EN O7 knope\r\n"
    assert text.call(b"mg nope v q\r\n") == b""  # q hides the miss
    assert text.call(b"ms foo 2 MA\r\nzz\r\n") == b"HD\r\n"
    assert text.call(b"mg foo v\r\n") == b"VA 5\r\nbarzz\r\n"
    assert text.call(b"ms foo 1 ME\r\nx\r\n") == b"NS\r\n"
    assert text.call(b"ms new 1 MR\r\nx\r\n") == b"NS\r\n"
    assert text.call(b"ms foo 1 q\r\nx\r\n") == b""
    text.send(b"mn\r\n")
    assert text.read_until(b"\r\n") == b"MN\r\n"


def test_meta_cas_and_stale(text):
    text.call(b"ms k 1\r\na\r\n")
    cas = int(text.call(b"mg k c\r\n").split()[1][1:])
    assert text.call(b"ms k 1 C%d\r\nb\r\n" % (cas + 1)) == b"EX\r\n"
    assert text.call(b"ms k 1 C%d c\r\nb\r\n" % cas).startswith(b"HD c")
    assert text.call(b"md k I T30\r\n") == b"HD\r\n"
    first = text.call(b"mg k v c\r\n")
    assert first.split(b"\r\n")[0].endswith(b" X W")
    second = text.call(b"mg k v\r\n")
    assert second == b"VA 1 Z X\r\nb\r\n"
    assert text.call(b"md k C1\r\n") == b"EX\r\n"
    assert text.call(b"md k q\r\n") == b""
    assert text.call(b"md k\r\n") == b"NF\r\n"


def test_meta_vivify_and_recache(text):
    assert text.call(b"mg v1 N30 s t v\r\n") == b"VA 0 s0 t30 W\r\n\r\n"
    assert text.call(b"mg v1 N30 s\r\n") == b"HD s0 Z\r\n"
    text.call(b"ms r1 1 T10\r\nx\r\n")
    assert text.call(b"mg r1 R30 v\r\n") == b"VA 1 W\r\nx\r\n"
    assert text.call(b"mg r1 R30 v\r\n") == b"VA 1 Z\r\nx\r\n"


def test_meta_arithmetic(text):
    assert text.call(b"ma cnt\r\n") == b"NF\r\n"
    assert text.call(b"ma cnt N0 J10 v\r\n") == b"VA 2\r\n10\r\n"
    assert text.call(b"ma cnt v MD D3 t\r\n") == b"VA 1 t-1\r\n7\r\n"
    assert text.call(b"ma cnt q\r\n") == b""
    assert text.call(b"ma cnt v\r\n") == b"VA 1\r\n9\r\n"
    assert text.call(b"ma cnt C1 v\r\n") == b"EX\r\n"
    text.call(b"ms s 1\r\nx\r\n")
    assert text.call(b"ma s\r\n") == (
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    )


def test_meta_base64_keys_and_me(text, mcs):
    r = mcs.client(decode_responses=False)
    # "\x00\x01bin" in base64
    assert text.call(b"ms AAFiaW4= 2 b\r\nhi\r\n") == b"HD\r\n"
    assert r.get(b"\x00\x01bin") == b"hi"
    assert text.call(b"mg AAFiaW4= b v k\r\n") == b"VA 2 kAAFiaW4= b\r\nhi\r\n"
    me = text.call(b"me AAFiaW4= b\r\n")
    assert me.startswith(b"ME AAFiaW4= exp=-1 la=") and b" fetch=yes" in me
    assert text.call(b"me nope\r\n") == b"EN\r\n"
    assert text.call(b"mg !!! b\r\n") == b"CLIENT_ERROR error decoding key\r\n"


def test_meta_errors(text):
    assert text.call(b"mg foo v v\r\n") == b"CLIENT_ERROR duplicate flag\r\n"
    assert text.call(b"mg foo zz\r\n") == b"CLIENT_ERROR invalid flag\r\n"
    assert text.call(b"ms bar 3 Mz\r\nabc\r\n") == b"CLIENT_ERROR invalid mode for ms M token\r\n"
    assert text.call(b"ms bar 3 O" + b"z" * 40 + b"\r\nabc\r\n") == (
        b"CLIENT_ERROR opaque token too long\r\n"
    )
    assert text.call(b"ms bar 3 S3\r\nabc\r\n") == b"CLIENT_ERROR invalid flag\r\n"
    assert text.call(b"ms bar\r\n") == b"CLIENT_ERROR bad command line format\r\n"
    assert text.call(b"mg\r\n") == b"ERROR\r\n"


# ---- binary protocol ------------------------------------------------------------------------


def test_binary_basics(binc):
    r = binc.call("SET", b"bk", set_extras(flags=7), b"val", opaque=0x01020304)
    assert r.status == STATUS["OK"] and r.opaque == 0x01020304 and r.cas != 0
    g = binc.call("GETK", b"bk")
    assert (g.status, g.key, g.value, struct.unpack(">I", g.extras)[0]) == (0, b"bk", b"val", 7)
    assert g.cas == r.cas
    assert binc.call("ADD", b"bk", set_extras(), b"x").status == STATUS["KEY_EEXISTS"]
    assert binc.call("REPLACE", b"nope", set_extras(), b"x").status == STATUS["KEY_ENOENT"]
    assert binc.call("SET", b"bk", set_extras(), b"x", cas=g.cas + 1).status == (
        STATUS["KEY_EEXISTS"]
    )
    assert binc.call("APPEND", b"bk", value=b"!").status == STATUS["OK"]
    assert binc.call("GET", b"bk").value == b"val!"
    miss = binc.call("GET", b"nope")
    assert miss.status == STATUS["KEY_ENOENT"] and miss.value == b"Not found"
    assert binc.call("GETK", b"nope").key == b"nope"
    assert binc.call("DELETE", b"bk").status == STATUS["OK"]
    assert binc.call("DELETE", b"bk").status == STATUS["KEY_ENOENT"]
    assert binc.call("VERSION").value.startswith(b"1.6")


def test_binary_incr_decr(binc):
    r = binc.call("INCREMENT", b"n", incr_extras(1, initial=5))
    assert r.status == 0 and struct.unpack(">Q", r.value)[0] == 5
    r = binc.call("INCREMENT", b"n", incr_extras(10))
    assert struct.unpack(">Q", r.value)[0] == 15
    r = binc.call("DECREMENT", b"n", incr_extras(100))
    assert struct.unpack(">Q", r.value)[0] == 0
    r = binc.call("INCREMENT", b"m", incr_extras(1, exptime=0xFFFFFFFF))
    assert r.status == STATUS["KEY_ENOENT"]
    binc.call("SET", b"s", set_extras(), b"abc")
    assert binc.call("INCREMENT", b"s", incr_extras(1)).status == STATUS["DELTA_BADVAL"]


def test_binary_quiet_pipeline_spans_shards(binc):
    keys = [k.encode() for k in keys_per_shard("bq", THREADS, per_shard=8)]
    out = b"".join(BinConn.packet("SETQ", k, set_extras(), k.upper()) for k in keys)
    binc.sock.sendall(out + BinConn.packet("NOOP", opaque=99))
    assert binc.read_response().opaque == 99  # quiet sets answered nothing
    want = keys[::3] + [b"missing"] + keys[1::3]
    req = b"".join(BinConn.packet("GETKQ", k, opaque=i) for i, k in enumerate(want))
    binc.sock.sendall(req + BinConn.packet("NOOP", opaque=1000))
    got = []
    while True:
        r = binc.read_response()
        if r.opcode == OP["NOOP"]:
            break
        got.append((r.opaque, r.key, r.value))
    expect = [(i, k, k.upper()) for i, k in enumerate(want) if k != b"missing"]
    assert got == expect


def test_binary_touch_gat_flush_stat(binc, mcs):
    r = mcs.client()
    binc.call("SET", b"t", set_extras(), b"v")
    assert binc.call("TOUCH", b"t", struct.pack(">I", 100)).status == 0
    assert 90 < r.ttl("t") <= 100
    g = binc.call("GAT", b"t", struct.pack(">I", 0))
    assert g.value == b"v" and r.ttl("t") == -1
    binc.request("STAT")
    names = set()
    while True:
        s = binc.read_response()
        if not s.key:
            break
        names.add(s.key)
    assert {b"pid", b"curr_items", b"get_hits"} <= names
    assert binc.call("STAT", b"nonsense").status == STATUS["KEY_ENOENT"]
    assert binc.call("FLUSH").status == 0
    assert binc.call("GET", b"t").status == STATUS["KEY_ENOENT"]


def test_binary_protocol_errors(mcs):
    b = BinConn(mcs.mc_port)
    r = b.call(0x55)  # unknown opcode: answered, the connection stays
    assert r.status == STATUS["UNKNOWN_COMMAND"]
    assert b.call("NOOP").status == 0
    b.request("GET", b"")  # GET without a key: EINVAL and the connection is closed
    assert b.read_response().status == STATUS["EINVAL"]
    with pytest.raises((ConnectionError, OSError)):
        b.call("NOOP")


def test_binary_sasl_plain(server_factory):
    s = start(server_factory, "--requirepass", "sekret")
    b = BinConn(s.mc_port)
    assert b.call("GET", b"k").status == STATUS["AUTH_ERROR"]  # and closed
    b = BinConn(s.mc_port)
    assert b.call("SASL_LIST_MECHS").value == b"PLAIN"
    bad = b.call("SASL_AUTH", b"PLAIN", value=b"\x00anyone\x00wrong")
    assert bad.status == STATUS["AUTH_ERROR"]
    ok = b.call("SASL_AUTH", b"PLAIN", value=b"\x00anyone\x00sekret")
    assert ok.status == 0 and ok.value == b"Authenticated"
    assert b.call("SET", b"k", set_extras(), b"v").status == 0
    assert b.call("GET", b"k").value == b"v"


def test_text_auth(server_factory):
    s = start(server_factory, "--requirepass", "sekret")
    t = TextConn(s.mc_port)
    t.send(b"get k\r\n")
    assert t.read_until(b"\r\n") == b"CLIENT_ERROR unauthenticated\r\n"
    t.send(b"set auth 0 0 10\r\nuser wrong\r\n")
    assert t.read_until(b"\r\n") == b"CLIENT_ERROR authentication failure\r\n"
    t.send(b"set auth 0 0 11\r\nuser sekret\r\n")
    assert t.read_until(b"\r\n") == b"STORED\r\n"
    assert t.call(b"set k 0 0 1\r\nv\r\nget k\r\n") == b"STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n"


# ---- shards, journal ------------------------------------------------------------------------


def test_many_threads_and_clients(server_factory):
    s = start(server_factory, threads=4)
    clients = [
        Client(("127.0.0.1", s.mc_port), timeout=10, default_noreply=False) for _ in range(8)
    ]
    keys = keys_per_shard("many", 4, per_shard=25)
    for i, k in enumerate(keys):
        clients[i % 8].set(k, str(i).encode())
    for c in clients:
        assert c.get_many(keys) == {k: str(i).encode() for i, k in enumerate(keys)}
        c.close()


def test_journal_replays_memcached_writes(server_factory, tmp_path):
    port = free_port()
    wd = tmp_path / "aof"
    s = server_factory("--memcached_port", port, "--appendonly", "yes", workdir=wd)
    c = Client(("127.0.0.1", port), timeout=10, default_noreply=False)
    c.set("a", b"1", expire=1000)
    c.set("b", b"2")
    c.append("b", b"3")
    c.prepend("b", b"0")
    c.incr("a", 41)
    c.set("gone", b"x")
    c.delete("gone")
    c.touch("b", 500)
    c.set("big", b"x")
    c.set("stale", b"s")
    c.close()
    t = TextConn(port)
    assert t.call(b"set big 0 0 2000000\r\n" + b"y" * 2000000 + b"\r\n") == (
        b"SERVER_ERROR object too large for cache\r\n"
    )
    assert t.call(b"md stale I\r\nmg viv N100 s\r\nma ctr N0 J5\r\n") == (
        b"HD\r\nHD s0 W\r\nHD\r\n"
    )
    t.close()
    s.stop()
    s2 = server_factory("--memcached_port", free_port(), "--appendonly", "yes", workdir=wd)
    r = s2.client()
    assert r.get("a") == "42" and 990 < r.ttl("a") <= 1000
    assert r.get("b") == "023" and 490 < r.ttl("b") <= 500
    assert r.exists("gone") == 0
    assert r.exists("big") == 0  # the refused set dropped it
    assert r.get("stale") == "s" and r.get("viv") == "" and r.get("ctr") == "5"
    assert 90 < r.ttl("viv") <= 100
