"""Cluster slot migration: a configuration with `migrations` makes the source stream the keys of
those slots to the target's admin port while both serve; SLOT-MIGRATION-STATUS reports it on
both sides; the final configuration flips ownership. Checked key by key against what a
RedisCluster client wrote, under concurrent writes, and with a target that dies mid-way.
"""

import json
import random
import threading
import time

import pytest
import redis
import requests
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, Client, free_port
from dataset import key_value
from shardkeys import key_slot

SLOTS = 16384
THREE_WAY = [(0, 5460), (5461, 10922), (10923, 16383)]
MOVING = (0, 2999)  # the slots node 0 hands to node 1
STATUS = "SLOT-MIGRATION-STATUS"
FILL_STRINGS = 15_000
FILL_EACH = 1_500  # hashes, lists, sets and sorted sets each
MEMBERS = 8
BIG_MEMBERS = 300  # past the listpack thresholds
TTL_S = 3600
WAIT_S = 120.0  # a migration of ~21k keys under ASan with writes going on
POLL_S = 0.05
WRITER_AFTER_FLIP = 300  # writes after the final configuration, through the new owner
HTTP_TIMEOUT = 10.0


class Node:
    def __init__(self, server, admin_port):
        self.server = server
        self.admin_port = admin_port
        self.port = server.port
        self.id = server.client().execute_command("CLUSTER", "MYID")

    def client(self):
        return self.server.client()

    def admin(self, *args):
        c = Client(host=HOST, port=self.admin_port, decode_responses=True, socket_timeout=30)
        try:
            return c.execute_command(*args)
        finally:
            c.close()

    def push(self, cfg):
        return self.admin("DFLYCLUSTER", "CONFIG", json.dumps(cfg))

    def status(self):
        return self.admin("DFLYCLUSTER", STATUS)


def start_node(server_factory, threads=2):
    admin = free_port()
    s = server_factory("--cluster_mode=yes", f"--admin_port={admin}", threads=threads)
    return Node(s, admin)


def node_json(node):
    return {"id": node.id, "ip": HOST, "port": node.port}


def migration(target, ranges):
    return {
        "node_id": target.id,
        "ip": HOST,
        "port": target.admin_port,
        "slot_ranges": [{"start": a, "end": b} for a, b in ranges],
    }


def shard(ranges, master, migrations=None, replicas=()):
    s = {
        "slot_ranges": [{"start": a, "end": b} for a, b in ranges],
        "master": node_json(master),
        "replicas": [node_json(r) for r in replicas],
    }
    if migrations:
        s["migrations"] = migrations
    return s


def push_all(nodes, cfg):
    for n in nodes:
        assert n.push(cfg) == "OK"


def initial(nodes):
    return [shard([r], n) for r, n in zip(THREE_WAY, nodes)]


def migrating(nodes, target=None):
    """The initial layout with node 0 moving MOVING to target (nodes[1], or an extra node that
    joins as a master without slots)."""
    target = target or nodes[1]
    cfg = initial(nodes)
    if target not in nodes:
        cfg.append(shard([], target))
    cfg[0]["migrations"] = [migration(target, [MOVING])]
    return cfg


def final(nodes):
    a, b = THREE_WAY[0], THREE_WAY[1]
    return [
        shard([(MOVING[1] + 1, a[1])], nodes[0]),
        shard([MOVING, b], nodes[1]),
        shard([THREE_WAY[2]], nodes[2]),
    ]


def cluster_client(node):
    return RedisCluster(
        startup_nodes=[ClusterNode(HOST, node.port)], decode_responses=True, socket_timeout=30
    )


def wait_for(pred, what, timeout=WAIT_S):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def state_of(node, peer):
    rows = node.status()
    if rows == "NO_STATE":
        return None
    for row in rows:
        if row[1] == peer.id:
            return row
    return None


