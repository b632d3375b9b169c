"""Stream consumer groups as job queues use them, with Redis 7.0's semantics: XGROUP
CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER, XREADGROUP (">", history, NOACK, COUNT,
several streams on both shards), XACK, XPENDING (summary, range, IDLE, consumer), XCLAIM
(IDLE, TIME, RETRYCOUNT, FORCE, JUSTID, LASTID), XAUTOCLAIM (cursor, COUNT, JUSTID, deleted
entries), XINFO GROUPS/CONSUMERS/STREAM FULL with entries-read and lag, Redis's exact error
texts, a worker/reaper scenario, and seeded random runs compared reply by reply with Debian's
redis-server (idle times and delivery timestamps masked, since the clocks differ).
"""

import random

import pytest
import redis

from difftest import DiffRunner, _call, _normalize
from shardkeys import keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
INVALID_ID = "Invalid stream ID specified as stream command argument"
HOUR_MS = 3600 * 1000
DIFF_SEED = 7070
DIFF_OPS = 3000


@pytest.fixture
def r(server):
    c = server.client()
    c.response_callbacks = {}
    return c


def err(c, *args):
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def as_dict(flat):
    return dict(zip(flat[::2], flat[1::2]))


def groups(c, key):
    return [as_dict(g) for g in c.execute_command("XINFO", "GROUPS", key)]


def consumers(c, key, group):
    return {d["name"]: d for d in map(as_dict, c.execute_command("XINFO", "CONSUMERS", key, group))}


@pytest.fixture
def queue(r):
    """A stream q with entries 1-0..5-0 and a group g from the start."""
    for i in range(1, 6):
        r.execute_command("XADD", "q", f"{i}-0", "job", str(i))
    assert r.execute_command("XGROUP", "CREATE", "q", "g", "0") == "OK"
    return r


# --- XGROUP -----------------------------------------------------------------------------------


def test_xgroup_create_and_errors(r):
    assert err(r, "XGROUP", "CREATE", "nokey", "g", "$") == (
        "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "
        "use the MKSTREAM option to create an empty stream automatically."
    )
    assert r.execute_command("XGROUP", "CREATE", "mk", "g", "$", "MKSTREAM") == "OK"
    assert r.type("mk") == "stream" and r.xlen("mk") == 0
    assert err(r, "XGROUP", "CREATE", "mk", "g", "$") == "BUSYGROUP Consumer Group name already exists"
    assert err(r, "XGROUP", "CREATE", "mk", "g2", "bad") == INVALID_ID
    assert err(r, "XGROUP", "CREATE", "mk", "g2", "$", "FOO") == (
        "unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP."
    )
    assert err(r, "XGROUP", "CREATE", "mk", "g2", "$", "ENTRIESREAD", "-2") == (
        "value for ENTRIESREAD must be positive or -1"
    )
    assert err(r, "XGROUP", "SETID", "mk", "nog", "$") == (
        "NOGROUP No such consumer group 'nog' for key name 'mk'"
    )
    assert err(r, "XGROUP", "SETID", "mk", "g", "$", "MKSTREAM") == (
        "unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP."
    )
    assert err(r, "XGROUP", "FOO", "mk") == "unknown subcommand 'FOO'. Try XGROUP HELP."
    assert err(r, "XGROUP", "CREATE", "mk", "g") == (
        "wrong number of arguments for 'xgroup|create' command"
    )
    r.set("str", "x")
    assert err(r, "XGROUP", "CREATE", "str", "g", "$") == WRONGTYPE
    help_lines = r.execute_command("XGROUP", "HELP")
    assert help_lines[0].startswith("XGROUP <subcommand>") and help_lines[-1] == "    Prints this help."


