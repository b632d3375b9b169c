"""Chaos (issue 17): dfly-control is killed with SIGKILL at a random moment of a create, a
resize (memory, replicas or shards), a backup, a failover (planned, or a master killed too) or a
delete, restarted on the same data directory, and must converge every time: every accepted
instance is there and running (or its operation failed with a reason), every key written before
the round reads back, and nothing is orphaned — no dfly-server the API does not list (or with
another pid), no port given twice or held by no node, no node directory without a node, no
backup file that is not whole. At the end everything is deleted and nothing may be left.

Seeded: the seed is printed and named in every failure. Environment:
    DFLY_CHAOS_ROUNDS  rounds (default 50, as the issue asks)
    DFLY_CHAOS_SEED    the seed (default: a random one)
"""

import hashlib
import os
import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, _port_free, listening, processes_under, wait_for

ROUNDS = int(os.environ.get("DFLY_CHAOS_ROUNDS", "50"))
SEED = int(os.environ.get("DFLY_CHAOS_SEED", str(random.randrange(1 << 32))))
MAX_KILL_DELAY_S = 1.5  # the kill comes 0 .. this many seconds after the request
MAX_INSTANCES = 3  # live instances at a time (2 cores: each node is a process)
MB_PER_SHARD = (24, 32)  # memory choices per shard
KEYS_PER_ROUND = 3  # keys written to every instance after each round
FILLER_KEYS = 2000  # written once per instance, so that moves and syncs take a moment
FILLER_VALUE_BYTES = 64
SECOND_KILL_CHANCE = 0.3  # a round kills the restarted daemon once more
SECOND_KILL_MAX_S = 0.5
SECOND_KILL_AFTER_READY_CHANCE = 0.5  # else it may come before the daemon is ready
PLANNED_FAILOVER_CHANCE = 0.5  # else the master is killed
OP_WEIGHTS = {"create": 3, "resize": 4, "backup": 2, "failover": 3, "delete": 1}
CONVERGE_TIMEOUT = 90  # seconds a round may take to settle after the restart
SYNC_TIMEOUT = 30  # seconds replicas get to catch up before a master is killed
CLIENT_TIMEOUT = 10
TERMINAL = ("succeeded", "failed")
EVENTS_SHOWN = 25  # of the instance a failed round waited for
LOG_SHOWN = 40  # lines of the daemon's log in a failure

EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
API_PORT_MIN, API_PORT_MAX = 10000, 20000  # below conftest's node port ranges (20000-32200)
API_PORT_TRIES = 100

# Daemon flags: short timers so that a round settles in seconds; no rate limit (the checks
# read every operation and backup so far, many requests a second with one token).
FLAGS = ("--failover-timeout", "1000", "--health-check-interval", "200",
         "--backup-retry-delay", "300", "--backup-max-attempts", "3",
         "--takeover-timeout", "5", "--stop-grace-period", "3000", "--rate-limit", "0")


class Instance:
    """What the test knows of one instance it asked for: its password and the keys written."""

    def __init__(self, iid, password):
        self.iid = iid
        self.password = password
        self.keys = {}
        self.filler = 0  # keys written by fill(), counted only


