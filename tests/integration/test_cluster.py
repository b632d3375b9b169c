"""Cluster mode: --cluster_mode=yes nodes configured by DFLYCLUSTER CONFIG on their admin
port, routed to by redis-cli -c and redis-py's RedisCluster; --cluster_mode=emulated compared
with a real Redis 7.0 cluster node.

Nodes listen on 127.0.0.1 only; their admin ports come from conftest.free_port. Slot migration's
transfer is tested in test_migration.py; here only the configuration's migrations and a
migration pointed at a port that is not the target's admin port.
"""

import json
import random
import re
import socket
import subprocess
import time

import pytest
import redis
import requests
from redis.cluster import ClusterNode, RedisCluster

from conftest import CLI_TIMEOUT, HOST, REDIS_CLI, Client, free_port
from difftest import DiffRunner
from shardkeys import key_slot

SLOTS = 16384
THREE_WAY = [(0, 5460), (5461, 10922), (10923, 16383)]
INVALID = "Invalid cluster configuration."
NOT_CONFIGURED = "CLUSTERDOWN Cluster is not yet configured"
CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
RESTRICTED = "Cannot execute restricted command (admin only)"
BIG_KEYS = 100_000
BATCH = 5_000
CLI_BIG_TIMEOUT = 300.0  # seconds for redis-cli to run 50k commands one by one under ASan
HTTP_TIMEOUT = 10.0
REDIS_READY_POLLS = 200  # a fresh Redis cluster node turns ok within a second or so
REDIS_READY_POLL_S = 0.05


# --- helpers ---------------------------------------------------------------------------------


class Node:
    """A dfly-server in --cluster_mode=yes with an admin port."""

    def __init__(self, server, admin_port):
        self.server = server
        self.admin_port = admin_port
        self.port = server.port
        self.id = server.client().execute_command("CLUSTER", "MYID")

    def client(self):
        return self.server.client()

    def raw(self):
        """A client without redis-py's reply conversions ("OK" stays "OK")."""
        return raw_client(self.server)

    def admin(self, *args):
        """Runs one command on the admin port and returns its reply."""
        c = Client(host=HOST, port=self.admin_port, decode_responses=True, socket_timeout=30)
        try:
            return c.execute_command(*args)
        finally:
            c.close()

    def push(self, cfg):
        text = cfg if isinstance(cfg, str) else json.dumps(cfg)
        return self.admin("DFLYCLUSTER", "CONFIG", text)


def raw_client(server):
    c = server.client()
    c.response_callbacks = {}
    return c


def start_node(server_factory, *extra, workdir=None, threads=2):
    admin = free_port()
    s = server_factory(
        "--cluster_mode=yes", f"--admin_port={admin}", *extra, workdir=workdir, threads=threads
    )
    return Node(s, admin)


def node_json(node, id_key="id"):
    return {id_key: node.id, "ip": HOST, "port": node.port}


def shard(ranges, master, replicas=(), migrations=None):
    s = {
        "slot_ranges": [{"start": a, "end": b} for a, b in ranges],
        "master": node_json(master),
        "replicas": [node_json(r) for r in replicas],
    }
    if migrations is not None:
        s["migrations"] = migrations
    return s


def three_way(nodes):
    return [shard([r], n) for r, n in zip(THREE_WAY, nodes)]


def push_all(nodes, cfg):
    for n in nodes:
        assert n.push(cfg) == "OK"


def owner_index(slot, ranges=THREE_WAY):
    for i, (a, b) in enumerate(ranges):
        if a <= slot <= b:
            return i
    raise AssertionError(slot)


def error_of(client, *args):
    with pytest.raises(redis.ResponseError) as e:
        client.execute_command(*args)
    return str(e.value)


def keys_in(ranges, count, prefix="k"):
    """count distinct keys whose slots fall in ranges."""
    out, i = [], 0
    while len(out) < count:
        k = f"{prefix}:{i}"
        i += 1
        s = key_slot(k)
        if any(a <= s <= b for a, b in ranges):
            out.append(k)
    return out


def scan_all(client):
    return list(client.scan_iter(count=1000))


