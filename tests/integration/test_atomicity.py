"""Cross-shard atomicity and isolation under concurrency.

Several connections (each its own redis-py client, so the kernel spreads them over the
server's threads) run multi-key commands and MULTI/EXEC transactions on keys that span every
shard, while readers check invariants that only hold if no client can ever see half of a
multi-shard step:

- optimistic increments (WATCH/GET/MULTI/SET/EXEC) lose no update;
- MGET never sees a half-applied MSET;
- transfers (MULTI DECRBY/INCRBY EXEC) keep the sum that MGET reads;
- RENAME across shards: exactly one of source and destination exists at any time;
- MULTI SET/SET EXEC and DEL k1 k2: both keys exist or neither.

Every test is bounded: a fixed number of iterations per writer, readers that stop when the
writers do, and a time limit after which the test fails instead of hanging.
"""

import random
import threading
import time
import traceback

import pytest
import redis

from shardkeys import key_shard, keys_per_shard

THREAD_COUNTS = (2, 4)  # server --threads
TIME_LIMIT_S = 120.0  # whole concurrent phase of one test; generous for the sanitizer build
WRITER_ITERATIONS = 300
MAX_VIOLATIONS_KEPT = 20  # enough to show what went wrong
SEED = 20240601

# Optimistic increments
INC_THREADS = 8
# MSET / MGET
MSET_WRITERS, MSET_READERS = 3, 5
# Transfers
TRANSFER_WRITERS, TRANSFER_READERS = 4, 4
INITIAL_BALANCE = 1000
MAX_TRANSFER = 50
# RENAME
RENAMERS, RENAME_READERS = 2, 6
# Pair writes and DEL
PAIR_WRITERS, PAIR_READERS = 3, 5


@pytest.fixture(params=THREAD_COUNTS, ids=lambda n: f"threads{n}")
def srv(request, server_factory):
    s = server_factory(threads=request.param)
    s.nshards = request.param
    return s


class Run:
    """Writers and readers on their own threads, bounded by TIME_LIMIT_S.

    writer(client, index, run) does a fixed amount of work; reader(client, index, run) loops
    while run.active() (until every writer has finished). Both record broken invariants with
    run.violation(text). An exception in any thread stops the run and fails the test."""

    def __init__(self, server):
        self.server = server
        self.deadline = time.monotonic() + TIME_LIMIT_S
        self.writers_done = threading.Event()
        self.failed = threading.Event()
        self.lock = threading.Lock()
        self.violations = []
        self.nviolations = 0
        self.errors = []

    def active(self):
        return (
            not self.writers_done.is_set()
            and not self.failed.is_set()
            and time.monotonic() < self.deadline
        )

    def in_time(self):
        return not self.failed.is_set() and time.monotonic() < self.deadline

    def violation(self, text):
        with self.lock:
            self.nviolations += 1
            if len(self.violations) < MAX_VIOLATIONS_KEPT:
                self.violations.append(text)

    def _wrap(self, fn, client, index):
        def body():
            try:
                fn(client, index, self)
            except BaseException:
                with self.lock:
                    self.errors.append(traceback.format_exc())
                self.failed.set()

        return body

    def go(self, writer, nwriters, reader=None, nreaders=0):
        # Clients are made here, on the test's thread: the server fixture closes them.
        writers = [
            threading.Thread(target=self._wrap(writer, self.server.client(), i), daemon=True)
            for i in range(nwriters)
        ]
        readers = [
            threading.Thread(target=self._wrap(reader, self.server.client(), i), daemon=True)
            for i in range(nreaders)
        ]
        for t in readers + writers:
            t.start()
        for t in writers:
            t.join(max(0.0, self.deadline - time.monotonic()))
        self.writers_done.set()
        for t in readers:
            t.join(max(1.0, self.deadline - time.monotonic()))
        hung = [t for t in writers + readers if t.is_alive()]
        if hung:
            self.failed.set()  # let them stop at their next check
        assert not self.errors, "a worker thread failed:\n" + "\n".join(self.errors)
        assert not hung, f"{len(hung)} threads still running after {TIME_LIMIT_S} s"
        assert self.nviolations == 0, (
            f"{self.nviolations} invariant violations, first ones:\n" + "\n".join(self.violations)
        )


