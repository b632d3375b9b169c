"""Online resize (issue 15): PATCH `memory` reaches every node with CONFIG SET (no restart),
PATCH `shards` moves slots with the data plane's slot migration while a cluster client keeps
writing (1 -> 3 -> 2 shards, then every acknowledged key is there with its value), and PATCH
`replicas_per_shard` adds a replica that copies its master, and removes it again."""

import os
import signal
import threading
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, processes_under, wait_for

RUN_TIMEOUT = 90
RESIZE_TIMEOUT = 120
MIB = 1 << 20
WRITES_BETWEEN = 200
KEYS_BEFORE = 300
POPULATED = 300000  # keys enough for a migration to take a moment


@pytest.fixture
def rtenant(control):
    t = control.create_tenant()
    return t["id"], control.create_token(t["id"])["secret"]


def create(control, tenant, name, shards, replicas=0, memory_mb=96):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": name, "memory": f"{memory_mb}mb", "shards": shards,
                          "replicas_per_shard": replicas})
    assert r.status_code == 202, r.text
    iid, password = r.json()["instance"]["id"], r.json()["credentials"]["password"]
    return iid, password, control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)


def patch(control, tenant, iid, body):
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tenant[1], json=body)
    assert r.status_code == 202, r.text
    return r.json()["operation"]["id"]


def wait_op(control, tenant, op_id, timeout=RESIZE_TIMEOUT):
    def done():
        op = control.api("GET", f"/v1/operations/{op_id}", token=tenant[1]).json()
        return op if op["status"] in ("succeeded", "failed") else None

    op = wait_for(done, timeout, f"operation {op_id}", interval=0.2)
    assert op["status"] == "succeeded", op
    return op


def events(control, tenant, iid):
    r = control.api("GET", f"/v1/instances/{iid}/events", token=tenant[1],
                    params={"limit": 100})
    return r.json()["items"]


def node_client(node, password):
    return redis.Redis(host=HOST, port=node["port"], password=password, decode_responses=True,
                       socket_timeout=5)


def masters(inst):
    return sorted((n for n in inst["nodes"] if n["role"] == "master"), key=lambda n: n["shard"])


class Writer(threading.Thread):
    """SETs w:<i> = i through a RedisCluster client, one key after another; records each
    acknowledged one. A failed write (a node restarting, slots moving) is retried with a new
    client and the next key: only acknowledged writes must survive."""

    def __init__(self, make):
        super().__init__(daemon=True)
        self.make = make
        self.acked, self.errors, self.attempts = [], 0, 0
        self.stop_flag = threading.Event()

    def run(self):
        client = None
        i = 0
        while not self.stop_flag.is_set():
            key = f"w:{i}"
            try:
                client = client or self.make()
                client.set(key, i)
                self.acked.append((key, str(i)))
            except Exception:  # RedisClusterException is no RedisError
                self.errors += 1
                time.sleep(0.05)
                try:
                    if client:
                        client.close()
                except Exception:
                    pass
                client = None
            i += 1
        self.attempts = i
        if client:
            client.close()

    def wait_acks(self, n, timeout=RUN_TIMEOUT):
        start = len(self.acked)
        wait_for(lambda: len(self.acked) >= start + n, timeout, f"{n} more acknowledged writes")

    def finish(self):
        self.stop_flag.set()
        self.join(timeout=30)


def cluster_client(ports, password):
    return RedisCluster(startup_nodes=[ClusterNode(HOST, p) for p in ports], password=password,
                        decode_responses=True, socket_timeout=3, socket_connect_timeout=2,
                        cluster_error_retry_attempts=10)


def check_all(client, pairs):
    missing = [(k, v, client.get(k)) for k, v in pairs if client.get(k) != v]
    assert not missing, f"{len(missing)} of {len(pairs)} acknowledged writes lost: {missing[:5]}"


def migration_in_sync(node, password):
    """True while node streams slots to another (SYNC), through its admin port."""
    admin = redis.Redis(host=HOST, port=node["admin_port"], password=password,
                        decode_responses=True, socket_timeout=5)
    try:
        rows = admin.execute_command("DFLYCLUSTER", "SLOT-MIGRATION-STATUS")
    except redis.RedisError:  # still emulated, or restarting into cluster mode
        return False
    finally:
        admin.close()
    return rows != "NO_STATE" and any(r[0] == "out" and r[2] == "SYNC" for r in rows)


def master_sizes(inst, password):
    sizes = []
    for m in masters(inst):
        c = node_client(m, password)
        sizes.append(c.dbsize())
        c.close()
    return sizes


def assert_layout(inst, password, shards):
    """shards masters, each serving an even part of the slots; the cluster agrees."""
    ms = masters(inst)
    assert [m["shard"] for m in ms] == list(range(shards)), inst["nodes"]
    assert all(n["status"] == "running" for n in inst["nodes"])
    c = node_client(ms[0], password)
    if shards > 1:
        slots = c.execute_command("CLUSTER", "SLOTS")
        ports = sorted(int(entry[2][1]) for entry in slots)
        assert ports == sorted(m["port"] for m in ms), slots
        assert sum(int(e[1]) - int(e[0]) + 1 for e in slots) == 16384
    c.close()