def cli(port, *args, input=None, timeout=CLI_TIMEOUT):
    """redis-cli -c's output, without its "-> Redirected to slot ..." notes."""
    res = subprocess.run(
        [REDIS_CLI, "-c", "-h", HOST, "-p", str(port), *map(str, args)],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    return "".join(x for x in res.stdout.splitlines(True) if not x.startswith("-> Redirected"))


@pytest.fixture
def three(server_factory):
    nodes = [start_node(server_factory) for _ in range(3)]
    push_all(nodes, three_way(nodes))
    return nodes


# --- before a configuration ------------------------------------------------------------------


def test_unconfigured_node_refuses_keys(server_factory):
    n = start_node(server_factory)
    c = n.client()
    assert error_of(c, "SET", "a", "1") == NOT_CONFIGURED
    assert error_of(c, "GET", "a") == NOT_CONFIGURED
    assert c.ping() is True
    info = c.execute_command("CLUSTER", "INFO")
    assert "cluster_state:fail" in info
    assert "cluster_slots_assigned:0" in info
    for sub in ("SLOTS", "SHARDS", "NODES"):
        assert error_of(c, "CLUSTER", sub) == "Cluster is not yet configured"
    assert re.fullmatch(r"[0-9a-f]{40}", n.id)
    assert c.info("cluster")["cluster_enabled"] == 1


def test_dflycluster_only_on_admin_port(server_factory):
    n = start_node(server_factory)
    c = n.client()
    cfg = json.dumps([shard([(0, SLOTS - 1)], n)])
    assert error_of(c, "DFLYCLUSTER", "CONFIG", cfg) == RESTRICTED
    assert error_of(c, "DFLYCLUSTER", "MYID") == RESTRICTED
    assert error_of(c, "SET", "a", "1") == NOT_CONFIGURED  # the refused config did nothing
    assert n.admin("DFLYCLUSTER", "MYID") == n.id
    assert n.push(cfg) == "OK"
    assert c.set("a", "1") is True


def test_cluster_commands_outside_cluster_mode(server_factory):
    s = server_factory()
    c = s.client()
    for args in (("CLUSTER", "INFO"), ("CLUSTER", "SLOTS"), ("READONLY",), ("ASKING",)):
        assert error_of(c, *args) == "This instance has cluster support disabled"
    assert c.info("cluster")["cluster_enabled"] == 0
    assert c.execute_command("SELECT", "1") is True


# --- a configured cluster --------------------------------------------------------------------


def test_topology_replies(three):
    c = three[0].client()
    slots = c.execute_command("CLUSTER", "SLOTS")
    assert len(slots) == 3
    for (a, b), n, entry in zip(THREE_WAY, three, sorted(slots, key=lambda e: e[0])):
        assert entry[0] == a and entry[1] == b
        assert entry[2][:3] == [HOST, n.port, n.id] and entry[2][3] == []
    nodes = c.execute_command("CLUSTER", "NODES")
    lines = nodes.splitlines()
    assert len(lines) == 3 and nodes.endswith("\n")
    for (a, b), n in zip(THREE_WAY, three):
        flags = "myself,master" if n is three[0] else "master"
        line = f"{n.id} {HOST}:{n.port}@{n.port} {flags} - 0 0 0 connected {a}-{b}"
        assert line in lines
    shards = c.execute_command("CLUSTER", "SHARDS")
    assert len(shards) == 3
    first = shards[0]
    assert first[0] == "slots" and first[1] == [0, 5460] and first[2] == "nodes"
    assert first[3][0] == [
        "id", three[0].id, "port", three[0].port, "ip", HOST, "endpoint", HOST,
        "role", "master", "replication-offset", 0, "health", "online",
    ]  # fmt: skip
    info = c.execute_command("CLUSTER", "INFO")
    assert "cluster_state:ok\r\n" in info and "cluster_known_nodes:3\r\n" in info
    assert "cluster_size:3\r\n" in info and "cluster_current_epoch:1\r\n" in info
    assert c.info("cluster")["cluster_slots_served"] == 5461


def test_moved_targets(three):
    rng = random.Random(7)
    keys = [f"m:{rng.random()}" for _ in range(300)]
    clients = [n.client() for n in three]
    for k in keys:
        slot = key_slot(k)
        owner = owner_index(slot)
        for i, c in enumerate(clients):
            if i == owner:
                assert c.set(k, "v") is True
                assert c.get(k) == "v"
            else:
                want = f"MOVED {slot} {HOST}:{three[owner].port}"
                assert error_of(c, "GET", k) == want
                assert error_of(c, "SET", k, "x") == want


def test_crossslot(three):
    # {t} hashes to the slot of "t"; put the keys on their owner.
    owner = three[owner_index(key_slot("t"))].raw()
    assert owner.execute_command("MSET", "{t}a", "1", "{t}b", "2") == "OK"
    assert owner.execute_command("MGET", "{t}a", "{t}b") == ["1", "2"]
    for args in (("MSET", "a", "1", "b", "2"), ("MGET", "a", "b"), ("DEL", "a", "b")):
        for n in three:
            assert error_of(n.client(), *args) == CROSSSLOT
    # A pipeline (squashed by shard) gets the same answers per command.
    p = owner.pipeline(transaction=False)
    p.mget("{t}a", "{t}b")
    p.mget("a", "b")
    res = p.execute(raise_on_error=False)
    assert res[0] == ["1", "2"] and str(res[1]) == CROSSSLOT


def test_multi_exec(three):
    n0 = three[0]
    c = n0.raw()
    own = keys_in([THREE_WAY[0]], 2, "own")
    foreign = keys_in([THREE_WAY[1]], 1, "far")[0]
    tx = c.pipeline(transaction=True)
    tx.set(own[0], "1")
    tx.set(foreign, "1")
    with pytest.raises(redis.ResponseError) as e:
        tx.execute()
    assert "EXECABORT" in str(e.value) or "MOVED" in str(e.value)
    assert c.execute_command("GET", own[0]) is None
    # Queued commands of two different slots: EXEC answers CROSSSLOT and discards.
    assert key_slot(own[0]) != key_slot(own[1])
    assert c.execute_command("MULTI") == "OK"
    assert c.execute_command("SET", own[0], "1") == "QUEUED"
    assert c.execute_command("SET", own[1], "1") == "QUEUED"
    assert error_of(c, "EXEC") == CROSSSLOT
    assert error_of(c, "EXEC") == "EXEC without MULTI"
    assert c.execute_command("GET", own[0]) is None
    # One slot: runs.
    tag = keys_in([THREE_WAY[0]], 1, "tag")[0]
    tx = n0.client().pipeline(transaction=True)
    tx.set("{%s}1" % tag, "a")
    tx.get("{%s}1" % tag)
    assert tx.execute() == [True, "a"]


def test_select_and_other_dbs_refused(three):
    c = three[0].raw()
    assert error_of(c, "SELECT", "1") == "SELECT is not allowed in cluster mode"
    assert c.execute_command("SELECT", "0") == "OK"
    assert error_of(c, "SELECT", "x") == "value is not an integer or out of range"
    assert error_of(c, "SWAPDB", "0", "1") == "SWAPDB is not allowed in cluster mode"
    k = keys_in([THREE_WAY[0]], 1)[0]
    assert error_of(c, "MOVE", k, "1") == "MOVE is not allowed in cluster mode"
    tag = keys_in([THREE_WAY[0]], 1, "tag")[0]
    msg = "Copying to another database is not allowed in cluster mode"
    assert error_of(c, "COPY", "{%s}a" % tag, "{%s}b" % tag, "DB", "1") == msg


def test_redis_py_and_redis_cli_100k_keys(three):
    """redis-cli -c writes half of the keys, RedisCluster the other half (pipelined); each reads
    what the other wrote; every key ends up on the node that owns its slot."""
    keys = [f"key:{i}" for i in range(BIG_KEYS)]
    half = BIG_KEYS // 2
    # redis-cli -c, started on node 0, follows MOVED; keys grouped by owner keep it from
    # reconnecting for every command.
    by_owner = sorted(keys[:half], key=lambda k: owner_index(key_slot(k)))
    script = "".join(f"SET {k} v:{k}\n" for k in by_owner)
    out = cli(three[0].port, input=script, timeout=CLI_BIG_TIMEOUT)
    assert out.split() == ["OK"] * half
    rc = RedisCluster(host=HOST, port=three[1].port, decode_responses=True, socket_timeout=30)
    try:
        for i in range(half, BIG_KEYS, BATCH):
            p = rc.pipeline()
            for k in keys[i : i + BATCH]:
                p.set(k, f"v:{k}")
            assert all(p.execute())
        for i in range(0, BIG_KEYS, BATCH):
            p = rc.pipeline()
            chunk = keys[i : i + BATCH]
            for k in chunk:
                p.get(k)
            assert p.execute() == [f"v:{k}" for k in chunk]
    finally:
        rc.close()
    back = sorted(keys[half:], key=lambda k: owner_index(key_slot(k)))
    out = cli(three[2].port, input="".join(f"GET {k}\n" for k in back), timeout=CLI_BIG_TIMEOUT)
    assert out.split("\n")[:-1] == [f"v:{k}" for k in back]
    total = 0
    for i, n in enumerate(three):
        c = n.client()
        found = scan_all(c)
        total += len(found)
        assert all(owner_index(key_slot(k)) == i for k in found)
        assert c.dbsize() == len(found)
    assert total == BIG_KEYS


def test_redis_cli_follows_moved_per_command(three):
    rng = random.Random(3)
    keys = [f"cli:{rng.random()}" for _ in range(60)]
    script = "".join(f"SET {k} {k}\nGET {k}\n" for k in keys)
    out = cli(three[1].port, input=script)
    assert out.split() == [x for k in keys for x in ("OK", k)]
    assert cli(three[0].port, "GET", keys[0]).strip() == keys[0]


# --- configuration changes -------------------------------------------------------------------


INVALID_CONFIGS = {
    "gap": lambda n: [shard([(0, 100), (102, SLOTS - 1)], n[0])],
    "overlap": lambda n: [shard([(0, 9000)], n[0]), shard([(8000, SLOTS - 1)], n[1])],
    "missing tail": lambda n: [shard([(0, SLOTS - 2)], n[0])],
    "slot out of range": lambda n: [shard([(0, SLOTS)], n[0])],
    "negative slot": lambda n: [shard([(-1, SLOTS - 1)], n[0])],
    "start after end": lambda n: [shard([(100, 0), (0, SLOTS - 1)], n[0])],
    "duplicate master id": lambda n: [shard([(0, 8191)], n[0]), shard([(8192, SLOTS - 1)], n[0])],
    "replica id of a master": lambda n: [shard([(0, 8191)], n[0], [n[1]]), shard([(8192, SLOTS - 1)], n[1])],
    "empty": lambda n: [],
    "object root": lambda n: {"slot_ranges": []},
    "bad json": lambda n: '[{"slot_ranges": [',
    "not json": lambda n: "hello",
    "port as string": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": n[0].id, "ip": HOST, "port": str(n[0].port)})],
    "port zero": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": n[0].id, "ip": HOST, "port": 0})],
    "port too big": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": n[0].id, "ip": HOST, "port": 65536})],
    "port float": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": n[0].id, "ip": HOST, "port": 6379.5})],
    "start as string": lambda n: [dict(shard([], n[0]), slot_ranges=[{"start": "0", "end": SLOTS - 1}])],
    "ranges not array": lambda n: [dict(shard([], n[0]), slot_ranges={"start": 0, "end": SLOTS - 1})],
    "master missing": lambda n: [{"slot_ranges": [{"start": 0, "end": SLOTS - 1}], "replicas": []}],
    "replicas missing": lambda n: [{"slot_ranges": [{"start": 0, "end": SLOTS - 1}], "master": node_json(n[0])}],
    "id as number": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": 5, "ip": HOST, "port": n[0].port})],
    "id with space": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": "a b", "ip": HOST, "port": n[0].port})],
    "ip missing": lambda n: [dict(shard([(0, SLOTS - 1)], n[0]), master={"id": n[0].id, "port": n[0].port})],
    "duplicate member": lambda n: '[{"slot_ranges": [], "slot_ranges": [{"start": 0, "end": 16383}], "master": {"id": "x", "ip": "h", "port": 1}, "replicas": []}]',
    "migration of foreign slots": lambda n: [
        shard([(0, 8191)], n[0], migrations=[dict(node_json(n[1], "node_id"), slot_ranges=[{"start": 9000, "end": 9001}])]),
        shard([(8192, SLOTS - 1)], n[1]),
    ],
    "migration to unknown node": lambda n: [
        shard([(0, SLOTS - 1)], n[0], migrations=[{"node_id": "nobody", "ip": HOST, "port": 1, "slot_ranges": [{"start": 0, "end": 1}]}]),
    ],
    "migration not an array": lambda n: [shard([(0, SLOTS - 1)], n[0], migrations={})],
}  # fmt: skip


def test_invalid_configs_keep_the_old_one(server_factory):
    nodes = [start_node(server_factory) for _ in range(2)]
    good = [shard([(0, 8191)], nodes[0]), shard([(8192, SLOTS - 1)], nodes[1])]
    push_all(nodes, good)
    c = nodes[0].client()
    slots_before = c.execute_command("CLUSTER", "SLOTS")
    k_own = keys_in([(0, 8191)], 1)[0]
    k_far = keys_in([(8192, SLOTS - 1)], 1)[0]
    assert c.set(k_own, "1") is True
    for name, make in INVALID_CONFIGS.items():
        with pytest.raises(redis.ResponseError) as e:
            nodes[0].push(make(nodes))
        assert str(e.value) == INVALID, name
        assert c.execute_command("CLUSTER", "SLOTS") == slots_before, name
        assert c.get(k_own) == "1", name
        assert error_of(c, "GET", k_far).startswith(f"MOVED {key_slot(k_far)} "), name
    assert "cluster_current_epoch:1\r\n" in c.execute_command("CLUSTER", "INFO")
    assert "DFLYCLUSTER CONFIG refused" in nodes[0].server.log()


def test_keys_dropped_when_slots_move_away(server_factory):
    a, b = start_node(server_factory), start_node(server_factory)
    # First b holds nothing (a shard with no slots), then it gets the upper half.
    push_all([a, b], [shard([(0, SLOTS - 1)], a), shard([], b)])
    ca = a.client()
    keys = [f"d:{i}" for i in range(3000)]
    p = ca.pipeline(transaction=False)
    for k in keys:
        p.set(k, "x")
    p.execute()
    lost = [k for k in keys if key_slot(k) >= 8192]
    kept = len(keys) - len(lost)
    lost_slot = key_slot(lost[0])
    assert ca.execute_command("CLUSTER", "COUNTKEYSINSLOT", lost_slot) >= 1
    push_all([a, b], [shard([(0, 8191)], a), shard([(8192, SLOTS - 1)], b)])
    assert ca.dbsize() == kept
    assert ca.execute_command("CLUSTER", "COUNTKEYSINSLOT", lost_slot) == 0
    assert ca.execute_command("CLUSTER", "GETKEYSINSLOT", lost_slot, 10) == []
    assert b.client().dbsize() == 0  # no migration: the keys are not moved, only dropped
    dropped = len(lost)
    assert ca.info("cluster")["cluster_keys_dropped"] == dropped
    assert f"dropped {dropped} keys" in a.server.log()


def test_first_config_drops_keys_loaded_at_start(server_factory):
    a = start_node(server_factory)
    a.push([shard([(0, SLOTS - 1)], a)])
    c = a.client()
    keys = [f"r:{i}" for i in range(500)]
    p = c.pipeline(transaction=False)
    for k in keys:
        p.set(k, k)
    p.execute()
    c.execute_command("SAVE")
    a.server.stop()
    # Restarted on its files: the snapshot loads, and no configuration is in force yet.
    b = start_node(server_factory, workdir=a.server.workdir)
    assert b.id == a.id
    other = start_node(server_factory)
    b.push([shard([(0, 8191)], b), shard([(8192, SLOTS - 1)], other)])
    want = sorted(k for k in keys if key_slot(k) <= 8191)
    assert sorted(scan_all(b.client())) == want


def test_node_id_persisted_and_flag(server_factory):
    a = start_node(server_factory)
    stored = (a.server.workdir / "nodes.id").read_text().strip()
    assert stored == a.id
    a.server.stop()
    again = start_node(server_factory, workdir=a.server.workdir)
    assert again.id == a.id
    named = start_node(server_factory, "--cluster_node_id=node-A1")
    assert named.id == "node-A1"
    assert named.admin("DFLYCLUSTER", "MYID") == "node-A1"


def test_counters_getslotinfo_flushslots(server_factory):
    n = start_node(server_factory)
    n.push([shard([(0, SLOTS - 1)], n)])
    c = n.client()
    k = "counted"
    slot = key_slot(k)
    c.set(k, "1")
    c.set(k, "2")
    for _ in range(3):
        c.get(k)
    p = c.pipeline(transaction=False)  # the squashed pipeline path counts too
    p.get(k)
    p.get(k)
    p.execute()
    tx = c.pipeline(transaction=True)
    tx.get(k)
    tx.execute()
    info = n.admin("DFLYCLUSTER", "GETSLOTINFO", "SLOTS", slot, (slot + 1) % SLOTS)
    assert info[0] == [slot, "key_count", 1, "total_reads", 6, "total_writes", 2]
    assert info[1][0] == (slot + 1) % SLOTS and info[1][2] == 0
    c2 = Client(host=HOST, port=n.admin_port, decode_responses=True)
    try:
        assert error_of(c2, "DFLYCLUSTER", "GETSLOTINFO", "SLOTS", SLOTS) == "Invalid slot id"
        assert error_of(c2, "DFLYCLUSTER", "GETSLOTINFO", "KEYS", 1) == "syntax error"
    finally:
        c2.close()
    # Key counts follow adds, deletes, expiry and flushes.
    tagged = [f"{{{k}}}:{i}" for i in range(50)]
    c.mset({t: "v" for t in tagged})
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 51
    got = c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 20)
    assert len(got) == 20 and all(key_slot(g) == slot for g in got)
    assert sorted(c.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)) == sorted(
        tagged + [k]
    )
    c.delete(*tagged[:10])
    c.pexpire(tagged[10], 1)
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) in (40, 41)
    assert n.admin("DFLYCLUSTER", "FLUSHSLOTS", slot, slot) == "OK"
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    assert c.exists(k) == 0
    c.set("other", "1")
    c.flushall()
    assert c.execute_command("CLUSTER", "COUNTKEYSINSLOT", key_slot("other")) == 0