def test_xgroup_consumers_and_destroy(queue):
    r = queue
    assert r.execute_command("XGROUP", "CREATECONSUMER", "q", "g", "alice") == 1
    assert r.execute_command("XGROUP", "CREATECONSUMER", "q", "g", "alice") == 0
    r.execute_command("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "q", ">")
    assert sorted(consumers(r, "q", "g")) == ["alice", "bob"]
    assert r.execute_command("XGROUP", "DELCONSUMER", "q", "g", "bob") == 2
    assert r.execute_command("XGROUP", "DELCONSUMER", "q", "g", "nobody") == 0
    assert r.execute_command("XPENDING", "q", "g")[0] == 0
    assert r.execute_command("XGROUP", "DESTROY", "q", "g") == 1
    assert r.execute_command("XGROUP", "DESTROY", "q", "g") == 0
    assert r.execute_command("XINFO", "GROUPS", "q") == []


def test_xgroup_setid(queue):
    r = queue
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">")
    assert r.execute_command("XGROUP", "SETID", "q", "g", "2-0") == "OK"
    got = r.execute_command("XREADGROUP", "GROUP", "g", "c2", "STREAMS", "q", ">")
    assert [e[0] for e in got[0][1]] == ["3-0", "4-0", "5-0"]
    # Delivered again to another consumer: the pending entries moved to c2.
    cs = consumers(r, "q", "g")
    assert (cs["c"]["pending"], cs["c2"]["pending"]) == (2, 3)
    assert r.execute_command("XGROUP", "SETID", "q", "g", "$", "ENTRIESREAD", "5") == "OK"
    assert groups(r, "q")[0]["entries-read"] == 5
    assert r.execute_command("XGROUP", "SETID", "q", "g", "-") == "OK"  # not strict
    assert groups(r, "q")[0]["last-delivered-id"] == "0-0"


# --- XREADGROUP --------------------------------------------------------------------------------


def test_xreadgroup_new_history_noack(queue):
    r = queue
    got = r.execute_command("XREADGROUP", "GROUP", "g", "w1", "COUNT", "2", "STREAMS", "q", ">")
    assert got == [["q", [["1-0", ["job", "1"]], ["2-0", ["job", "2"]]]]]
    got = r.execute_command("XREADGROUP", "GROUP", "g", "w2", "COUNT", "1", "STREAMS", "q", ">")
    assert got == [["q", [["3-0", ["job", "3"]]]]]
    # The history of w1: its own pending entries, from the given ID on.
    assert r.execute_command("XREADGROUP", "GROUP", "g", "w1", "STREAMS", "q", "0") == [
        ["q", [["1-0", ["job", "1"]], ["2-0", ["job", "2"]]]]
    ]
    assert r.execute_command("XREADGROUP", "GROUP", "g", "w1", "STREAMS", "q", "1-0") == [
        ["q", [["2-0", ["job", "2"]]]]
    ]
    # A pending entry whose message was deleted shows up as its ID and a null.
    r.execute_command("XDEL", "q", "1-0")
    assert r.execute_command("XREADGROUP", "GROUP", "g", "w1", "STREAMS", "q", "0") == [
        ["q", [["1-0", None], ["2-0", ["job", "2"]]]]
    ]
    # History reads count as deliveries (not of a deleted message).
    pend = r.execute_command("XPENDING", "q", "g", "-", "+", "10", "w1")
    assert [(p[0], p[3]) for p in pend] == [("1-0", 2), ("2-0", 4)]
    # NOACK: delivered, not pending.
    got = r.execute_command("XREADGROUP", "GROUP", "g", "w3", "NOACK", "STREAMS", "q", ">")
    assert [e[0] for e in got[0][1]] == ["4-0", "5-0"]
    assert consumers(r, "q", "g")["w3"]["pending"] == 0
    assert r.execute_command("XREADGROUP", "GROUP", "g", "w3", "STREAMS", "q", ">") is None
    assert r.execute_command("XREADGROUP", "GROUP", "g", "w3", "STREAMS", "q", "0") == [["q", []]]


