"""Fault injection (issue 17): dfly-server with tests/fault/libfault.so preloaded.

The shim makes writes to chosen files fail (ENOSPC, EIO), come out short or slow, and fsyncs
fail; a test switches faults on and off while the server runs by rewriting the control file
(DFLY_FAULT_CTL). Each test checks what a user sees: an error reply (not a crash), the server
still serving reads and PING, the files on disk still sound (the old dump.rdb intact, the
journal loadable) and recovery once the fault clears.
"""

import os
import re
import signal
import socket
import time
from pathlib import Path

import pytest
import redis
from conftest import HOST, DflyServer, _finish

WAIT_S = 15.0  # bound of every wait for the server to notice or recover
POLL_S = 0.05
PING_BOUND_S = 1.0  # PING and GET answer within this while a slow snapshot is written (the whole
# snapshot takes several seconds: a server waiting on the disk would miss it by far)
SLOW_WRITE_US = 150000  # each snapshot write (a 256 KB chunk) sleeps this long: a slow disk
SMALL_KEYS = 400  # keys of a small dataset, over both shards
BIG_VALUE = 1024  # bytes of a value in the larger datasets
BIG_KEYS = 4000  # about 4 MB: a snapshot of many writes
FAULT_AFTER = 4096  # bytes a full disk takes before ENOSPC
PUBSUB_LIMIT = "pubsub 256kb 128kb 60"
REPLICA_LIMIT = "replica 256kb 128kb 60"
FLOOD_MSG = 64 * 1024  # bytes of one message for a peer that does not read
MALLOC_AFTER = 2000  # allocations that still succeed once the fault is on
OOM_MALLOC_AFTER = 200  # the same, for the paths below: a failure early in their work
OOM_WORK = 5000  # commands of one such path: far more allocations than OOM_MALLOC_AFTER
OOM_CONNECTIONS = 300  # new connections of one such path
OOM_LINE = re.compile(r"^dfly-server: out of memory (allocating \d+ bytes|[a-z][a-zA-Z ]+)$", re.M)


def fault_lib():
    """libfault.so of the build under test."""
    env = os.environ.get("DFLY_FAULT_LIB")
    if env:
        return Path(env)
    build = os.environ.get("DFLY_BUILD_DIR")
    if build:
        return Path(build) / "tests" / "fault" / "libfault.so"
    server = os.environ.get("DFLY_SERVER")
    if server:  # <build>/dataplane/dfly-server
        return Path(server).resolve().parents[1] / "tests" / "fault" / "libfault.so"
    return Path(__file__).resolve().parents[2] / "build" / "tests" / "fault" / "libfault.so"


class FaultServer(DflyServer):
    """A dfly-server with libfault preloaded, driven by a control file in its directory."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.ctl = self.workdir / "fault.ctl"
        self.fault_log = self.workdir / "fault.log"
        self.ctl.write_text("")

    def env(self):
        env = super().env()
        env["LD_PRELOAD"] = str(fault_lib())
        env["DFLY_FAULT_CTL"] = str(self.ctl)
        env["DFLY_FAULT_LOG"] = str(self.fault_log)
        # gcc's ASan wants its runtime first in the list; the shim calls through to it.
        asan = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "verify_asan_link_order=0"
        return env

    def fault(self, **settings):
        """Replaces the fault settings (none given: every fault clears)."""
        text = "".join(f"{k}={v}\n" for k, v in settings.items())
        tmp = self.ctl.with_suffix(".new")
        tmp.write_text(text)
        os.replace(tmp, self.ctl)  # the shim sees a new mtime: the settings change at once
        # Some file systems keep mtimes in whole seconds: make the change visible.
        st = self.ctl.stat()
        os.utime(self.ctl, ns=(st.st_atime_ns, time.time_ns()))

    def injected(self, kind):
        """How many faults of kind (write, short, fsync, malloc) the shim injected."""
        try:
            lines = self.fault_log.read_text().splitlines()
        except FileNotFoundError:
            return 0
        for line in lines:
            name, _, n = line.partition(" ")
            if name == kind:
                return int(n)
        return 0


@pytest.fixture
def fault_factory(request, dfly_binary, tmp_path):
    """fault_factory(*args, preload=True, workdir=None) starts a dfly-server (--threads 2),
    with libfault unless preload=False; all are stopped at teardown."""
    lib = fault_lib()
    if not lib.is_file():
        pytest.fail(f"{lib} not found: build the fault target (tests/fault)", pytrace=False)
    servers = []

    def start(*args, preload=True, workdir=None):
        workdir = workdir or tmp_path / f"dfly{len(servers)}"
        cls = FaultServer if preload else DflyServer
        s = cls(dfly_binary, workdir, args=args, threads=2)
        servers.append(s)
        return s.start()

    yield start
    _finish(request, servers)


def wait_until(pred, what, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def fill(c, n, size=0, prefix="k"):
    """n keys over both shards (different names), values of size bytes (or short)."""
    p = c.pipeline(transaction=False)
    for i in range(n):
        p.set(f"{prefix}:{i}", ("v" * size) if size else f"v{i}")
        if i % 500 == 499:
            p.execute()
    p.execute()


def tmp_files(workdir):
    return sorted(p.name for p in Path(workdir).iterdir() if ".tmp-" in p.name or "temp-" in p.name)


def restarted(fault_factory, s, *args):
    """A plain server (no shim) on s's files, once it has loaded them; and its client."""
    s.stop()
    again = fault_factory(*args, workdir=s.workdir, preload=False)
    again.wait_loaded()
    return again.client()