def test_readonly_replica_reads(server_factory):
    master, replica = start_node(server_factory), start_node(server_factory)
    push_all([master, replica], [shard([(0, SLOTS - 1)], master, [replica])])
    c = replica.raw()
    # The configuration makes it a replica: it answers -LOADING until its first sync is done.
    deadline = time.time() + 30
    while replica.client().info("replication").get("master_link_status") != "up":
        assert time.time() < deadline, "the replica did not sync"
        time.sleep(0.05)
    slot = key_slot("r")
    moved = f"MOVED {slot} {HOST}:{master.port}"
    assert error_of(c, "GET", "r") == moved
    assert c.execute_command("READONLY") == "OK"
    assert c.execute_command("GET", "r") is None  # served here: this node replicates the slot's master
    assert error_of(c, "SET", "r", "1") == moved
    assert c.execute_command("READWRITE") == "OK"
    assert error_of(c, "GET", "r") == moved
    assert c.execute_command("READONLY") == "OK"
    assert c.execute_command("RESET") == "RESET"  # RESET forgets READONLY, as in Redis
    assert error_of(c, "GET", "r") == moved
    line = [x for x in c.execute_command("CLUSTER", "NODES").splitlines() if replica.id in x][0]
    assert line.split()[2:4] == ["myself,slave", master.id]