def test_xreadgroup_errors(queue):
    r = queue
    assert err(r, "XREADGROUP", "GROUP", "nog", "c", "STREAMS", "q", ">") == (
        "NOGROUP No such key 'q' or consumer group 'nog' in XREADGROUP with GROUP option"
    )
    assert err(r, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">") == (
        "NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option"
    )
    assert err(r, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", "$").startswith(
        "The $ ID is meaningless in the context of XREADGROUP"
    )
    assert err(r, "XREADGROUP", "COUNT", "1", "STREAMS", "q", ">", "x", "y") == (
        "Missing GROUP option for XREADGROUP"
    )
    assert err(r, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">", "x") == (
        "Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified."
    )
    r.set("str", "x")
    assert err(r, "XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">") == WRONGTYPE


def test_xreadgroup_several_streams_across_shards(r):
    keys = keys_per_shard("mq", 2, per_shard=2)
    for n, k in enumerate(keys):
        r.execute_command("XADD", k, f"{n + 1}-0", "k", k)
        r.execute_command("XGROUP", "CREATE", k, "g", "0")
    got = r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", *keys, *([">"] * len(keys)))
    assert [g[0] for g in got] == keys
    for k in keys:
        assert r.execute_command("XPENDING", k, "g")[0] == 1
    assert r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", *keys, *([">"] * len(keys))) is None


# --- XACK / XPENDING ---------------------------------------------------------------------------


def test_xack_and_xpending(queue):
    r = queue
    r.execute_command("XREADGROUP", "GROUP", "g", "a", "COUNT", "3", "STREAMS", "q", ">")
    r.execute_command("XREADGROUP", "GROUP", "g", "b", "STREAMS", "q", ">")
    assert r.execute_command("XPENDING", "q", "g") == [5, "1-0", "5-0", [["a", "3"], ["b", "2"]]]
    ext = r.execute_command("XPENDING", "q", "g", "-", "+", "10")
    assert [(e[0], e[1], e[3]) for e in ext] == [
        ("1-0", "a", 1), ("2-0", "a", 1), ("3-0", "a", 1), ("4-0", "b", 1), ("5-0", "b", 1)
    ]
    assert all(0 <= e[2] < 10000 for e in ext)
    assert [e[0] for e in r.execute_command("XPENDING", "q", "g", "(1-0", "4", "2")] == ["2-0", "3-0"]
    assert [e[0] for e in r.execute_command("XPENDING", "q", "g", "-", "+", "10", "b")] == ["4-0", "5-0"]
    assert r.execute_command("XPENDING", "q", "g", "-", "+", "10", "nobody") == []
    assert r.execute_command("XPENDING", "q", "g", "IDLE", str(HOUR_MS), "-", "+", "10") == []
    assert r.execute_command("XACK", "q", "g", "1-0", "4-0", "9-9") == 2
    assert r.execute_command("XACK", "q", "g", "1-0") == 0
    assert r.execute_command("XPENDING", "q", "g") == [3, "2-0", "5-0", [["a", "2"], ["b", "1"]]]
    assert err(r, "XACK", "q", "g", "bad") == INVALID_ID
    assert r.execute_command("XACK", "q", "nog", "bad") == 0  # no group: 0 before parsing
    assert r.execute_command("XACK", "nokey", "g", "1-0") == 0
    r.execute_command("XACK", "q", "g", "2-0", "3-0", "5-0")
    assert r.execute_command("XPENDING", "q", "g") == [0, None, None, None]


def test_xpending_errors(queue):
    r = queue
    assert err(r, "XPENDING", "q", "g", "-") == "syntax error"
    assert err(r, "XPENDING", "q", "g", "IDLE", "10", "-", "+") == "syntax error"
    assert err(r, "XPENDING", "q", "g", "-", "+", "x") == "value is not an integer or out of range"
    assert err(r, "XPENDING", "q", "g", "x", "+", "1") == INVALID_ID
    assert err(r, "XPENDING", "q", "nog") == "NOGROUP No such key 'q' or consumer group 'nog'"
    assert err(r, "XPENDING", "nokey", "g") == "NOGROUP No such key 'nokey' or consumer group 'g'"


# --- XCLAIM / XAUTOCLAIM -------------------------------------------------------------------------


def test_xclaim(queue):
    r = queue
    r.execute_command("XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">")
    # Not idle long enough: nothing moves, and the consumer is not created.
    assert r.execute_command("XCLAIM", "q", "g", "b", str(HOUR_MS), "1-0") == []
    assert "b" not in consumers(r, "q", "g")
    got = r.execute_command("XCLAIM", "q", "g", "b", "0", "1-0", "2-0")
    assert got == [["1-0", ["job", "1"]], ["2-0", ["job", "2"]]]
    pend = {p[0]: p for p in r.execute_command("XPENDING", "q", "g", "-", "+", "10")}
    assert (pend["1-0"][1], pend["1-0"][3]) == ("b", 2)
    # JUSTID does not count a delivery; RETRYCOUNT sets the count; IDLE backdates it.
    assert r.execute_command("XCLAIM", "q", "g", "c", "0", "3-0", "JUSTID") == ["3-0"]
    r.execute_command("XCLAIM", "q", "g", "c", "0", "4-0", "RETRYCOUNT", "7", "IDLE", str(2 * HOUR_MS), "JUSTID")
    pend = {p[0]: p for p in r.execute_command("XPENDING", "q", "g", "-", "+", "10")}
    assert pend["3-0"][3] == 1 and pend["4-0"][3] == 7 and pend["4-0"][2] >= 2 * HOUR_MS
    assert [p[0] for p in r.execute_command("XPENDING", "q", "g", "IDLE", str(HOUR_MS), "-", "+", "10")] == ["4-0"]
    r.execute_command("XCLAIM", "q", "g", "c", "0", "5-0", "TIME", "1000", "JUSTID")
    pend = {p[0]: p for p in r.execute_command("XPENDING", "q", "g", "-", "+", "10")}
    assert pend["5-0"][2] > HOUR_MS
    # FORCE creates the pending entry of a message never delivered; LASTID moves the group.
    r.execute_command("XADD", "q", "6-0", "job", "6")
    assert r.execute_command("XCLAIM", "q", "g", "d", "0", "6-0", "JUSTID") == []
    assert r.execute_command("XCLAIM", "q", "g", "d", "0", "6-0", "FORCE", "JUSTID", "LASTID", "6-0") == ["6-0"]
    assert groups(r, "q")[0]["last-delivered-id"] == "6-0"
    # A deleted message: its pending entry goes, nothing is returned.
    r.execute_command("XDEL", "q", "1-0")
    assert r.execute_command("XCLAIM", "q", "g", "d", "0", "1-0") == []
    assert "1-0" not in [p[0] for p in r.execute_command("XPENDING", "q", "g", "-", "+", "10")]


def test_xclaim_errors(queue):
    r = queue
    assert err(r, "XCLAIM", "q", "nog", "c", "0", "1-0") == "NOGROUP No such key 'q' or consumer group 'nog'"
    assert err(r, "XCLAIM", "q", "g", "c", "x", "1-0") == "Invalid min-idle-time argument for XCLAIM"
    assert err(r, "XCLAIM", "q", "g", "c", "0", "1-0", "FOO") == "Unrecognized XCLAIM option 'FOO'"
    assert err(r, "XCLAIM", "q", "g", "c", "0", "1-0", "IDLE", "x") == "Invalid IDLE option argument for XCLAIM"
    assert err(r, "XCLAIM", "q", "g", "c", "0", "1-0", "RETRYCOUNT", "x") == (
        "Invalid RETRYCOUNT option argument for XCLAIM"
    )
    assert err(r, "XCLAIM", "q", "g", "c", "0", "1-0", "LASTID", "x") == INVALID_ID


def test_xautoclaim(queue):
    r = queue
    r.execute_command("XREADGROUP", "GROUP", "g", "a", "STREAMS", "q", ">")
    got = r.execute_command("XAUTOCLAIM", "q", "g", "b", "0", "0", "COUNT", "2")
    assert got == ["3-0", [["1-0", ["job", "1"]], ["2-0", ["job", "2"]]], []]
    got = r.execute_command("XAUTOCLAIM", "q", "g", "b", "0", "3-0", "JUSTID")
    assert got == ["0-0", ["3-0", "4-0", "5-0"], []]
    # Deleted messages are dropped from the PEL and reported.
    r.execute_command("XDEL", "q", "2-0", "4-0")
    got = r.execute_command("XAUTOCLAIM", "q", "g", "c", "0", "-", "JUSTID")
    assert got == ["0-0", ["1-0", "3-0", "5-0"], ["2-0", "4-0"]]
    assert r.execute_command("XPENDING", "q", "g")[0] == 3
    # Not idle enough: nothing claimed, and no consumer made.
    got = r.execute_command("XAUTOCLAIM", "q", "g", "z", str(HOUR_MS), "0")
    assert got == ["0-0", [], []] and "z" not in consumers(r, "q", "g")
    assert err(r, "XAUTOCLAIM", "q", "g", "c", "0", "0", "COUNT", "0") == "COUNT must be > 0"
    assert err(r, "XAUTOCLAIM", "q", "g", "c", "x", "0") == "Invalid min-idle-time argument for XAUTOCLAIM"
    assert err(r, "XAUTOCLAIM", "q", "g", "c", "0", "x") == INVALID_ID
    assert err(r, "XAUTOCLAIM", "q", "g", "c", "0", "0", "FOO") == "syntax error"
    assert err(r, "XAUTOCLAIM", "q", "nog", "c", "0", "0") == "NOGROUP No such key 'q' or consumer group 'nog'"


# --- XINFO -------------------------------------------------------------------------------------


def test_xinfo_groups_lag(queue):
    r = queue
    g = groups(r, "q")[0]
    assert (g["name"], g["consumers"], g["pending"], g["last-delivered-id"]) == ("g", 0, 0, "0-0")
    assert (g["entries-read"], g["lag"]) == (None, 5)
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "q", ">")
    g = groups(r, "q")[0]
    assert (g["entries-read"], g["lag"]) == (2, 3)
    # A deletion past the group's position makes the lag unknown, as in Redis.
    r.execute_command("XDEL", "q", "4-0")
    assert groups(r, "q")[0]["lag"] is None
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "STREAMS", "q", ">")
    g = groups(r, "q")[0]
    assert (g["entries-read"], g["lag"]) == (5, 0)
    r.execute_command("XGROUP", "CREATE", "q", "at-end", "$")
    assert groups(r, "q")[0]["name"] == "at-end" and groups(r, "q")[0]["lag"] == 0
    assert err(r, "XINFO", "CONSUMERS", "q", "nog") == "NOGROUP No such consumer group 'nog' for key name 'q'"
    assert err(r, "XINFO", "GROUPS", "nokey") == "no such key"
    assert err(r, "XINFO", "FOO", "q") == "unknown subcommand 'FOO'. Try XINFO HELP."