def wait_state(node, peer, state):
    def check():
        row = state_of(node, peer)
        if row and row[2] == "ERROR" and state != "ERROR":
            raise AssertionError(f"migration failed: {row}")
        return row if row and row[2] == state else None

    return wait_for(check, f"{state} on {node.id}")


# --- the data -----------------------------------------------------------------------------


class Model:
    """What the cluster should hold: key -> (type, comparable value)."""

    def __init__(self):
        self.keys = {}

    def check(self, rc):
        wrong = []
        for k, want in self.keys.items():
            got = key_value(rc, k)
            if got != want:
                wrong.append((k, want, got))
        assert not wrong, f"{len(wrong)} keys differ, e.g. {wrong[:3]}"


def fill(rc, model, rnd):
    """20k+ keys of every type spread over all slots, some with a TTL."""
    p = rc.pipeline()
    for i in range(FILL_STRINGS):
        k = f"s:{i}"
        if i % 3 == 0:
            v = str(rnd.randrange(-(10**9), 10**9))
        else:
            v = "v" * rnd.randrange(1, 80)
        if i % 10 == 0:
            p.set(k, v, ex=TTL_S)
        else:
            p.set(k, v)
        model.keys[k] = ("string", v)
    for i in range(FILL_EACH):
        n = BIG_MEMBERS if i % 100 == 0 else MEMBERS
        h = {f"f{j}": f"v{j}:{i}" for j in range(n)}
        p.hset(f"h:{i}", mapping=h)
        model.keys[f"h:{i}"] = ("hash", h)
        lst = [f"e{j}" for j in range(n)]
        p.rpush(f"l:{i}", *lst)
        model.keys[f"l:{i}"] = ("list", lst)
        st = sorted({str(j * 7 + i) for j in range(n)})
        p.sadd(f"set:{i}", *st)
        model.keys[f"set:{i}"] = ("set", st)
        z = {f"m{j}": float(j) for j in range(n)}
        p.zadd(f"z:{i}", z)
        model.keys[f"z:{i}"] = ("zset", sorted(z.items(), key=lambda x: (x[1], x[0])))
    p.execute()


# Hash tags whose slots move: multi-key commands and scripts on one slot.
MOVING_TAGS = [t for t in (f"t{i}" for i in range(400)) if MOVING[0] <= key_slot(t) <= MOVING[1]]
MSET_KEYS = 80  # past the journal's on-stack key list
SCRIPT = "redis.call('INCR', KEYS[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])"


def one_write(rc, model, rnd, i):
    """A random write of a random type; model follows."""
    kind = rnd.randrange(8)
    if kind == 6:
        tag = rnd.choice(MOVING_TAGS)
        kv = {f"{{{tag}}}m{j}": f"{i}:{j}" for j in range(MSET_KEYS)}
        rc.mset(kv)
        model.keys.update({k: ("string", v) for k, v in kv.items()})
        return
    if kind == 7:
        tag = rnd.choice(MOVING_TAGS)
        cnt, lst = f"{{{tag}}}c", f"{{{tag}}}l"
        n = rc.eval(SCRIPT, 2, cnt, lst, f"x{i}")
        model.keys[cnt] = ("string", str(int(model.keys.get(cnt, ("string", "0"))[1]) + 1))
        model.keys.setdefault(lst, ("list", []))[1].append(f"x{i}")
        assert n == len(model.keys[lst][1])
        return
    n = rnd.randrange(FILL_EACH)
    if kind == 0:
        k = f"s:{rnd.randrange(FILL_STRINGS)}"
        v = f"w{i}"
        rc.set(k, v)
        model.keys[k] = ("string", v)
    elif kind == 1:
        k = f"new:{i}"
        rc.set(k, i)
        model.keys[k] = ("string", str(i))
    elif kind == 2:
        k = f"h:{n}"
        rc.hset(k, "w", i)
        model.keys[k][1]["w"] = str(i)
    elif kind == 3:
        k = f"l:{n}"
        rc.rpush(k, f"w{i}")
        model.keys[k][1].append(f"w{i}")
    elif kind == 4:
        k = f"cnt:{n % 50}"
        got = rc.incr(k)
        old = int(model.keys.get(k, ("string", "0"))[1])
        assert got == old + 1, (k, got, old)
        model.keys[k] = ("string", str(got))
    else:
        k = f"s:{rnd.randrange(FILL_STRINGS)}"
        if rc.delete(k):
            model.keys.pop(k, None)
        else:
            assert k not in model.keys


