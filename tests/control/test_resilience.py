"""Supervision and crash safety: a node killed with SIGKILL comes back; the daemon killed with
SIGKILL in the middle of a create or a delete converges after its restart, adopting what runs,
with no duplicate process, no port given twice, nothing leaked."""

import os
import signal
import subprocess

import redis

from conftest import HOST, listening, node_processes, wait_for

RUN_TIMEOUT = 60


def events(control, iid, token=None):
    return control.api("GET", f"/v1/instances/{iid}/events", token=token,
                       params={"limit": 100}).json()["items"]


def assert_one_process_per_node(control, inst):
    procs = node_processes(control.data_dir)
    for n in inst["nodes"]:
        mine = [pid for pid, conf in procs.items() if f"/{n['id']}/" in conf]
        assert mine == [n["pid"]], (n, procs)
    assert len(procs) == len(inst["nodes"]), procs


def test_killed_node_is_restarted_with_its_data(control, tenant):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "durable", "memory": "32mb",
                          "persistence": {"appendonly": True}})
    iid, password = r.json()["instance"]["id"], r.json()["credentials"]["password"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    port = inst["endpoint"]["port"]
    c = redis.Redis(host=HOST, port=port, password=password, decode_responses=True,
                    socket_timeout=10)
    for i in range(100):
        c.set(f"k{i}", i)
    c.connection_pool.disconnect()
    pid = inst["nodes"][0]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: any(e["type"] == "node_exited" for e in events(control, iid, tok)),
             RUN_TIMEOUT, "the exit to be noticed")
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    node = inst["nodes"][0]
    assert node["pid"] != pid and node["restarts"] == 1
    exited = [e for e in events(control, iid, tok) if e["type"] == "node_exited"]
    assert "signal 9" in exited[0]["reason"]
    transitions = [(e["from_status"], e["to_status"])
                   for e in events(control, iid, tok) if e["type"] == "status"]
    assert ("running", "degraded") in transitions and ("degraded", "running") in transitions
    c = redis.Redis(host=HOST, port=port, password=password, decode_responses=True,
                    socket_timeout=10)
    assert [c.get(f"k{i}") for i in range(100)] == [str(i) for i in range(100)]
    c.connection_pool.disconnect()
    assert_one_process_per_node(control, inst)


def test_node_that_cannot_start_backs_off_then_fails(control_factory, tmp_path):
    broken = tmp_path / "dfly-server"
    broken.write_text("#!/bin/sh\necho cannot start >&2\nexit 3\n")
    broken.chmod(0o755)
    c = control_factory("--create-max-attempts", "3", start=False)
    c.server = str(broken)
    c.start()
    t = c.create_tenant()
    r = c.api("POST", "/v1/instances", json={"name": "doomed", "memory": "8mb",
                                             "tenant_id": t["id"]})
    iid, op = r.json()["instance"]["id"], r.json()["operation"]["id"]
    inst = c.wait_status(iid, "failed", RUN_TIMEOUT)
    assert inst["nodes"][0]["restarts"] >= 3
    opj = c.api("GET", f"/v1/operations/{op}").json()
    assert opj["status"] == "failed" and "exit status 3" in opj["error"]
    times = [e["time"] for e in events(c, iid) if e["type"] == "node_exited"]
    assert len(times) >= 3
    # A failed instance can still be deleted.
    assert c.api("DELETE", f"/v1/instances/{iid}").status_code == 202
    c.wait_status(iid, None, RUN_TIMEOUT)


def test_daemon_killed_mid_create_converges(control, tenant):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "crashy", "memory": "48mb", "shards": 3})
    iid = r.json()["instance"]["id"]
    # Kill it once some, not necessarily all, nodes were started.
    wait_for(lambda: node_processes(control.data_dir), 20, "a node to start", interval=0.01)
    control.kill()
    started_before = set(node_processes(control.data_dir))
    control.start()
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert len(inst["nodes"]) == 3
    assert_one_process_per_node(control, inst)
    # What ran before the crash was adopted, not started twice.
    assert started_before <= {n["pid"] for n in inst["nodes"]}
    kinds = [e["type"] for e in events(control, iid, tok)]
    assert "node_adopted" in kinds
    ports = [n["port"] for n in inst["nodes"]] + [n["admin_port"] for n in inst["nodes"]]
    assert len(set(ports)) == 6
    # Kill again while it runs; after the restart nothing changes.
    pids = {n["id"]: n["pid"] for n in inst["nodes"]}
    control.kill()
    control.start()
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert {n["id"]: n["pid"] for n in inst["nodes"]} == pids
    assert_one_process_per_node(control, inst)
    # And the cluster answers.
    from redis.cluster import RedisCluster
    rc = RedisCluster(host=HOST, port=inst["endpoint"]["port"],
                      password=r.json()["credentials"]["password"], decode_responses=True)
    rc.set("a", 1)
    rc.set("b", 2)
    assert rc.get("a") == "1" and rc.get("b") == "2"
    rc.close()


def test_daemon_killed_mid_delete_leaves_nothing(control, tenant):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "goner", "memory": "16mb", "shards": 2})
    iid = r.json()["instance"]["id"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert control.api("DELETE", f"/v1/instances/{iid}", token=tok).status_code == 202
    control.kill()
    control.start()
    control.wait_status(iid, None, RUN_TIMEOUT, token=tok)
    for n in inst["nodes"]:
        assert not listening(n["port"]) and not listening(n["admin_port"])
    assert node_processes(control.data_dir) == {}
    assert not (control.data_dir / "instances" / iid).exists()


def test_strays_are_ended_and_removed_at_start(control, tenant):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok, json={"name": "keep", "memory": "8mb"})
    iid = r.json()["instance"]["id"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    node = inst["nodes"][0]
    control.kill()
    # A node directory and process that no row owns (as a crash between steps could leave),
    # and a second process of a real node.
    src = control.data_dir / "instances" / iid / node["id"]
    stray = control.data_dir / "instances" / "ins_stray" / "nod_stray"
    stray.mkdir(parents=True)
    conf = (src / "node.conf").read_text()
    port = node["port"] + 100
    conf = conf.replace(f"port {node['port']}", f"port {port}")
    conf = conf.replace(f"admin_port {node['admin_port']}", f"admin_port {port + 1}")
    conf = conf.replace(str(src), str(stray))
    (stray / "node.conf").write_text(conf)
    p = subprocess.Popen([control.server, str(stray / "node.conf")], cwd=stray,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    wait_for(lambda: listening(port), 20, "the stray to listen")
    control.start()
    wait_for(lambda: p.poll() is not None, 20, "the stray to be ended")
    assert not (control.data_dir / "instances" / "ins_stray").exists()
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert inst["nodes"][0]["pid"] == node["pid"]
    assert_one_process_per_node(control, inst)