def test_migration_status(server_factory):
    a, b = start_node(server_factory), start_node(server_factory)
    # The migration names b's client port: the transfer needs its admin port, so it fails.
    mig = [dict(node_json(b, "node_id"), slot_ranges=[{"start": 0, "end": 99}])]
    push_all([a, b], [shard([(0, 8191)], a, migrations=mig), shard([(8192, SLOTS - 1)], b)])
    status = "SLOT-MIGRATION-STATUS"
    deadline = time.time() + 30
    while a.admin("DFLYCLUSTER", status)[0][2] != "ERROR" and time.time() < deadline:
        time.sleep(0.05)
    row = a.admin("DFLYCLUSTER", status)
    assert row[0][:3] == ["out", b.id, "ERROR"] and "admin only" in row[0][4]
    assert a.admin("DFLYCLUSTER", status, b.id) == row
    assert a.admin("DFLYCLUSTER", status, "someone") == "NO_STATE"
    # The target never heard from the source: still waiting for it.
    assert b.admin("DFLYCLUSTER", status) == [["in", a.id, "CONNECTING", 0, "0"]]
    info = a.client().info("cluster")
    assert info["cluster_migrations_out"] == 1 and info["cluster_migrations_failed"] == 1
    # Without migrations there is no state.
    push_all([a, b], [shard([(0, 8191)], a), shard([(8192, SLOTS - 1)], b)])
    assert a.admin("DFLYCLUSTER", status) == "NO_STATE"
    assert b.admin("DFLYCLUSTER", status) == "NO_STATE"