class Writer(threading.Thread):
    """Writes through its own RedisCluster client until stopped."""

    def __init__(self, node, model, seed):
        super().__init__(daemon=True)
        self.rc = cluster_client(node)
        self.model = model
        self.rnd = random.Random(seed)
        self.stop = threading.Event()
        self.count = 0
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                one_write(self.rc, self.model, self.rnd, self.count)
                self.count += 1
        except Exception as e:  # reported by the test
            self.error = e

    def finish(self, more=0):
        target = self.count + more
        wait_for(lambda: self.count >= target or self.error, "more writes", timeout=60)
        self.stop.set()
        self.join(30)
        assert self.error is None, repr(self.error)


@pytest.fixture
def nodes(server_factory):
    ns = [start_node(server_factory) for _ in range(3)]
    push_all(ns, initial(ns))
    return ns


def keys_in_moving(node):
    c = node.client()
    slots = range(MOVING[0], MOVING[1] + 1)
    return sum(c.execute_command("CLUSTER", "COUNTKEYSINSLOT", s) for s in slots)


# --- tests ------------------------------------------------------------------------------------


def test_status_shape(server_factory):
    a, b = start_node(server_factory), start_node(server_factory)
    assert a.status() == "NO_STATE"
    cfg = [shard([(0, 8191)], a, [migration(b, [(0, 99)])]), shard([(8192, SLOTS - 1)], b)]
    push_all([b, a], cfg)
    out = wait_state(a, b, "FINISHED")
    assert out == ["out", b.id, "FINISHED", 0, "0"]
    assert wait_state(b, a, "FINISHED") == ["in", a.id, "FINISHED", 0, "0"]
    assert a.admin("DFLYCLUSTER", STATUS, b.id) == [out]
    assert a.admin("DFLYCLUSTER", STATUS, "someone") == "NO_STATE"
    # Only on the admin port.
    with pytest.raises(redis.ResponseError, match="admin only"):
        a.client().execute_command("DFLYMIGRATE", "ACK", "x")
    with pytest.raises(redis.ResponseError, match="admin only"):
        a.client().execute_command("DFLYCLUSTER", STATUS)
    info = a.client().info("cluster")
    assert info["cluster_migrations_finished"] == 1
    assert info["cluster_migration_0"]["state"] == "FINISHED"
    # The final configuration ends it on both sides.
    push_all([b, a], [shard([(100, 8191)], a), shard([(0, 99), (8192, SLOTS - 1)], b)])
    assert a.status() == "NO_STATE" and b.status() == "NO_STATE"