class Chaos:
    """The fleet of one tenant, the operations and backups asked for, and the checks."""

    def __init__(self, ctl, tok, rnd):
        self.ctl, self.tok, self.rnd = ctl, tok, rnd
        self.instances = {}  # iid -> Instance
        self.deleted = set()  # iids deleted: must stay 404 with nothing left on disk
        self.ops = {}  # op id -> kind, for the ones not yet checked
        self.backups = set()  # every backup id asked for
        self.outcomes = {}  # "kind:status" -> count, for the summary
        self.seen_ports = set()  # every port a node was given: none may listen at the end
        self.seq = 0
        self.waiting = ("nothing", None)
        self.last_op = None  # the operation the round started (none: a master was killed)

    # --- the API ---------------------------------------------------------------------------
    def api(self, method, path, **kw):
        return self.ctl.api(method, path, token=self.tok, **kw)

    def accepted(self, r, kind):
        assert r.status_code == 202, f"{kind}: {r.status_code} {r.text}"
        op = r.json()["operation"]
        self.ops[op["id"]] = kind
        self.last_op = op["id"]
        return r.json()

    def inst(self, iid):
        r = self.api("GET", f"/v1/instances/{iid}")
        return r.json() if r.status_code == 200 else None

    def pick(self, pred=lambda i: True):
        views = [self.inst(iid) for iid in sorted(self.instances)]
        views = [v for v in views if v and pred(v)]
        return self.rnd.choice(views) if views else None

    # --- the operations a round starts --------------------------------------------------------
    def op_create(self):
        return self.op_create_with(self.rnd.randint(1, 2), self.rnd.randint(0, 1))

    def op_create_with(self, shards, replicas):
        self.seq += 1
        body = {"name": f"chaos{self.seq}", "shards": shards, "replicas_per_shard": replicas,
                "memory": f"{self.rnd.choice(MB_PER_SHARD) * shards}mb"}
        j = self.accepted(self.api("POST", "/v1/instances", json=body), "create")
        iid = j["instance"]["id"]
        self.instances[iid] = Instance(iid, j["credentials"]["password"])
        return f"create {iid} {shards}x{1 + replicas}"

    def op_resize(self):
        v = self.pick()
        what = self.rnd.choice(("memory", "replicas", "shards"))
        if what == "memory":
            body = {"memory": f"{self.rnd.choice(MB_PER_SHARD) * v['shards']}mb"}
        elif what == "replicas":
            body = {"replicas_per_shard": 1 - v["replicas_per_shard"]}
        else:
            shards = 3 - v["shards"]  # 1 <-> 2
            body = {"shards": shards, "memory": f"{max(MB_PER_SHARD) * shards}mb"}
        self.accepted(self.api("PATCH", f"/v1/instances/{v['id']}", json=body), "resize")
        return f"resize {v['id']} {body}"

    def op_backup(self):
        v = self.pick()
        j = self.accepted(self.api("POST", f"/v1/instances/{v['id']}/backups"), "backup")
        self.backups.add(j["backup"]["id"])
        return f"backup {v['id']} {j['backup']['id']}"

    def op_failover(self):
        v = self.pick(lambda i: i["replicas_per_shard"] > 0)
        if v is None:
            return self.op_resize()
        shard = self.rnd.randrange(v["shards"])
        if self.rnd.random() < PLANNED_FAILOVER_CHANCE:
            r = self.api("POST", f"/v1/instances/{v['id']}/failover", json={"shard": shard})
            self.accepted(r, "failover")
            return f"planned failover {v['id']} shard {shard}"
        # Unplanned: the master dies too. Its replica has every key first, so none may be lost.
        master = next(n for n in v["nodes"] if n["shard"] == shard and n["role"] == "master")
        self.wait_replicas_synced(v)
        os.kill(master["pid"], signal.SIGKILL)
        return f"master {master['id']} of {v['id']} killed"

    def op_delete(self):
        v = self.pick()
        self.accepted(self.api("DELETE", f"/v1/instances/{v['id']}"), "delete")
        self.deleted.add(v["id"])
        del self.instances[v["id"]]
        return f"delete {v['id']}"

    def note_kill_point(self):
        """Counts whether the kill came while the round's operation still ran."""
        if self.last_op:
            op = self.api("GET", f"/v1/operations/{self.last_op}").json()
            when = "while running" if op["status"] not in TERMINAL else "after it ended"
            key = f"{self.ops.get(self.last_op, '?')}: killed {when}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
        self.last_op = None

    def start_op(self):
        n = len(self.instances)
        possible = {"create": n < MAX_INSTANCES, "resize": n > 0, "backup": n > 0,
                    "failover": n > 0, "delete": n > 1}
        kinds = [k for k in OP_WEIGHTS if possible[k]]
        kind = self.rnd.choices(kinds, [OP_WEIGHTS[k] for k in kinds])[0]
        return getattr(self, f"op_{kind}")()

    # --- waiting for convergence --------------------------------------------------------------
    def settled(self):
        """None until every operation and backup is over and every instance is running (or
        failed to be created) with its applied version, and deleted ones are gone. What it
        waits for is left in self.waiting."""
        for op_id in self.ops:
            op = self.api("GET", f"/v1/operations/{op_id}").json()
            if op["status"] not in TERMINAL:
                return self.wait_on(f"operation {op}", op["target"]["id"])
        for bid in self.backups:
            b = self.api("GET", f"/v1/backups/{bid}")
            if b.status_code == 200 and b.json()["status"] not in TERMINAL:
                return self.wait_on(f"backup {b.json()}", b.json()["instance_id"])
        for iid in self.deleted:
            if self.inst(iid) is not None:
                return self.wait_on(f"instance {iid} to go", iid)
        views = {}
        for iid in self.instances:
            v = self.inst(iid)
            assert v is not None, f"instance {iid} was lost"
            if v["status"] == "failed":
                views[iid] = v
                continue
            if (v["status"] != "running" or v["applied_version"] != v["spec_version"]
                    or any(n["status"] != "running" for n in v["nodes"])):
                return self.wait_on(f"instance {v}", iid)
            views[iid] = v
        return (views,)  # a tuple: settled even when no instance is left

    def wait_on(self, what, iid):
        self.waiting = (what, iid)
        return None

    def diagnosis(self):
        """What the fleet still waited for, with the instance's last events and the log."""
        what, iid = self.waiting
        r = self.api("GET", f"/v1/instances/{iid}/events", params={"limit": 100}, check=False)
        evs = r.json().get("items", [])[-EVENTS_SHOWN:] if r.status_code == 200 else r.text
        lines = "\n".join(f"  {e['time']} {e['type']} {e.get('node_id') or ''} {e['reason']}"
                          for e in evs) if isinstance(evs, list) else evs
        return (f"waiting for {what}\nevents:\n{lines}\nlog:\n{self.ctl.log_tail(LOG_SHOWN)}"
                f"{self.node_logs(iid)}")

    def node_logs(self, iid):
        """The last lines each node of iid that does not run wrote."""
        v = self.inst(iid) if iid else None
        text = ""
        for n in v["nodes"] if v else []:
            if n["status"] == "running":
                continue
            for name in ("stdout.log", "server.log"):
                path = self.ctl.data_dir / "instances" / iid / n["id"] / name
                tail = path.read_text(errors="replace").splitlines()[-LOG_SHOWN // 4:] \
                    if path.exists() else ["(none)"]
                text += f"\n{n['id']} {name}:\n" + "\n".join(tail)
        return text

    def converge(self):
        try:
            (views,) = wait_for(self.settled, CONVERGE_TIMEOUT, "the fleet to converge",
                                interval=0.2)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.diagnosis()}") from None
        self.check_operations()
        for iid, v in list(views.items()):
            if v["status"] == "failed":
                # An honest outcome only with its reason; the instance is removed then.
                assert v["status_reason"], v
                self.outcomes["create:failed-instance"] = 1 + self.outcomes.get(
                    "create:failed-instance", 0)
                self.accepted(self.api("DELETE", f"/v1/instances/{iid}"), "delete")
                self.deleted.add(iid)
                del self.instances[iid]
                del views[iid]
        if self.deleted:
            wait_for(lambda: all(self.inst(i) is None for i in self.deleted), CONVERGE_TIMEOUT,
                     "deleted instances to go")
            self.check_operations()
        return views

    def check_operations(self):
        """Every finished operation succeeded, or failed with an error that says why."""
        for op_id, kind in list(self.ops.items()):
            op = self.api("GET", f"/v1/operations/{op_id}").json()
            assert op["status"] in TERMINAL, op
            if op["status"] == "failed":
                assert op["error"], f"{kind} operation failed without a reason: {op}"
            key = f"{kind}:{op['status']}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
            del self.ops[op_id]

    def wait_replicas_synced(self, v):
        """Every replica is linked to its master and has its whole stream."""
        for shard in range(v["shards"]):
            nodes = [n for n in v["nodes"] if n["shard"] == shard]
            master = next(n for n in nodes if n["role"] == "master")
            with node_client(master, self.instances[v["id"]].password) as m:
                for rep in (n for n in nodes if n["role"] == "replica"):
                    with node_client(rep, self.instances[v["id"]].password) as c:
                        def synced():
                            ri = c.info("replication")
                            return (ri.get("master_link_status") == "up"
                                    and ri.get("slave_repl_offset")
                                    == m.info("replication")["master_repl_offset"])

                        wait_for(synced, SYNC_TIMEOUT, f"replica {rep['id']} to catch up")

    # --- the checks after each round ----------------------------------------------------------
    def check_data(self, views):
        """Every key written reads back, and no key is there twice (a slot kept by two shards
        after a move would count twice); then the next keys are written."""
        for iid, v in views.items():
            inst = self.instances[iid]
            with client_of(v, inst.password) as c:
                got = {k: c.get(k) for k in inst.keys}
                assert got == inst.keys, (
                    f"{iid}: lost or changed keys "
                    f"{ {k: (inst.keys[k], got[k]) for k in inst.keys if got[k] != inst.keys[k]} }")
                assert dbsize(c) == len(inst.keys) + inst.filler, f"{iid}: DBSIZE"
                if not inst.filler:
                    fill(c, iid)
                    inst.filler = FILLER_KEYS
                for _ in range(KEYS_PER_ROUND):
                    self.seq += 1
                    k, val = f"k{self.seq}:{self.rnd.randrange(1 << 30)}", str(self.seq)
                    assert c.set(k, val)
                    inst.keys[k] = val

    def check_shape(self, views):
        for iid, v in views.items():
            assert len(v["nodes"]) == v["shards"] * (1 + v["replicas_per_shard"]), v
            for s in range(v["shards"]):
                roles = sorted(n["role"] for n in v["nodes"] if n["shard"] == s)
                assert roles == ["master"] + ["replica"] * v["replicas_per_shard"], v

    def check_processes(self, views):
        """Every dfly-server under the data directory is a listed node, with that pid."""
        nodes = {n["id"]: (iid, n) for iid, v in views.items() for n in v["nodes"]}
        procs = processes_under(self.ctl.data_dir)
        procs.pop(self.ctl.proc.pid, None)
        seen = {}
        for pid, argv in procs.items():
            conf = argv[1] if len(argv) > 1 else ""
            parts = conf.split("/")
            assert conf.endswith("/node.conf") and len(parts) >= 3, f"orphan {pid}: {argv}"
            iid, nid = parts[-3], parts[-2]
            assert nid in nodes and nodes[nid][0] == iid, f"orphan process {pid}: {argv}"
            assert nodes[nid][1]["pid"] == pid, f"node {nid} runs as {pid}: {nodes[nid][1]}"
            assert nid not in seen, f"node {nid} runs twice: {seen[nid]} and {pid}"
            seen[nid] = pid
        assert set(seen) == set(nodes), f"listed nodes without a process: {set(nodes) - set(seen)}"

    def check_ports(self, views):
        """No port given twice; the daemon's port table holds exactly the listed nodes'."""
        listed = [p for v in views.values() for n in v["nodes"]
                  for p in (n["port"], n["admin_port"])]
        assert len(listed) == len(set(listed)), f"a port given twice: {sorted(listed)}"
        self.seen_ports.update(listed)
        for v in views.values():
            for n in v["nodes"]:
                for port in (n["port"], n["admin_port"]):
                    assert listening(port), f"node {n['id']} does not listen on {port}"
        db = sqlite3.connect(f"file:{self.ctl.data_dir / 'control.db'}?mode=ro", uri=True,
                             timeout=CLIENT_TIMEOUT)
        try:
            allocated = {row[0] for row in db.execute("SELECT port FROM ports")}
        finally:
            db.close()
        assert allocated == set(listed), (
            f"ports held by no node: {allocated - set(listed)}, "
            f"nodes' ports not allocated: {set(listed) - allocated}")

    def check_dirs(self, views):
        """A node directory for every listed node and nothing else."""
        want = {(iid, n["id"]) for iid, v in views.items() for n in v["nodes"]}
        root = self.ctl.data_dir / "instances"
        have = {(d.parent.name, d.name) for d in root.glob("*/*") if d.is_dir()}
        assert have == want, f"directories without nodes: {have - want}, nodes without: " \
                             f"{want - have}"
        stray = {d.name for d in root.iterdir()} - {iid for iid, _ in want}
        assert not stray, f"instance directories without an instance: {stray}"

    def check_backups(self):
        """Succeeded backups are whole files matching their manifest; nothing half-written and
        no directory of a backup the API does not know."""
        root = self.ctl.data_dir / "backups"
        known = set()
        for bid in self.backups:
            r = self.api("GET", f"/v1/backups/{bid}")
            assert r.status_code == 200, f"backup {bid} lost: {r.text}"
            b = r.json()
            known.add(bid)
            if b["status"] == "failed":
                assert b["error"], b
                continue
            assert b["status"] == "succeeded", b
            assert len(b["manifest"]["shards"]) == b["shards"], b
            for s in b["manifest"]["shards"]:
                data = (root / bid / s["file"]).read_bytes()
                assert len(data) == s["size"], (bid, s)
                assert hashlib.sha256(data).hexdigest() == s["sha256"], (bid, s)
        if root.exists():
            leftovers = [p for p in root.rglob("*.tmp")]
            assert not leftovers, f"half-written backup files: {leftovers}"
            assert {d.name for d in root.iterdir()} <= known, "backup directories of no backup"

    def check(self):
        views = self.converge()
        self.check_shape(views)
        self.check_processes(views)
        self.check_ports(views)
        self.check_dirs(views)
        self.check_backups()
        self.check_data(views)


