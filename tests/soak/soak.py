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

With `--clients N` (the issue's run: `--clients 1000 --load 0.7`) the master also holds N
connections at once: the heavy loaders above, and the rest from one thread, most idle (connected,
one PING) and a share (`--light-share`, default 10 %) light, one SET or GET a second each. With
`--load F` the loaders first run flat out for `--capacity-seconds` to measure what this load
reaches (ops/s), then are paced at F of it. At the end (`--clients` implies `--flush-check`) it
closes the clients, FLUSHALLs, and checks that RSS, used_memory and the open file descriptors
(/proc/PID/fd) are back at their pre-load level: within `--return` (5 %), or a small absolute
floor for used_memory (64 KB) and descriptors (8), above what they were before the load.

The pre-load level is taken after a warm-up (`--warmup-seconds`, 60): the same loaders and
connections run once, a BGSAVE, then FLUSHALL. What a server keeps after its first traffic by design (the replication backlog,
`repl-backlog-size`, filled; the slow log; per-command statistics; the thread caches of the
allocator) is then part of the level, and what the check measures is what an hour of load
leaves behind on top of it.

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
import resource
import selectors
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
DIGEST_TRIES = 10  # comparisons of the master's and the replica's digests at the end
DIGEST_RETRY_S = 1.0
LIGHT_PERIOD_S = 1.0  # a light client sends one command this often
FLEET_CONNECT_BATCH = 50  # connections opened between two checks of the server
SETTLE_S = 5  # after FLUSHALL: time for lazy frees and the allocator to give memory back
RETURN_FLOORS = {"rss": 0, "used_memory": 64 << 10, "fds": 8}
FD_HEADROOM = 256  # descriptors this process needs besides the clients


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


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


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
        self.rate = None  # commands per second; None: as fast as it goes
        self.paced_from = (0.0, 0)  # (time, ops) when the rate was set

    def pace(self, rate):
        self.paced_from = (time.monotonic(), self.ops)
        self.rate = rate

    def wait_for_pace(self):
        if not self.rate:
            return
        t0, ops0 = self.paced_from
        due = t0 + (self.ops - ops0) / self.rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

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
                self.wait_for_pace()
            except redis.ConnectionError as e:
                self.unexpected.append((["<connection>"], str(e)))
                break
        c.connection_pool.disconnect()  # the descriptor check at the end counts on it

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


class Fleet(threading.Thread):
    """Many connections from one thread: most idle, a share light (one SET or GET a second)."""

    def __init__(self, port, count, light_share, stop):
        super().__init__(daemon=True)
        self.port, self.count, self.light_share, self.stop = port, count, light_share, stop
        self.connected = threading.Event()
        self.replies = 0
        self.errors = []

    def run(self):
        sel = selectors.DefaultSelector()
        conns = []
        nlight = int(self.count * self.light_share)
        for i in range(self.count):
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            except OSError as e:
                self.errors.append(f"connection {i}: {e}")
                break
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            s.setblocking(False)
            light = i < nlight
            # A light client starts at a random point of its period so that they spread out.
            due = time.monotonic() + random.random() * LIGHT_PERIOD_S if light else None
            conns.append([s, due, i])
            sel.register(s, selectors.EVENT_READ, conns[-1])
        self.connected.set()
        while not self.stop.is_set():
            now = time.monotonic()
            for conn in conns:
                if conn[1] is not None and conn[1] <= now:
                    key = f"fleet:{conn[2]}".encode()
                    cmd = (b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n" % (len(key), key)
                           if random.random() < 0.5 else
                           b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key))
                    try:
                        conn[0].send(cmd)  # a few bytes: the socket buffer always has room
                    except OSError as e:
                        self.errors.append(f"light client {conn[2]}: {e}")
                        conn[1] = None
                        continue
                    conn[1] = now + LIGHT_PERIOD_S
            for key, _ in sel.select(timeout=0.05):
                conn = key.data
                try:
                    data = conn[0].recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    data, err = b"", str(e)
                else:
                    err = "closed by the server"
                if not data:
                    self.errors.append(f"client {conn[2]}: {err}")
                    sel.unregister(conn[0])
                    conn[1] = None
                    continue
                if data.startswith(b"-"):
                    self.errors.append(f"client {conn[2]}: {data[:100]!r}")
                self.replies += 1
        for conn in conns:
            conn[0].close()
        sel.close()