def spanning(keys, nshards):
    """keys must cover every shard, else the test would not test what it says."""
    assert {key_shard(k, nshards) for k in keys} == set(range(nshards))
    return keys


# --- optimistic increments ---------------------------------------------------------------------


def test_watch_increments_lose_no_update(srv):
    """8 connections increment counters on every shard with WATCH/GET/MULTI/SET/EXEC, one or
    two counters (on different shards) per transaction: every successful EXEC counts exactly
    once, however the transactions interleave."""
    keys = spanning(keys_per_shard("ctr", srv.nshards, per_shard=2), srv.nshards)
    successes = [dict.fromkeys(keys, 0) for _ in range(INC_THREADS)]
    aborted = [0] * INC_THREADS

    def writer(c, i, run):
        rng = random.Random(SEED + i)
        for _ in range(WRITER_ITERATIONS):
            if not run.in_time():
                return
            chosen = rng.sample(keys, rng.choice((1, 2)))
            with c.pipeline() as p:
                try:
                    p.watch(*chosen)
                    values = [int(p.get(k) or 0) for k in chosen]
                    p.multi()
                    for k, v in zip(chosen, values):
                        p.set(k, v + 1)
                    p.execute()
                except redis.WatchError:
                    aborted[i] += 1
                    continue
            for k in chosen:
                successes[i][k] += 1

    Run(srv).go(writer, INC_THREADS)
    c = srv.client()
    expected = {k: sum(s[k] for s in successes) for k in keys}
    actual = {k: int(c.get(k) or 0) for k in keys}
    assert actual == expected
    committed = INC_THREADS * WRITER_ITERATIONS - sum(aborted)
    assert committed > 0
    assert sum(expected.values()) >= committed  # each EXEC bumped one or two counters


# --- MSET / MGET -------------------------------------------------------------------------------


def test_mget_never_sees_partial_mset(srv):
    keys = spanning(keys_per_shard("ms", srv.nshards, per_shard=4), srv.nshards)
    first = srv.client()
    first.mset({k: "init" for k in keys})
    reads = [0] * MSET_READERS

    def writer(c, i, run):
        for n in range(WRITER_ITERATIONS):
            if not run.in_time():
                return
            c.mset({k: f"w{i}:{n}" for k in keys})

    def reader(c, i, run):
        while run.active():
            if i % 2:
                values = c.mget(keys)
            else:  # the same read as one transaction
                with c.pipeline(transaction=True) as p:
                    for k in keys:
                        p.get(k)
                    values = p.execute()
            reads[i] += 1
            if len(set(values)) != 1:
                run.violation(f"reader {i}: {values}")

    Run(srv).go(writer, MSET_WRITERS, reader, MSET_READERS)
    assert sum(reads) > 0
    final = first.mget(keys)
    assert len(set(final)) == 1 and final[0] != "init"


# --- transfers ---------------------------------------------------------------------------------


