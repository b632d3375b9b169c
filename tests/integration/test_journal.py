"""The append-only journal (--appendonly yes): Redis 7's multi-part AOF directory, every write
replayed after a restart (deterministic forms for what depends on time or chance), MULTI/EXEC
and scripts, torn and corrupt files, kill -9 with appendfsync always, BGREWRITEAOF,
CONFIG SET appendonly, write errors, and Redis 7.0 loading our directory."""

import random
import resource
import shutil
import subprocess
import threading
import time

import pytest
import redis

import dataset
from shardkeys import keys_per_shard

REDIS_CHECK_AOF = "/usr/bin/redis-check-aof"
JDIR = "appendonlydir"
NAME = "appendonly.aof"
WAIT_S = 30  # bound on waiting for a rewrite or a condition
POLL_S = 0.02
JOURNAL = ("--appendonly", "yes", "--dbfilename", "")  # the journal is the only persistence
KILL_ROUNDS = 5
KILL_WRITERS = 6
KILL_RUN_S = (0.2, 0.8)  # how long the writers run before the SIGKILL, at random
EXPIRE_MS = 1500  # a TTL that outlasts a few commands even on a loaded machine


# --- helpers ---------------------------------------------------------------------------------


def jdir(s):
    return s.workdir / JDIR


def manifest(s):
    """[(name, seq, type)] of the manifest."""
    out = []
    for line in (jdir(s) / f"{NAME}.manifest").read_text().splitlines():
        w = line.split()
        assert w[0] == "file" and w[2] == "seq" and w[4] == "type", line
        out.append((w[1], int(w[3]), w[5]))
    return out


def incr_files(s):
    return [jdir(s) / n for n, _, t in manifest(s) if t == "i"]


def incr_text(s):
    """The incremental files' bytes, as one text (they hold RESP)."""
    return b"".join(p.read_bytes() for p in incr_files(s)).decode(errors="replace")


def commands_of(s):
    """The commands of the incremental files, upper-cased names first: [[name, args...]]."""
    text = incr_text(s)
    out, lines, i = [], text.split("\r\n"), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("*"):
            n = int(line[1:])
            args = [lines[i + 2 + 2 * j] for j in range(n)]
            out.append([args[0].upper()] + args[1:])
            i += 1 + 2 * n
        else:
            i += 1
    return out


def names_of(s):
    return [c[0] for c in commands_of(s)]


