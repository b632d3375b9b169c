"""Stream commands without consumer groups, as Redis 7.0 has them: XADD (explicit, "*" and
"<ms>-*" IDs, NOMKSTREAM, MAXLEN/MINID with = and ~ and LIMIT), XLEN, XRANGE/XREVRANGE
(COUNT, exclusive bounds), XDEL, XTRIM, XSETID, XREAD without BLOCK over streams on both
shards, XINFO STREAM, TYPE/OBJECT ENCODING/COPY/DEBUG DIGEST-VALUE, Redis's exact error
texts, seeded random runs compared reply by reply with Debian's redis-server (explicit IDs
only, so that both servers' clocks do not matter), and the memory an entry takes.
"""

import random
import re
import time

import pytest
import redis

from difftest import DiffRunner
from resp_raw import Map, RawConn
from shardkeys import key_shard, keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
INVALID_ID = "Invalid stream ID specified as stream command argument"
ID_TOO_SMALL = "The ID specified in XADD is equal or smaller than the target stream top item"
SYNTAX = "syntax error"
NOT_INT = "value is not an integer or out of range"
U64_MAX = 2**64 - 1
DIFF_SEED = 20240611
DIFF_OPS = 2500
DIFF_SMALL_NODES = ("stream-node-max-entries", "7", "stream-node-max-bytes", "300")
CLOCK_SLACK_MS = 60000  # generated IDs must be within this of the test's clock


@pytest.fixture
def r(server):
    """A client that returns replies as the server sent them (no redis-py reshaping)."""
    c = server.client()
    c.response_callbacks = {}
    return c


def err(c, *args):
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def entries(c, key):
    return c.execute_command("XRANGE", key, "-", "+")


def info(c, key):
    raw = c.execute_command("XINFO", "STREAM", key)
    return dict(zip(raw[::2], raw[1::2]))


# --- XADD -----------------------------------------------------------------------------------


def test_xadd_explicit_ids_and_order(r):
    assert r.execute_command("XADD", "s", "1-1", "a", "1") == "1-1"
    assert r.execute_command("XADD", "s", "1-2", "a", "2", "b", "x") == "1-2"
    assert r.execute_command("XADD", "s", "5", "c", "3") == "5-0"  # a missing seq is 0
    assert r.xlen("s") == 3
    assert entries(r, "s") == [
        ["1-1", ["a", "1"]],
        ["1-2", ["a", "2", "b", "x"]],
        ["5-0", ["c", "3"]],
    ]
    assert err(r, "XADD", "s", "5-0", "a", "1") == ID_TOO_SMALL
    assert err(r, "XADD", "s", "4-9", "a", "1") == ID_TOO_SMALL
    assert err(r, "XADD", "new", "0-0", "a", "1") == "The ID specified in XADD must be greater than 0-0"
    assert r.exists("new") == 0  # the bad ID left no empty stream behind
    assert r.execute_command("XADD", "new", "0-1", "a", "1") == "0-1"


