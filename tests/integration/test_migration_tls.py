"""Slot migration over TLS (--tls_cluster): nodes run with --tls, so their admin ports speak
TLS, and the source's link to the target's admin port does too. A migration under concurrent
writes ends FINISHED with every key on the target; a target whose certificate comes from a CA
the source does not trust ends the migration in ERROR with the reason.

Certificates are made with the openssl CLI as test_tls.py makes them."""

import json
import random
import threading
import time

import pytest
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, Client, free_port
from shardkeys import key_slot
from test_tls import Certs, TlsServer, _make_ca, _make_cert

SLOTS = 16384
HALVES = [(0, 8191), (8192, SLOTS - 1)]
MOVING = (0, 2999)  # the slots node a hands to node b
STATUS = "SLOT-MIGRATION-STATUS"
STRINGS = 20_000
HASHES = 500
FIELDS = 6
WAIT_S = 120.0  # the migration under ASan with writes going on
POLL_S = 0.05
MORE_WRITES = 200  # writes after the final configuration, through the new owner
TIMEOUT_S = 30


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    _make_ca(d, "ca")
    _make_ca(d, "ca2")
    _make_cert(d, "server", "ca", server=True)
    _make_cert(d, "client", "ca")
    _make_cert(d, "server2", "ca2", server=True)  # a server certificate of another CA
    return Certs(d)


class Node:
    """A cluster-mode dfly-server with --tls and --tls_cluster; its admin port speaks TLS."""

    def __init__(self, server, admin_port, admin_tls=True):
        self.server = server
        self.admin_port = admin_port
        self.admin_tls = admin_tls
        self.port = server.port
        self.id = server.tls_client().execute_command("CLUSTER", "MYID")

    def client(self):
        return self.server.tls_client(socket_timeout=TIMEOUT_S)

    def admin(self, *args):
        if self.admin_tls:
            c = self.server.tls_client(port=self.admin_port, socket_timeout=TIMEOUT_S)
        else:
            c = Client(host=HOST, port=self.admin_port, decode_responses=True, socket_timeout=30)
        try:
            return c.execute_command(*args)
        finally:
            c.close()

    def push(self, cfg):
        assert self.admin("DFLYCLUSTER", "CONFIG", json.dumps(cfg)) == "OK"

    def state(self, peer):
        rows = self.admin("DFLYCLUSTER", STATUS)
        if rows == "NO_STATE":
            return None
        return next((row for row in rows if row[1] == peer.id), None)


@pytest.fixture
def node_factory(request, dfly_binary, tmp_path, certs):
    from conftest import _finish

    servers = []

    def start(*extra, ca="ca"):
        admin = free_port()
        args = ["--cluster_mode=yes", f"--admin_port={admin}", "--tls_cluster", "yes", *extra]
        s = TlsServer(dfly_binary, tmp_path / f"dfly{len(servers)}", certs, args=args, ca=ca)
        servers.append(s)
        s.start()
        return Node(s, admin, admin_tls="--no_tls_on_admin_port" not in extra)

    yield start
    _finish(request, servers)


def node_json(n):
    return {"id": n.id, "ip": HOST, "port": n.port}


def shard(ranges, master, migrations=None):
    s = {
        "slot_ranges": [{"start": a, "end": b} for a, b in ranges],
        "master": node_json(master),
        "replicas": [],
    }
    if migrations:
        s["migrations"] = migrations
    return s


def initial(a, b):
    return [shard([HALVES[0]], a), shard([HALVES[1]], b)]


def migrating(a, b):
    cfg = initial(a, b)
    cfg[0]["migrations"] = [
        {
            "node_id": b.id,
            "ip": HOST,
            "port": b.admin_port,
            "slot_ranges": [{"start": MOVING[0], "end": MOVING[1]}],
        }
    ]
    return cfg


def final(a, b):
    return [shard([(MOVING[1] + 1, HALVES[0][1])], a), shard([MOVING, HALVES[1]], b)]


def cluster_client(node):
    c = node.server.certs
    return RedisCluster(
        startup_nodes=[ClusterNode(HOST, node.port)],
        decode_responses=True,
        socket_timeout=TIMEOUT_S,
        ssl=True,
        ssl_ca_certs=c.crt("ca"),
        ssl_certfile=c.crt("client"),
        ssl_keyfile=c.key("client"),
    )


def wait_for(pred, what, timeout=WAIT_S):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


def wait_state(node, peer, state):
    def check():
        row = node.state(peer)
        if row and row[2] == "ERROR" and state != "ERROR":
            raise AssertionError(f"migration failed: {row}")
        return row if row and row[2] == state else None

    return wait_for(check, f"{state} on {node.id}")