def base_written(c):
    """The journal's first base snapshot, scheduled at start, is written (it refuses SAVE)."""
    p = c.info("persistence")
    return p["aof_rewrite_scheduled"] == 0 and p["aof_rewrite_in_progress"] == 0


def bgsave_finished(c):
    return c.info("persistence")["rdb_bgsave_in_progress"] == 0


# --- snapshots -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault,fails",
    [
        ({"write": "enospc", "after": FAULT_AFTER}, "No space left on device"),
        ({"write": "eio"}, "Input/output error"),
        ({"fsync": "eio"}, "Input/output error"),
        ({"write": "short"}, None),  # short writes are not errors: the writer goes on
    ],
    ids=["enospc", "eio", "fsync-eio", "short"],
)
def test_save_with_disk_faults(fault_factory, fault, fails):
    s = fault_factory()
    c = s.client()
    fill(c, SMALL_KEYS)
    assert c.save()
    dump = s.workdir / "dump.rdb"
    old = dump.read_bytes()
    fill(c, BIG_KEYS // 4, BIG_VALUE, prefix="big")
    s.fault(path="dump.rdb.tmp", **fault)

    if fails:
        with pytest.raises(redis.ResponseError, match=fails):
            c.save()
        assert c.bgsave()
        wait_until(lambda: bgsave_finished(c), "the BGSAVE to end")
        assert c.info("persistence")["rdb_last_bgsave_status"] == "err"
        assert dump.read_bytes() == old  # the old snapshot is untouched
        assert tmp_files(s.workdir) == []  # and the failed one is gone
        assert s.injected("fsync" if "fsync" in fault else "write") >= 2
    else:
        assert c.save()
        assert s.injected("short") > 0

    # It kept serving: reads, writes, PING.
    assert c.ping()
    assert c.get("k:1") == "v1"
    assert c.set("after", "fault")
    s.fault()  # the disk has room again
    assert c.save()
    assert c.bgsave()
    wait_until(lambda: bgsave_finished(c), "the BGSAVE to end")
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"
    want = c.dbsize()
    c2 = restarted(fault_factory, s)
    assert c2.dbsize() == want
    assert c2.get("after") == "fault" and c2.get("big:7") == "v" * BIG_VALUE


def test_slow_disk_keeps_answering(fault_factory):
    s = fault_factory()
    c = s.client()
    fill(c, BIG_KEYS, BIG_VALUE)
    s.fault(path="dump.rdb.tmp", write="slow", slow_us=SLOW_WRITE_US)
    assert c.bgsave()
    worst, seen_in_progress = 0.0, 0
    p = s.client()
    while not bgsave_finished(c):
        seen_in_progress += 1
        t = time.monotonic()
        assert p.ping()
        assert p.get("k:3") == "v" * BIG_VALUE
        # A write to a key the snapshot may not have reached yet copies the old contents
        # first; it does not wait for the disk either.
        assert p.set(f"k:{BIG_KEYS - seen_in_progress}", "new")
        worst = max(worst, time.monotonic() - t)
        time.sleep(POLL_S)
    assert seen_in_progress >= 5, "the snapshot was not slow: the test proves nothing"
    assert worst < PING_BOUND_S
    assert c.info("persistence")["rdb_last_bgsave_status"] == "ok"


# --- the journal ---------------------------------------------------------------------------


def test_journal_write_failure_refuses_writes_until_it_clears(fault_factory):
    s = fault_factory("--appendonly", "yes", "--appendfsync", "everysec")
    c = s.client()
    fill(c, SMALL_KEYS)
    s.fault(path=".incr.aof", write="enospc")
    refused = []

    def write_refused():
        try:
            c.set("probe", "x")
        except redis.ResponseError as e:
            refused.append(str(e))
            return True
        return False

    wait_until(write_refused, "writes to be refused")
    assert refused[0] == "MISCONF Errors writing to the AOF file: No space left on device"
    assert c.info("persistence")["aof_last_write_status"] == "err"
    assert c.get("k:5") == "v5"  # reads go on
    with pytest.raises(redis.ResponseError, match="^MISCONF"):
        c.ping()  # as Redis: PING tells a health check that writes are refused

    s.fault()
    wait_until(lambda: not write_refused(), "writes to be accepted again")
    assert c.info("persistence")["aof_last_write_status"] == "ok"
    c.set("final", "1")
    want = {k: c.get(k) for k in ("k:0", "k:399", "final")}
    n = c.dbsize()
    c2 = restarted(fault_factory, s, "--appendonly", "yes")
    assert c2.dbsize() == n
    assert {k: c2.get(k) for k in want} == want


def test_journal_short_writes_load_back(fault_factory):
    s = fault_factory("--appendonly", "yes", "--appendfsync", "always")
    c = s.client()
    s.fault(path=".incr.aof", write="short")
    fill(c, SMALL_KEYS)
    c.incrby("counter", 5)
    assert s.injected("short") > 0
    n = c.dbsize()
    c2 = restarted(fault_factory, s, "--appendonly", "yes")
    assert c2.dbsize() == n and c2.get("counter") == "5"


# --- allocation failure --------------------------------------------------------------------


def answers_or_ends_cleanly(s):
    """Clears the faults; then s answers PING again, or has ended as dfly does without memory: one
    "out of memory" line on stderr, then abort(), never a segfault. True if it ended. (A fault
    count is only worth reading when it did not: an abort may catch the shim's count file in the
    middle of its rewrite.)"""
    s.fault()
    c = s.client()

    def answers_or_ended():
        try:
            return c.ping()
        except redis.RedisError:
            return not s.running

    wait_until(answers_or_ended, "the server to answer again or to end")
    if s.running:
        return False
    s.check_exit = False  # ending is what it should do: how it ended is checked here
    rc = s.proc.returncode
    assert rc == -signal.SIGABRT, f"ended with {rc}, not by abort(): {s.stderr()[-2000:]}"
    assert OOM_LINE.search(s.stderr()), f"no out-of-memory line: {s.stderr()[-2000:]}"
    return True


def test_allocation_failure_keeps_files_sound(fault_factory):
    """malloc fails from some point on (the shim sees libc's malloc users; the sanitizer build
    allocates everything there). The server may end (dfly, like Redis, does not go on without
    memory), but what it acknowledged is in its files: a restart loads all of it."""
    s = fault_factory("--appendonly", "yes", "--appendfsync", "always")
    c = s.client()
    fill(c, SMALL_KEYS)
    wait_until(lambda: base_written(c), "the journal's first base")  # else SAVE is refused
    assert c.save()
    s.fault(malloc_after=MALLOC_AFTER)
    acknowledged = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and s.running:
        k = f"after:{len(acknowledged)}"
        try:
            c.set(k, "v")
        except (redis.ConnectionError, redis.TimeoutError):
            break
        except redis.ResponseError:
            continue  # refused (an error reply) is not acknowledged
        acknowledged.append(k)
    if not answers_or_ends_cleanly(s):
        assert s.injected("malloc") > 0, "no allocation failed: the test proves nothing"
    s.kill()
    c2 = restarted(fault_factory, s, "--appendonly", "yes")
    assert c2.get("k:7") == "v7"
    missing = [k for k in acknowledged if c2.get(k) != "v"]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"


def queue_in_multi(s, c):
    """MULTI with many queued commands: each queued command is copied with malloc."""
    p = c.pipeline(transaction=True)
    for i in range(OOM_WORK):
        p.set(f"m:{i}", "v")
    p.execute()


def open_connections(s, c):
    """Many new connections, each a client record and its buffers."""
    conns = []
    try:
        for _ in range(OOM_CONNECTIONS):
            conn = s.client()
            conns.append(conn)
            conn.ping()
    finally:
        for conn in conns:
            conn.close()


def set_client_names(s, c):
    """CLIENT SETNAME: the name is copied with malloc."""
    for i in range(OOM_WORK):
        c.client_setname(f"name-{i}")


def add_acl_users(s, c):
    """ACL SETUSER: the user, its rules and patterns."""
    for i in range(OOM_WORK // 10):
        c.acl_setuser(
            f"u{i}", enabled=True, passwords=[f"+p{i}"], keys=[f"k{i}:*"], commands=["+get"]
        )


@pytest.mark.parametrize(
    "work",
    [queue_in_multi, open_connections, set_client_names, add_acl_users],
    ids=["multi", "connections", "client-setname", "acl-setuser"],
)
def test_allocation_failure_ends_cleanly(fault_factory, work):
    """malloc fails while a client drives a path whose allocations were once unchecked (a NULL
    there was a segfault with no message, or a write through NULL+offset). The server either
    answers (the failure refused one request) or ends as Redis does without memory: one
    "out of memory" line on stderr and abort(), never a segfault. Acknowledged writes load."""
    s = fault_factory("--appendonly", "yes", "--appendfsync", "always")
    c = s.client()
    fill(c, SMALL_KEYS)
    s.fault(malloc_after=OOM_MALLOC_AFTER)
    armed = False
    try:
        c.set("armed", "1")  # a journal write: the shim reads its new settings at the latest now
        armed = True  # (in the sanitizer build, where every value is malloc'ed, it may fail)
        work(s, c)
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        pass  # the server ended under the client, or refused the request
    if not answers_or_ends_cleanly(s):
        assert s.injected("malloc") > 0, "no allocation failed: the test proves nothing"
    c2 = restarted(fault_factory, s, "--appendonly", "yes")
    if armed:
        assert c2.get("armed") == "1"
    assert c2.mget([f"k:{i}" for i in range(SMALL_KEYS)]) == [f"v{i}" for i in range(SMALL_KEYS)]


# --- peers that stop reading ---------------------------------------------------------------


def test_subscriber_that_stops_reading_is_dropped(fault_factory):
    s = fault_factory(preload=False)
    c = s.client()
    c.config_set("client-output-buffer-limit", PUBSUB_LIMIT)
    sub = socket.create_connection((HOST, s.port), timeout=WAIT_S)
    sub.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sub.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$2\r\nch\r\n")
    wait_until(lambda: c.pubsub_numsub("ch")[0][1] == 1, "the subscriber")
    msg = "m" * FLOOD_MSG
    wait_until(
        lambda: c.publish("ch", msg) == 0,
        "the subscriber to be disconnected over its output buffer limit",
    )
    assert c.ping() and c.set("still", "serving")
    sub.close()


def test_replica_that_stops_reading_is_dropped(fault_factory):
    s = fault_factory(preload=False)
    c = s.client()
    c.config_set("client-output-buffer-limit", REPLICA_LIMIT)
    fill(c, SMALL_KEYS)
    rep = socket.create_connection((HOST, s.port), timeout=WAIT_S)
    rep.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rep.sendall(b"*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n$4\r\n9999\r\n")
    rep.sendall(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n")
    wait_until(lambda: c.info("replication")["connected_slaves"] == 1, "the replica")
    value = "w" * FLOOD_MSG

    def flood_dropped():
        fill(c, 16, FLOOD_MSG // 16, prefix="flood")
        c.set("flood:big", value)
        return c.info("replication")["connected_slaves"] == 0

    wait_until(flood_dropped, "the replica to be dropped over its output buffer limit")
    assert c.ping() and c.get("k:9") == "v9"
    rep.close()


# --- replication ---------------------------------------------------------------------------


def test_replica_full_sync_on_full_disk(fault_factory):
    master = fault_factory(preload=False)
    m = master.client()
    fill(m, SMALL_KEYS)
    replica = fault_factory()
    r = replica.client()
    replica.fault(path="temp-", write="enospc", after=FAULT_AFTER)
    fill(m, BIG_KEYS // 4, BIG_VALUE, prefix="big")  # a snapshot larger than the room
    r.replicaof(HOST, master.port)
    wait_until(lambda: replica.injected("write") >= 2, "the replica's disk to fill (twice)")
    assert r.info("replication")["master_link_status"] == "down"
    assert r.ping()
    replica.fault()
    wait_until(
        lambda: r.info("replication")["master_link_status"] == "up" and r.dbsize() == m.dbsize(),
        "the full sync once the disk has room",
    )
    assert r.get("big:3") == "v" * BIG_VALUE
    wait_until(lambda: tmp_files(replica.workdir) == [], "the sync's temporary files to go")


# --- inputs the fuzzers found ----------------------------------------------------------------


def test_http_request_without_headers(fault_factory):
    """fuzz_http found that a request line followed directly by the blank line (no header at
    all, as HTTP/1.0 allows) read past the request: the server crashed."""
    s = fault_factory(preload=False)
    for request in (b"GET / HTTP/1.0\r\n\r\n", b"GET /metrics HTTP/1.0\n\n"):
        with socket.create_connection((HOST, s.port), timeout=WAIT_S) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 404 ") or answer.startswith(b"HTTP/1.1 200 ")
    assert s.client().ping()