def test_xadd_auto_ids(r):
    now = int(time.time() * 1000)
    first = r.execute_command("XADD", "auto", "*", "f", "v")
    ms, seq = map(int, first.split("-"))
    assert abs(ms - now) < CLOCK_SLACK_MS and seq >= 0
    # Later "*" IDs always grow, even within one millisecond.
    ids = [r.execute_command("XADD", "auto", "*", "f", str(i)) for i in range(50)]
    parsed = [tuple(map(int, i.split("-"))) for i in [first] + ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == len(parsed)
    # A stream whose last ID is in the future keeps counting from it.
    r.execute_command("XADD", "future", f"{now + 10**9}-5", "f", "v")
    assert r.execute_command("XADD", "future", "*", "f", "v") == f"{now + 10**9}-6"


def test_xadd_ms_star(r):
    assert r.execute_command("XADD", "ms", "10-*", "f", "v") == "10-0"
    assert r.execute_command("XADD", "ms", "10-*", "f", "v") == "10-1"
    assert r.execute_command("XADD", "ms", "12-*", "f", "v") == "12-0"
    assert err(r, "XADD", "ms", "11-*", "f", "v") == ID_TOO_SMALL
    r.execute_command("XADD", "max", f"7-{U64_MAX}", "f", "v")
    assert err(r, "XADD", "max", "7-*", "f", "v") == ID_TOO_SMALL
    assert r.execute_command("XADD", "zero", "0-*", "f", "v") == "0-1"


def test_xadd_exhausted_and_bad_ids(r):
    r.execute_command("XADD", "top", f"{U64_MAX}-{U64_MAX}", "f", "v")
    assert err(r, "XADD", "top", "*", "f", "v") == (
        "The stream has exhausted the last possible ID, unable to add more items"
    )
    for bad in ("abc", "1-x", "-", "+", "1-2-3", "-1", "1--1", "x" * 200, "18446744073709551616"):
        assert err(r, "XADD", "bad", bad, "f", "v") == INVALID_ID, bad
    assert r.exists("bad") == 0


def test_xadd_arguments(r):
    assert err(r, "XADD", "k", "*", "f") == "wrong number of arguments for 'xadd' command"
    assert err(r, "XADD", "k", "*", "f", "v", "g") == "wrong number of arguments for 'xadd' command"
    assert err(r, "XADD", "k", "MAXLEN", "5", "f") == INVALID_ID
    assert err(r, "XADD", "k", "*") == "wrong number of arguments for 'xadd' command"
    assert r.execute_command("XADD", "nomk", "NOMKSTREAM", "*", "f", "v") is None
    assert r.exists("nomk") == 0
    r.execute_command("XADD", "nomk", "1-1", "f", "v")
    assert r.execute_command("XADD", "nomk", "NOMKSTREAM", "2-1", "f", "v") == "2-1"
    r.set("str", "x")
    assert err(r, "XADD", "str", "*", "f", "v") == WRONGTYPE
    assert err(r, "XADD", "k", "MAXLEN", "-1", "*", "f", "v") == "The MAXLEN argument must be >= 0."
    assert err(r, "XADD", "k", "MAXLEN", "x", "*", "f", "v") == NOT_INT
    assert err(r, "XADD", "k", "MAXLEN", "1", "MINID", "1", "*", "f", "v") == (
        "syntax error, MAXLEN and MINID options at the same time are not compatible"
    )
    assert err(r, "XADD", "k", "LIMIT", "10", "*", "f", "v") == (
        "syntax error, LIMIT cannot be used without specifying a trimming strategy"
    )
    assert err(r, "XADD", "k", "MAXLEN", "1", "LIMIT", "10", "*", "f", "v") == (
        "syntax error, LIMIT cannot be used without the special ~ option"
    )
    assert err(r, "XADD", "k", "MAXLEN", "~", "1", "LIMIT", "-1", "*", "f", "v") == (
        "The LIMIT argument must be >= 0."
    )
    assert err(r, "XADD", "k", "MINID", "+", "*", "f", "v") == INVALID_ID
    assert r.exists("k") == 0


def test_xadd_trimming(r):
    for i in range(1, 11):
        r.execute_command("XADD", "t", "MAXLEN", "5", f"{i}-0", "f", str(i))
    assert r.xlen("t") == 5
    assert [e[0] for e in entries(r, "t")] == ["6-0", "7-0", "8-0", "9-0", "10-0"]
    r.execute_command("XADD", "t", "MAXLEN", "=", "2", "11-0", "f", "v")
    assert [e[0] for e in entries(r, "t")] == ["10-0", "11-0"]
    r.execute_command("XADD", "t", "MINID", "11", "12-0", "f", "v")
    assert [e[0] for e in entries(r, "t")] == ["11-0", "12-0"]
    # "~" removes only whole nodes: with 100-entry nodes, 150 entries and MAXLEN ~ 10 keep
    # the second node.
    for i in range(1, 151):
        r.execute_command("XADD", "approx", f"{i}-0", "f", "v")
    r.execute_command("XADD", "approx", "MAXLEN", "~", "10", "151-0", "f", "v")
    assert r.xlen("approx") == 51
    assert r.execute_command("XADD", "approx", "MAXLEN", "~", "10", "LIMIT", "10", "152-0", "f", "v")
    assert r.xlen("approx") == 52  # the node has more entries than LIMIT allows to remove


# --- XRANGE / XREVRANGE / XLEN ----------------------------------------------------------------


@pytest.fixture
def five(r):
    for i in range(1, 6):
        r.execute_command("XADD", "five", f"{i}-1", "n", str(i))
    return r


def ids_of(reply):
    return [e[0] for e in reply]


def test_xrange_bounds(five):
    r = five
    assert ids_of(r.execute_command("XRANGE", "five", "2", "4")) == ["2-1", "3-1", "4-1"]
    assert ids_of(r.execute_command("XRANGE", "five", "(2-1", "(4-1")) == ["3-1"]
    assert ids_of(r.execute_command("XRANGE", "five", "2-2", "+")) == ["3-1", "4-1", "5-1"]
    assert ids_of(r.execute_command("XRANGE", "five", "-", "2")) == ["1-1", "2-1"]
    assert ids_of(r.execute_command("XRANGE", "five", "-", "+", "COUNT", "2")) == ["1-1", "2-1"]
    assert r.execute_command("XRANGE", "five", "-", "+", "COUNT", "0") is None
    assert r.execute_command("XRANGE", "five", "-", "+", "COUNT", "-3") is None  # as COUNT 0
    assert r.execute_command("XRANGE", "five", "4", "2") == []
    assert ids_of(r.execute_command("XREVRANGE", "five", "+", "-", "COUNT", "2")) == ["5-1", "4-1"]
    assert ids_of(r.execute_command("XREVRANGE", "five", "(5-1", "(1-1")) == ["4-1", "3-1", "2-1"]
    assert r.execute_command("XRANGE", "missing", "-", "+") == []
    assert r.execute_command("XREVRANGE", "missing", "+", "-") == []


def test_xrange_errors(five):
    r = five
    assert err(r, "XRANGE", "five", "x", "+") == INVALID_ID
    assert err(r, "XRANGE", "five", "(-", "+") == INVALID_ID
    assert err(r, "XRANGE", "five", "-", "(+") == INVALID_ID
    assert err(r, "XRANGE", "five", f"({U64_MAX}-{U64_MAX}", "+") == (
        "invalid start ID for the interval"
    )
    assert err(r, "XRANGE", "five", "-", "(0-0") == "invalid end ID for the interval"
    assert err(r, "XRANGE", "five", "-", "+", "COUNT") == SYNTAX
    assert err(r, "XRANGE", "five", "-", "+", "LIMIT", "1") == SYNTAX
    assert err(r, "XRANGE", "five", "-", "+", "COUNT", "x") == NOT_INT
    r.set("str", "x")
    assert err(r, "XRANGE", "str", "-", "+") == WRONGTYPE
    assert err(r, "XLEN", "str") == WRONGTYPE
    assert r.xlen("missing") == 0


def test_entries_with_many_fields_and_values(r):
    fields = []
    for i in range(40):
        fields += [f"field{i}", "x" * (i * 37) if i % 3 else str(i - 20)]
    r.execute_command("XADD", "wide", "1-0", *fields)
    r.execute_command("XADD", "wide", "2-0", *fields)  # same fields as the node's master
    r.execute_command("XADD", "wide", "3-0", "other", "-9223372036854775808")
    got = entries(r, "wide")
    assert got[0][1] == fields and got[1][1] == fields
    assert got[2][1] == ["other", "-9223372036854775808"]
    big = "y" * 100000
    r.execute_command("XADD", "wide", "4-0", "big", big, "", "")
    assert entries(r, "wide")[3][1] == ["big", big, "", ""]
    for odd in ("00", "+1", " 1", "1.5", "-0", "9223372036854775808", "-"):
        r.execute_command("XADD", "odd", "*", odd, odd)
    assert [e[1] for e in entries(r, "odd")] == [[o, o] for o in ("00", "+1", " 1", "1.5", "-0", "9223372036854775808", "-")]


# --- XDEL / XTRIM / XSETID ------------------------------------------------------------------


def test_xdel(five):
    r = five
    assert r.execute_command("XDEL", "five", "1-1", "3-1", "9-9") == 2
    assert r.execute_command("XDEL", "five", "1-1") == 0
    assert ids_of(entries(r, "five")) == ["2-1", "4-1", "5-1"]
    i = info(r, "five")
    assert i["max-deleted-entry-id"] == "3-1"
    assert i["recorded-first-entry-id"] == "2-1"
    assert i["entries-added"] == 5
    assert err(r, "XDEL", "five", "bad") == INVALID_ID
    assert r.execute_command("XDEL", "missing", "bad") == 0  # no key: 0 before any parsing
    # Deleting everything keeps an empty stream, as Redis does.
    assert r.execute_command("XDEL", "five", "2-1", "4-1", "5-1") == 3
    assert r.exists("five") == 1 and r.xlen("five") == 0
    assert info(r, "five")["recorded-first-entry-id"] == "0-0"
    assert info(r, "five")["first-entry"] is None
    assert err(r, "XADD", "five", "5-1", "f", "v") == ID_TOO_SMALL


def test_xtrim(r):
    for i in range(1, 21):
        r.execute_command("XADD", "tr", f"{i}-0", "f", "v")
    assert r.execute_command("XTRIM", "tr", "MAXLEN", "15") == 5
    assert r.execute_command("XTRIM", "tr", "MINID", "=", "10") == 4
    assert ids_of(entries(r, "tr"))[0] == "10-0"
    assert r.execute_command("XTRIM", "tr", "MAXLEN", "~", "5") == 0  # no whole node can go
    assert r.execute_command("XTRIM", "tr", "MAXLEN", "~", "0") == 11  # the whole node can
    assert r.exists("tr") == 1
    assert r.execute_command("XTRIM", "missing", "MAXLEN", "0") == 0
    assert err(r, "XTRIM", "tr", "FOO", "1") == SYNTAX
    assert err(r, "XTRIM", "tr", "LIMIT", "1", "MAXLEN", "1") == (
        "syntax error, LIMIT cannot be used without the special ~ option"
    )
    assert err(r, "XTRIM", "tr", "MAXLEN") == "wrong number of arguments for 'xtrim' command"
    assert err(r, "XTRIM", "tr", "MAXLEN", "1", "FOO") == SYNTAX
    assert err(r, "XTRIM", "tr", "LIMIT", "5", "~") == SYNTAX


def test_xsetid(r):
    r.execute_command("XADD", "sid", "5-5", "f", "v")
    assert err(r, "XSETID", "sid", "5-4") == (
        "The ID specified in XSETID is smaller than the target stream top item"
    )
    assert r.execute_command("XSETID", "sid", "10-0") == "OK"
    assert err(r, "XADD", "sid", "9-0", "f", "v") == ID_TOO_SMALL
    assert r.execute_command("XSETID", "sid", "10-0", "ENTRIESADDED", "7", "MAXDELETEDID", "3-0") == "OK"
    i = info(r, "sid")
    assert (i["entries-added"], i["max-deleted-entry-id"], i["last-generated-id"]) == (7, "3-0", "10-0")
    assert err(r, "XSETID", "sid", "10-0", "ENTRIESADDED", "0") == (
        "The entries_added specified in XSETID is smaller than the target stream length"
    )
    assert err(r, "XSETID", "sid", "10-0", "ENTRIESADDED", "-1") == "entries_added must be positive"
    assert err(r, "XSETID", "sid", "2-0", "MAXDELETEDID", "3-0") == (
        "The ID specified in XSETID is smaller than the provided max_deleted_entry_id"
    )
    assert err(r, "XSETID", "missing", "1-0") == "no such key"
    assert err(r, "XSETID", "sid", "10-0", "FOO") == SYNTAX
    # An ID below both the top item and max_deleted_entry_id: Redis names the top item.
    r.execute_command("XADD", "sid", "20-0", "f", "v")
    r.execute_command("XDEL", "sid", "20-0")
    r.execute_command("XADD", "sid", "30-0", "f", "v")
    assert err(r, "XSETID", "sid", "15-0") == (
        "The ID specified in XSETID is smaller than the target stream top item"
    )


# --- XREAD without BLOCK ----------------------------------------------------------------------


def test_xread_across_shards(r):
    keys = keys_per_shard("xr", 2, per_shard=2)
    assert len({key_shard(k, 2) for k in keys}) == 2
    for n, k in enumerate(keys):
        for i in range(1, 4):
            r.execute_command("XADD", k, f"{i}-{n}", "k", k, "i", str(i))
    got = r.execute_command("XREAD", "COUNT", "2", "STREAMS", *keys, *(["0"] * len(keys)))
    assert [g[0] for g in got] == keys
    for n, (k, ents) in enumerate(got):
        assert ids_of(ents) == [f"1-{n}", f"2-{n}"]
    # Only streams with something past the given ID answer.
    got = r.execute_command("XREAD", "STREAMS", keys[0], keys[1], "missing", "3-0", "0", "0")
    assert [g[0] for g in got] == [keys[1]]
    assert r.execute_command("XREAD", "STREAMS", keys[0], "$") is None
    assert r.execute_command("XREAD", "STREAMS", "missing", "0") is None


def test_xread_errors(r):
    r.execute_command("XADD", "e", "1-0", "f", "v")
    assert err(r, "XREAD", "STREAMS", "e") == "wrong number of arguments for 'xread' command"
    assert err(r, "XREAD", "STREAMS", "e", "f", "0") == (
        "Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified."
    )
    assert err(r, "XREAD", "COUNT", "x", "STREAMS", "e", "0") == NOT_INT
    assert err(r, "XREAD", "BLOCK", "x", "STREAMS", "e", "0") == (
        "timeout is not an integer or out of range"
    )
    assert err(r, "XREAD", "BLOCK", "-1", "STREAMS", "e", "0") == "timeout is negative"
    assert err(r, "XREAD", "FOO", "STREAMS", "e", "0") == SYNTAX
    assert err(r, "XREAD", "STREAMS", "e", ">") == (
        "The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option."
    )
    assert err(r, "XREAD", "STREAMS", "e", "+") == INVALID_ID
    assert err(r, "XREAD", "GROUP", "g", "c", "STREAMS", "e", "0") == (
        "The GROUP option is only supported by XREADGROUP. You called XREAD instead."
    )
    assert err(r, "XREAD", "NOACK", "STREAMS", "e", "0") == (
        "The NOACK option is only supported by XREADGROUP. You called XREAD instead."
    )
    r.set("str", "x")
    assert err(r, "XREAD", "STREAMS", "e", "str", "0", "0") == WRONGTYPE
    # Inside MULTI, BLOCK cannot block: nothing to read is a null reply at once.
    p = r.pipeline(transaction=True)
    p.execute_command("XREAD", "BLOCK", "0", "STREAMS", "e", "$")
    assert p.execute() == [None]


def test_xread_resp3_map(server):
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        c.command("XADD", "m3", "1-0", "f", "v")
        got = c.command("XREAD", "STREAMS", "m3", "0")
        assert isinstance(got, Map)
        assert got.as_dict() == {b"m3": [[b"1-0", [b"f", b"v"]]]}
        assert c.command("XREAD", "STREAMS", "m3", "$") is None


# --- the type ---------------------------------------------------------------------------------


def test_type_encoding_copy_digest(server, redis_server_factory):
    ref = redis_server_factory("--enable-debug-command", "yes").client()
    r = server.client()
    r.response_callbacks = {}
    for c in (r, ref):
        for i in range(1, 30):
            c.execute_command("XADD", "{t}s", f"{i}-{i}", "f", str(i), "g", "x" * i)
        c.execute_command("XDEL", "{t}s", "5-5")
        c.execute_command("XGROUP", "CREATE", "{t}s", "grp", "0")
    assert r.type("{t}s") == "stream"
    assert r.object("encoding", "{t}s") == "stream"
    assert r.execute_command("DEBUG", "DIGEST-VALUE", "{t}s") == ref.execute_command(
        "DEBUG", "DIGEST-VALUE", "{t}s"
    )
    assert r.execute_command("COPY", "{t}s", "{t}copy") == 1
    assert entries(r, "{t}copy") == entries(r, "{t}s")
    assert r.execute_command("XINFO", "GROUPS", "{t}copy") == r.execute_command("XINFO", "GROUPS", "{t}s")
    r.execute_command("XADD", "{t}copy", "100-0", "f", "v")
    assert r.xlen("{t}s") == 28  # the copy is deep
    assert r.memory_usage("{t}s") > 0


def test_xinfo_stream_fields(r):
    for i in range(1, 251):
        r.execute_command("XADD", "inf", f"{i}-0", "f", "v")
    i = info(r, "inf")
    assert i["length"] == 250 and i["radix-tree-keys"] == 3  # nodes of 100 entries
    assert i["first-entry"] == ["1-0", ["f", "v"]] and i["last-entry"] == ["250-0", ["f", "v"]]
    assert err(r, "XINFO", "STREAM", "missing") == "no such key"
    assert err(r, "XINFO", "STREAM", "inf", "FOO") == (
        "unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP."
    )
    full = r.execute_command("XINFO", "STREAM", "inf", "FULL", "COUNT", "3")
    full = dict(zip(full[::2], full[1::2]))
    assert ids_of(full["entries"]) == ["1-0", "2-0", "3-0"] and full["groups"] == []
    full = r.execute_command("XINFO", "STREAM", "inf", "FULL", "COUNT", "0")
    assert len(dict(zip(full[::2], full[1::2]))["entries"]) == 250


# --- differential runs against redis-server ---------------------------------------------------


def stream_ops(rng, keys, clock, known):
    """One random command on the streams of keys; known[key] lists IDs seen added."""
    k = rng.choice(keys)
    roll = rng.random()
    if roll < 0.40:
        clock[k] += rng.choice([0, 0, 1, 2, 50, 1000])
        seq = rng.choice(["*", "0", "1", str(rng.randint(0, 5))])
        if rng.random() < 0.05:
            idarg = f"{max(0, clock[k] - 3)}-0"  # too small: an error on both
        else:
            idarg = f"{clock[k]}-{seq}"
        nf = rng.choice([1, 1, 2, 3])
        fields = []
        for i in range(nf):
            f = rng.choice(["f", "g", f"h{i}", "12", "x" * rng.randint(0, 70)])
            v = rng.choice(["v", str(rng.randint(-70000, 70000)), "y" * rng.randint(0, 300), ""])
            fields += [f, v]
        opts = []
        t = rng.random()
        if t < 0.15:
            opts = ["MAXLEN", rng.choice(["=", "~", ""]), str(rng.randint(0, 40))]
        elif t < 0.25:
            opts = ["MINID", rng.choice(["=", "~", ""]), f"{max(0, clock[k] - rng.randint(0, 3000))}"]
        if opts and opts[1] == "~" and rng.random() < 0.5:
            opts += ["LIMIT", str(rng.randint(0, 30))]
        opts = [o for o in opts if o]
        if rng.random() < 0.05:
            opts.append("NOMKSTREAM")
        return ["XADD", k, *opts, idarg, *fields]
    if roll < 0.50 and known[k]:
        ids = [rng.choice(known[k]) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.3:
            ids.append(f"{rng.randint(0, clock[k] + 1)}-{rng.randint(0, 3)}")
        return ["XDEL", k, *ids]
    if roll < 0.58:
        if rng.random() < 0.5:
            return ["XTRIM", k, "MAXLEN", rng.choice(["=", "~"]), str(rng.randint(0, 60))]
        return ["XTRIM", k, "MINID", rng.choice(["=", "~"]), str(rng.randint(0, clock[k] + 10))]
    if roll < 0.80:
        cmd = rng.choice(["XRANGE", "XREVRANGE"])
        lo = rng.choice(["-", str(rng.randint(0, clock[k] + 5)), f"({rng.randint(0, clock[k] + 5)}-{rng.randint(0, 2)}"])
        hi = rng.choice(["+", str(rng.randint(0, clock[k] + 5)), f"({rng.randint(0, clock[k] + 5)}"])
        args = [lo, hi] if cmd == "XRANGE" else [hi, lo]
        if rng.random() < 0.5:
            args += ["COUNT", str(rng.randint(-1, 12))]
        return [cmd, k, *args]
    if roll < 0.85:
        return ["XLEN", k]
    if roll < 0.93:
        ks = rng.sample(keys, rng.randint(1, len(keys)))
        ids = [rng.choice(["0", "$", str(rng.randint(0, clock[x] + 1))]) for x in ks]
        opt = ["COUNT", str(rng.randint(1, 5))] if rng.random() < 0.6 else []
        return ["XREAD", *opt, "STREAMS", *ks, *ids]
    if roll < 0.97:
        return ["XINFO", "STREAM", k]
    return ["XINFO", "STREAM", k, "FULL", "COUNT", str(rng.randint(0, 20))]


def run_random(d, seed, ops, keys):
    rng = random.Random(seed)
    clock = {k: 1 for k in keys}
    known = {k: [] for k in keys}
    for _ in range(ops):
        cmd = stream_ops(rng, keys, clock, known)
        reply = d.run(*cmd)
        if cmd[0] == "XADD" and isinstance(reply, bytes):
            known[cmd[1]].append(reply.decode())
            known[cmd[1]] = known[cmd[1]][-200:]
    for k in keys:
        d.run("XRANGE", k, "-", "+")
        d.run("XINFO", "STREAM", k, "FULL")


def test_diff_random_default_nodes(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    run_random(d, DIFF_SEED, DIFF_OPS, keys_per_shard("dr", 2, per_shard=2))


def test_diff_random_small_nodes(server, redis_server_factory):
    """Tiny nodes: node boundaries, "~" trimming and XINFO's radix tree figures everywhere."""
    ref = redis_server_factory()
    d = DiffRunner(server, ref)
    for c in (d.dfly, d.ref):
        c.execute_command("CONFIG", "SET", *DIFF_SMALL_NODES[:2])
        c.execute_command("CONFIG", "SET", *DIFF_SMALL_NODES[2:])
    run_random(d, DIFF_SEED + 1, DIFF_OPS, keys_per_shard("ds", 2, per_shard=2))


# --- memory -------------------------------------------------------------------------------------

MEM_KEYS = 1000
MEM_PER_KEY = 10
MEM_BIG = 200000


def used_memory(c):
    raw = c.execute_command("INFO", "memory")
    if isinstance(raw, dict):
        return raw["used_memory"]
    raw = raw.decode() if isinstance(raw, bytes) else raw
    return int(re.search(r"^used_memory:(\d+)", raw, re.M).group(1))


def fill_small(c, prefix):
    p = c.pipeline(transaction=False)
    for k in range(MEM_KEYS):
        for i in range(MEM_PER_KEY):
            p.execute_command("XADD", f"{prefix}:{k}", f"{i + 1}-0", "field", str(i))
    p.execute()


def fill_big(c, key):
    p = c.pipeline(transaction=False)
    for i in range(MEM_BIG):
        p.execute_command("XADD", key, f"{1700000000000 + i}-0", "field", str(i % 1000))
        if i % 5000 == 4999:
            p.execute()
    p.execute()


def test_memory_per_entry(server, redis_server_factory):
    """Bytes per entry of small streams (1,000 keys x 10 entries) and of one big stream; dfly
    must not take more than Redis. The figures are printed for the benchmarks page."""
    ref = redis_server_factory().client()
    r = server.client()
    figures = {}
    for name, c in (("dfly", r), ("redis", ref)):
        base = used_memory(c)
        fill_small(c, "m")
        small = (used_memory(c) - base) / (MEM_KEYS * MEM_PER_KEY)
        base = used_memory(c)
        fill_big(c, "big")
        big = (used_memory(c) - base) / MEM_BIG
        figures[name] = (small, big)
    print(f"stream bytes/entry (small, big): dfly {figures['dfly']} redis {figures['redis']}")
    assert figures["dfly"][0] <= figures["redis"][0]
    assert figures["dfly"][1] <= figures["redis"][1]
