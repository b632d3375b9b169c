"""DUMP and RESTORE of streams, in Redis 7.0's format (RDB_TYPE_STREAM_LISTPACKS_2), both ways
between dfly and Debian's redis-server 7.0: many nodes, varying field sets, tombstones, trimmed
streams, empty streams that keep their groups, consumer groups with pending entries, claimed
entries and read counters. After a RESTORE both sides answer XRANGE, XINFO, XPENDING,
XREADGROUP and XAUTOCLAIM alike (times approximately, where the clocks differ). Redis 5/6
(STREAM_LISTPACKS) and 7.2 (STREAM_LISTPACKS_3) payloads load too. Corrupt payloads - truncated,
mutated, or made inconsistent by hand - get Redis's "Bad data format" and never crash the
server, and whatever a mutated payload loads as stays safe to use."""

import copy
import shutil
import subprocess
import time

import pytest
import redis

HOUR_MS = 3600 * 1000
TIME_SLACK_MS = 5000  # two servers' clocks read a few commands apart
RDB_VERSION = 10
FOOTER = 10  # RDB version (2 bytes) and CRC64 (8 bytes) after a DUMP payload's value
BAD_FORMAT = "Bad data format"
MUTATION_POINTS = 60  # byte positions mutated per payload
TYPE_STREAM_1, TYPE_STREAM_2, TYPE_STREAM_3 = 15, 19, 21
REDIS_CHECK_RDB = "/usr/bin/redis-check-rdb"
CHECK_TIMEOUT_S = 30


@pytest.fixture
def ref(redis_server_factory):
    # sanitize-dump-payload makes Redis check our payloads as deeply as it can.
    s = redis_server_factory("--enable-debug-command", "yes", "--sanitize-dump-payload", "yes")
    return raw_client(s)


@pytest.fixture
def dfly(server):
    return raw_client(server)


def raw_client(s):
    c = s.client(decode_responses=False)
    c.response_callbacks = {}
    return c


# ---- building streams: the same commands on either server -----------------------------------


def sid(ms, seq):
    return f"{ms}-{seq}".encode()


def varied_fields(i):
    """Field sets that change along the stream: most entries repeat their node's first fields
    (Redis's SAMEFIELDS entries), others do not, values of every listpack encoding."""
    values = [i, -i * 70001, 2**63 - 1 - i, b"", b"x" * (i % 90), b"\x00\xff" * 3, b"1.5", b"007"]
    v = values[i % len(values)]
    if i % 7 == 3:
        return {b"other": v, b"n": i}
    if i % 11 == 5:
        return {b"f": v}
    return {b"f": v, b"g": b"const", b"n": i}


def add_many(c, k, n, start_ms=1):
    """n entries with explicit IDs: ms gaps of every size, seq jumping both ways, so that entry
    deltas inside a node are large and negative too."""
    p = c.pipeline(transaction=False)
    ms, seq = start_ms, 0
    for i in range(n):
        if i % 3 == 0:
            ms += 1 + (i % 5) * (2**33 if i % 97 == 0 else 17)
            seq = (i * 7919) % 50
        else:
            seq += 1 + i % 4
        p.execute_command("XADD", k, sid(ms, seq), *flatten(varied_fields(i)))
    p.execute()


def flatten(d):
    return [x for kv in d.items() for x in kv]


def ids_of(c, k, count):
    return [e[0] for e in c.execute_command("XRANGE", k, "-", "+", "COUNT", count)]


def build_many_nodes(c, k):
    add_many(c, k, 1500)


def build_deleted(c, k):
    add_many(c, k, 700)
    ids = ids_of(c, k, 700)
    # The first and last entries, a whole node's worth (the node goes), scattered ones.
    c.execute_command("XDEL", k, ids[0], ids[-1], *ids[200:300], *ids[400:600:7])


def build_trimmed(c, k):
    add_many(c, k, 900)
    c.execute_command("XTRIM", k, "MAXLEN", "~", 650)
    ids = ids_of(c, k, 200)
    c.execute_command("XTRIM", k, "MINID", ids[150])
    c.execute_command("XTRIM", k, "MAXLEN", 333)


def build_big_values(c, k):
    """Values that take Redis's 12- and 32-bit string encodings and cut nodes by bytes, and
    strings that only look like integers."""
    looks_int = [b"-0", b" 1", b"+1", b"9223372036854775808", b"-9223372036854775808",
                 b"18446744073709551615", b"0x10", b"1e3"]
    for i in range(40):
        c.execute_command("XADD", k, sid(10, i), b"big", b"v" * (70 + i * 150),
                          b"odd", looks_int[i % len(looks_int)])
    c.execute_command("XADD", k, sid(11, 0), b"huge", bytes(range(256)) * 40)


