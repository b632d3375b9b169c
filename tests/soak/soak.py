#!/usr/bin/python3
"""Soak run (issue 17): a long mixed load against one dfly-server, with memory sampled over time.

    tests/soak/soak.py [--minutes 30] [--server build/dataplane/dfly-server] [--threads 2]
                       [--connections 8] [--maxmemory 256mb] [--out soak.csv]

What runs at once, until the time is up:
- `--connections` clients drawing random commands of every family (tests/integration/cmdgen.py)
  over a keyspace that grows and is deleted again (so memory must come back);
- a publisher and two subscribers (one pattern) that check every message arrives in order;
- a BGSAVE every minute, and a replica (a second dfly-server) that follows the whole time;
- expiring keys (SET ... PX) so that active expiry works throughout.

Every 10 s it records used_memory, RSS, keys, ops and the replica's lag to the CSV. At the end
it checks: the server never died, no unexpected error reply, messages arrived in order, the
replica's digest equals the master's after it caught up, and that memory is flat: the RSS of the
last quarter of the run is within --rss-growth (default 20 %) of the second quarter's (the first
quarter is the warm-up), or grew by less than 64 MB. Exit code 0 when every check holds; the summary says which failed.
"""

import argparse
import csv
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import redis  # noqa: E402

import cmdgen  # noqa: E402

