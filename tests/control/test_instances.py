"""Instances end to end: dfly-control provisions real dfly-server nodes, and real clients
(redis-py's Redis and RedisCluster) use them at the endpoint and password it returns."""

import redis
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, listening, node_processes, wait_for

KEYS = 10000
RUN_TIMEOUT = 60


def client(inst, password, **kw):
    ep = inst["endpoint"]
    return redis.Redis(host=ep["host"], port=ep["port"], password=password,
                       decode_responses=True, socket_timeout=10, **kw)


def node_client(node, password):
    return redis.Redis(host=node["host"], port=node["port"], password=password,
                       decode_responses=True, socket_timeout=10)


def close(c):
    c.connection_pool.disconnect()


def assert_gone(control, inst):
    """No process, no listener, no directory is left of inst."""
    for n in inst["nodes"]:
        assert not listening(n["port"]) and not listening(n["admin_port"]), n
    assert not any(inst["id"] in conf for conf in node_processes(control.data_dir).values())
    assert not (control.data_dir / "instances" / inst["id"]).exists()


def test_single_shard_life_cycle(control, tenant):
    tenant_id, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "cache", "memory": "64mb", "labels": {"env": "test"},
                          "eviction_policy": "allkeys-lru"})
    assert r.status_code == 202, r.text
    created = r.json()
    assert r.headers["Location"] == f"/v1/instances/{created['instance']['id']}"
    password = created["credentials"]["password"]
    assert created["credentials"]["username"] == "default" and len(password) >= 32
    assert created["instance"]["status"] == "creating"
    assert created["operation"]["kind"] == "create"
    iid = created["instance"]["id"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert inst["cluster_mode"] == "emulated" and inst["status_reason"] == ""
    assert len(inst["nodes"]) == 1 and inst["nodes"][0]["status"] == "running"
    assert inst["uri"] == f"redis://default@{HOST}:{inst['endpoint']['port']}"
    assert password not in control.api("GET", f"/v1/instances/{iid}", token=tok).text
    op = control.api("GET", f"/v1/operations/{created['operation']['id']}", token=tok).json()
    assert op["status"] == "succeeded" and op["progress"] == 100

    # The password is required; a plain client and a cluster client both work.
    anon = redis.Redis(host=HOST, port=inst["endpoint"]["port"], socket_timeout=5)
    try:
        anon.set("k", "v")
        raise AssertionError("no password needed")
    except redis.exceptions.AuthenticationError:
        pass
    finally:
        close(anon)
    c = client(inst, password)
    assert c.set("greeting", "hello") and c.get("greeting") == "hello"
    assert c.config_get("maxmemory")["maxmemory"] == str(64 << 20)
    assert c.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    rc = RedisCluster(host=HOST, port=inst["endpoint"]["port"], password=password,
                      decode_responses=True)
    assert rc.get("greeting") == "hello"
    rc.close()

    # PATCH: applied to the running node.
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok,
                    json={"memory": "128mb", "eviction_policy": "noeviction",
                          "labels": {"env": "prod"}})
    assert r.status_code == 202
    op_id = r.json()["operation"]["id"]
    wait_for(lambda: control.api("GET", f"/v1/operations/{op_id}", token=tok)
             .json()["status"] == "succeeded", RUN_TIMEOUT, "the update")
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert inst["labels"] == {"env": "prod"} and inst["applied_version"] == 2
    assert c.config_get("maxmemory")["maxmemory"] == str(128 << 20)
    assert c.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    close(c)

    # Restart: a new process, the data kept (the node snapshots on SIGTERM).
    old_pid = inst["nodes"][0]["pid"]
    r = control.api("POST", f"/v1/instances/{iid}/restart", token=tok)
    assert r.status_code == 202 and r.json()["operation"]["kind"] == "restart"
    op_id = r.json()["operation"]["id"]
    wait_for(lambda: control.api("GET", f"/v1/operations/{op_id}", token=tok)
             .json()["status"] == "succeeded", RUN_TIMEOUT, "the restart")
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert inst["nodes"][0]["pid"] != old_pid and inst["nodes"][0]["restarts"] == 0
    c = client(inst, password)
    assert c.get("greeting") == "hello"
    close(c)

    events = control.api("GET", f"/v1/instances/{iid}/events", token=tok,
                         params={"limit": 100}).json()["items"]
    kinds = [e["type"] for e in events]
    for k in ("nodes_allocated", "node_started", "node_running", "node_restarting",
              "node_stopped"):
        assert k in kinds, kinds
    transitions = [(e["from_status"], e["to_status"]) for e in events if e["type"] == "status"]
    assert (None, "creating") in transitions and ("creating", "running") in transitions
    assert ("running", "updating") in transitions and ("updating", "running") in transitions

    # Delete: nodes stopped, ports and files freed, then 404.
    r = control.api("DELETE", f"/v1/instances/{iid}", token=tok)
    assert r.status_code == 202 and r.json()["instance"]["status"] in ("deleting", "gone")
    control.wait_status(iid, None, RUN_TIMEOUT, token=tok)
    assert_gone(control, inst)
    assert control.api("GET", f"/v1/instances/{iid}/events", token=tok).status_code == 404
    assert control.api("GET", "/v1/instances", token=tok).json()["items"] == []
    assert control.api("DELETE", f"/v1/tenants/{tenant_id}").status_code == 204