def build_groups(c, k):
    add_many(c, k, 300)
    ids = ids_of(c, k, 300)
    c.execute_command("XGROUP", "CREATE", k, "g1", "0")
    c.execute_command("XREADGROUP", "GROUP", "g1", "c1", "COUNT", 50, "STREAMS", k, ">")
    c.execute_command("XREADGROUP", "GROUP", "g1", "c2", "COUNT", 30, "STREAMS", k, ">")
    c.execute_command("XREADGROUP", "GROUP", "g1", b"c\x00bin", "COUNT", 20, "STREAMS", k, ">")
    c.execute_command("XACK", k, "g1", *ids[0:50:3])
    # Claimed entries: old (an hour idle), with delivery counts above one.
    c.execute_command("XCLAIM", k, "g1", "c3", 0, *ids[1:20:3], "IDLE", HOUR_MS, "RETRYCOUNT", 5)
    c.execute_command("XCLAIM", k, "g1", "c3", 0, ids[52], ids[53])
    c.execute_command("XCLAIM", k, "g1", "c3", 0, ids[53], "IDLE", 2 * HOUR_MS)
    c.execute_command("XGROUP", "CREATECONSUMER", k, "g1", "never-read")
    c.execute_command("XGROUP", "CREATE", k, "g2", "$")
    c.execute_command("XGROUP", "CREATE", k, "g3", ids[100], "ENTRIESREAD", 42)
    c.execute_command("XGROUP", "CREATE", k, "g4", "0")
    c.execute_command("XREADGROUP", "GROUP", "g4", "w", "COUNT", 10, "STREAMS", k, ">")
    c.execute_command("XGROUP", "SETID", k, "g4", ids[5])  # entries-read unknown
    c.execute_command("XDEL", k, ids[60], ids[61], ids[250])  # pending, then deleted


def build_emptied(c, k):
    """All entries deleted, the group and its PEL (of deleted IDs) stay."""
    for i in range(5):
        c.execute_command("XADD", k, sid(100, i), "f", i)
    c.execute_command("XGROUP", "CREATE", k, "g", "0")
    c.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", 3, "STREAMS", k, ">")
    c.execute_command("XDEL", k, *[sid(100, i) for i in range(5)])


def build_mkstream(c, k):
    c.execute_command("XGROUP", "CREATE", k, "g", "$", "MKSTREAM")
    c.execute_command("XGROUP", "CREATECONSUMER", k, "g", "idle")


def build_maxlen_zero(c, k):
    c.execute_command("XADD", k, "MAXLEN", 0, sid(7, 7), "f", "v")


SCENARIOS = {
    "many_nodes": build_many_nodes,
    "deleted": build_deleted,
    "trimmed": build_trimmed,
    "big_values": build_big_values,
    "groups": build_groups,
    "emptied": build_emptied,
    "mkstream": build_mkstream,
    "maxlen_zero": build_maxlen_zero,
}


# ---- comparing ---------------------------------------------------------------------------------


def pairs(flat):
    return dict(zip(flat[::2], flat[1::2]))


def xinfo_full(c, k):
    return c.execute_command("XINFO", "STREAM", k, "FULL", "COUNT", 0)


def group_names(c, k):
    return [pairs(g)[b"name"] for g in c.execute_command("XINFO", "GROUPS", k)]


def split_times(full):
    """XINFO STREAM FULL with its timestamps (seen-time, delivery times) taken out: the
    structure, and the times in order."""
    times = []
    info = pairs(full)
    groups = []
    for g in info[b"groups"]:
        gd = pairs(g)
        pending = []
        for p in gd[b"pending"]:
            times.append(p[2])
            pending.append([p[0], p[1], p[3]])
        gd[b"pending"] = pending
        consumers = []
        for cons in gd[b"consumers"]:
            cd = pairs(cons)
            times.append(cd.pop(b"seen-time"))
            cpending = []
            for p in cd[b"pending"]:
                times.append(p[1])
                cpending.append([p[0], p[2]])
            cd[b"pending"] = cpending
            consumers.append(cd)
        gd[b"consumers"] = consumers
        groups.append(gd)
    info[b"groups"] = groups
    return info, times


def assert_times_close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert abs(x - y) <= TIME_SLACK_MS, (x, y)