def test_xinfo_stream_full(queue):
    r = queue
    r.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "q", ">")
    full = as_dict(r.execute_command("XINFO", "STREAM", "q", "FULL"))
    assert full["length"] == 5 and len(full["entries"]) == 5
    g = as_dict(full["groups"][0])
    assert (g["name"], g["last-delivered-id"], g["entries-read"], g["lag"], g["pel-count"]) == ("g", "2-0", 2, 3, 2)
    assert [(p[0], p[1], p[3]) for p in g["pending"]] == [("1-0", "c", 1), ("2-0", "c", 1)]
    c = as_dict(g["consumers"][0])
    assert (c["name"], c["pel-count"]) == ("c", 2)
    assert [(p[0], p[2]) for p in c["pending"]] == [("1-0", 1), ("2-0", 1)]
    full = as_dict(r.execute_command("XINFO", "STREAM", "q", "FULL", "COUNT", "1"))
    assert len(full["entries"]) == 1 and len(as_dict(full["groups"][0])["pending"]) == 1


# --- a job queue ---------------------------------------------------------------------------------


def test_worker_and_reaper(r):
    """Producers add jobs, two workers take them, one dies; a reaper moves its stuck jobs to the
    survivor with XAUTOCLAIM; every job is acknowledged exactly once."""
    r.execute_command("XGROUP", "CREATE", "jobs", "workers", "$", "MKSTREAM")
    for i in range(100):
        r.execute_command("XADD", "jobs", "*", "n", str(i))
    done = []
    got = r.execute_command("XREADGROUP", "GROUP", "workers", "dies", "COUNT", "30", "STREAMS", "jobs", ">")
    assert len(got[0][1]) == 30  # taken, never acked
    while True:
        got = r.execute_command("XREADGROUP", "GROUP", "workers", "lives", "COUNT", "7", "STREAMS", "jobs", ">")
        if not got:
            break
        for jid, fields in got[0][1]:
            done.append(fields[1])
            assert r.execute_command("XACK", "jobs", "workers", jid) == 1
    cursor = "0-0"
    while True:
        cursor, claimed, deleted = r.execute_command(
            "XAUTOCLAIM", "jobs", "workers", "lives", "0", cursor, "COUNT", "8"
        )
        assert deleted == []
        for jid, fields in claimed:
            done.append(fields[1])
            r.execute_command("XACK", "jobs", "workers", jid)
        if cursor == "0-0":
            break
    assert sorted(done, key=int) == [str(i) for i in range(100)]
    assert r.execute_command("XPENDING", "jobs", "workers") == [0, None, None, None]
    g = groups(r, "jobs")[0]
    assert (g["entries-read"], g["lag"]) == (100, 0)