def measure_capacity(loaders, seconds):
    """ops/s the loaders reach unpaced (the server and this load generator together)."""
    ops0, t0 = sum(l.ops for l in loaders), time.monotonic()
    time.sleep(seconds)
    return (sum(l.ops for l in loaders) - ops0) / (time.monotonic() - t0)


def caught_up(master, replica):
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        if (replica.info("replication")["slave_repl_offset"]
                == master.info("replication")["master_repl_offset"]):
            return True
        time.sleep(0.5)
    return False


def digests_agree(master, replica):
    """(equal, comparisons): DEBUG DIGEST of both once the replica caught up. A key of the load
    can expire between the two DIGEST calls (expiries of up to 5 s run out after the load),
    so a difference is looked at again after the master's DEL has streamed; one that stays
    is a divergence."""
    for attempt in range(1, DIGEST_TRIES + 1):
        if (caught_up(master, replica) and master.execute_command("DEBUG", "DIGEST")
                == replica.execute_command("DEBUG", "DIGEST")):
            return True, attempt
        time.sleep(DIGEST_RETRY_S)
    return False, DIGEST_TRIES


def bgsave_and_wait(client):
    try:
        client.bgsave()
    except redis.ResponseError:
        pass  # one already running
    deadline = time.monotonic() + START_TIMEOUT_S
    while client.info("persistence")["rdb_bgsave_in_progress"] and time.monotonic() < deadline:
        time.sleep(0.2)


def settle_after_flush(client):
    """FLUSHALL, then the time lazy frees and the allocator need to give memory back."""
    client.flushall()
    try:
        client.execute_command("MEMORY", "PURGE")
    except redis.ResponseError:
        pass
    time.sleep(SETTLE_S)


def footprint(client, pid):
    return {"rss": rss_bytes(pid), "used_memory": client.info("memory")["used_memory"],
            "fds": open_fds(pid)}


def save_diagnostics(directory, tag, client, pid):
    """smaps, the allocator's table and INFO memory, for finding what did not come back."""
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    with open(f"/proc/{pid}/smaps") as src, open(os.path.join(directory, f"{tag}.smaps"), "w") as dst:
        dst.write(src.read())
    with open(os.path.join(directory, f"{tag}.malloc"), "w") as f:
        try:
            f.write(client.execute_command("MEMORY", "MALLOC-STATS"))
        except redis.ResponseError as e:
            f.write(str(e))
        f.write("\n")
        for k, v in client.info("memory").items():
            f.write(f"{k}:{v}\n")