def assert_idle_lists_close(a, b, idle_index):
    """Replies whose elements carry an idle time at idle_index: equal but for it, which is
    close."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        x, y = list(x), list(y)
        assert abs(x[idle_index] - y[idle_index]) <= TIME_SLACK_MS, (x, y)
        x[idle_index] = y[idle_index] = None
        assert x == y


def assert_consumers_close(a, b):
    """XINFO CONSUMERS replies: equal but for the idle times, which are close."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        x, y = pairs(x), pairs(y)
        assert abs(x.pop(b"idle") - y.pop(b"idle")) <= TIME_SLACK_MS
        assert x == y


def assert_same_stream(a, ka, b, kb, exact_times=True):
    """b's stream at kb answers as a's at ka."""
    assert b.type(kb) == b"stream"
    assert b.execute_command("XLEN", kb) == a.execute_command("XLEN", ka)
    assert b.execute_command("XRANGE", kb, "-", "+") == a.execute_command("XRANGE", ka, "-", "+")
    assert b.execute_command("XREVRANGE", kb, "+", "-", "COUNT", 50) == a.execute_command(
        "XREVRANGE", ka, "+", "-", "COUNT", 50)
    assert b.execute_command("XINFO", "STREAM", kb) == a.execute_command("XINFO", "STREAM", ka)
    fa, fb = xinfo_full(a, ka), xinfo_full(b, kb)
    if exact_times:
        assert fb == fa
    else:
        sa, ta = split_times(fa)
        sb, tb = split_times(fb)
        assert sb == sa
        assert_times_close(ta, tb)
    assert b.execute_command("DEBUG", "DIGEST-VALUE", kb) == a.execute_command(
        "DEBUG", "DIGEST-VALUE", ka)
    assert b.execute_command("XINFO", "GROUPS", kb) == a.execute_command("XINFO", "GROUPS", ka)
    for g in group_names(a, ka):
        assert_consumers_close(a.execute_command("XINFO", "CONSUMERS", ka, g),
                               b.execute_command("XINFO", "CONSUMERS", kb, g))
        assert b.execute_command("XPENDING", kb, g) == a.execute_command("XPENDING", ka, g)
        for extra in ([], ["IDLE", HOUR_MS // 2]):
            args = [g, *extra, "-", "+", 1000]
            assert_idle_lists_close(a.execute_command("XPENDING", ka, *args),
                                    b.execute_command("XPENDING", kb, *args), 2)
        for cons in a.execute_command("XINFO", "CONSUMERS", ka, g):
            name = pairs(cons)[b"name"]
            args = [g, "-", "+", 1000, name]
            assert_idle_lists_close(a.execute_command("XPENDING", ka, *args),
                                    b.execute_command("XPENDING", kb, *args), 2)


def next_id(c, k):
    last = pairs(c.execute_command("XINFO", "STREAM", k))[b"last-generated-id"]
    ms = int(last.split(b"-")[0])
    return sid(ms + 1, 0)


def continue_both(a, ka, b, kb):
    """The same consumer work on both copies gets the same answers."""
    new = next_id(a, ka)
    assert next_id(b, kb) == new
    same_reply(a, ka, b, kb, "XADD", "{k}", new, "after", "restore")
    for g in group_names(a, ka):
        same_reply(a, ka, b, kb, "XREADGROUP", "GROUP", g, "fresh", "COUNT", 7, "STREAMS", "{k}",
                   ">")
        for cons in a.execute_command("XINFO", "CONSUMERS", ka, g):
            name = pairs(cons)[b"name"]
            same_reply(a, ka, b, kb, "XREADGROUP", "GROUP", g, name, "COUNT", 1000, "STREAMS",
                       "{k}", "0")
        same_reply(a, ka, b, kb, "XAUTOCLAIM", "{k}", g, "reaper", HOUR_MS // 2, "0-0", "COUNT", 5)
        same_reply(a, ka, b, kb, "XAUTOCLAIM", "{k}", g, "reaper", 0, "0-0", "COUNT", 1000,
                   "JUSTID")
        pending = a.execute_command("XPENDING", ka, g, "-", "+", 3)
        if pending:
            same_reply(a, ka, b, kb, "XACK", "{k}", g, *[p[0] for p in pending])
    assert_same_stream(a, ka, b, kb, exact_times=False)


def same_reply(a, ka, b, kb, *args):
    ra = a.execute_command(*[ka if x == "{k}" else x for x in args])
    rb = b.execute_command(*[kb if x == "{k}" else x for x in args])
    assert rb == ra, args


# ---- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_redis_to_dfly(dfly, ref, scenario):
    k = f"redis:{scenario}"
    SCENARIOS[scenario](ref, k)
    payload = ref.execute_command("DUMP", k)
    assert dfly.execute_command("RESTORE", k, 0, payload) == b"OK"
    assert_same_stream(ref, k, dfly, k)
    # What we write back is Redis 7.0's format and Redis reads it (with sanitize-dump-payload).
    back = dfly.execute_command("DUMP", k)
    assert back[0] == TYPE_STREAM_2
    ref.execute_command("RESTORE", "back:" + k, 0, back)
    assert_same_stream(ref, k, ref, "back:" + k)
    continue_both(ref, k, dfly, k)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_dfly_to_redis(dfly, ref, scenario):
    k = f"dfly:{scenario}"
    SCENARIOS[scenario](dfly, k)
    payload = dfly.execute_command("DUMP", k)
    assert ref.execute_command("RESTORE", k, 0, payload) == b"OK"
    assert_same_stream(dfly, k, ref, k)
    # Redis's DUMP of what it loaded restores into us as the same stream.
    dfly.execute_command("RESTORE", "again:" + k, 0, ref.execute_command("DUMP", k))
    assert_same_stream(dfly, k, dfly, "again:" + k)
    continue_both(dfly, k, ref, k)


def test_restore_replace_ttl_and_many_keys(dfly, ref):
    """Streams restore with the usual options, on both shards."""
    payloads = []
    for i in range(20):
        ref.execute_command("XADD", f"s{i}", sid(i + 1, 0), "i", i)
        ref.execute_command("XGROUP", "CREATE", f"s{i}", "g", "0")
        payloads.append(ref.execute_command("DUMP", f"s{i}"))
    for i, p in enumerate(payloads):
        assert dfly.execute_command("RESTORE", f"s{i}", 0, p) == b"OK"
    assert [dfly.execute_command("XLEN", f"s{i}") for i in range(20)] == [1] * 20
    with pytest.raises(redis.ResponseError, match="^BUSYKEY"):
        dfly.execute_command("RESTORE", "s0", 0, payloads[1])
    assert dfly.execute_command("RESTORE", "s0", 5000, payloads[1], "REPLACE") == b"OK"
    assert dfly.execute_command("XRANGE", "s0", "-", "+") == [[b"2-0", [b"i", b"1"]]]
    assert 0 < dfly.execute_command("PTTL", "s0") <= 5000
    # A restored stream takes new entries and groups like any other.
    assert dfly.execute_command("XADD", "s1", "*", "x", "y")
    assert dfly.execute_command("XGROUP", "CREATE", "s1", "g2", "0") == b"OK"


def test_snapshot_files_with_streams(server_factory, redis_server_factory):
    """Streams in RDB files, both ways: our SAVE passes redis-check-rdb and loads into Redis;
    Redis's SAVE loads into us."""
    src = server_factory()
    dfly = raw_client(src)
    for name, build in SCENARIOS.items():
        build(dfly, f"file:{name}")
    assert dfly.execute_command("SAVE") == b"OK"
    path = src.workdir / "dump.rdb"
    res = subprocess.run([REDIS_CHECK_RDB, str(path)], capture_output=True, text=True,
                         timeout=CHECK_TIMEOUT_S)
    assert res.returncode == 0 and "RDB looks OK" in res.stdout, res.stdout + res.stderr

    rs = redis_server_factory("--dbfilename", "loaded.rdb", "--enable-debug-command", "yes",
                              "--sanitize-dump-payload", "yes")
    rs.stop()  # redis-server loads at start only: restart it on a copy of the file
    shutil.copy(path, rs.workdir / "loaded.rdb")
    rs.start()
    ref = raw_client(rs)
    keys = sorted(dfly.execute_command("KEYS", "*"))
    assert sorted(ref.execute_command("KEYS", "*")) == keys
    for k in keys:
        assert_same_stream(dfly, k, ref, k)

    ref.execute_command("XADD", b"file:groups", "*", "from", "redis")
    assert ref.execute_command("SAVE") == b"OK"
    back = server_factory("--dir", str(rs.workdir), "--dbfilename", "loaded.rdb")
    back.wait_loaded()
    again = raw_client(back)
    assert sorted(again.execute_command("KEYS", "*")) == keys
    for k in keys:
        assert_same_stream(ref, k, again, k)


# ---- hand-made payloads: older and newer formats, and inconsistencies -------------------------


def with_footer(body):
    """A DUMP payload around a value body: RDB version and CRC-64/Jones (reflected)."""
    data = body + RDB_VERSION.to_bytes(2, "little")
    crc = 0
    poly = 0x95AC9329AC4BC9B5
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return data + crc.to_bytes(8, "little")


def enc_len(n):
    if n < 1 << 6:
        return bytes([n])
    if n < 1 << 14:
        return bytes([0x40 | n >> 8, n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def enc_str(b):
    return enc_len(len(b)) + b


def raw_id(i):
    return i[0].to_bytes(8, "big") + i[1].to_bytes(8, "big")


def ms_time(t):
    return t.to_bytes(8, "little", signed=True)


def lp_element(x):
    """A Redis listpack element: 7-bit uint, int64, or 6-bit-length string; then its backlen."""
    if isinstance(x, int):
        enc = bytes([x]) if 0 <= x <= 127 else b"\xf4" + x.to_bytes(8, "little", signed=True)
    else:
        assert len(x) < 64
        enc = bytes([0x80 | len(x)]) + x
    return enc + bytes([len(enc)])


def listpack(elems):
    body = b"".join(lp_element(e) for e in elems)
    total = 6 + len(body) + 1
    return total.to_bytes(4, "little") + len(elems).to_bytes(2, "little") + body + b"\xff"


def node_elements(master, entries, master_fields=None):
    """Redis's stream-node listpack elements for entries [(id, deleted, [(f, v)...])]."""
    if master_fields is None:
        master_fields = [f for f, _ in entries[0][2]]
    dead = sum(1 for e in entries if e[1])
    elems = [len(entries) - dead, dead, len(master_fields), *master_fields, 0]
    for (ms, seq), deleted, fv in entries:
        same = [f for f, _ in fv] == master_fields
        flags = (1 if deleted else 0) | (2 if same else 0)
        elems += [flags, ms - master[0], seq - master[1]]
        if same:
            elems += [v for _, v in fv]
            elems.append(len(fv) + 3)
        else:
            elems += [len(fv), *[x for kv in fv for x in kv]]
            elems.append(2 * len(fv) + 4)
    return elems


def base_spec(now_ms):
    """A small stream with two nodes, a tombstone, and a group with three consumers."""
    n1 = [((1, 1), False, [(b"a", 1), (b"b", b"x")]),
          ((1, 2), False, [(b"a", 2), (b"b", b"y")]),
          ((1, 3), True, [(b"c", 3)]),
          ((2, 0), False, [(b"a", 5), (b"b", b"z")])]
    n2 = [((5, 0), False, [(b"x", b"hello")]),
          ((5, 1), False, [(b"x", -70000)])]
    t = now_ms - 1000
    return {
        "type": TYPE_STREAM_2,
        "nodes": [[(1, 1), node_elements((1, 1), n1)], [(5, 0), node_elements((5, 0), n2)]],
        "length": 5, "last": (5, 1), "first": (1, 1), "maxdel": (1, 3), "added": 6,
        "groups": [{
            "name": b"g", "last": (5, 0), "read": 5,
            "pel": [[(1, 1), t - HOUR_MS, 2], [(1, 2), t, 1], [(5, 0), t, 1]],
            "consumers": [[b"alice", t, t, [(1, 1), (5, 0)]], [b"bob", t, t, [(1, 2)]],
                          [b"idle", t, t, []]],
        }],
    }  # fmt: skip


def encode(spec):
    t = spec["type"]
    out = bytes([t]) + enc_len(len(spec["nodes"]))
    for master, elems in spec["nodes"]:
        key = raw_id(master) if isinstance(master, tuple) else master
        lp = listpack(elems) if isinstance(elems, list) else elems
        out += enc_str(key) + enc_str(lp)
    out += enc_len(spec["length"]) + enc_len(spec["last"][0]) + enc_len(spec["last"][1])
    if t != TYPE_STREAM_1:
        for i in (spec["first"], spec["maxdel"]):
            out += enc_len(i[0]) + enc_len(i[1])
        out += enc_len(spec["added"])
    out += enc_len(len(spec["groups"]))
    for g in spec["groups"]:
        out += enc_str(g["name"]) + enc_len(g["last"][0]) + enc_len(g["last"][1])
        if t != TYPE_STREAM_1:
            out += enc_len(g["read"] % 2**64)
        out += enc_len(len(g["pel"]))
        for i, when, count in g["pel"]:
            out += raw_id(i) + ms_time(when) + enc_len(count)
        out += enc_len(len(g["consumers"]))
        for name, seen, active, ids in g["consumers"]:
            out += enc_str(name) + ms_time(seen)
            if t == TYPE_STREAM_3:
                out += ms_time(active)
            out += enc_len(len(ids)) + b"".join(raw_id(i) for i in ids)
    return out


def now_ms():
    return int(time.time() * 1000)


def test_handmade_payload_loads_like_redis(dfly, ref):
    body = encode(base_spec(now_ms()))
    for c in (dfly, ref):
        assert c.execute_command("RESTORE", "hand", 0, with_footer(body)) == b"OK"
    assert_same_stream(ref, "hand", dfly, "hand")
    continue_both(ref, "hand", dfly, "hand")


def test_redis6_payload(dfly, ref):
    """STREAM_LISTPACKS: no first ID, tombstone, counter or entries-read; Redis 7.0 derives
    them, and so do we."""
    spec = base_spec(now_ms())
    spec["type"] = TYPE_STREAM_1
    g2 = copy.deepcopy(spec["groups"][0])
    g2.update(name=b"early", last=(0, 0), pel=[], consumers=[])
    spec["groups"].append(g2)
    body = encode(spec)
    for c in (dfly, ref):
        assert c.execute_command("RESTORE", "v6", 0, with_footer(body)) == b"OK"
    assert_same_stream(ref, "v6", dfly, "v6")
    info = pairs(dfly.execute_command("XINFO", "STREAM", "v6"))
    assert info[b"entries-added"] == 5 and info[b"max-deleted-entry-id"] == b"0-0"
    continue_both(ref, "v6", dfly, "v6")


def test_redis72_payload(dfly, ref):
    """STREAM_LISTPACKS_3: consumers carry an active time too; Redis 7.0 has no such type."""
    now = now_ms()
    spec = base_spec(now)
    spec["type"] = TYPE_STREAM_3
    spec["groups"][0]["consumers"][0][1] = now - 5 * HOUR_MS  # seen
    spec["groups"][0]["consumers"][0][2] = now - 7 * HOUR_MS  # active
    body = encode(spec)
    with pytest.raises(redis.ResponseError, match=f"^{BAD_FORMAT}$"):
        ref.execute_command("RESTORE", "v72", 0, with_footer(body))
    assert dfly.execute_command("RESTORE", "v72", 0, with_footer(body)) == b"OK"
    alice = pairs(dfly.execute_command("XINFO", "CONSUMERS", "v72", "g")[0])
    assert alice[b"name"] == b"alice"
    assert abs(alice[b"idle"] - 5 * HOUR_MS) < TIME_SLACK_MS
    # Written back as Redis 7.0's type, which Redis loads and agrees with.
    ref.execute_command("RESTORE", "v72", 0, dfly.execute_command("DUMP", "v72"))
    assert_same_stream(dfly, "v72", ref, "v72")


def corrupt(name, spec):
    """The inconsistent variants of the base spec: (name, spec, Redis refuses it too)."""
    s = copy.deepcopy(spec)
    g = s["groups"][0]
    n1, n2 = s["nodes"][0][1], s["nodes"][1][1]
    redis_too = True
    if name == "pel_id_missing_from_group":
        g["consumers"][1][3] = [(9, 9)]
    elif name == "group_pel_without_consumer":
        g["consumers"][1][3] = []
    elif name == "duplicate_group_pel":
        g["pel"].append(list(g["pel"][0]))
    elif name == "duplicate_consumer_pel":
        g["consumers"][0][3].append((1, 1))
    elif name == "duplicate_consumer":
        g["consumers"].append(list(g["consumers"][2]))
    elif name == "duplicate_group":
        s["groups"].append(copy.deepcopy(g))
    elif name == "node_key_short":
        s["nodes"][0][0] = raw_id((1, 1))[:15]
    elif name == "lp_count_wrong":
        n1[-1] += 1
    elif name == "entry_count_too_high":
        n1[0] += 1
    elif name == "entry_count_too_low":
        n1[0] -= 1
    elif name == "master_terminator":
        n1[5] = 1
    elif name == "listpack_truncated":
        s["nodes"][0][1] = listpack(n1)[:-3] + b"\xff"
    elif name == "listpack_total_lies":
        lp = bytearray(listpack(n1))
        lp[0] += 1
        s["nodes"][0][1] = bytes(lp) + b"\x00"
    else:
        redis_too = False  # checks of ours that Redis 7.0 does not make
        if name == "pel_owned_twice":
            g["consumers"][1][3].append((1, 1))
        elif name == "nodes_out_of_order":
            s["nodes"].reverse()
        elif name == "node_overlaps_previous":
            s["nodes"][1] = [(1, 3), node_elements((1, 3), [((1, 3), False, [(b"x", 1)]),
                                                            ((5, 1), False, [(b"x", 2)])])]
        elif name == "entries_not_ascending":
            n1[14] = 0  # the second entry's seq delta: 1-2 becomes 1-1 again
        elif name == "entry_below_master":
            n2[6] = -1  # the first entry's ms delta: 4-0 under master 5-0
        elif name == "unknown_flag":
            n1[6] |= 4
        elif name == "no_fields":
            n2[10:15] = [0, 0, 1, 0, 4]  # 5-1 with no fields
        elif name == "empty_node":
            s["nodes"].append([(6, 0), [0, 0, 1, b"a", 0]])
        elif name == "length_mismatch":
            s["length"] = 6
        elif name == "last_id_below_last_entry":
            s["last"] = (5, 0)
        elif name == "entries_added_below_length":
            s["added"] = 4
        elif name == "negative_delivery_time":
            g["pel"][0][1] = -5
        elif name == "entries_read_too_big":
            g["read"] = 2**63
        else:
            raise AssertionError(name)
    return s, redis_too


CORRUPTIONS = [
    "pel_id_missing_from_group", "group_pel_without_consumer", "duplicate_group_pel",
    "duplicate_consumer_pel", "duplicate_consumer", "duplicate_group", "node_key_short",
    "lp_count_wrong", "entry_count_too_high", "entry_count_too_low", "master_terminator",
    "listpack_truncated", "listpack_total_lies", "pel_owned_twice", "nodes_out_of_order",
    "node_overlaps_previous", "entries_not_ascending", "entry_below_master", "unknown_flag",
    "no_fields", "empty_node", "length_mismatch", "last_id_below_last_entry",
    "entries_added_below_length", "negative_delivery_time", "entries_read_too_big",
]  # fmt: skip


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_inconsistent_payload_is_bad_format(dfly, ref, name):
    spec, redis_too = corrupt(name, base_spec(now_ms()))
    payload = with_footer(encode(spec))
    with pytest.raises(redis.ResponseError) as e:
        dfly.execute_command("RESTORE", "bad", 0, payload)
    assert str(e.value) == BAD_FORMAT
    assert dfly.exists("bad") == 0
    if redis_too:
        with pytest.raises(redis.ResponseError, match=f"^{BAD_FORMAT}$"):
            ref.execute_command("RESTORE", "bad", 0, payload)
    assert dfly.ping()


# ---- damaged real payloads ---------------------------------------------------------------------


def lzf_decompress(data, size):
    out = bytearray()
    i = 0
    while i < len(data):
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            out += data[i:i + ctrl + 1]
            i += ctrl + 1
            continue
        length = ctrl >> 5
        if length == 7:
            length += data[i]
            i += 1
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        for _ in range(length + 2):
            out.append(out[ref])
            ref += 1
    assert len(out) == size
    return bytes(out)


def read_len(b, i):
    kind = b[i] >> 6
    if kind == 0:
        return b[i] & 0x3F, i + 1
    if kind == 1:
        return ((b[i] & 0x3F) << 8) | b[i + 1], i + 2
    n = 4 if b[i] == 0x80 else 8
    return int.from_bytes(b[i + 1:i + 1 + n], "big"), i + 1 + n


def read_str(b, i):
    if b[i] >> 6 == 3:
        assert b[i] & 0x3F == 3, "only LZF strings are expected here"
        clen, i = read_len(b, i + 1)
        size, i = read_len(b, i)
        return lzf_decompress(b[i:i + clen], size), i + clen
    n, i = read_len(b, i)
    return b[i:i + n], i + n


def uncompressed(body):
    """A stream value body with its nodes' strings stored raw, so that mutations hit the
    listpacks themselves rather than their LZF form. Returns (head, [(key, lp)], tail)."""
    n, i = read_len(body, 1)
    nodes = []
    for _ in range(n):
        key, i = read_str(body, i)
        lp, i = read_str(body, i)
        nodes.append((key, lp))
    return nodes, body[i:]


def reassemble(body_type, nodes, tail):
    out = bytes([body_type]) + enc_len(len(nodes))
    for key, lp in nodes:
        out += enc_str(key) + enc_str(lp)
    return out + tail


def exercise(c, k):
    """Every read and write path over a loaded stream: any error reply is fine, a crash not."""
    cmds = [("XRANGE", k, "-", "+"), ("XREVRANGE", k, "+", "-"), ("XLEN", k),
            ("XINFO", "STREAM", k), ("XINFO", "STREAM", k, "FULL"), ("XINFO", "GROUPS", k),
            ("XRANGE", k, "1-2", "5"), ("XREVRANGE", k, "5-0", "1-1", "COUNT", 2),
            ("DEBUG", "DIGEST-VALUE", k), ("DUMP", k), ("MEMORY", "USAGE", k)]
    for g in (b"g", b"g1"):
        cmds += [("XINFO", "CONSUMERS", k, g), ("XPENDING", k, g),
                 ("XPENDING", k, g, "IDLE", 10, "-", "+", 100),
                 ("XREADGROUP", "GROUP", g, "alice", "STREAMS", k, "0"),
                 ("XREADGROUP", "GROUP", g, "new", "COUNT", 3, "STREAMS", k, ">"),
                 ("XAUTOCLAIM", k, g, "x", 0, "0-0", "COUNT", 100),
                 ("XCLAIM", k, g, "y", 0, "1-1", "5-0"), ("XACK", k, g, "1-2")]
    cmds += [("XADD", k, "*", "f", "v"), ("XDEL", k, "1-1", "5-1"),
             ("XTRIM", k, "MAXLEN", "~", 2), ("XTRIM", k, "MINID", "5-0"),
             ("XSETID", k, "99999999999999-0"), ("XADD", k, "MAXLEN", 1, "*", "a", "b")]
    for cmd in cmds:
        try:
            reply = c.execute_command(*cmd)
        except redis.ResponseError:
            continue
        if cmd[0] == "DUMP" and reply is not None:
            # What we write must load again.
            assert c.execute_command("RESTORE", k + b"-again", 0, reply, "REPLACE") == b"OK"


def mutations(body, points=MUTATION_POINTS):
    step = max(1, len(body) // points)
    for i in range(1, len(body), step):
        for delta in (0x01, 0x80, 0xFF):
            b = bytearray(body)
            b[i] ^= delta
            yield bytes(b)


def rich_payload(ref):
    build_groups(ref, "rich")
    ref.execute_command("XTRIM", "rich", "MAXLEN", 120)
    return ref.execute_command("DUMP", "rich")[:-FOOTER]


def test_truncated_payloads(dfly, ref):
    body = rich_payload(ref)
    nodes, tail = uncompressed(body)
    for b in (body, reassemble(body[0], nodes, tail)):
        step = max(1, len(b) // 200)
        for cut in list(range(1, len(b), step)) + [len(b) - 1]:
            with pytest.raises(redis.ResponseError) as e:
                dfly.execute_command("RESTORE", "cut", 0, with_footer(b[:cut]))
            assert str(e.value) == BAD_FORMAT, cut
    assert dfly.exists("cut") == 0
    assert dfly.ping()


def test_mutated_payloads_never_crash(dfly, ref):
    """Flipped bits anywhere (listpacks uncompressed, so that they are hit directly): the
    payload is refused with Bad data format, or it loads as a stream that every command can
    work on."""
    body = rich_payload(ref)
    nodes, tail = uncompressed(body)
    plain = reassemble(body[0], nodes, tail)
    loaded = 0
    for b in list(mutations(plain)) + list(mutations(body, MUTATION_POINTS // 3)):
        try:
            dfly.execute_command("RESTORE", "mut", 0, with_footer(b), "REPLACE")
        except redis.ResponseError as e:
            assert str(e) == BAD_FORMAT
            continue
        loaded += 1
        exercise(dfly, b"mut")
    assert loaded > 0  # some mutations (values, times) leave a sound stream
    assert dfly.ping()


def test_mutated_listpack_elements(dfly):
    """Each element of a node listpack replaced by other integers and strings (the checksum
    and listpack framing kept valid): loads or Bad data format, never a crash."""
    spec = base_spec(now_ms())
    for node in range(2):
        elems = spec["nodes"][node][1]
        for i in range(len(elems)):
            for v in (0, 1, 2, 3, 127, -1, 2**40, -(2**40), 2**63 - 1, b"", b"zz"):
                s = copy.deepcopy(spec)
                s["nodes"][node][1][i] = v
                try:
                    dfly.execute_command("RESTORE", "el", 0, with_footer(encode(s)), "REPLACE")
                except redis.ResponseError as e:
                    assert str(e) == BAD_FORMAT
                    continue
                exercise(dfly, b"el")
    assert dfly.ping()
