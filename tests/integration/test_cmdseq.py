"""Command-sequence fuzzing (issue 17): random valid commands of every family over a small
shared keyspace (cmdgen.py).

- Differential: one connection runs the same sequence on dfly-server (--threads 2) and on
  redis-server 7.0; every reply must be the same (the seed is in the failure message).
- Concurrent: several connections run random commands (including ones with unpredictable
  replies, scripts, blocking pops and moves across shards, streams with consumer groups and
  PUBLISH) at once; afterwards the server answers, no reply was an unexpected error, DBSIZE
  matches what SCAN walks, and a snapshot restart gives back the same dataset digest.

CMDSEQ_STEPS and CMDSEQ_SECONDS make the runs longer (tests/soak/README.md)."""

import os
import random
import threading
import time

import redis

from dataset import digest
from difftest import DiffRunner
import cmdgen

STEPS = int(os.environ.get("CMDSEQ_STEPS", "3000"))
SECONDS = float(os.environ.get("CMDSEQ_SECONDS", "8"))
SEEDS = [int(s) for s in os.environ.get("CMDSEQ_SEEDS", "1,2,3").split(",")]
CONNECTIONS = 6


def run_differential(dfly, ref, seed):
    rng = random.Random(seed)
    d = DiffRunner(dfly, ref)
    for _ in range(STEPS):
        for args, unordered in cmdgen.sequence(rng):
            try:
                d.run(*args, unordered=unordered)
            except AssertionError as e:
                raise AssertionError(f"seed {seed}: {e}") from None
    # The datasets agree too: every key's type and contents.
    for k in cmdgen.KEYS + cmdgen.HLL_KEYS:
        d.run("TYPE", k)
        d.run("DUMP", k, compare=False)


def test_differential_against_redis(server_factory, redis_server_factory):
    for seed in SEEDS:
        dfly = server_factory(threads=2)
        ref = redis_server_factory()
        run_differential(dfly, ref, seed)


class Worker(threading.Thread):
    def __init__(self, port, seed, deadline):
        super().__init__(daemon=True)
        self.port, self.seed, self.deadline = port, seed, deadline
        self.unexpected = []
        self.count = 0

    def run(self):
        rng = random.Random(self.seed)
        c = redis.Redis(port=self.port, socket_timeout=30)
        c.response_callbacks = {}
        while time.monotonic() < self.deadline and len(self.unexpected) < 5:
            r = rng.random()
            if r < 0.1:
                steps = [(cmdgen.chaotic(rng), False)]
            elif r < 0.2:
                steps = [(cmdgen.extra(rng), False)]
            else:
                steps = cmdgen.sequence(rng)
            for args, _ in steps:
                try:
                    c.execute_command(*args)
                except redis.ResponseError as e:
                    if not str(e).startswith(cmdgen.EXPECTED_ERRORS + cmdgen.EXTRA_EXPECTED_ERRORS):
                        self.unexpected.append((args, str(e)))
                self.count += 1
        c.close()


def test_concurrent_connections_keep_invariants(server_factory):
    s = server_factory(threads=2)
    deadline = time.monotonic() + SECONDS
    workers = [Worker(s.port, 100 + i, deadline) for i in range(CONNECTIONS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(SECONDS + 60)
        assert not w.is_alive(), "a connection hung"
    unexpected = [u for w in workers for u in w.unexpected]
    assert not unexpected, unexpected[:5]
    assert sum(w.count for w in workers) > 0
    c = s.client()
    assert c.ping()
    for k in cmdgen.KEYS + cmdgen.HLL_KEYS:
        c.persist(k)  # no key may vanish between the digests by expiring
    scanned = set(c.scan_iter(count=7))
    assert c.dbsize() == len(scanned)
    before = digest(c)
    assert c.save()
    s.stop()
    s2 = server_factory(threads=2, workdir=s.workdir)
    assert digest(s2.client()) == before