def test_memory_change_is_applied_without_restart(control, rtenant):
    iid, password, inst = create(control, rtenant, "mem", 2, memory_mb=64)
    pids = {n["id"]: n["pid"] for n in inst["nodes"]}
    for n in inst["nodes"]:
        c = node_client(n, password)
        assert int(c.config_get("maxmemory")["maxmemory"]) == 32 * MIB
        c.close()
    op = patch(control, rtenant, iid, {"memory": "256mb"})
    wait_op(control, rtenant, op, RUN_TIMEOUT)
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
    assert inst["memory"] == 256 * MIB
    for n in inst["nodes"]:
        assert n["pid"] == pids[n["id"]], "a node was restarted"
        c = node_client(n, password)
        assert int(c.config_get("maxmemory")["maxmemory"]) == 128 * MIB
        c.close()


def test_replicas_added_with_a_full_sync_then_removed(control, rtenant, replication_available):
    if not replication_available:
        pytest.skip("this dfly-server has no replication")
    iid, password, inst = create(control, rtenant, "repl", 1)
    master = masters(inst)[0]
    c = node_client(master, password)
    for i in range(KEYS_BEFORE):
        c.set(f"k{i}", i)
    op = patch(control, rtenant, iid, {"replicas_per_shard": 1})
    wait_op(control, rtenant, op, RUN_TIMEOUT)
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
    replicas = [n for n in inst["nodes"] if n["role"] == "replica"]
    assert len(replicas) == 1 and replicas[0]["shard"] == 0
    assert masters(inst)[0]["pid"] == master["pid"]
    rc = node_client(replicas[0], password)
    wait_for(lambda: rc.info("replication").get("master_link_status") == "up", RUN_TIMEOUT,
             "the replica's link")
    wait_for(lambda: rc.dbsize() == KEYS_BEFORE, RUN_TIMEOUT, "the full sync")
    assert rc.get("k7") == "7"
    rc.close()
    replica_pid = replicas[0]["pid"]

    op = patch(control, rtenant, iid, {"replicas_per_shard": 0})
    wait_op(control, rtenant, op, RUN_TIMEOUT)
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
    assert [n["role"] for n in inst["nodes"]] == ["master"]
    assert replica_pid not in processes_under(control.data_dir)
    assert c.dbsize() == KEYS_BEFORE
    c.close()


def test_shards_1_to_3_to_2_under_a_cluster_writer(control, rtenant):
    iid, password, inst = create(control, rtenant, "grow", 1)
    first_port = masters(inst)[0]["port"]
    writer = Writer(lambda: cluster_client([first_port], password))
    writer.start()
    try:
        writer.wait_acks(WRITES_BETWEEN)

        op = patch(control, rtenant, iid, {"shards": 3})
        # One change of the shard count at a time.
        r = control.api("PATCH", f"/v1/instances/{iid}", token=rtenant[1], json={"shards": 2})
        assert r.status_code == 409, r.text
        op = wait_op(control, rtenant, op)
        assert op["progress"] == 100
        inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
        assert inst["shards"] == 3
        assert_layout(inst, password, 3)
        writer.wait_acks(WRITES_BETWEEN)

        gone = [n for n in inst["nodes"] if n["shard"] == 2]
        op = wait_op(control, rtenant, patch(control, rtenant, iid, {"shards": 2}))
        inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
        assert inst["shards"] == 2
        assert_layout(inst, password, 2)
        running = processes_under(control.data_dir)
        assert all(n["pid"] not in running for n in gone), "a removed node still runs"
        writer.wait_acks(WRITES_BETWEEN)
    finally:
        writer.finish()
    kinds = [e["type"] for e in events(control, rtenant, iid)]
    assert kinds.count("resized") == 2, kinds
    client = cluster_client([m["port"] for m in masters(inst)], password)
    check_all(client, writer.acked)
    # No key is left behind on a shard that gave its slot away: at most one copy of each
    # key written (failed writes may have landed too).
    total = 0
    for m in masters(inst):
        c = node_client(m, password)
        total += c.dbsize()
        c.close()
    assert len(writer.acked) <= total <= writer.attempts
    client.close()