def returned_failures(before, after, share):
    """What did not come back within share (or the floor) of its pre-load level."""
    failures = []
    for k, base in before.items():
        allowed = max(base * share, RETURN_FLOORS[k])
        if after[k] - base > allowed:
            failures.append(f"{k} {after[k]} after FLUSHALL, {base} before the load "
                            f"(allowed +{allowed:.0f})")
    return failures


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            raise SystemExit(f"--clients needs {need} file descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))


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
            # Publishing starts once the subscription is confirmed: messages before it would
            # rightly not arrive.
            confirmed = p.get_message(timeout=START_TIMEOUT_S)
            if not confirmed or confirmed["type"] not in ("subscribe", "psubscribe"):
                self.errors.append(f"no confirmation of the subscription: {confirmed}")
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
        for sub in subs:
            sub[0].close()
        pub.connection_pool.disconnect()


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
    ap.add_argument("--clients", type=int, default=0,
                    help="connections held at once, loaders included (0: only the loaders)")
    ap.add_argument("--light-share", type=float, default=0.10)
    ap.add_argument("--load", type=float, default=0.0,
                    help="pace the loaders at this share of the measured capacity (0: unpaced)")
    ap.add_argument("--capacity-seconds", type=float, default=10)
    ap.add_argument("--warmup-seconds", type=float, default=60,
                    help="load before the pre-load level is taken (0: none)")
    ap.add_argument("--flush-check", action="store_true",
                    help="FLUSHALL at the end and check memory and descriptors came back")
    ap.add_argument("--return", dest="ret", type=float, default=0.05)
    ap.add_argument("--diagnostics", metavar="DIR",
                    help="save the master's smaps, MEMORY MALLOC-STATS and INFO memory before "
                         "and after the load into DIR")
    args = ap.parse_args()
    if args.clients:
        args.flush_check = True
        raise_fd_limit(args.clients + FD_HEADROOM)

    work = tempfile.mkdtemp(prefix="dfly-soak-")
    extra = ["--maxmemory", args.maxmemory, "--maxmemory-policy", "allkeys-lru"]
    master, mport = start(args.server, os.path.join(work, "master"), args.threads, extra)
    replica, rport = start(args.server, os.path.join(work, "replica"), args.threads, [])
    rc = redis.Redis(port=rport, decode_responses=True, socket_timeout=30)
    rc.execute_command("REPLICAOF", "127.0.0.1", mport)
    mc = redis.Redis(port=mport, decode_responses=True, socket_timeout=30)

    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while rc.info("replication")["master_link_status"] != "up" and time.monotonic() < deadline:
        time.sleep(0.2)
    if args.warmup_seconds:
        warm_stop = threading.Event()
        warm = [Loader(mport, 500 + i, warm_stop) for i in range(args.connections)]
        if args.clients:
            warm.append(Fleet(mport, max(0, args.clients - args.connections - 3),
                              args.light_share, warm_stop))
        for t in warm:
            t.start()
        time.sleep(args.warmup_seconds)
        warm_stop.set()
        for t in warm:
            t.join(60)
        bgsave_and_wait(mc)  # the load makes one every BGSAVE_S
        settle_after_flush(mc)
        print(f"soak: warm-up {sum(getattr(t, 'ops', 0) for t in warm)} commands", flush=True)
    before = footprint(mc, master.pid)
    save_diagnostics(args.diagnostics, "before", mc, master.pid)
    print(f"soak: before the load {before}", flush=True)

    stop = threading.Event()
    loaders = [Loader(mport, 1000 + i, stop) for i in range(args.connections)]
    ps = PubSubCheck(mport, stop)
    fleet = None
    if args.clients:
        fleet = Fleet(mport, max(0, args.clients - args.connections - 3), args.light_share, stop)
        fleet.start()
        fleet.connected.wait(START_TIMEOUT_S * 4)
        print(f"soak: {mc.info('clients')['connected_clients']} clients connected", flush=True)
    for t in loaders + [ps]:
        t.start()
    if args.load:
        capacity = measure_capacity(loaders, args.capacity_seconds)
        for l in loaders:
            l.pace(capacity * args.load / len(loaders))
        print(f"soak: capacity {capacity:.0f} ops/s; paced at {args.load:.0%}: "
              f"{capacity * args.load:.0f} ops/s", flush=True)

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
    for t in loaders + [ps] + ([fleet] if fleet else []):
        t.join(60)

    failures = []
    if master.poll() is not None:
        failures.append(f"the master exited with {master.returncode}")
    unexpected = [u for l in loaders for u in l.unexpected]
    if unexpected:
        failures.append(f"unexpected replies: {unexpected[:5]}")
    if ps.errors:
        failures.append(f"pub/sub order: {ps.errors[:5]}")
    if fleet and fleet.errors:
        failures.append(f"idle and light clients: {fleet.errors[:5]}")
    if not failures:
        same, tries = digests_agree(mc, rc)
        print(f"soak: digests {'equal' if same else 'DIFFERENT'} after {tries} comparison(s)",
              flush=True)
        if not same:
            failures.append("the replica's digest differs from the master's")
    if args.flush_check and master.poll() is None:
        settle_after_flush(mc)
        after = footprint(mc, master.pid)
        save_diagnostics(args.diagnostics, "after", mc, master.pid)
        print(f"soak: after FLUSHALL {after}", flush=True)
        failures.extend(returned_failures(before, after, args.ret))
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