def test_scripts_touch_local_keys_only(three):
    own = keys_in([THREE_WAY[0]], 1, "s")[0]
    far = keys_in([THREE_WAY[1]], 1, "s")[0]
    c = three[0].client()
    assert c.eval("return redis.call('SET', KEYS[1], 'v')", 1, own) == "OK"
    err = error_of(c, "EVAL", "return redis.call('GET', ARGV[1])", 0, far)
    assert "Script attempted to access a non local key in a cluster node" in err
    assert error_of(c, "EVAL", "return 1", 1, far) == f"MOVED {key_slot(far)} {HOST}:{three[1].port}"


def test_info_and_metrics(three):
    c = three[0].client()
    info = c.info("cluster")
    assert info["cluster_enabled"] == 1 and info["cluster_state"] == "ok"
    assert info["cluster_node_id"] == three[0].id
    text = requests.get(f"http://{HOST}:{three[0].port}/metrics", timeout=HTTP_TIMEOUT).text
    assert "\ndragonfly_cluster_state 1\n" in text
    assert "\ndragonfly_cluster_slots_served 5461\n" in text


def test_unconfigured_metrics(server_factory):
    n = start_node(server_factory)
    text = requests.get(f"http://{HOST}:{n.port}/metrics", timeout=HTTP_TIMEOUT).text
    assert "\ndragonfly_cluster_state 0\n" in text