def test_three_shards_with_cluster_client(control, tenant, replication_available):
    _, tok = tenant
    replicas = 1 if replication_available else 0
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "sharded", "memory": "192mb", "shards": 3,
                          "replicas_per_shard": replicas})
    assert r.status_code == 202, r.text
    iid = r.json()["instance"]["id"]
    password = r.json()["credentials"]["password"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    nodes = inst["nodes"]
    assert inst["cluster_mode"] == "yes"
    assert len(nodes) == 3 * (1 + replicas)
    ports = [n["port"] for n in nodes] + [n["admin_port"] for n in nodes]
    assert len(set(ports)) == len(ports)
    masters = [n for n in nodes if n["role"] == "master"]
    assert sorted(n["shard"] for n in masters) == [0, 1, 2]

    rc = RedisCluster(startup_nodes=[ClusterNode(inst["endpoint"]["host"],
                                                 inst["endpoint"]["port"])],
                      password=password, decode_responses=True)
    pipe = rc.pipeline()
    for i in range(KEYS):
        pipe.set(f"key:{i}", f"value:{i}")
    assert all(pipe.execute())
    pipe = rc.pipeline()
    for i in range(KEYS):
        pipe.get(f"key:{i}")
    assert pipe.execute() == [f"value:{i}" for i in range(KEYS)]
    rc.close()

    # Slots are split evenly: every master holds about a third of the keys.
    counts = []
    for n in masters:
        c = node_client(n, password)
        counts.append(c.dbsize())
        assert c.config_get("maxmemory")["maxmemory"] == str(64 << 20)
        close(c)
    assert sum(counts) == KEYS and min(counts) > KEYS // 4, counts
    for n in nodes:
        if n["role"] == "replica":
            master = next(m for m in masters if m["shard"] == n["shard"])
            c = node_client(n, password)
            wait_for(lambda: c.dbsize() == counts[masters.index(master)], 30,
                     f"replica {n['id']} to catch up")
            close(c)

    r = control.api("DELETE", f"/v1/instances/{iid}", token=tok)
    assert r.status_code == 202
    control.wait_status(iid, None, RUN_TIMEOUT, token=tok)
    assert_gone(control, inst)


def test_replicas_added_and_removed(control, tenant, replication_available):
    assert replication_available
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok, json={"name": "grow", "memory": "32mb"})
    iid, password = r.json()["instance"]["id"], r.json()["credentials"]["password"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    c = client(inst, password)
    for i in range(500):
        c.set(f"k{i}", i)
    close(c)
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"replicas_per_shard": 1})
    assert r.status_code == 202
    wait_for(lambda: control.instance(iid, token=tok)["applied_version"] == 2, RUN_TIMEOUT,
             "the replica to be added")
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    replica = next(n for n in inst["nodes"] if n["role"] == "replica")
    rc = node_client(replica, password)
    wait_for(lambda: rc.dbsize() == 500, 30, "the replica to sync")
    assert rc.get("k7") == "7"
    close(rc)
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"replicas_per_shard": 0})
    wait_for(lambda: control.instance(iid, token=tok)["applied_version"] == 3, RUN_TIMEOUT,
             "the replica to be removed")
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert [n["role"] for n in inst["nodes"]] == ["master"]
    assert not listening(replica["port"]) and not listening(replica["admin_port"])
    assert not any(replica["id"] in conf for conf in node_processes(control.data_dir).values())
    kinds = [e["type"] for e in control.api("GET", f"/v1/instances/{iid}/events", token=tok,
                                            params={"limit": 100}).json()["items"]]
    assert "node_removed" in kinds