def test_migration_under_writes(nodes):
    a, b, c = nodes
    rnd = random.Random(7)
    model = Model()
    rc = cluster_client(a)
    fill(rc, model, rnd)
    moving = keys_in_moving(a)
    assert moving > 3000  # the range holds a good part of the data
    writer = Writer(a, model, seed=11)
    writer.start()
    wait_for(lambda: writer.count > 200 or writer.error, "writes before the migration")
    push_all([b, c, a], migrating(nodes))
    out = wait_state(a, b, "FINISHED")
    assert out[3] >= moving - 100  # the keys as they were (a few may be deleted meanwhile)
    assert wait_state(b, a, "FINISHED")[4] == "0"
    # Finished: the source redirects with ASK, the target serves after ASKING only.
    k = next(k for k in model.keys if k.startswith("s:") and MOVING[0] <= key_slot(k) <= MOVING[1])
    with pytest.raises(redis.ResponseError) as e:
        a.client().get(k)
    assert str(e.value) == f"ASK {key_slot(k)} {HOST}:{b.port}"
    raw = Client(host=HOST, port=b.port, decode_responses=True)
    with pytest.raises(redis.ResponseError, match="MOVED"):
        raw.get(k)
    raw.execute_command("ASKING")
    assert raw.get(k) == model.keys[k][1]
    raw.close()
    # Metrics and INFO report it.
    text = requests.get(f"http://{HOST}:{a.port}/metrics", timeout=HTTP_TIMEOUT).text
    sample = f'dragonfly_cluster_migration_keys{{direction="out",node="{b.id}",state="FINISHED"}}'
    assert sample in text
    assert a.client().info("cluster")["cluster_migration_keys_sent"] >= out[3]
    push_all([b, c, a], final(nodes))
    writer.finish(more=WRITER_AFTER_FLIP)
    assert keys_in_moving(a) == 0  # the source dropped them
    assert keys_in_moving(b) > 0
    model.check(cluster_client(c))
    total = sum(n.client().dbsize() for n in nodes)
    assert total == len(model.keys)


def test_target_dies_then_retry(nodes, server_factory):
    a, b, c = nodes
    rc = cluster_client(a)
    model = Model()
    fill(rc, model, random.Random(3))
    # A target that dies before the transfer ends: the source reports ERROR with the reason.
    doomed = start_node(server_factory)
    cfg = migrating(nodes, target=doomed)
    doomed.push(cfg)
    doomed.server.kill()
    push_all([b, c, a], cfg)
    row = wait_state(a, doomed, "ERROR")
    assert row[0] == "out" and row[4] != "0"
    # Meanwhile the slots are served by the source as before.
    k = next(k for k in model.keys if MOVING[0] <= key_slot(k) <= MOVING[1])
    assert key_value(rc, k) == model.keys[k]
    # Pushing the configuration again retries (and fails again: the node is gone).
    a.push(cfg)
    wait_state(a, doomed, "ERROR")
    wait_for(lambda: a.client().info("cluster")["cluster_migrations_failed"] == 2, "a retry")
    # A migration to a live node then succeeds, writes going on.
    writer = Writer(a, model, seed=5)
    writer.start()
    push_all([b, c, a], migrating(nodes))
    wait_state(a, b, "FINISHED")
    push_all([b, c, a], final(nodes))
    writer.finish(more=WRITER_AFTER_FLIP)
    model.check(cluster_client(b))
    assert sum(n.client().dbsize() for n in nodes) == len(model.keys)


def test_target_killed_mid_transfer(nodes, server_factory):
    a, b, c = nodes
    rc = cluster_client(a)
    model = Model()
    fill(rc, model, random.Random(9))
    doomed = start_node(server_factory)
    cfg = migrating(nodes, target=doomed)
    doomed.push(cfg)
    # The target takes the keys but cannot apply them (writes paused): the transfer is stuck
    # mid-way when the target dies.
    assert doomed.client().execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
    push_all([b, c, a], cfg)
    wait_for(lambda: (state_of(a, doomed) or [0, 0, ""])[2] == "SYNC", "SYNC")
    wait_for(lambda: state_of(a, doomed)[3] > 0, "keys on their way")
    doomed.server.kill()
    row = wait_state(a, doomed, "ERROR")
    # EOF or a reset, depending on what the kernel still had queued.
    reason = row[4]
    assert row[0] == "out" and ("closed the connection" in reason or "reset" in reason), row
    # The source serves the slots again, with nothing lost, and takes writes to them.
    k = next(k for k in model.keys if MOVING[0] <= key_slot(k) <= MOVING[1])
    rc.set(k, "after")
    model.keys[k] = ("string", "after")
    model.check(rc)
    assert keys_in_moving(a) > 0