# --- emulated mode ---------------------------------------------------------------------------


def test_emulated_with_redis_cluster(server_factory):
    s = server_factory("--cluster_mode=emulated")
    c = s.client()
    slots = c.execute_command("CLUSTER", "SLOTS")
    myid = c.execute_command("CLUSTER", "MYID")
    assert slots == [[0, SLOTS - 1, [HOST, s.port, myid, []]]]
    nodes = c.execute_command("CLUSTER", "NODES")
    assert nodes == f"{myid} {HOST}:{s.port}@{s.port} myself,master - 0 0 0 connected 0-16383\n"
    rc = RedisCluster(startup_nodes=[ClusterNode(HOST, s.port)], decode_responses=True)
    try:
        p = rc.pipeline()
        for i in range(2000):
            p.set(f"e:{i}", i)
        assert all(p.execute())
        assert rc.get("e:1999") == "1999"
        assert rc.incr("e:1") == 2
    finally:
        rc.close()
    assert c.dbsize() == 2000
    assert error_of(c, "SELECT", "1") == "SELECT is not allowed in cluster mode"
    assert error_of(c, "MSET", "a", "1", "b", "2") == CROSSSLOT
    assert error_of(s.client(), "DFLYCLUSTER", "MYID") == RESTRICTED
    assert cli(s.port, "GET", "e:5").strip() == "5"
    hello = raw_client(s).execute_command("HELLO", "2")
    assert hello[hello.index("mode") + 1] == "cluster"


