#!/usr/bin/python3
"""Snapshots, dfly-server against Debian's redis-server 7.0, in one run.

    tests/bench/bench_snapshot.py [--dfly build/dataplane/dfly-server] [--keys 1000000]
                                  [--size 100] [--threads 2]

For each server: DEBUG POPULATE <keys> keys of <size> bytes, then
  1. SAVE: wall time and file size;
  2. BGSAVE while redis-benchmark writes (SET over the same key space, 50 clients): the peak
     memory of all the server's processes while the snapshot runs, against the server's RSS
     just before it (with the writers already connected and writing). Redis forks a child for
     BGSAVE, so its processes are summed; both the sum of RSS (what the issue asks for; it
     counts pages shared by parent and child twice) and the sum of PSS (shared pages split
     between them) are reported.
Prints each figure and the ratio dfly/redis. Servers run on free 127.0.0.1 ports in temporary
directories and are always stopped. Not a test: the figures go into docs/benchmarks.md.
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

START_TIMEOUT_S = 30
SAVE_TIMEOUT_S = 600
SAMPLE_S = 0.01
BENCH_CLIENTS = 50


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_pids(root):
    """root and its descendants (Redis's BGSAVE child)."""
    pids = [root]
    try:
        for tid in os.listdir(f"/proc/{root}/task"):
            with open(f"/proc/{root}/task/{tid}/children") as f:
                for c in f.read().split():
                    pids.extend(tree_pids(int(c)))
    except FileNotFoundError:
        pass
    return pids


def mem_kb(pid):
    """(rss, pss) of pid in KiB, 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            rss = pss = 0
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
            return rss, pss
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0


def tree_mem(root):
    rss = pss = 0
    for p in tree_pids(root):
        r, s = mem_kb(p)
        rss += r
        pss += s
    return rss, pss


class Server:
    def __init__(self, name, argv):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=f"bench-snap-{name}-")
        self.port = free_port()
        self.proc = subprocess.Popen(
            argv + ["--port", str(self.port), "--dir", self.dir],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=SAVE_TIMEOUT_S)
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

    def saving(self):
        return self.client.info("persistence")["rdb_bgsave_in_progress"] == 1

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(SAVE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(server, keys, size):
    c = server.client
    c.execute_command("DEBUG", "POPULATE", keys, "key", size)
    t0 = time.monotonic()
    c.execute_command("SAVE")
    save_s = time.monotonic() - t0
    file_size = os.path.getsize(os.path.join(server.dir, "dump.rdb"))

    bench = subprocess.Popen(
        ["redis-benchmark", "-p", str(server.port), "-t", "set", "-c", str(BENCH_CLIENTS),
         "-r", str(keys), "-d", str(size), "-n", str(keys * 10), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)  # the writers are running and the server holds their connections
    before_rss, before_pss = tree_mem(server.proc.pid)
    peak_rss, peak_pss = before_rss, before_pss
    c.execute_command("BGSAVE")
    t0 = time.monotonic()
    seen_running = False
    while time.monotonic() - t0 < SAVE_TIMEOUT_S:
        rss, pss = tree_mem(server.proc.pid)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        running = server.saving()
        seen_running = seen_running or running
        if not running and time.monotonic() - t0 > 0.05:
            break
        time.sleep(SAMPLE_S)
    bgsave_s = time.monotonic() - t0
    bench.terminate()
    bench.wait()
    return {
        "save_s": save_s,
        "file_mb": file_size / 1e6,
        "before_rss_mb": before_rss / 1024,
        "peak_rss_mb": peak_rss / 1024,
        "peak_pss_mb": peak_pss / 1024,
        "rss_growth": peak_rss / before_rss,
        "pss_growth": peak_pss / before_pss,
        "bgsave_s": bgsave_s,
    }


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--dfly", default=os.path.join(root, "build", "dataplane", "dfly-server"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--keys", type=int, default=1000000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    results = {}
    for name, argv in (
        ("dfly", [a.dfly, "--threads", str(a.threads), "--bind", "127.0.0.1"]),
        ("redis", [a.redis, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                   "--enable-debug-command", "yes"]),
    ):
        s = Server(name, argv)
        try:
            results[name] = measure(s, a.keys, a.size)
        finally:
            s.stop()
    print(f"{a.keys} keys of {a.size} bytes; BGSAVE under redis-benchmark SET -c {BENCH_CLIENTS}")
    rows = [
        ("SAVE time (s)", "save_s", "{:.2f}"),
        ("file size (MB)", "file_mb", "{:.1f}"),
        ("RSS before BGSAVE (MB)", "before_rss_mb", "{:.0f}"),
        ("peak RSS sum during BGSAVE (MB)", "peak_rss_mb", "{:.0f}"),
        ("peak PSS sum during BGSAVE (MB)", "peak_pss_mb", "{:.0f}"),
        ("peak RSS / RSS before", "rss_growth", "{:.2f}"),
        ("peak PSS / PSS before", "pss_growth", "{:.2f}"),
        ("BGSAVE time under load (s)", "bgsave_s", "{:.2f}"),
    ]
    print(f"{'':34} {'dfly':>10} {'redis':>10} {'dfly/redis':>11}")
    for label, key, fmt in rows:
        d, r = results["dfly"][key], results["redis"][key]
        ratio = d / r if r else float("nan")
        print(f"{label:34} {fmt.format(d):>10} {fmt.format(r):>10} {ratio:>11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