def fill(c, iid):
    """FILLER_KEYS small keys over every slot, so that syncs, moves and snapshots have work."""
    pipe = c.pipeline(transaction=False)
    for i in range(FILLER_KEYS):
        pipe.set(f"f:{iid}:{i}", "x" * FILLER_VALUE_BYTES)
    assert all(pipe.execute())


def dbsize(c):
    """Keys of the whole instance: summed over the masters of a cluster."""
    if not isinstance(c, RedisCluster):
        return c.dbsize()
    n = c.dbsize(target_nodes=RedisCluster.PRIMARIES)
    return sum(n.values()) if isinstance(n, dict) else n


def restart(ctl, rnd):
    """kill -9 and a start on the same data directory; sometimes a second kill -9 while the
    new daemon recovers (before or after it is ready)."""
    ctl.kill()
    if rnd.random() < SECOND_KILL_CHANCE:
        ctl.start(wait=rnd.random() < SECOND_KILL_AFTER_READY_CHANCE)
        time.sleep(rnd.uniform(0, SECOND_KILL_MAX_S))
        ctl.kill()
    ctl.start()


def node_client(node, password):
    return redis.Redis(host=HOST, port=node["port"], password=password, decode_responses=True,
                       socket_timeout=CLIENT_TIMEOUT)


