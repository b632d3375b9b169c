#!/usr/bin/python3
"""dfly-control's figures (issue 9), one run, printed as markdown tables:

1. time from POST /v1/instances to `running`, for 1-shard and 3-shard instances (median and
   worst of BENCH_CREATES each; each instance deleted before the next);
2. API latency p50/p99 of GET /v1/instances/{id} and of GET /v1/instances?limit=20 under
   BENCH_CLIENTS concurrent clients (threads with keep-alive connections) for BENCH_SECONDS
   each, with BENCH_INSTANCES instances in the database: the daemon gets a port range of two
   ports, so one instance runs and the others stay `creating` ("no free ports") without
   processes, while the reconciler still passes over all of them;
3. the daemon's CPU (utime+stime over BENCH_SECONDS) and RSS with BENCH_NODES running nodes
   (3-shard instances, --node-threads 1).

Every daemon and node it starts is stopped at the end, also on an error or Ctrl-C.

    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2
    tests/bench/bench_control.py
"""

import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD_DIR", ROOT / "build"))
CONTROL = os.environ.get("DFLY_CONTROL", str(BUILD / "controlplane" / "dfly-control"))
SERVER = os.environ.get("DFLY_SERVER", str(BUILD / "dataplane" / "dfly-server"))
CREATES = int(os.environ.get("BENCH_CREATES", "5"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "50"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
INSTANCES = int(os.environ.get("BENCH_INSTANCES", "500"))
NODES = int(os.environ.get("BENCH_NODES", "100"))
HOST = "127.0.0.1"
TIMEOUT = 120


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, workdir, port_range):
        self.dir = Path(workdir)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [CONTROL, "--listen", f"{HOST}:{self.port}", "--data-dir", str(self.dir),
             "--server-binary", SERVER, "--port-range", port_range, "--loglevel", "warning",
             "--rate-limit", "0", "--http-threads", "4", "--stop-grace-period", "3000"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir.parent / "control.log", "ab"),
            start_new_session=True)
        self.wait(lambda: self.get("/readyz")[0] == 200, "readiness")
        self.token = (self.dir / "operator.token").read_text().strip()

    def request(self, method, path, body=None, conn=None):
        c = conn or http.client.HTTPConnection(HOST, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {getattr(self, 'token', '')}"}
        c.request(method, path, body=json.dumps(body) if body is not None else None,
                  headers=headers)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, (json.loads(data) if data else None)

    def get(self, path):
        try:
            return self.request("GET", path)
        except OSError:
            return 0, None

    @staticmethod
    def wait(pred, what, timeout=TIMEOUT, interval=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(interval)
        raise RuntimeError(f"timed out waiting for {what}")

    def cpu_seconds(self):
        f = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        # Nodes outlive the daemon by design: end the ones of this run.
        needle = str(self.dir / "instances")
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if needle.encode() in (d / "cmdline").read_bytes():
                        os.kill(int(d.name), signal.SIGKILL)
                except OSError:
                    pass


def create(d, tenant, name, shards, memory="64mb"):
    st, body = d.request("POST", "/v1/instances",
                         {"tenant_id": tenant, "name": name, "memory": memory, "shards": shards})
    assert st == 202, body
    return body["instance"]["id"]


def status(d, iid):
    st, body = d.request("GET", f"/v1/instances/{iid}")
    return body["status"] if st == 200 else None


def bench_create(d, tenant):
    rows = []
    for shards in (1, 3):
        times = []
        for i in range(CREATES):
            t0 = time.monotonic()
            iid = create(d, tenant, f"c{shards}-{i}", shards)
            d.wait(lambda: status(d, iid) == "running", f"{iid} running")
            times.append(time.monotonic() - t0)
            d.request("DELETE", f"/v1/instances/{iid}")
            d.wait(lambda: status(d, iid) is None, f"{iid} gone")
        rows.append((shards, statistics.median(times), max(times)))
    return rows


def load(d, paths):
    """BENCH_CLIENTS threads, each with its own connection, for BENCH_SECONDS: latencies."""
    lat, errors = [], []
    stop = time.monotonic() + SECONDS
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(HOST, d.port, timeout=30)
        mine = []
        while time.monotonic() < stop:
            path = random.choice(paths)
            t0 = time.perf_counter()
            st, _ = d.request("GET", path, conn=conn)
            mine.append(time.perf_counter() - t0)
            if st != 200:
                errors.append(st)
        conn.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
    return len(lat) / SECONDS, q(0.50), q(0.99), len(errors)


def bench_api(workdir):
    d = Daemon(workdir, "29990-29991")  # two ports: one node, no more
    try:
        _, t = d.request("POST", "/v1/tenants", {"name": "bench", "max_instances": 10000,
                                                  "max_memory": "100tb"})
        ids = [create(d, t["id"], f"i{i}", 1, "8mb") for i in range(INSTANCES)]
        time.sleep(2)  # a few reconciler passes over all of them
        gets = load(d, [f"/v1/instances/{random.choice(ids)}" for _ in range(200)])
        lists = load(d, ["/v1/instances?limit=20"])
        return gets, lists, d.rss_mb()
    finally:
        d.stop()


def bench_nodes(workdir):
    lo = random.randrange(30000, 40000)
    d = Daemon(workdir, f"{lo}-{lo + 2 * NODES + 50}")
    try:
        _, t = d.request("POST", "/v1/tenants", {"name": "bench", "max_instances": 1000,
                                                  "max_memory": "100tb"})
        per = 3
        ids = [create(d, t["id"], f"n{i}", per, "48mb") for i in range((NODES + per - 1) // per)]
        d.wait(lambda: all(status(d, i) == "running" for i in ids), "all running", 600, 1)
        time.sleep(2)
        c0, t0 = d.cpu_seconds(), time.monotonic()
        time.sleep(SECONDS)
        cpu = (d.cpu_seconds() - c0) / (time.monotonic() - t0) * 100
        return len(ids) * per, cpu, d.rss_mb()
    finally:
        d.stop()


def main():
    for b in (CONTROL, SERVER):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench_control: {b} is not built")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for sub in ("create", "api", "nodes"):
            (root / sub / "var").mkdir(parents=True)
        lo = random.randrange(40000, 50000)
        d = Daemon(root / "create" / "var", f"{lo}-{lo + 99}")
        try:
            _, t = d.request("POST", "/v1/tenants", {"name": "bench"})
            creates = bench_create(d, t["id"])
        finally:
            d.stop()
        gets, lists, api_rss = bench_api(root / "api" / "var")
        nodes, cpu, rss = bench_nodes(root / "nodes" / "var")

    print(f"\n### POST to running ({CREATES} instances each, median / worst)\n")
    print("| shards | nodes | median | worst |\n| --- | --- | --- | --- |")
    for shards, med, worst in creates:
        print(f"| {shards} | {shards} | {med * 1000:.0f} ms | {worst * 1000:.0f} ms |")
    print(f"\n### API latency, {CLIENTS} clients, {SECONDS:.0f} s, {INSTANCES} instances\n")
    print("| request | requests/s | p50 | p99 | errors |\n| --- | --- | --- | --- | --- |")
    for name, (rps, p50, p99, err) in (("GET /v1/instances/{id}", gets),
                                       ("GET /v1/instances?limit=20", lists)):
        print(f"| {name} | {rps:.0f} | {p50:.1f} ms | {p99:.1f} ms | {err} |")
    print(f"\n(daemon RSS with {INSTANCES} instances: {api_rss:.1f} MB)\n")
    print(f"### The daemon with {nodes} running nodes\n")
    print("| nodes | CPU (idle, % of one core) | RSS |\n| --- | --- | --- |")
    print(f"| {nodes} | {cpu:.1f} % | {rss:.1f} MB |")


if __name__ == "__main__":
    main()