def moving(key):
    return MOVING[0] <= key_slot(key) <= MOVING[1]


# --- the data ---------------------------------------------------------------------------------


def fill(rc, model):
    """Strings and hashes over every slot (both shards of both nodes)."""
    p = rc.pipeline()
    for i in range(STRINGS):
        p.set(f"s:{i}", f"v{i}")
        model[f"s:{i}"] = f"v{i}"
    for i in range(HASHES):
        h = {f"f{j}": f"{i}.{j}" for j in range(FIELDS)}
        p.hset(f"h:{i}", mapping=h)
        model[f"h:{i}"] = h
    p.execute()


class Writer(threading.Thread):
    """Overwrites strings, adds keys and hash fields through its own client until stopped."""

    def __init__(self, node, model):
        super().__init__(daemon=True)
        self.rc = cluster_client(node)
        self.model = model
        self.rnd = random.Random(11)
        self.stop = threading.Event()
        self.count = 0
        self.error = None

    def one(self, i):
        kind = self.rnd.randrange(3)
        if kind == 0:
            k = f"s:{self.rnd.randrange(STRINGS)}"
            self.rc.set(k, f"w{i}")
            self.model[k] = f"w{i}"
        elif kind == 1:
            k = f"new:{i}"
            self.rc.set(k, str(i))
            self.model[k] = str(i)
        else:
            k = f"h:{self.rnd.randrange(HASHES)}"
            self.rc.hset(k, "w", str(i))
            self.model[k]["w"] = str(i)

    def run(self):
        try:
            while not self.stop.is_set():
                self.one(self.count)
                self.count += 1
        except Exception as e:  # reported by the test
            self.error = e

    def finish(self, more):
        target = self.count + more
        wait_for(lambda: self.count >= target or self.error, "more writes", timeout=60)
        self.stop.set()
        self.join(TIMEOUT_S)
        assert self.error is None, repr(self.error)


def value_of(c, key):
    return c.hgetall(key) if key.startswith("h:") else c.get(key)


# --- tests ------------------------------------------------------------------------------------


def test_migration_over_tls_under_writes(node_factory):
    a, b = node_factory(), node_factory()
    for n in (a, b):
        n.push(initial(a, b))
    model = {}
    fill(cluster_client(a), model)
    writer = Writer(a, model)
    writer.start()
    wait_for(lambda: writer.count > 0 or writer.error, "first writes")
    cfg = migrating(a, b)
    b.push(cfg)
    before = writer.count
    a.push(cfg)
    out = wait_state(a, b, "FINISHED")
    assert writer.count > before and writer.error is None  # the writes went on meanwhile
    assert out[0] == "out" and out[3] > 0 and out[4] == "0", out
    assert wait_state(b, a, "FINISHED")[0] == "in"
    for n in (b, a):
        n.push(final(a, b))
    writer.finish(MORE_WRITES)
    # Every key of the moving slots is on the target, with its latest value; the rest stayed.
    on_b, on_a = b.client(), a.client()
    wrong = []
    for k, want in model.items():
        got = value_of(on_b if moving(k) or key_slot(k) >= HALVES[1][0] else on_a, k)
        if got != want:
            wrong.append((k, want, got))
    assert not wrong, f"{len(wrong)} keys differ, e.g. {wrong[:3]}"
    assert sum(moving(k) for k in model) > 0


def test_target_certificate_from_another_ca(node_factory, certs):
    a = node_factory()
    # The target trusts the source's certificate (its CA is ca) but presents one of ca2.
    b = node_factory("--tls_cert_file", certs.crt("server2"), "--tls_key_file",
                     certs.key("server2"), ca="ca2")  # fmt: skip
    for n in (a, b):
        n.push(initial(a, b))
    key = next(f"k{i}" for i in range(1000) if moving(f"k{i}"))
    a.client().set(key, "v")
    cfg = migrating(a, b)
    b.push(cfg)
    a.push(cfg)
    row = wait_state(a, b, "ERROR")
    reason = row[4]
    assert row[0] == "out" and "TLS handshake with the target" in reason, row
    assert "certificate" in reason, row
    # The source keeps serving its slots.
    assert a.client().get(key) == "v"


def test_target_admin_port_in_plain_text(node_factory):
    a = node_factory()
    b = node_factory("--no_tls_on_admin_port", "yes")
    for n in (a, b):
        n.push(initial(a, b))
    cfg = migrating(a, b)
    b.push(cfg)
    a.push(cfg)
    row = wait_state(a, b, "ERROR")
    assert row[0] == "out" and "TLS handshake with the target" in row[4], row
    assert b.state(a) is None or b.state(a)[2] != "FINISHED"