def client_of(v, password):
    if v["shards"] == 1:
        return redis.Redis(host=HOST, port=v["endpoint"]["port"], password=password,
                           decode_responses=True, socket_timeout=CLIENT_TIMEOUT)
    return RedisCluster(startup_nodes=[ClusterNode(n["host"], n["port"]) for n in v["nodes"]],
                        password=password, decode_responses=True, socket_timeout=CLIENT_TIMEOUT)


@pytest.fixture
def cctl(control_factory):
    """A daemon whose API port lies below the kernel's ephemeral range: while it is down
    between a kill and its restart, an outgoing connection (a replica's, a client's) could
    otherwise take the port and the restart would find it in use."""
    ctl = control_factory(*FLAGS, start=False)
    ctl.port = api_port(ctl)
    ctl.url = f"http://{HOST}:{ctl.port}"
    return ctl.start()


def api_port(ctl):
    low = int(Path(EPHEMERAL_RANGE).read_text().split()[0])
    for _ in range(API_PORT_TRIES):
        port = random.randrange(API_PORT_MIN, min(low, API_PORT_MAX))
        if not ctl.port_min <= port <= ctl.port_max and _port_free(port):
            return port
    raise AssertionError("no free port for the API below the ephemeral range")


def test_kill_9_at_random_points_converges(cctl):
    print(f"chaos: seed {SEED}, {ROUNDS} rounds (DFLY_CHAOS_SEED, DFLY_CHAOS_ROUNDS)")
    rnd = random.Random(SEED)
    t = cctl.create_tenant()
    chaos = Chaos(cctl, cctl.create_token(t["id"])["secret"], rnd)
    started = time.monotonic()
    for n in range(ROUNDS):
        what = "?"
        try:
            what = chaos.start_op()
            # 0 .. MAX_KILL_DELAY_S, more often early: most operations take well under it.
            delay = rnd.uniform(0, MAX_KILL_DELAY_S) * rnd.random()
            time.sleep(delay)
            chaos.note_kill_point()
            restart(cctl, rnd)
            chaos.check()
        except AssertionError as e:
            raise AssertionError(f"seed {SEED}, round {n}: {what}: {e}") from e
        print(f"round {n}: {what}, killed after {delay:.2f} s; "
              f"{time.monotonic() - started:.1f} s so far")
    # The end: everything deleted (with one more kill in the middle), nothing left.
    for iid in list(chaos.instances):
        chaos.accepted(chaos.api("DELETE", f"/v1/instances/{iid}"), "delete")
        chaos.deleted.add(iid)
        del chaos.instances[iid]
    time.sleep(rnd.uniform(0, MAX_KILL_DELAY_S))
    restart(cctl, rnd)
    chaos.check()
    for bid in sorted(chaos.backups):
        assert chaos.api("DELETE", f"/v1/backups/{bid}").status_code == 204
    chaos.backups.clear()
    chaos.check()
    assert not any((cctl.data_dir / "instances").iterdir())
    assert not [p for p in sorted(chaos.seen_ports) if listening(p)], "ports still listening"
    backups = cctl.data_dir / "backups"
    assert not backups.exists() or not any(backups.iterdir())
    print(f"chaos: seed {SEED}: outcomes {sorted(chaos.outcomes.items())}, "
          f"{time.monotonic() - started:.1f} s")


