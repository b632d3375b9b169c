#!/usr/bin/python3
"""Bytes per element of every data type, dfly-server against Debian's redis-server, in one run.

    tests/bench/bench_memory.py [--dfly build/dataplane/dfly-server] [--large 200000]

Each scenario writes the same data into a fresh server of each kind (pipelined, from this
process) and reports the growth of INFO memory's used_memory divided by the number of elements
(keys included in the cost), then the ratio dfly/redis. Servers run on free 127.0.0.1 ports and
are always stopped. Not a test: the figures go into docs/benchmarks.md.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import redis

BATCH = 1000
START_TIMEOUT_S = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, argv, workdir):
        self.port = free_port()
        self.proc = subprocess.Popen(
            argv + ["--port", str(self.port), "--dir", workdir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(host="127.0.0.1", port=self.port)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{argv[0]} did not start")
                time.sleep(0.05)

    def used(self):
        return self.client.info("memory")["used_memory"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_pipelined(client, commands):
    pipe = client.pipeline(transaction=False)
    for i, cmd in enumerate(commands, 1):
        pipe.execute_command(*cmd)
        if i % BATCH == 0:
            pipe.execute()
    pipe.execute()


def scenarios(large):
    small_keys = 1000
    # name, element count, generator of commands
    yield "string key 10 B + value 16 B (DEBUG POPULATE)", 1_000_000, lambda: [
        ("DEBUG", "POPULATE", 1_000_000, "key", 16)
    ]
    yield "list: 1000 keys x 10 elements", small_keys * 10, lambda: (
        ("RPUSH", f"l:{k}", *[f"value:{i}" for i in range(10)]) for k in range(small_keys)
    )
    yield f"list: 1 key x {large} elements", large, lambda: (
        ("RPUSH", "biglist", *[f"value:{i}" for i in range(j, j + 100)])
        for j in range(0, large, 100)
    )
    yield "hash: 1000 keys x 10 fields", small_keys * 10, lambda: (
        ("HSET", f"h:{k}", *sum(([f"f{i}", f"v{i}"] for i in range(10)), []))
        for k in range(small_keys)
    )
    yield f"hash: 1 key x {large} fields", large, lambda: (
        ("HSET", "bighash", *sum(([f"field:{i}", f"v{i}"] for i in range(j, j + 100)), []))
        for j in range(0, large, 100)
    )
    yield "set: 1000 keys x 10 integers", small_keys * 10, lambda: (
        ("SADD", f"si:{k}", *range(10)) for k in range(small_keys)
    )
    yield "set: 1000 keys x 10 strings", small_keys * 10, lambda: (
        ("SADD", f"ss:{k}", *[f"m{i}" for i in range(10)]) for k in range(small_keys)
    )
    yield f"set: 1 key x {large} strings", large, lambda: (
        ("SADD", "bigset", *[f"member:{i}" for i in range(j, j + 100)])
        for j in range(0, large, 100)
    )
    yield "zset: 1000 keys x 10 members", small_keys * 10, lambda: (
        ("ZADD", f"z:{k}", *sum(([i, f"m{i}"] for i in range(10)), []))
        for k in range(small_keys)
    )
    yield f"zset: 1 key x {large} members", large, lambda: (
        ("ZADD", "bigzset", *sum(([i, f"member:{i}"] for i in range(j, j + 100)), []))
        for j in range(0, large, 100)
    )
    yield f"stream: 1 key x {large} entries", large, lambda: (
        ("XADD", "bigstream", f"{i + 1}-0", "f", "v") for i in range(large)
    )
    yield "hyperloglog: 100 keys x 10000 elements", 100, lambda: (
        ("PFADD", f"hll:{k}", *[f"e{i}" for i in range(j, j + 1000)])
        for k in range(100)
        for j in range(0, 10000, 1000)
    )


def measure(server, count, make):
    server.client.flushall()
    before = server.used()
    run_pipelined(server.client, make())
    return (server.used() - before) / count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--dfly", default=os.path.join(root, "build/dataplane/dfly-server"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--large", type=int, default=200_000)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="dfly-bench-mem-")
    servers = []
    try:
        dfly = Server([args.dfly, "--threads", "2"], work)
        servers.append(dfly)
        ref = Server(
            [args.redis, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"],
            work,
        )
        servers.append(ref)
        print(f"{'scenario':<48} {'dfly B/el':>10} {'redis B/el':>11} {'ratio':>6}")
        for name, count, make in scenarios(args.large):
            d = measure(dfly, count, make)
            r = measure(ref, count, make)
            print(f"{name:<48} {d:>10.1f} {r:>11.1f} {d / r:>6.2f}", flush=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