# --- differential runs against redis-server -------------------------------------------------------


def mask_field(flat, name, value="T"):
    out = list(flat)
    for i in range(0, len(out) - 1, 2):
        if out[i] == name:
            out[i + 1] = value
    return out


def mask(cmd, reply):
    """Replaces what depends on the clocks (idle times, delivery and seen times)."""
    name = cmd[0].upper()
    if not isinstance(reply, list):
        return reply
    if name == "XPENDING" and len(cmd) > 3:
        return [[e[0], e[1], "T", e[3]] for e in reply]
    if name == "XINFO" and cmd[1].upper() == "CONSUMERS":
        return [mask_field(c, b"idle") for c in reply]
    if name == "XINFO" and cmd[1].upper() == "STREAM" and len(cmd) > 3:
        out = list(reply)
        gi = out.index(b"groups") + 1
        gs = []
        for g in out[gi]:
            g = list(g)
            pi = g.index(b"pending") + 1
            g[pi] = [[p[0], p[1], "T", p[3]] for p in g[pi]]
            ci = g.index(b"consumers") + 1
            cs = []
            for c in g[ci]:
                c = mask_field(c, b"seen-time")
                pj = c.index(b"pending") + 1
                c[pj] = [[p[0], "T", p[2]] for p in c[pj]]
                cs.append(c)
            g[ci] = cs
            gs.append(g)
        out[gi] = gs
        return out
    return reply


