"""Metrics aggregation (issue 14) end to end: dfly-control scrapes real nodes every second, and
GET /v1/instances/{id}/metrics and the daemon's /metrics show what clients did to them."""

import math
import os
import re
import signal
import sqlite3
import time

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, wait_for

RUN_TIMEOUT = 60
SCRAPE_MS = 1000
SCRAPE_TIMEOUT = 15  # seconds for a few scrapes to land
KEYS = 5000
VALUE = "v" * 100
MEMORY = 64 << 20
MEMORY_TOLERANCE = 0.05
DAY_MS = 24 * 3600 * 1000


def start(control_factory):
    return control_factory("--scrape-interval", str(SCRAPE_MS))


def create(control, tok, name, shards=2, replicas=0):
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": name, "memory": MEMORY, "shards": shards,
                          "replicas_per_shard": replicas})
    assert r.status_code == 202, r.text
    iid = r.json()["instance"]["id"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    return inst, r.json()["credentials"]["password"]


def metrics(control, iid, token=None, **params):
    r = control.api("GET", f"/v1/instances/{iid}/metrics", token=token, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def latest(control, iid, name, node_id=None, token=None):
    """(time, value) of the newest raw point of a series, or None."""
    body = metrics(control, iid, token=token, names=name, step=1,
                   **{"from": time.time() - 30})
    for s in body["series"]:
        if s["name"] == name and s["node_id"] == node_id and s["points"]:
            return tuple(s["points"][-1])
    return None


def node_client(node, password):
    return redis.Redis(host=node["host"], port=node["port"], password=password,
                       decode_responses=True, socket_timeout=10)


# --- a strict parser of Prometheus's text format (0.0.4) ---------------------------------------
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({NAME})(?:\{{((?:{LABEL})(?:,{LABEL})*)?\}})? (\S+)(?: (-?\d+))?$")
LABEL_RX = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_prometheus(text):
    """{(name, frozenset(labels)): value}; raises AssertionError on anything malformed."""
    assert text.endswith("\n"), "the text must end with a newline"
    types, samples = {}, {}
    for n, line in enumerate(text.split("\n")[:-1], 1):
        if line.startswith("# HELP "):
            assert re.match(rf"^# HELP {NAME} .*$", line), (n, line)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            assert len(parts) == 4 and re.fullmatch(NAME, parts[2]) and parts[3] in TYPES, line
            assert parts[2] not in types, f"line {n}: TYPE of {parts[2]} repeated"
            types[parts[2]] = parts[3]
            continue
        assert not line.startswith("#") or line.startswith("# "), (n, line)
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"line {n} is not a sample: {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, f"line {n}: {name} has no TYPE before it"
        v = float(value)  # raises on garbage; NaN and +Inf are valid
        assert not math.isnan(v) or value == "NaN", line
        key = (name, frozenset(LABEL_RX.findall(labels)))
        assert key not in samples, f"line {n}: duplicate series {line}"
        samples[key] = v
    return samples


def series_value(samples, name, **labels):
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_load_memory_keys_and_prometheus(control_factory):
    control = start(control_factory)
    t = control.create_tenant("metrics-a")
    tok = control.create_token(t["id"])["secret"]
    inst, password = create(control, tok, "loaded")
    iid = inst["id"]
    rc = RedisCluster(startup_nodes=[ClusterNode(HOST, inst["endpoint"]["port"])],
                      password=password, decode_responses=True, socket_timeout=10)
    try:
        # Load over a few scrapes: writes to both shards, then hits and misses.
        deadline = time.monotonic() + 3
        rounds = 0
        while time.monotonic() < deadline or rounds < 2:
            pipe = rc.pipeline()
            for i in range(KEYS):
                pipe.set(f"key:{i}", VALUE)
            pipe.execute()
            pipe = rc.pipeline()
            for i in range(KEYS):
                pipe.get(f"key:{i}" if i % 2 else f"missing:{i}")
            pipe.execute()
            rounds += 1
    finally:
        rc.close()

    # ops/s: non-zero during the load, with hits and misses in the ratio the load had.
    body = metrics(control, iid, token=tok, step=1, **{"from": time.time() - 60},
                   names="ops_per_sec,read_ops_per_sec,write_ops_per_sec,hit_ratio")
    assert body["resolution"] == "raw" and body["step"] == 1

    def values(name):
        return [v for s in body["series"] if s["name"] == name for _, v in s["points"]]

    assert max(values("ops_per_sec")) > 1000, values("ops_per_sec")
    # By class (the node's ACL categories): as many GETs as SETs in each round.
    assert max(values("read_ops_per_sec")) > 500 and max(values("write_ops_per_sec")) > 500
    ratios = values("hit_ratio")
    assert any(0.3 < v < 0.7 for v in ratios), ratios

    masters = [n for n in inst["nodes"] if n["role"] == "master"]
    assert len(masters) == 2

    # Keys and memory once the load stopped: they agree with the masters' INFO.
    def memory_agrees():
        used = 0
        for n in masters:
            c = node_client(n, password)
            used += c.info("memory")["used_memory"]
            c.connection_pool.disconnect()
        asked = time.time()
        wait_for(lambda: (latest(control, iid, "used_memory_bytes", token=tok) or (0,))[0]
                 > asked, SCRAPE_TIMEOUT, "a scrape after INFO")
        _, scraped = latest(control, iid, "used_memory_bytes", token=tok)
        return abs(scraped - used) <= MEMORY_TOLERANCE * used and (used, scraped)

    used, scraped = wait_for(memory_agrees, SCRAPE_TIMEOUT * 2, "used memory to agree")
    assert latest(control, iid, "keys", token=tok)[1] == KEYS
    assert latest(control, iid, "memory_limit_bytes", token=tok)[1] == MEMORY
    share = latest(control, iid, "memory_share", token=tok)[1]
    assert 0 < share < 1 and abs(share - scraped / MEMORY) < 0.01
    assert latest(control, iid, "nodes_up", token=tok)[1] == 2
    assert latest(control, iid, "nodes_down", token=tok)[1] == 0
    for n in inst["nodes"]:
        assert latest(control, iid, "node_up", node_id=n["id"], token=tok)[1] == 1

    # Minute rollups answer a coarser step.
    body = metrics(control, iid, token=tok, names="keys", step=60,
                   **{"from": time.time() - 600})
    assert body["resolution"] == "1m"
    assert body["series"] and body["series"][0]["points"][-1][1] > 0

    # The daemon's /metrics: strict Prometheus text with the instance's series and labels.
    r = control.api("GET", "/metrics", token="")
    assert r.status_code == 200
    samples = parse_prometheus(r.text)
    # Not "instance": Prometheus sets that label to the scraped target itself.
    labels = {"instance_id": iid, "instance_name": "loaded", "tenant_id": t["id"],
              "tenant_name": "metrics-a"}
    assert series_value(samples, "dfly_instance_keys", **labels) == KEYS
    assert series_value(samples, "dfly_instance_nodes_up", **labels) == 2
    assert series_value(samples, "dfly_instance_used_memory_bytes", **labels) > 0
    for n in inst["nodes"]:
        assert series_value(samples, "dfly_node_node_up", node_id=n["id"]) == 1

    # Another tenant cannot read them (as if the instance did not exist); the operator can.
    other = control.create_tenant("metrics-b")
    other_tok = control.create_token(other["id"])["secret"]
    r = control.api("GET", f"/v1/instances/{iid}/metrics", token=other_tok)
    assert r.status_code == 404, r.text
    assert metrics(control, iid)["instance_id"] == iid


def test_stopped_node_shows_down_and_others_keep_flowing(control_factory):
    control = start(control_factory)
    t = control.create_tenant()
    tok = control.create_token(t["id"])["secret"]
    inst, _ = create(control, tok, "flaky")
    iid = inst["id"]
    victim, healthy = inst["nodes"][0], inst["nodes"][1]
    wait_for(lambda: (latest(control, iid, "nodes_up", token=tok) or (0, 0))[1] == 2,
             SCRAPE_TIMEOUT, "both nodes up")
    # A stopped process neither answers nor exits: the scrape times out on it.
    os.kill(victim["pid"], signal.SIGSTOP)
    try:
        wait_for(lambda: (latest(control, iid, "node_up", victim["id"], token=tok) or (0, 1))[1]
                 == 0, SCRAPE_TIMEOUT, "the stopped node to show down")
        assert latest(control, iid, "nodes_down", token=tok)[1] >= 1
        # The healthy node is still scraped on schedule despite its neighbour's timeouts.
        t0 = latest(control, iid, "node_up", healthy["id"], token=tok)[0]
        wait_for(lambda: latest(control, iid, "node_up", healthy["id"], token=tok)[0] > t0 + 1,
                 SCRAPE_TIMEOUT, "scrapes of the healthy node to go on")
        assert latest(control, iid, "node_up", healthy["id"], token=tok)[1] == 1
    finally:
        os.kill(victim["pid"], signal.SIGCONT)
    wait_for(lambda: latest(control, iid, "node_up", victim["id"], token=tok)[1] == 1,
             SCRAPE_TIMEOUT * 2, "the node to show up again")


def test_queries_checked_and_retention_enforced(control_factory):
    control = start(control_factory)
    t = control.create_tenant()
    tok = control.create_token(t["id"])["secret"]
    inst, _ = create(control, tok, "kept", shards=1)
    iid = inst["id"]
    for params in ({"names": "nope"}, {"from": "x"}, {"from": 200, "to": 100}, {"step": 0},
                   {"step": 1, "from": 0}):
        r = control.api("GET", f"/v1/instances/{iid}/metrics", token=tok, params=params)
        assert r.status_code == 400, (params, r.text)
    r = control.api("GET", "/v1/instances/in_nope/metrics", token=tok)
    assert r.status_code == 404

    # Points older than a day and rollups older than 30 days go at the next pass; younger
    # rollups stay and answer ranges beyond a day.
    now = int(time.time() * 1000)
    old_raw, old_rollup, kept_rollup = now - 2 * DAY_MS, now - 31 * DAY_MS, now - 2 * DAY_MS
    db = sqlite3.connect(control.data_dir / "control.db", timeout=10)
    try:
        with db:
            db.execute("INSERT INTO metric_points VALUES (?, 'keys', '', ?, 7)", (iid, old_raw))
            for period in (60000, 3600000):
                for ts in (old_rollup, kept_rollup):
                    db.execute("INSERT INTO metric_rollups VALUES (?, ?, 'keys', '', ?, 14, 2, "
                               "7, 7)", (iid, period, ts - ts % period))

        def swept():
            left = db.execute("SELECT count(*) FROM metric_points WHERE ts < ?",
                              (now - DAY_MS,)).fetchone()[0]
            left += db.execute("SELECT count(*) FROM metric_rollups WHERE ts < ?",
                               (now - 30 * DAY_MS,)).fetchone()[0]
            return left == 0

        wait_for(swept, SCRAPE_TIMEOUT, "retention to remove old points")
        kept = db.execute("SELECT count(*) FROM metric_rollups WHERE ts < ?",
                          (now - DAY_MS,)).fetchone()[0]
        assert kept == 2
    finally:
        db.close()
    body = metrics(control, iid, token=tok, names="keys", step=3600,
                   **{"from": (now - 3 * DAY_MS) / 1000})
    assert body["resolution"] == "1h"
    points = body["series"][0]["points"]
    assert points[0][1] == 7 and points[0][0] * 1000 < now - DAY_MS


def test_replication_lag_per_replica(control_factory, replication_available):
    if not replication_available:
        pytest.skip("this dfly-server has no replication")
    control = start(control_factory)
    t = control.create_tenant()
    tok = control.create_token(t["id"])["secret"]
    inst, password = create(control, tok, "replicated", shards=1, replicas=1)
    iid = inst["id"]
    master = next(n for n in inst["nodes"] if n["role"] == "master")
    replica = next(n for n in inst["nodes"] if n["role"] == "replica")
    c = node_client(master, password)
    try:
        for i in range(100):
            c.set(f"k{i}", VALUE)
    finally:
        c.connection_pool.disconnect()
    # The replica catches up: its lag comes back to 0 and only replicas have a lag series.
    wait_for(lambda: (latest(control, iid, "replication_lag_bytes", replica["id"], token=tok)
                      or (0, -1))[1] == 0, SCRAPE_TIMEOUT, "the replica's lag to be 0")
    assert latest(control, iid, "replication_lag_bytes", master["id"], token=tok) is None
    # Keys and memory count the master only (the replica holds the same data).
    wait_for(lambda: (latest(control, iid, "keys", token=tok) or (0, 0))[1] == 100,
             SCRAPE_TIMEOUT, "100 keys")
    assert latest(control, iid, "nodes_up", token=tok)[1] == 2


class Webhook:
    """A local HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self):
        import http.server
        import json
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(n)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_alerts_fire_resolve_and_call_the_webhook(control_factory):
    control = start(control_factory)
    t = control.create_tenant()
    tok = control.create_token(t["id"])["secret"]
    inst, _ = create(control, tok, "alerted", shards=1)
    iid = inst["id"]
    path = f"/v1/instances/{iid}/alerts"
    empty = control.api("GET", path, token=tok).json()
    assert empty["memory_share_max"] is None and empty["firing"] == []
    for bad in ({"hit_ratio_min": 2}, {"webhook_url": "ftp://x"}, {"nope": 1}):
        r = control.api("PUT", path, token=tok, json=bad)
        assert r.status_code == 422, (bad, r.text)
    other = control.create_token(control.create_tenant()["id"])["secret"]
    assert control.api("PUT", path, token=other, json={}).status_code == 404

    hook = Webhook()
    try:
        # Any data at all is more than a millionth of the memory: it fires.
        r = control.api("PUT", path, token=tok,
                        json={"memory_share_max": 1e-6, "webhook_url": hook.url})
        assert r.status_code == 200 and r.json()["memory_share_max"] == 1e-6
        wait_for(lambda: control.api("GET", path, token=tok).json()["firing"]
                 == ["memory_share"], SCRAPE_TIMEOUT, "the alert to fire")
        wait_for(lambda: hook.received, SCRAPE_TIMEOUT, "the webhook")
        note = hook.received[0]
        assert note["instance_id"] == iid and note["alert"] == "memory_share"
        assert note["state"] == "firing" and note["value"] > note["threshold"] == 1e-6

        control.api("PUT", path, token=tok, json={"memory_share_max": 0.99,
                                                  "webhook_url": hook.url})
        wait_for(lambda: control.api("GET", path, token=tok).json()["firing"] == [],
                 SCRAPE_TIMEOUT, "the alert to resolve")
        wait_for(lambda: len(hook.received) >= 2, SCRAPE_TIMEOUT, "the second webhook")
        assert hook.received[1]["state"] == "resolved"
        assert len(hook.received) == 2  # once per change, not per scrape
    finally:
        hook.close()
    events = control.api("GET", f"/v1/instances/{iid}/events", token=tok,
                         params={"limit": 100}).json()["items"]
    types = [e["type"] for e in events]
    assert types.count("alert_firing") == 1 and types.count("alert_resolved") == 1
