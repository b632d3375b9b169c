"""memcached items keep their flags across a snapshot and restart, an append-only journal
replay and replication: snapshots carry them in Dragonfly's key-properties record (opcode 220,
written only for items with flags, so other files stay Redis's), the journal as SET's _MCFLAGS
option."""

import subprocess
import time

from pymemcache.client.base import Client

from memcache_support import TextConn, free_port

ITEMS = 200  # keys spread over both shards
SYNC_TIMEOUT_S = 30
POLL_S = 0.05


def start(server_factory, *args, workdir=None):
    port = free_port()
    s = server_factory("--memcached_port", port, *args, workdir=workdir)
    s.mc_port = port
    return s


def mc_client(s):
    return Client(("127.0.0.1", s.mc_port), timeout=10, connect_timeout=10, default_noreply=False)


def fill(mc):
    """Items with flags (some with an expiry, one appended to, one incremented) and without."""
    for i in range(ITEMS):
        flags = 0 if i % 5 == 0 else 1000 + i
        expire = 3600 if i % 3 == 0 else 0
        assert mc.set(f"item:{i}", f"value-{i}".encode(), expire=expire, flags=flags)
    assert mc.append("item:1", b"+tail")
    assert mc.set("counter", b"10", flags=7)
    assert mc.incr("counter", 5) == 15


def expected():
    want = {f"item:{i}": (f"value-{i}".encode(), 0 if i % 5 == 0 else 1000 + i) for i in range(ITEMS)}
    want["item:1"] = (b"value-1+tail", 1001)
    want["counter"] = (b"15", 7)
    return want


def check(s, want=None):
    conn = TextConn(s.mc_port)
    try:
        for key, (value, flags) in (want or expected()).items():
            assert raw_get(conn, key) == (value, flags), key
    finally:
        conn.close()


def raw_get(conn, key):
    """(value, flags) as the server sends them."""
    reply = conn.call(f"get {key}\r\n".encode())
    head, _, rest = reply.partition(b"\r\n")
    parts = head.split()
    assert parts[0] == b"VALUE", reply
    return rest[: int(parts[3])], int(parts[2])


def test_flags_survive_snapshot_and_restart(server_factory):
    s = start(server_factory)
    mc = mc_client(s)
    fill(mc)
    cas_before = mc.gets("item:2")[1]
    mc.close()
    s.stop()
    s2 = start(server_factory, workdir=s.workdir)
    check(s2)
    mc = mc_client(s2)
    # Loaded items get CAS values of their own, and CAS works on them.
    value, cas = mc.gets("item:2")
    assert cas and cas.isdigit()
    assert cas_before is not None
    assert mc.cas("item:2", b"new", cas)
    mc.close()
    check(s2, {"item:2": (b"new", 0)})


def test_snapshot_without_flags_stays_redis_readable(server_factory, tmp_path):
    """Only items with flags get the Dragonfly record: a memcached dataset without flags is
    still a file redis-check-rdb accepts."""
    s = start(server_factory)
    mc = mc_client(s)
    for i in range(50):
        assert mc.set(f"plain:{i}", b"v")
    mc.close()
    c = s.client()
    assert c.execute_command("SAVE")
    out = subprocess.run(
        ["redis-check-rdb", str(s.workdir / "dump.rdb")], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_flags_survive_journal_replay(server_factory):
    s = start(server_factory, "--appendonly", "yes")
    mc = mc_client(s)
    fill(mc)
    mc.close()
    aof = (s.workdir / "appendonlydir").glob("*.incr.aof")
    assert any(b"_MCFLAGS" in p.read_bytes() for p in aof)
    s.kill()  # no shutdown snapshot: the journal alone brings the data back
    s2 = start(server_factory, "--appendonly", "yes", workdir=s.workdir)
    check(s2)


def test_resp_set_mcflags_option(server_factory):
    s = start(server_factory)
    c = s.client()
    assert c.execute_command("SET", "k", "v", "PX", 100000, "_MCFLAGS", 42)
    check(s, {"k": (b"v", 42)})
    assert 0 < c.pttl("k") <= 100000
    for bad in ("-1", "4294967296", "x"):
        try:
            c.execute_command("SET", "k", "v", "_MCFLAGS", bad)
            raise AssertionError("accepted " + bad)
        except Exception as e:  # redis-py raises ResponseError
            assert "not an integer or out of range" in str(e)


def wait_caught_up(master, replica):
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while time.monotonic() < deadline:
        m, r = master.info("replication"), replica.info("replication")
        if r.get("master_link_status") == "up" and r["slave_repl_offset"] == m["master_repl_offset"]:
            return
        time.sleep(POLL_S)
    raise AssertionError("the replica did not catch up")


def test_flags_reach_replicas_by_full_sync_and_stream(server_factory):
    master = start(server_factory)
    mc = mc_client(master)
    fill(mc)  # before the replica exists: full sync
    replica = start(server_factory)
    rc = replica.client()
    assert rc.execute_command("REPLICAOF", "127.0.0.1", master.port) == "OK"
    wait_caught_up(master.client(), rc)
    assert mc.set("later", b"streamed", flags=77)  # after: the write stream
    assert mc.append("item:3", b"+more")
    wait_caught_up(master.client(), rc)
    want = expected()
    want["later"] = (b"streamed", 77)
    want["item:3"] = (b"value-3+more", 1003)
    check(replica, want)
    mc.close()