def test_master_dead_across_a_daemon_crash_fails_over(cctl):
    """A master killed, its exit seen by the daemon (row: down), then the daemon killed
    before the failover: the next daemon must fail over, not start the master again empty
    (its replica would copy the empty master and every key would be gone)."""
    t = cctl.create_tenant()
    chaos = Chaos(cctl, cctl.create_token(t["id"])["secret"], random.Random(SEED))
    chaos.op_create_with(shards=1, replicas=1)
    chaos.check()
    iid = next(iter(chaos.instances))
    v = cctl.instance(iid)
    chaos.wait_replicas_synced(v)
    master = next(n for n in v["nodes"] if n["role"] == "master")
    os.kill(master["pid"], signal.SIGKILL)
    wait_for(lambda: any(n["id"] == master["id"] and n["status"] == "down"
                         for n in cctl.instance(iid)["nodes"]), CONVERGE_TIMEOUT,
             "the daemon to see the master exit")
    cctl.kill()
    cctl.start()
    chaos.check()  # every key is still there
    r = cctl.api("GET", f"/v1/instances/{iid}/events", params={"limit": 100})
    assert any(e["type"] == "failover" for e in r.json()["items"]), r.text
    v = cctl.instance(iid)
    assert next(n for n in v["nodes"] if n["id"] == master["id"])["role"] == "replica"