def test_emulated_announce_ip(server_factory):
    s = server_factory("--cluster_mode=emulated", "--cluster_announce_ip=10.1.2.3")
    slots = s.client().execute_command("CLUSTER", "SLOTS")
    assert slots[0][2][:2] == ["10.1.2.3", s.port]


REDIS_CLUSTER_PORT_MAX = 55535
LOW_PORT_TRIES = 100


def low_free_port():
    """A free 127.0.0.1 port that leaves room for Redis's cluster bus (port + 10000)."""
    for _ in range(LOW_PORT_TRIES):
        port = random.randrange(20000, REDIS_CLUSTER_PORT_MAX)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                sock2 = socket.socket()
                try:
                    sock2.bind(("127.0.0.1", port + 10000))
                finally:
                    sock2.close()
            except OSError:
                continue
        return port
    raise RuntimeError("no free port below 55535")


def redis_cluster_node(redis_server_factory):
    """A real Redis 7.0 cluster node that owns every slot."""
    # Redis's cluster bus listens on port + 10000, so its port must be at most 55535.
    r = redis_server_factory(
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        port=low_free_port(),
    )  # fmt: skip
    c = r.client()
    c.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, SLOTS - 1)
    for _ in range(REDIS_READY_POLLS):
        if "cluster_state:ok" in c.execute_command("CLUSTER", "INFO"):
            return r
        time.sleep(REDIS_READY_POLL_S)
    raise AssertionError("redis cluster node did not become ok")