def run_masked(d, *args):
    args = [str(a) for a in args]
    d.history.append(args)
    got, want = _call(d.dfly, args), _call(d.ref, args)
    if _normalize(mask(args, got), False) != _normalize(mask(args, want), False):
        tail = "\n".join(" ".join(map(str, h)) for h in d.history[-50:])
        raise AssertionError(f"reply differs for {args}:\n  dfly:  {got!r}\n  redis: {want!r}\nlast commands:\n{tail}")
    return got


class GroupModel:
    def __init__(self, keys):
        self.keys = keys
        self.clock = {k: 1 for k in keys}
        self.ids = {k: [] for k in keys}


def group_op(rng, m):
    k = rng.choice(m.keys)
    g = rng.choice(["g1", "g1", "g2"])
    c = rng.choice(["c1", "c2", "c3"])
    known = m.ids[k]
    some = lambda: rng.choice(known) if known and rng.random() < 0.85 else f"{rng.randint(0, m.clock[k] + 2)}-{rng.randint(0, 2)}"
    roll = rng.random()
    if roll < 0.22:
        m.clock[k] += rng.choice([1, 1, 2, 10])
        opts = ["MAXLEN", str(rng.randint(3, 30))] if rng.random() < 0.1 else []
        return ["XADD", k, *opts, f"{m.clock[k]}-{rng.randint(0, 1)}", "f", str(rng.randint(0, 99))]
    if roll < 0.27:
        return ["XDEL", k, some()]
    if roll < 0.32:
        start = rng.choice(["$", "0", some()])
        extra = rng.choice([[], ["MKSTREAM"], ["ENTRIESREAD", str(rng.randint(-1, 20))]])
        return ["XGROUP", "CREATE", k, g, start, *extra]
    if roll < 0.34:
        extra = ["ENTRIESREAD", str(rng.randint(-1, 20))] if rng.random() < 0.5 else []
        return ["XGROUP", "SETID", k, g, rng.choice(["$", "0", some()]), *extra]
    if roll < 0.35:
        return ["XGROUP", "DESTROY", k, g]
    if roll < 0.37:
        return ["XGROUP", rng.choice(["CREATECONSUMER", "DELCONSUMER"]), k, g, c]
    if roll < 0.55:
        opts = []
        if rng.random() < 0.6:
            opts += ["COUNT", str(rng.randint(1, 6))]
        if rng.random() < 0.1:
            opts.append("NOACK")
        ks = [k] if rng.random() < 0.7 else rng.sample(m.keys, 2)
        ids = [">" if rng.random() < 0.8 else rng.choice(["0", some()]) for _ in ks]
        return ["XREADGROUP", "GROUP", g, c, *opts, "STREAMS", *ks, *ids]
    if roll < 0.65:
        return ["XACK", k, g, *[some() for _ in range(rng.randint(1, 4))]]
    if roll < 0.72:
        if rng.random() < 0.3:
            return ["XPENDING", k, g]
        idle = ["IDLE", str(rng.choice([0, HOUR_MS]))] if rng.random() < 0.3 else []
        tail = [c] if rng.random() < 0.3 else []
        return ["XPENDING", k, g, *idle, rng.choice(["-", some(), "(" + some()]), "+", str(rng.randint(-1, 8)), *tail]
    if roll < 0.80:
        opts = []
        for o in rng.sample(["JUSTID", "FORCE", "RETRYCOUNT", "IDLE", "LASTID", "TIME"], rng.randint(0, 3)):
            if o == "RETRYCOUNT":
                opts += [o, str(rng.randint(0, 5))]
            elif o == "IDLE":
                opts += [o, str(2 * HOUR_MS)]
            elif o == "TIME":
                opts += [o, "1000"]
            elif o == "LASTID":
                opts += [o, some()]
            else:
                opts.append(o)
        minidle = rng.choice(["0", "0", str(HOUR_MS)])
        return ["XCLAIM", k, g, c, minidle, *[some() for _ in range(rng.randint(1, 3))], *opts]
    if roll < 0.87:
        opts = ["COUNT", str(rng.randint(1, 5))] if rng.random() < 0.7 else []
        if rng.random() < 0.3:
            opts.append("JUSTID")
        return ["XAUTOCLAIM", k, g, c, rng.choice(["0", str(HOUR_MS)]), rng.choice(["0", "-", some()]), *opts]
    if roll < 0.92:
        return ["XINFO", "GROUPS", k]
    if roll < 0.96:
        return ["XINFO", "CONSUMERS", k, g]
    return ["XINFO", "STREAM", k, "FULL"]


def run_groups(d, seed, ops, keys):
    rng = random.Random(seed)
    m = GroupModel(keys)
    for _ in range(ops):
        cmd = group_op(rng, m)
        reply = run_masked(d, *cmd)
        if cmd[0] == "XADD" and isinstance(reply, bytes):
            m.ids[cmd[1]].append(reply.decode())
            m.ids[cmd[1]] = m.ids[cmd[1]][-100:]
    for k in keys:
        run_masked(d, "XINFO", "STREAM", k, "FULL", "COUNT", "0")


def test_diff_random_groups(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    run_groups(d, DIFF_SEED, DIFF_OPS, keys_per_shard("gq", 2, per_shard=2))


def test_diff_random_groups_small_nodes(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    for c in (d.dfly, d.ref):
        c.execute_command("CONFIG", "SET", "stream-node-max-entries", "4")
    run_groups(d, DIFF_SEED + 1, DIFF_OPS, keys_per_shard("gs", 2, per_shard=2))