def test_resize_resumes_after_a_daemon_kill(control, rtenant):
    """dfly-control killed while slots move: the next start adopts the nodes and finishes the
    resize from SQLite, with every key."""
    iid, password, inst = create(control, rtenant, "crash", 1, memory_mb=512)
    source = masters(inst)[0]
    c = node_client(source, password)
    c.execute_command("DEBUG", "POPULATE", POPULATED, "c", 64)
    c.close()
    op_id = patch(control, rtenant, iid, {"shards": 2})
    wait_for(lambda: migration_in_sync(source, password), RUN_TIMEOUT,
             "a slot migration in progress", interval=0.005)
    op = control.api("GET", f"/v1/operations/{op_id}", token=rtenant[1]).json()
    control.kill()
    # The operation shows where the move is.
    assert op["status"] == "running" and 30 <= op["progress"] < 100, op
    steps = {st["name"]: st["status"] for st in op["steps"]}
    assert steps["start_nodes"] == "done" and steps["migrate_slots"] == "running", op
    control.start()
    inst = control.wait_status(iid, "running", RESIZE_TIMEOUT, token=rtenant[1])
    assert inst["shards"] == 2
    assert_layout(inst, password, 2)
    assert [e["type"] for e in events(control, rtenant, iid)].count("resized") == 1
    wait_op(control, rtenant, op_id)
    sizes = master_sizes(inst, password)
    assert sum(sizes) == POPULATED and all(sizes), sizes


def test_resize_with_replicas(control, rtenant, replication_available):
    if not replication_available:
        pytest.skip("this dfly-server has no replication")
    iid, password, inst = create(control, rtenant, "grow-repl", 1, replicas=1)
    client = cluster_client([masters(inst)[0]["port"]], password)
    pairs = [(f"r:{i}", str(i)) for i in range(KEYS_BEFORE)]
    for k, v in pairs:
        client.set(k, v)
    client.close()
    wait_op(control, rtenant, patch(control, rtenant, iid, {"shards": 2}))
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
    assert_layout(inst, password, 2)
    assert sorted((n["shard"], n["role"]) for n in inst["nodes"]) == [
        (0, "master"), (0, "replica"), (1, "master"), (1, "replica")]
    client = cluster_client([m["port"] for m in masters(inst)], password)
    check_all(client, pairs)
    client.close()
    # Each replica follows its shard's master and holds what the master holds.
    for m in masters(inst):
        mc = node_client(m, password)
        rep = next(n for n in inst["nodes"] if n["shard"] == m["shard"] and n["role"] == "replica")
        rc = node_client(rep, password)
        wait_for(lambda: rc.info("replication").get("master_port") == m["port"]
                 and rc.info("replication").get("master_link_status") == "up", RUN_TIMEOUT,
                 "the replica's link")
        wait_for(lambda: rc.dbsize() == mc.dbsize(), RUN_TIMEOUT, "the replica to catch up")
        assert 0 < mc.dbsize() < KEYS_BEFORE
        mc.close()
        rc.close()


def test_down_to_one_shard_serves_plain_clients(control, rtenant):
    iid, password, inst = create(control, rtenant, "shrink", 2)
    client = cluster_client([m["port"] for m in masters(inst)], password)
    pairs = [(f"s:{i}", str(i)) for i in range(KEYS_BEFORE)]
    for k, v in pairs:
        client.set(k, v)
    client.close()
    gone = [n for n in inst["nodes"] if n["shard"] == 1]
    wait_op(control, rtenant, patch(control, rtenant, iid, {"shards": 1}))
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=rtenant[1])
    assert [(n["shard"], n["role"]) for n in inst["nodes"]] == [(0, "master")]
    assert all(n["pid"] not in processes_under(control.data_dir) for n in gone)
    # One shard is emulated cluster mode again: a plain client sees every key.
    c = node_client(inst["nodes"][0], password)
    assert c.info("cluster")["cluster_mode"] == "emulated"
    pipe = c.pipeline(transaction=False)
    for k, _ in pairs:
        pipe.get(k)
    assert pipe.execute() == [v for _, v in pairs]
    assert c.dbsize() == KEYS_BEFORE
    c.close()



def test_target_killed_during_the_move(control, rtenant):
    """The new master dies while slots move to it (its data lives in memory only): the resize
    moves them again once it is back (a failed migration is pushed again; one that finished
    into a node that restarted is taken back and redone) and ends with every key."""
    iid, password, inst = create(control, rtenant, "retry", 1, memory_mb=512)
    c = node_client(masters(inst)[0], password)
    c.execute_command("DEBUG", "POPULATE", POPULATED, "p", 64)
    assert c.dbsize() == POPULATED
    c.close()
    patch(control, rtenant, iid, {"shards": 2})

    source = masters(inst)[0]
    wait_for(lambda: migration_in_sync(source, password), RUN_TIMEOUT,
             "a slot migration in progress", interval=0.005)
    cur = control.instance(iid, token=rtenant[1])
    target = next(n for n in cur["nodes"] if n["shard"] == 1 and n["role"] == "master")
    os.kill(target["pid"], signal.SIGKILL)
    inst = control.wait_status(iid, "running", RESIZE_TIMEOUT, token=rtenant[1])
    kinds = [e["type"] for e in events(control, rtenant, iid)]
    assert "resized" in kinds, kinds
    # The kill did break a migration (the source counts it), and it was redone.
    c = node_client(source, password)
    assert c.info("cluster")["cluster_migrations_failed"] >= 1 or "resize_retry" in kinds
    c.close()
    assert_layout(inst, password, 2)
    sizes = master_sizes(inst, password)
    assert sum(sizes) == POPULATED and all(sizes), sizes