def test_keyslot_matches_redis_for_every_key_length(server_factory, redis_server_factory):
    """CLUSTER KEYSLOT against Redis for keys of 0 to 64 bytes (the CRC16 takes four bytes at a
    time, then one at a time: every split), binary bytes and hash tags included."""
    s = server_factory("--cluster_mode=emulated")
    ours, ref = s.client(decode_responses=False), redis_cluster_node(redis_server_factory).client()
    rng = random.Random(1316)
    keys = [bytes(rng.randrange(256) for _ in range(n)) for n in range(65) for _ in range(3)]
    keys += [b"{" + k + b"}x" for k in keys[:60]] + [b"123456789", b"{}", b"{a", b"a}{b}"]
    for k in keys:
        assert ours.execute_command("CLUSTER", "KEYSLOT", k) == ref.execute_command(
            "CLUSTER", "KEYSLOT", k
        ), k
    assert ours.execute_command("CLUSTER", "KEYSLOT", b"123456789") == 0x31C3  # XMODEM's check


def test_emulated_matches_redis(server_factory, redis_server_factory):
    s = server_factory("--cluster_mode=emulated")
    ref = redis_cluster_node(redis_server_factory)
    d = DiffRunner(s, ref)
    d.run("CLUSTER", "INFO")
    for args in (
        ("SELECT", "1"), ("SELECT", "0"), ("SELECT", "x"), ("MOVE", "a", "1"), ("SWAPDB", "0", "1"),
        ("COPY", "{a}1", "{a}2", "DB", "1"), ("COPY", "{a}1", "{a}2", "DB", "x"),
        ("MSET", "a", "1", "b", "2"), ("MGET", "a", "b"), ("DEL", "a", "b"),
        ("MSET", "{a}1", "1", "{a}2", "2"), ("SUNIONSTORE", "{a}d", "{a}1", "b"),
        ("CLUSTER", "KEYSLOT", "foo"), ("CLUSTER", "KEYSLOT", "{user1000}.following"),
        ("CLUSTER", "COUNTKEYSINSLOT", key_slot("{a}1")), ("CLUSTER", "COUNTKEYSINSLOT", SLOTS),
        ("CLUSTER", "COUNTKEYSINSLOT", -1), ("CLUSTER", "COUNTKEYSINSLOT", "x"),
        ("CLUSTER", "GETKEYSINSLOT", SLOTS, 1), ("CLUSTER", "GETKEYSINSLOT", 1, -1),
        ("CLUSTER", "GETKEYSINSLOT", 1, "x"), ("CLUSTER", "GETKEYSINSLOT", 1, 0),
        ("CLUSTER", "KEYSLOT"), ("CLUSTER", "INFO", "x"), ("CLUSTER", "MYID", "x"),
        ("CLUSTER", "FOO"), ("READONLY",), ("READWRITE",), ("ASKING",), ("READONLY", "x"),
        ("EVAL", "return 1", 2, "a", "b"),
    ):  # fmt: skip
        d.run(*args)
    d.run("CLUSTER", "GETKEYSINSLOT", key_slot("{a}1"), 10, unordered=True)
    d.run("MULTI")
    d.run("SET", "a", "1")
    d.run("SET", "b", "1")
    d.run("EXEC")
    d.run("EXEC")
    d.run("MULTI")
    d.run("MGET", "a", "b")
    d.run("EXEC")
    # The same shapes, ids and addresses aside (a lone Redis node does not know its own ip).
    mine = s.client(decode_responses=False).execute_command("CLUSTER", "SLOTS")
    theirs = ref.client(decode_responses=False).execute_command("CLUSTER", "SLOTS")
    assert len(mine) == len(theirs) == 1
    assert mine[0][:2] == theirs[0][:2] and len(mine[0][2]) == len(theirs[0][2]) == 4
    assert mine[0][2][3] == theirs[0][2][3] == []
    mine = s.client().execute_command("CLUSTER", "SHARDS")
    theirs = ref.client().execute_command("CLUSTER", "SHARDS")
    assert [x for i, x in enumerate(mine[0][3][0]) if i % 2 == 0] == [
        x for i, x in enumerate(theirs[0][3][0]) if i % 2 == 0
    ]
    assert mine[0][:3] == theirs[0][:3]
    pattern = r"[0-9a-f]{40} [0-9.]*:\d+@\d+ myself,master - 0 0 0 connected 0-16383\n"
    assert re.fullmatch(pattern, s.client().execute_command("CLUSTER", "NODES"))
    assert re.fullmatch(pattern, ref.client().execute_command("CLUSTER", "NODES"))