def test_transfers_keep_sum(srv):
    accounts = spanning(keys_per_shard("acct", srv.nshards, per_shard=2), srv.nshards)
    total = INITIAL_BALANCE * len(accounts)
    first = srv.client()
    first.mset({a: INITIAL_BALANCE for a in accounts})
    reads = [0] * TRANSFER_READERS

    def writer(c, i, run):
        rng = random.Random(SEED + i)
        for _ in range(WRITER_ITERATIONS):
            if not run.in_time():
                return
            src, dst = rng.sample(accounts, 2)
            amount = rng.randint(1, MAX_TRANSFER)
            with c.pipeline(transaction=True) as p:
                p.decrby(src, amount)
                p.incrby(dst, amount)
                res = p.execute()
            if len(res) != 2:
                run.violation(f"writer {i}: EXEC replied {res}")

    def reader(c, i, run):
        while run.active():
            if i % 2:
                values = c.mget(accounts)
            else:
                with c.pipeline(transaction=True) as p:
                    for a in accounts:
                        p.get(a)
                    values = p.execute()
            reads[i] += 1
            got = sum(int(v) for v in values)
            if got != total:
                run.violation(f"reader {i}: sum {got} != {total}: {values}")

    Run(srv).go(writer, TRANSFER_WRITERS, reader, TRANSFER_READERS)
    assert sum(reads) > 0
    assert sum(int(v) for v in first.mget(accounts)) == total


# --- RENAME ------------------------------------------------------------------------------------


def rename_pair(nshards):
    """Source and destination on different shards."""
    keys = keys_per_shard("ren", nshards)
    return keys[0], keys[1]


def test_rename_across_shards_exactly_one_exists(srv):
    a, b = rename_pair(srv.nshards)
    assert key_shard(a, srv.nshards) != key_shard(b, srv.nshards)
    first = srv.client()
    first.set(a, "payload")
    renames = [0] * RENAMERS
    reads = [0] * RENAME_READERS

    def writer(c, i, run):
        for n in range(WRITER_ITERATIONS):
            if not run.in_time():
                return
            src, dst = (a, b) if (n + i) % 2 == 0 else (b, a)
            try:
                c.rename(src, dst)
                renames[i] += 1
            except redis.ResponseError as e:
                # The other renamer moved it first: fine, but only with Redis's error.
                if str(e) != "no such key":
                    raise

    def reader(c, i, run):
        while run.active():
            if i % 3 == 0:
                with c.pipeline(transaction=True) as p:
                    p.exists(a, b)
                    p.get(a)
                    p.get(b)
                    n, va, vb = p.execute()
                if n != 1 or sorted([va or "", vb or ""]) != ["", "payload"]:
                    run.violation(f"reader {i}: exists={n} {a}={va!r} {b}={vb!r}")
            else:
                n = c.exists(a, b)
                if n != 1:
                    run.violation(f"reader {i}: EXISTS {a} {b} = {n}")
            reads[i] += 1

    Run(srv).go(writer, RENAMERS, reader, RENAME_READERS)
    assert sum(renames) > 0 and sum(reads) > 0
    assert first.exists(a, b) == 1
    assert first.get(a) == "payload" or first.get(b) == "payload"


# --- MULTI SET/SET EXEC and DEL k1 k2 (GET/SET/DEL/EXISTS only) --------------------------------


def test_pair_writes_and_deletes_are_all_or_nothing(srv):
    """Writers set a group of keys (one per shard) in one MULTI/EXEC, then delete them with one
    DEL; readers see all of them or none, and never two different values."""
    keys = spanning(keys_per_shard("pair", srv.nshards), srv.nshards)
    reads = [0] * PAIR_READERS

    def writer(c, i, run):
        for n in range(WRITER_ITERATIONS):
            if not run.in_time():
                return
            if n % 2 == 0:
                with c.pipeline(transaction=True) as p:
                    for k in keys:
                        p.set(k, f"w{i}:{n}")
                    p.execute()
            else:
                c.delete(*keys)

    def reader(c, i, run):
        while run.active():
            if i % 2:
                n = c.exists(*keys)
                if n not in (0, len(keys)):
                    run.violation(f"reader {i}: EXISTS = {n} of {len(keys)}")
            else:
                with c.pipeline(transaction=True) as p:
                    for k in keys:
                        p.get(k)
                    values = p.execute()
                if len(set(values)) != 1:
                    run.violation(f"reader {i}: {values}")
            reads[i] += 1

    Run(srv).go(writer, PAIR_WRITERS, reader, PAIR_READERS)
    assert sum(reads) > 0