SAMPLE_S = 10
RSS_NOISE_BYTES = 64 << 20  # allocator and buffer swings below this are not growth
BGSAVE_S = 60
START_TIMEOUT_S = 30
CATCH_UP_TIMEOUT_S = 120


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, workdir, threads, extra):
    port = free_port()
    os.makedirs(workdir, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--threads", str(threads),
            "--dir", workdir, "--logfile", os.path.join(workdir, "dfly-server.log"), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    c = redis.Redis(port=port, decode_responses=True, socket_timeout=10)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            c.ping()
            return proc, port
        except redis.ConnectionError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited at start: see {workdir}/dfly-server.log")
            time.sleep(0.1)
    raise SystemExit("server did not start")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Loader(threading.Thread):
    """Random commands; every few thousand, a burst of bulk keys that are deleted again."""

    def __init__(self, port, seed, stop):
        super().__init__(daemon=True)
        self.port, self.seed, self.stop = port, seed, stop
        self.ops = 0
        self.unexpected = []

    def run(self):
        rng = random.Random(self.seed)
        c = redis.Redis(port=self.port, socket_timeout=60)
        c.response_callbacks = {}
        while not self.stop.is_set():
            try:
                if rng.random() < 0.001:
                    self.burst(c, rng)
                steps = [(cmdgen.chaotic(rng), False)] if rng.random() < 0.1 else cmdgen.sequence(rng)
                for args, _ in steps:
                    try:
                        c.execute_command(*args)
                    except redis.ResponseError as e:
                        if not str(e).startswith(cmdgen.EXPECTED_ERRORS):
                            self.unexpected.append((args, str(e)))
                    self.ops += 1
                if rng.random() < 0.05:
                    c.execute_command("SET", f"exp:{self.seed}:{rng.randrange(5000)}", "v" * 100,
                                      "PX", str(rng.randint(10, 5000)))
            except redis.ConnectionError as e:
                self.unexpected.append((["<connection>"], str(e)))
                return

    def burst(self, c, rng):
        tag = f"bulk:{self.seed}:{rng.randrange(1000)}"
        pipe = c.pipeline(transaction=False)
        for i in range(5000):
            pipe.execute_command("HSET", f"{tag}:{i}", "f", "x" * rng.randint(10, 500))
        pipe.execute()
        pipe = c.pipeline(transaction=False)
        for i in range(5000):
            pipe.execute_command("UNLINK", f"{tag}:{i}")
        pipe.execute()


class PubSubCheck(threading.Thread):
    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.sent = 0
        self.errors = []

    def run(self):
        subs = []
        for pattern in (False, True):
            p = redis.Redis(port=self.port, socket_timeout=60).pubsub()
            p.psubscribe("soak:*") if pattern else p.subscribe("soak:chan")
            subs.append([p, -1])
        pub = redis.Redis(port=self.port, socket_timeout=60)
        while not self.stop.is_set():
            pub.publish("soak:chan", str(self.sent))
            self.sent += 1
            for sub in subs:
                while True:
                    m = sub[0].get_message(timeout=0)
                    if not m:
                        break
                    if m["type"] not in ("message", "pmessage"):
                        continue
                    n = int(m["data"])
                    if n != sub[1] + 1:
                        self.errors.append(f"message {n} after {sub[1]}")
                    sub[1] = n
            time.sleep(0.001)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.join(HERE, "..", "..")
    ap.add_argument("--server", default=os.path.join(root, "build", "dataplane", "dfly-server"))
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--maxmemory", default="256mb")
    ap.add_argument("--rss-growth", type=float, default=0.20)
    ap.add_argument("--out", default="soak.csv")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dfly-soak-")
    extra = ["--maxmemory", args.maxmemory, "--maxmemory-policy", "allkeys-lru"]
    master, mport = start(args.server, os.path.join(work, "master"), args.threads, extra)
    replica, rport = start(args.server, os.path.join(work, "replica"), args.threads, [])
    rc = redis.Redis(port=rport, decode_responses=True, socket_timeout=30)
    rc.execute_command("REPLICAOF", "127.0.0.1", mport)
    mc = redis.Redis(port=mport, decode_responses=True, socket_timeout=30)

    stop = threading.Event()
    loaders = [Loader(mport, 1000 + i, stop) for i in range(args.connections)]
    ps = PubSubCheck(mport, stop)
    for t in loaders + [ps]:
        t.start()

    samples = []
    end = time.monotonic() + args.minutes * 60
    next_save = time.monotonic() + BGSAVE_S
    print(f"soak: {args.minutes} min against {args.server} (workdir {work})", flush=True)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["seconds", "used_memory", "rss", "keys", "ops", "replica_lag_bytes"])
        t0 = time.monotonic()
        while time.monotonic() < end and master.poll() is None:
            time.sleep(SAMPLE_S)
            if time.monotonic() >= next_save:
                try:
                    mc.bgsave()
                except redis.ResponseError:
                    pass  # one already running
                next_save += BGSAVE_S
            info = mc.info()
            lag = info.get("master_repl_offset", 0) - rc.info("replication").get("slave_repl_offset", 0)
            row = [round(time.monotonic() - t0), info["used_memory"], rss_bytes(master.pid),
                   mc.dbsize(), sum(l.ops for l in loaders), lag]
            samples.append(row)
            w.writerow(row)
            f.flush()
            print("soak: " + " ".join(f"{k}={v}" for k, v in zip(
                ["s", "used", "rss", "keys", "ops", "lag"], row)), flush=True)
    stop.set()
    for t in loaders + [ps]:
        t.join(60)

    failures = []
    if master.poll() is not None:
        failures.append(f"the master exited with {master.returncode}")
    unexpected = [u for l in loaders for u in l.unexpected]
    if unexpected:
        failures.append(f"unexpected replies: {unexpected[:5]}")
    if ps.errors:
        failures.append(f"pub/sub order: {ps.errors[:5]}")
    if not failures:
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
        while time.monotonic() < deadline:
            if rc.info("replication")["slave_repl_offset"] == mc.info("replication")["master_repl_offset"]:
                break
            time.sleep(0.5)
        if mc.execute_command("DEBUG", "DIGEST") != rc.execute_command("DEBUG", "DIGEST"):
            failures.append("the replica's digest differs from the master's")
    quarter = len(samples) // 4
    if quarter >= 1:
        second = max(s[2] for s in samples[quarter:2 * quarter])
        last = max(s[2] for s in samples[3 * quarter:])
        growth = (last - second) / second
        print(f"soak: RSS second quarter max {second}, last quarter max {last} ({growth:+.1%})")
        if growth > args.rss_growth and last - second > RSS_NOISE_BYTES:
            failures.append(f"RSS grew {growth:.1%} between the second and the last quarter")
    for p in (master, replica):
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(60)
    print(f"soak: {sum(l.ops for l in loaders)} commands, {ps.sent} messages; samples in {args.out}")
    if failures:
        print("soak: FAILED\n  " + "\n  ".join(failures))
        return 1
    print("soak: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