def test_flushall_during_migration(nodes, server_factory):
    a, b, c = nodes
    rc = cluster_client(a)
    model = Model()
    fill(rc, model, random.Random(13))
    # The target applies nothing until it is resumed: the flush happens mid-transfer.
    assert b.client().execute_command("CLIENT", "PAUSE", 60_000, "WRITE")
    push_all([b, c, a], migrating(nodes))
    wait_for(lambda: (state_of(a, b) or [0, 0, "", 0])[3] > 0, "keys on their way")
    a.client().flushall()
    first, last = THREE_WAY[0]
    model.keys = {k: v for k, v in model.keys.items() if not first <= key_slot(k) <= last}
    after = [f"after:{i}" for i in range(2000) if MOVING[0] <= key_slot(f"after:{i}") <= MOVING[1]]
    for i, k in enumerate(after):  # b is paused: only slots a serves
        rc.set(k, i)
        model.keys[k] = ("string", str(i))
    assert b.client().execute_command("CLIENT", "UNPAUSE")
    wait_state(a, b, "FINISHED")
    push_all([b, c, a], final(nodes))
    model.check(cluster_client(c))
    assert sum(n.client().dbsize() for n in nodes) == len(model.keys)


def repl_offset(node, field):
    return node.client().info("replication")[field]


def test_source_replica_follows(server_factory):
    """The journal feeds the replication stream and the migration at the same time: a replica
    of the source stays an exact copy through the migration and the flip."""
    nodes = [start_node(server_factory) for _ in range(3)]
    a, b, c = nodes
    rep_a = start_node(server_factory)
    everyone = [rep_a, b, c, a]

    def with_replica(cfg):
        cfg[0]["replicas"] = [node_json(rep_a)]
        return cfg

    push_all(everyone, with_replica(initial(nodes)))
    wait_for(lambda: repl_offset(rep_a, "master_link_status") == "up", "replica link")
    rc = cluster_client(a)
    model = Model()
    fill(rc, model, random.Random(21))
    writer = Writer(a, model, seed=23)
    writer.start()
    push_all(everyone, with_replica(migrating(nodes)))
    wait_state(a, b, "FINISHED")
    push_all(everyone, with_replica(final(nodes)))
    writer.finish(more=WRITER_AFTER_FLIP)
    model.check(cluster_client(c))
    # The replica caught up holds exactly the source's slots now.
    wait_for(
        lambda: repl_offset(rep_a, "slave_repl_offset") == repl_offset(a, "master_repl_offset"),
        "the replica to catch up",
    )
    mine = [k for k in model.keys if MOVING[1] < key_slot(k) <= THREE_WAY[0][1]]
    ro = Client(host=HOST, port=rep_a.port, decode_responses=True)
    ro.execute_command("READONLY")
    for k in mine:
        assert key_value(ro, k) == model.keys[k], k
    ro.close()
    assert rep_a.client().dbsize() == a.client().dbsize() == len(mine)


def test_two_targets_at_once(nodes):
    """One source, two migrations in parallel (to both other nodes), writes going on."""
    a, b, c = nodes
    to_b, to_c = (0, 999), (1000, 1999)
    rc = cluster_client(a)
    model = Model()
    fill(rc, model, random.Random(31))
    writer = Writer(a, model, seed=37)
    writer.start()
    cfg = initial(nodes)
    cfg[0]["migrations"] = [migration(b, [to_b]), migration(c, [to_c])]
    push_all([b, c, a], cfg)
    wait_state(a, b, "FINISHED")
    wait_state(a, c, "FINISHED")
    assert {row[1] for row in a.status()} == {b.id, c.id}
    flipped = [
        shard([(to_c[1] + 1, THREE_WAY[0][1])], a),
        shard([to_b, THREE_WAY[1]], b),
        shard([to_c, THREE_WAY[2]], c),
    ]
    push_all([b, c, a], flipped)
    writer.finish(more=WRITER_AFTER_FLIP)
    model.check(cluster_client(b))
    assert sum(n.client().dbsize() for n in nodes) == len(model.keys)