def wait_for(cond, timeout=WAIT_S, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def persistence(c):
    return c.info("persistence")


def wait_rewrite_done(c):
    def idle():
        info = persistence(c)  # one reading: a rewrite goes from scheduled to running in it
        return info["aof_rewrite_in_progress"] == 0 and info["aof_rewrite_scheduled"] == 0

    wait_for(idle, what="the rewrite")


def jstart(server_factory, *args):
    """A new server with the journal on, once its first rewrite (the base file) is done: until
    then writes may land in the base rather than in the incremental file the tests read."""
    s = server_factory(*JOURNAL, *args)
    wait_rewrite_done(s.client())
    return s


def start_refused(server_factory, workdir, *args):
    """Starts a server that must refuse its journal: it exits with an error, during its start or,
    as it answers PING while it loads, right after."""
    try:
        s = server_factory(*args, workdir=workdir, wait_loaded=False)
    except Exception:
        return
    s.check_exit = False
    s.proc.wait(timeout=WAIT_S)
    assert s.proc.returncode not in (0, None)


def restart(server_factory, s, *args, kill=False):
    """Stops s (SIGTERM, or SIGKILL) and starts a server on its files; returns it, loaded."""
    if kill:
        s.kill()
    else:
        s.stop()
    return server_factory(*args, workdir=s.workdir)


def state(c, dbs=dataset.DBS):
    return dataset.digest(c), dataset.snapshot_of(c, dbs)


def assert_same(before, c, dbs=dataset.DBS):
    digest, snap = before
    got = dataset.snapshot_of(c, dbs)
    for db in dbs:
        assert got[db] == snap[db], f"database {db} differs"
    assert dataset.digest(c) == digest


# --- the directory ---------------------------------------------------------------------------


def test_layout_and_info(server_factory):
    s = jstart(server_factory)
    c = s.client()
    wait_rewrite_done(c)  # the first base is written at start, as Redis does
    m = manifest(s)
    assert [t for _, _, t in m] == ["b", "i"]
    base, incr = m[0][0], m[1][0]
    assert base.startswith(f"{NAME}.") and base.endswith(".base.rdb")
    assert incr.startswith(f"{NAME}.") and incr.endswith(".incr.aof")
    assert sorted(p.name for p in jdir(s).iterdir()) == sorted([base, incr, f"{NAME}.manifest"])
    assert (jdir(s) / base).read_bytes().startswith(b"REDIS")
    c.set("k", "v")
    info = persistence(c)
    assert info["aof_enabled"] == 1
    assert info["aof_last_write_status"] == "ok"
    assert info["aof_last_bgrewrite_status"] == "ok"
    assert info["aof_rewrites"] == 1
    assert info["aof_current_size"] > info["aof_base_size"] > 0
    assert ["SET", "k", "v"] in commands_of(s)


def test_no_write_no_record(server_factory):
    s = jstart(server_factory)
    c = s.client()
    c.delete("missing")
    c.expire("missing", 10)
    c.srem("missing", "x")
    c.set("k", "v", nx=True)
    c.set("k", "w", nx=True)  # not set: not journaled
    c.get("k")
    assert [n for n in names_of(s) if n != "SELECT"] == ["SET"]


# --- every family, restart, equal --------------------------------------------------------------


def more_writes(c):
    """Commands of every family beyond dataset.fill's."""
    a, b = keys_per_shard("fam", 2)
    c.set(a, "hello")
    c.append(a, " world")
    c.setrange(a, 0, "J")
    c.incr("cnt")
    c.decrby("cnt", 5)
    c.msetnx({"mx1": 1, "mx2": 2})
    c.getdel("mx1")
    c.getset("mx2", 3)
    c.setbit("bits", 100, 1)
    c.bitop("OR", "bits2", "bits", "bits")
    c.execute_command("BITFIELD", "bf", "SET", "u8", 0, 200, "INCRBY", "u8", 0, 100)
    c.geoadd("geo", (13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania"))
    c.execute_command("GEOSEARCHSTORE", "geo2", "geo", "FROMLONLAT", 15, 37, "BYRADIUS", 200,
                      "km", "ASC")
    c.pfadd("h1", "a", "b")
    c.pfadd("h2", "c")
    c.pfmerge("h3", "h1", "h2")
    c.pfcount("h3")  # writes its cache
    c.rpush(b, *range(10))
    c.linsert(b, "BEFORE", 5, "x")
    c.lset(b, 0, "first")
    c.lrem(b, 1, "x")
    c.ltrim(b, 0, 7)
    c.lmove(b, "{l}dst", "LEFT", "RIGHT")
    c.rpoplpush(b, b)
    c.hset("hh", mapping={"a": 1, "b": 2})
    c.hdel("hh", "a")
    c.hsetnx("hh", "c", 3)
    c.hincrby("hh", "b", 10)
    c.sadd("s1", *range(10))
    c.sadd("s2", *range(5, 15))
    c.srem("s1", 0)
    c.smove("s1", "s2", 1)
    c.sinterstore("s3", "s1", "s2")
    c.sunionstore("s4", "s1", "s2")
    c.sdiffstore("s5", "s1", "s2")
    c.zadd("z1", {"a": 1, "b": 2, "c": 3})
    c.zadd("z2", {"b": 5, "d": 1})
    c.zincrby("z1", 2.5, "a")
    c.zrem("z1", "c")
    c.zunionstore("z3", ["z1", "z2"])
    c.zinterstore("z4", ["z1", "z2"])
    c.execute_command("ZRANGESTORE", "z5", "z3", 0, -1)
    c.zremrangebyscore("z3", 0, 1)
    c.zpopmax("z2")
    c.set("ren", 1)
    c.rename("ren", "ren2")
    c.renamenx("ren2", "ren3")
    c.copy("ren3", "copy3")
    c.move("copy3", 1)
    c.set("gone", 1)
    c.unlink("gone")
    c.set("p", 1, ex=100)
    c.persist("p")
    x = "xs"
    c.xadd(x, {"a": 1})
    c.xadd(x, {"a": 2}, maxlen=1, approximate=True)
    c.xadd(x, {"a": 3}, id="*")
    c.xgroup_create(x, "g", id="0")
    c.xreadgroup("g", "c1", {x: ">"})
    c.execute_command("XGROUP", "CREATECONSUMER", x, "g", "c2")
    c.execute_command("XAUTOCLAIM", x, "g", "c2", 0, "0-0")
    ids = [i for i, _ in c.xrange(x)]
    c.xclaim(x, "g", "c1", 0, [ids[0]])
    c.xack(x, "g", ids[-1])
    c.xdel(x, ids[0])
    c.xtrim(x, maxlen=5, approximate=False)
    c.execute_command("XSETID", x, "9999999999999-0")
    c.swapdb(1, 5)
    c.execute_command("FUNCTION", "LOAD", "#!lua name=jlib\n"
                      "redis.register_function('jset', function(k, a) "
                      "return redis.call('set', k[1], a[1]) end)")
    c.fcall("jset", 1, "fkey", "fval")


def test_every_family_replays_equal(server_factory):
    s = jstart(server_factory)
    c = s.client()
    dataset.fill(c, seed=7)
    more_writes(c)
    before = state(c)
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert_same(before, c2)
    assert c2.fcall("jset", 1, "again", "1") == "OK"  # the library came back too


def test_restart_after_sigkill_replays_equal(server_factory):
    s = jstart(server_factory)
    c = s.client()
    dataset.fill(c, seed=3)
    before = state(c)
    s2 = restart(server_factory, s, *JOURNAL, kill=True)
    assert_same(before, s2.client())


def test_databases_are_selected(server_factory):
    s = jstart(server_factory)
    c = s.client()
    for db in (0, 3, 15, 3):
        dataset.db_client(c, db).set(f"k{db}", db)
    cmds = commands_of(s)
    assert ["SELECT", "3"] in cmds and ["SELECT", "15"] in cmds
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    for db in (0, 3, 15):
        assert dataset.db_client(c2, db).get(f"k{db}") == str(db)


# --- deterministic forms -------------------------------------------------------------------------


def test_relative_expiries_are_journaled_absolute(server_factory):
    s = jstart(server_factory)
    c = s.client()
    c.set("ex", 1, ex=100)
    c.set("px", 1, px=100000)
    c.setex("setex", 100, 1)
    c.psetex("psetex", 100000, 1)
    c.set("e1", 1)
    c.expire("e1", 100)
    c.set("e2", 1)
    c.pexpire("e2", 100000)
    c.set("e3", 1)
    c.expireat("e3", int(time.time()) + 100)
    c.set("g1", 1)
    c.getex("g1", ex=100)
    c.set("g2", 1, ex=100)
    c.getex("g2", persist=True)
    c.set("past", 1)
    c.expire("past", -1)  # deletes
    c.set("src", "payload")
    payload = c.dump("src")
    c.restore("rest", 100000, payload)
    cmds = commands_of(s)
    names = {x[0] for x in cmds}
    assert not names & {"EXPIRE", "PEXPIRE", "EXPIREAT", "SETEX", "PSETEX", "GETEX"}
    now_ms = time.time() * 1000
    for cmd in cmds:
        if cmd[0] == "SET" and len(cmd) > 3:
            assert cmd[3].upper() == "PXAT" and abs(int(cmd[4]) - now_ms) < 200000, cmd
        if cmd[0] == "PEXPIREAT":
            assert abs(int(cmd[2]) - now_ms) < 200000, cmd
    assert ["PERSIST", "g2"] in cmds
    assert ["DEL", "past"] in cmds
    restore = [x for x in cmds if x[0] == "RESTORE"][0]
    assert restore[-1].upper() == "ABSTTL" and abs(int(restore[2]) - now_ms) < 200000
    ttls = {k: c.pttl(k) for k in ("ex", "px", "setex", "psetex", "e1", "e2", "e3", "g1", "rest")}
    time.sleep(1.2)
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    for k, before in ttls.items():
        after = c2.pttl(k)
        # Absolute: the time spent down counts. Relative would have restarted the clock.
        assert 0 < after <= before - 1000, (k, before, after)
    assert c2.pttl("g2") == -1
    assert c2.exists("past") == 0


def test_expiry_decides_as_it_did(server_factory):
    """A key written to before it expired, and one re-created after it expired: the replay
    sees each as the original command did, however long the server was down."""
    s = jstart(server_factory)
    c = s.client()
    c.set("short", "v", px=EXPIRE_MS)
    c.append("short", "+more")  # before the expiry: the key keeps its TTL
    c.hset("sess", "a", 1)
    c.pexpire("sess", EXPIRE_MS)
    c.hset("sess", "b", 2)
    assert c.pttl("short") > 0 and c.pttl("sess") > 0  # (the writes came in time)
    c.set("re", "old", px=1)
    time.sleep(0.01)
    assert c.set("re", "new", nx=True)  # "re" had expired: NX sets it
    time.sleep(EXPIRE_MS / 1000 + 0.2)
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.exists("short") == 0
    assert c2.exists("sess") == 0
    assert c2.get("re") == "new" and c2.pttl("re") == -1


def test_random_and_float_commands_replay_equal(server_factory):
    s = jstart(server_factory)
    c = s.client()
    for i in range(6):
        c.sadd(f"set{i}", *range(300))
    c.spop("set0")
    c.spop("set1", 5)
    c.spop("set2", 250)  # most of it: the other strategy
    c.spop("set3", 1000)  # all of it: DEL
    c.sadd("tiny", "a", "b", "c")
    c.spop("tiny", 2)
    c.set("f", "10.5")
    c.expire("f", 1000)
    c.incrbyfloat("f", 0.1)
    c.incrbyfloat("f2", 3.0e-5)
    c.hincrbyfloat("hf", "x", 1.1)
    c.hincrbyfloat("hf", "x", 2.2)
    names = names_of(s)
    assert "SPOP" not in names and "INCRBYFLOAT" not in names and "HINCRBYFLOAT" not in names
    assert ["DEL", "set3"] in commands_of(s)
    assert c.ttl("f") > 0
    before = state(c, dbs=(0,))
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert_same(before, c2, dbs=(0,))
    assert c2.ttl("f") > 0  # SET ... KEEPTTL


def test_scripts_journal_their_effects(server_factory):
    s = jstart(server_factory)
    c = s.client()
    c.sadd("pool", *range(100))
    script = """
        local m = redis.call('SPOP', KEYS[1])
        redis.call('SET', KEYS[2], m)
        redis.call('INCRBYFLOAT', KEYS[3], '1.5')
        redis.call('SELECT', 2)
        redis.call('SET', 'indb2', m)
        return m
    """
    got = c.eval(script, 3, "pool", "picked", "fl")
    assert c.get("picked") == got
    c.eval("return redis.call('GET', KEYS[1])", 1, "picked")  # no write: no record
    cmds = commands_of(s)
    names = [x[0] for x in cmds]
    assert "EVAL" not in names and "SPOP" not in names
    i = names.index("MULTI")
    assert names[i:i + 7] == ["MULTI", "SREM", "SET", "SET", "SELECT", "SET", "EXEC"]
    before = state(c, dbs=(0, 2))
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert_same(before, c2, dbs=(0, 2))
    assert dataset.db_client(c2, 2).get("indb2") == got


def test_multi_exec_is_one_block(server_factory):
    s = jstart(server_factory)
    c = s.client()
    keys = keys_per_shard("tx", 2, 3)
    p = c.pipeline(transaction=True)
    for i, k in enumerate(keys):
        p.set(k, i)
    p.incr(keys[0])
    p.get(keys[1])
    p.delete("missing")
    p.execute()
    cmds = commands_of(s)
    names = [x[0] for x in cmds]
    i = names.index("MULTI")
    assert names[i:i + len(keys) + 3] == ["MULTI"] + ["SET"] * len(keys) + ["INCRBY", "EXEC"]
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.get(keys[0]) == "1"
    assert [c2.get(k) for k in keys[1:]] == [str(i) for i in range(1, len(keys))]


def test_blocking_pops_journal_what_happened(server_factory):
    s = jstart(server_factory)
    c = s.client()
    a, b = keys_per_shard("bl", 2)
    results = {}

    def waiter(name, *cmd):
        w = s.client()
        results[name] = w.execute_command(*cmd)

    threads = [
        threading.Thread(target=waiter, args=("blpop", "BLPOP", a, 5)),
        threading.Thread(target=waiter, args=("bzpop", "BZPOPMIN", "{z}1", "{z}2", 5)),
        threading.Thread(target=waiter, args=("blmove", "BLMOVE", "{m}src", "{m}dst", "LEFT",
                                              "RIGHT", 5)),
        threading.Thread(target=waiter, args=("blmpop", "BLMPOP", 5, 2, b, "other", "RIGHT",
                                              "COUNT", 2)),
    ]
    for t in threads:
        t.start()
    wait_for(lambda: c.info("clients")["blocked_clients"] == 4, what="4 blocked clients")
    c.rpush(a, "x", "y")
    c.zadd("{z}2", {"m1": 1, "m2": 2})
    c.rpush("{m}src", "moved", "stays")
    c.rpush(b, 1, 2, 3)
    for t in threads:
        t.join(timeout=10)
    assert list(results["blpop"]) == [a, "x"]
    assert results["blmove"] == "moved"
    c.rpush("now", 1, 2)
    c.blpop(["now"], 1)  # served at once
    cmds = commands_of(s)
    names = {x[0] for x in cmds}
    assert not names & {"BLPOP", "BZPOPMIN", "BLMOVE", "BLMPOP"}
    assert ["LPOP", a] in cmds and ["LPOP", "now"] in cmds
    assert ["ZPOPMIN", "{z}2", "1"] in cmds
    assert ["LMOVE", "{m}src", "{m}dst", "LEFT", "RIGHT"] in cmds
    assert ["RPOP", b, "2"] in cmds
    before = state(c, dbs=(0,))
    s2 = restart(server_factory, s, *JOURNAL)
    assert_same(before, s2.client(), dbs=(0,))


# --- torn and corrupt files --------------------------------------------------------------------


def test_torn_last_record_is_cut_with_a_log_line(server_factory):
    s = jstart(server_factory)
    c = s.client()
    for i in range(100):
        c.set(f"k{i}", i)
    s.kill()
    incr = incr_files(s)[-1]
    good = incr.stat().st_size
    with open(incr, "ab") as f:
        f.write(b"*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nhal")  # power went out mid-record
    s2 = server_factory(*JOURNAL, workdir=s.workdir)
    c2 = s2.client()
    assert c2.dbsize() == 100 and c2.get("k99") == "99" and c2.get("torn") is None
    assert "Truncating the AOF" in s2.log()
    assert incr.stat().st_size == good
    c2.set("after", 1)  # appending goes on after the cut
    s3 = restart(server_factory, s2, *JOURNAL)
    assert s3.client().get("after") == "1"


def test_unfinished_multi_at_the_end_is_reverted(server_factory):
    s = jstart(server_factory)
    c = s.client()
    c.set("before", 1)
    s.kill()
    with open(incr_files(s)[-1], "ab") as f:
        f.write(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$4\r\nhalf\r\n$1\r\n1\r\n")
    s2 = server_factory(*JOURNAL, workdir=s.workdir)
    c2 = s2.client()
    assert c2.get("before") == "1" and c2.get("half") is None
    assert "Revert incomplete MULTI/EXEC" in s2.log()


def test_torn_record_refused_without_aof_load_truncated(server_factory):
    s = jstart(server_factory)
    s.client().set("k", "v")
    s.kill()
    with open(incr_files(s)[-1], "ab") as f:
        f.write(b"*2\r\n$3\r\nDEL")
    start_refused(server_factory, s.workdir, *JOURNAL, "--aof_load_truncated", "no")
    assert "Unexpected end of file reading the append only file" in (s.workdir / "dfly-server.log"
                                                                     ).read_text()


def test_garbage_in_the_middle_refuses_start(server_factory):
    s = jstart(server_factory)
    c = s.client()
    c.set("a", 1)
    s.kill()
    incr = incr_files(s)[-1]
    data = incr.read_bytes()
    at = len(data)
    garbage = b"this is not a command\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"
    incr.write_bytes(data + garbage)
    start_refused(server_factory, s.workdir, *JOURNAL)
    log = (s.workdir / "dfly-server.log").read_text()
    assert f"Bad file format reading the append only file {incr.name} at offset {at}" in log
    assert incr.stat().st_size == at + len(garbage)  # nothing was cut


def test_missing_file_refuses_start(server_factory):
    s = jstart(server_factory)
    s.client().set("a", 1)
    s.stop()
    incr_files(s)[-1].unlink()
    start_refused(server_factory, s.workdir, *JOURNAL)
    assert "named by the manifest cannot be read" in (s.workdir / "dfly-server.log").read_text()


# --- kill -9 with appendfsync always --------------------------------------------------------------


def acked_writer(port, stop, acked, wid):
    c = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=5)
    i = 0
    try:
        while not stop.is_set():
            if i % 3 == 2:
                p = c.pipeline(transaction=False)
                p.set(f"w{wid}:{i}", i)
                p.incr(f"cnt{wid}")
                p.execute()
                acked.append((wid, i, True))
            else:
                c.set(f"w{wid}:{i}", i)
                acked.append((wid, i, False))
            i += 1
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        pass  # the server was killed
    finally:
        c.connection_pool.disconnect()


def test_kill9_loses_no_acknowledged_write(server_factory):
    rnd = random.Random(6)
    args = (*JOURNAL, "--appendfsync", "always")
    s = server_factory(*args)
    acked_all = []
    for _ in range(KILL_ROUNDS):
        stop = threading.Event()
        acked = [[] for _ in range(KILL_WRITERS)]
        threads = [threading.Thread(target=acked_writer, args=(s.port, stop, acked[w], w))
                   for w in range(KILL_WRITERS)]
        for t in threads:
            t.start()
        time.sleep(rnd.uniform(*KILL_RUN_S))
        s.kill()  # at a random moment, writes in flight
        stop.set()
        for t in threads:
            t.join(timeout=10)
        acked_all.append([list(a) for a in acked])
        s = server_factory(*args, workdir=s.workdir)
        c = s.client()
        for rnd_acked in acked_all:
            for w, entries in enumerate(rnd_acked):
                if not entries:
                    continue
                keys = [f"w{w}:{i}" for _, i, _ in entries]
                vals = c.mget(keys)
                missing = [k for k, v in zip(keys, vals) if v is None]
                assert not missing, f"acknowledged but lost: {missing[:5]} ({len(missing)})"
        # INCRs acknowledged in this round's pipelines are all there (it may hold more: a
        # pipeline can be applied without its reply arriving).
        total = sum(1 for rnd_acked in acked_all for a in rnd_acked for e in a if e[2])
        got = sum(int(c.get(f"cnt{w}") or 0) for w in range(KILL_WRITERS))
        assert got >= total
    assert sum(len(a) for r in acked_all for a in r) > 0


# --- BGREWRITEAOF ---------------------------------------------------------------------------------


def raw(c, *args):
    conn = c.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        c.connection_pool.release(conn)


def test_bgrewriteaof_compacts(server_factory):
    s = jstart(server_factory)
    c = s.client()
    wait_rewrite_done(c)
    for i in range(3000):
        c.set(f"k{i % 50}", "x" * (i % 100))
        c.incr("counter")
    size_before = sum(p.stat().st_size for p in jdir(s).iterdir())
    old = {n for n, _, _ in manifest(s)}
    before = state(c, dbs=(0,))
    assert raw(c, "BGREWRITEAOF") == "Background append only file rewriting started"
    wait_rewrite_done(c)
    m = manifest(s)
    assert [t for _, _, t in m] == ["b", "i"]
    assert not {n for n, _, _ in m} & old  # both new
    assert sorted(p.name for p in jdir(s).iterdir()) == sorted(
        [n for n, _, _ in m] + [f"{NAME}.manifest"])
    assert sum(p.stat().st_size for p in jdir(s).iterdir()) < size_before / 4
    info = persistence(c)
    assert info["aof_rewrites"] >= 2 and info["aof_last_bgrewrite_status"] == "ok"
    c.set("after", "rewrite")
    c.incr("counter")
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.get("after") == "rewrite" and c2.get("counter") == "3001"
    c2.decr("counter")
    c2.delete("after")
    assert_same(before, c2, dbs=(0,))


def test_bgrewriteaof_while_clients_write(server_factory):
    """Every acknowledged write lands in the base or in the new incremental file: the switch
    happens exactly at the snapshot's point in time."""
    s = jstart(server_factory)
    c = s.client()
    wait_rewrite_done(c)
    c.execute_command("DEBUG", "POPULATE", 100000, "pop", 32)
    assert raw(c, "BGREWRITEAOF") == "Background append only file rewriting started"
    wait_rewrite_done(c)  # DEBUG POPULATE is not journaled: into the base first
    stop = threading.Event()
    acked = [[] for _ in range(4)]
    threads = [threading.Thread(target=acked_writer, args=(s.port, stop, acked[w], w))
               for w in range(4)]
    for t in threads:
        t.start()
    for _ in range(3):
        time.sleep(0.1)
        assert raw(c, "BGREWRITEAOF") == "Background append only file rewriting started"
        wait_rewrite_done(c)
    stop.set()
    for t in threads:
        t.join(timeout=10)
    digest, size = dataset.digest(c), c.dbsize()  # (reading 100000 keys one by one is slow)
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.dbsize() == size and dataset.digest(c2) == digest
    assert sum(len(a) for a in acked) > 0


def test_bgrewriteaof_replies(server_factory):
    s = server_factory("--appendonly", "yes")  # BGSAVE needs a dbfilename
    c = s.client()
    wait_rewrite_done(c)
    c.execute_command("DEBUG", "POPULATE", 300000, "key", 64)
    assert raw(c, "BGSAVE") == "Background saving started"
    assert raw(c, "BGREWRITEAOF") == "Background append only file rewriting scheduled"
    assert persistence(c)["aof_rewrite_scheduled"] == 1
    wait_rewrite_done(c)
    assert raw(c, "BGREWRITEAOF") == "Background append only file rewriting started"
    with pytest.raises(redis.ResponseError,
                       match="Background append only file rewriting already in progress"):
        raw(c, "BGREWRITEAOF")
    wait_rewrite_done(c)
    s2 = restart(server_factory, s, *JOURNAL)  # the journal, not dump.rdb, is loaded
    assert s2.client().dbsize() == 300000


def test_bgrewriteaof_with_appendonly_off_writes_a_base(server_factory):
    s = server_factory("--dbfilename", "")
    c = s.client()
    c.set("k", "v")
    assert raw(c, "BGREWRITEAOF") == "Background append only file rewriting started"
    wait_rewrite_done(c)
    assert [t for _, _, t in manifest(s)] == ["b"]
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.get("k") == "v"
    c2.set("k2", "v2")
    s3 = restart(server_factory, s2, *JOURNAL)
    assert s3.client().mget("k", "k2") == ["v", "v2"]


# --- turning it on and off --------------------------------------------------------------------------


def test_config_set_appendonly_yes_on_a_running_server(server_factory):
    s = server_factory("--dbfilename", "")
    c = s.client()
    dataset.fill(c, seed=11)
    assert persistence(c)["aof_enabled"] == 0
    assert not jdir(s).exists()
    assert c.config_set("appendonly", "yes") is True
    assert c.config_get("appendonly") == {"appendonly": "yes"}
    c.set("during", 1)  # before or after the point in time: never lost, never doubled
    c.incr("during")
    wait_rewrite_done(c)
    assert persistence(c)["aof_enabled"] == 1
    assert [t for _, _, t in manifest(s)] == ["b", "i"]
    c.set("after", 1)
    before = state(c)
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert_same(before, c2)
    assert c2.get("during") == "2"


def test_config_set_appendonly_no_stops_journaling(server_factory):
    s = jstart(server_factory)
    c = s.client()
    c.set("kept", 1)
    assert c.config_set("appendonly", "no") is True
    assert persistence(c)["aof_enabled"] == 0
    c.set("not-journaled", 1)
    assert "not-journaled" not in incr_text(s)
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.get("kept") == "1" and c2.get("not-journaled") is None


def test_config_set_appendfsync(server_factory):
    s = jstart(server_factory)
    c = s.client()
    for mode in ("always", "no", "everysec"):
        assert c.config_set("appendfsync", mode) is True
        assert c.config_get("appendfsync") == {"appendfsync": mode}
        c.set(f"k-{mode}", 1)
    with pytest.raises(redis.ResponseError):
        c.config_set("appendfsync", "sometimes")
    s2 = restart(server_factory, s, *JOURNAL)
    assert s2.client().mget("k-always", "k-no", "k-everysec") == ["1", "1", "1"]


def test_start_with_a_snapshot_takes_it_as_base(server_factory):
    s = server_factory()
    c = s.client()
    dataset.fill(c, seed=5, with_streams=False)
    assert c.save() is True
    before = state(c)
    s2 = restart(server_factory, s, "--appendonly", "yes")
    c2 = s2.client()
    assert_same(before, c2)  # the snapshot was loaded
    m = manifest(s2)
    assert [t for _, _, t in m] == ["b", "i"]
    c2.set("new", 1)
    (s2.workdir / "dump.rdb").unlink()  # from here on the journal alone has the data
    c2.config_set("dbfilename", "")
    s3 = restart(server_factory, s2, *JOURNAL)
    c3 = s3.client()
    assert c3.get("new") == "1"
    c3.delete("new")
    assert_same(before, c3)


# --- write errors ----------------------------------------------------------------------------------


def test_write_error_refuses_writes_until_it_clears(server_factory):
    s = jstart(server_factory, "--appendfsync", "everysec")
    c = s.client()
    wait_rewrite_done(c)
    incr = incr_files(s)[-1]
    # A file size limit stands in for a full disk.
    limit = incr.stat().st_size + 4096
    resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    big = "x" * 8192
    c.set("big", big)  # answered (the write happened), but the file cannot take it
    wait_for(lambda: persistence(c)["aof_last_write_status"] == "err", what="the error")
    with pytest.raises(redis.ResponseError,
                       match="^MISCONF Errors writing to the AOF file: File too large"):
        c.set("refused", 1)
    with pytest.raises(redis.ResponseError, match="^MISCONF"):
        c.ping()
    assert c.get("big") == big  # reads go on
    resource.prlimit(s.proc.pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    wait_for(lambda: persistence(c)["aof_last_write_status"] == "ok", what="the recovery")
    assert c.set("accepted", 1) is True
    assert "AOF write error looks solved" in s.log()
    s2 = restart(server_factory, s, *JOURNAL)
    c2 = s2.client()
    assert c2.get("big") == big and c2.get("accepted") == "1" and c2.get("refused") is None


# --- Redis 7.0 reads our directory ------------------------------------------------------------------


def test_redis_loads_our_journal(server_factory, redis_server_factory):
    s = jstart(server_factory)
    c = s.client()
    dataset.fill(c, seed=9)
    more_writes(c)
    c.set("ttl", 1, ex=1000)
    c.sadd("sp", *range(50))
    c.spop("sp", 3)
    c.incrbyfloat("fl", 1.25)
    expected = dataset.digest(c)
    s.stop()
    res = subprocess.run([REDIS_CHECK_AOF, str(jdir(s) / f"{NAME}.manifest")],
                         capture_output=True, text=True, timeout=WAIT_S)
    assert res.returncode == 0 and "All AOF files and manifest are valid" in res.stdout, (
        res.stdout + res.stderr)
    rs = redis_server_factory("--appendonly", "yes", "--enable-debug-command", "yes")
    rs.stop()
    shutil.rmtree(rs.workdir / JDIR, ignore_errors=True)
    shutil.copytree(jdir(s), rs.workdir / JDIR)
    rs.start()
    rc = rs.client()
    assert dataset.digest(rc) == expected
    assert rc.ttl("ttl") > 0
