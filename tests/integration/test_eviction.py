"""maxmemory and eviction: under noeviction writes beyond the limit fail with Redis's OOM error
while reads and deletes work; under the allkeys-* and volatile-* policies keys are evicted
(from both shards of a --threads 2 server) and evicted_keys grows; the limit and the policy
change at runtime with CONFIG SET."""

import time

import pytest
import redis

from shardkeys import key_shard, keys_per_shard

NSHARDS = 2
OOM = "OOM command not allowed when used memory > 'maxmemory'."
OOM_RE = "command not allowed when used memory > 'maxmemory'.$"  # redis-py may drop "OOM "
VALUE = "v" * 1000
HEADROOM = 2 * 1024 * 1024  # bytes of data allowed above the empty server's use
BATCH = 100  # keys per pipeline
OVERFILL = 4  # write this many times the headroom under an evicting policy
EVICT_DEADLINE_S = 10.0
LRU_CLOCK_WAIT_S = 2.2  # the LRU clock counts seconds: make old keys measurably idle


def used(r):
    return r.info("memory")["used_memory"]


def set_limit(r, policy, headroom=HEADROOM):
    """maxmemory = what the server uses now + headroom; returns the limit."""
    limit = used(r) + headroom
    assert r.config_set("maxmemory", limit) is True
    assert r.config_set("maxmemory-policy", policy) is True
    return limit


def write_keys(r, prefix, n, value=VALUE, ex=None):
    """Writes n keys spread over both shards in pipelines; returns the keys. Stops at the
    first OOM (the error is raised)."""
    keys = keys_per_shard(prefix, NSHARDS, (n + NSHARDS - 1) // NSHARDS)[:n]
    for i in range(0, len(keys), BATCH):
        pipe = r.pipeline(transaction=False)
        for k in keys[i : i + BATCH]:
            pipe.set(k, value, ex=ex)
        pipe.execute()
    return keys


def fill_until_oom(r, prefix):
    """Writes keys one by one until the server answers OOM; returns the keys written."""
    written = []
    for k in keys_per_shard(prefix, NSHARDS, 10_000):
        try:
            r.set(k, VALUE)
        except redis.ResponseError as e:
            assert str(e).endswith(OOM[len("OOM "):]), e
            return written
        written.append(k)
    pytest.fail("no OOM error after 20000 writes")


def shards_of(keys):
    return {key_shard(k, NSHARDS) for k in keys}


def test_noeviction_rejects_writes_and_serves_reads(server, r):
    limit = set_limit(r, "noeviction")
    written = fill_until_oom(r, "ne")
    assert len(written) > 100 and shards_of(written) == set(range(NSHARDS))
    assert used(r) > limit - len(VALUE) * 2
    # Every write command that may grow memory fails, on both shards; the text is Redis's.
    for k in keys_per_shard("ne-new", NSHARDS, 2):
        assert server.cli("SET", k, "x").strip() == OOM
    # Reads and deletes still work.
    assert all(r.get(k) == VALUE for k in written[:50])
    assert r.delete(*written[:200]) == 200
    assert r.set("after-delete", "ok") is True
    stats = r.info("stats")
    assert stats["evicted_keys"] == 0
    assert r.info("commandstats")["cmdstat_set"]["rejected_calls"] >= 3


def test_maxmemory_flag_at_startup(server_factory):
    s = server_factory("--maxmemory", "1mb")
    r = s.client()
    assert r.config_get("maxmemory") == {"maxmemory": str(1024 * 1024)}
    written = fill_until_oom(r, "flag")
    assert 0 < len(written) < 1100
    with pytest.raises(redis.ResponseError, match=OOM_RE):
        r.set("one-more", VALUE)
    assert r.get(written[0]) == VALUE


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-random", "allkeys-lfu"])
def test_allkeys_policies_evict(r, policy):
    limit = set_limit(r, policy)
    n = OVERFILL * HEADROOM // len(VALUE)
    keys = write_keys(r, policy, n)  # no OOM: room is made by evicting
    assert used(r) <= limit + len(VALUE) * 4
    assert r.info("stats")["evicted_keys"] > 0
    left = [k for k in keys if r.exists(k)]
    assert 0 < len(left) < n
    assert shards_of(left) == set(range(NSHARDS))
    # One INFO sees stats and keyspace at one instant (the timer may still evict meanwhile).
    info = r.info("everything")
    assert info["evicted_keys"] + info["db0"]["keys"] == n


def test_allkeys_lru_prefers_idle_keys(r):
    set_limit(r, "allkeys-lru")
    capacity = HEADROOM // len(VALUE)
    old = write_keys(r, "old", capacity // 2)
    time.sleep(LRU_CLOCK_WAIT_S)
    hot = write_keys(r, "hot", capacity // 10)
    write_keys(r, "new", capacity // 2)  # forces evictions
    for k in hot:
        r.get(k)
    evicted_old = sum(1 for k in old if not r.exists(k))
    kept_hot = sum(1 for k in hot if r.exists(k))
    assert evicted_old > 0
    assert kept_hot >= len(hot) * 0.8


def test_volatile_lru_evicts_only_keys_with_ttl(r):
    set_limit(r, "volatile-lru")
    capacity = HEADROOM // len(VALUE)
    persistent = write_keys(r, "keep", capacity // 3)
    write_keys(r, "vol", capacity, ex=1000)
    assert r.info("stats")["evicted_keys"] > 0
    assert all(r.exists(k) for k in persistent)
    # Once only keys without a TTL are left, writes fail as under noeviction.
    with pytest.raises(redis.ResponseError, match=OOM_RE):
        write_keys(r, "more", capacity * 2)
    assert all(r.exists(k) for k in persistent)


def test_volatile_ttl_evicts_the_nearest_expiry_first(r):
    set_limit(r, "volatile-ttl")
    capacity = HEADROOM // len(VALUE)
    soon = write_keys(r, "soon", capacity // 2, ex=1000)
    late = write_keys(r, "late", capacity // 4, ex=100000)
    write_keys(r, "push", capacity // 2, ex=50000)
    gone_soon = sum(1 for k in soon if not r.exists(k))
    gone_late = sum(1 for k in late if not r.exists(k))
    assert gone_soon > 0
    assert gone_late <= gone_soon // 4


def test_volatile_random(r):
    set_limit(r, "volatile-random")
    capacity = HEADROOM // len(VALUE)
    persistent = write_keys(r, "p", capacity // 4)
    write_keys(r, "vr", capacity * 2, ex=1000)
    assert r.info("stats")["evicted_keys"] > 0
    assert all(r.exists(k) for k in persistent)


def test_lowering_maxmemory_at_runtime_evicts_in_the_background(r):
    r.config_set("maxmemory-policy", "allkeys-random")
    keys = write_keys(r, "bg", 2 * HEADROOM // len(VALUE))
    limit = used(r) - HEADROOM
    assert r.config_set("maxmemory", limit) is True
    deadline = time.monotonic() + EVICT_DEADLINE_S
    while used(r) > limit and time.monotonic() < deadline:
        time.sleep(0.05)
    assert used(r) <= limit
    assert r.info("stats")["evicted_keys"] > 0
    assert 0 < r.dbsize() < len(keys)


def test_raising_maxmemory_at_runtime_allows_writes_again(r):
    set_limit(r, "noeviction")
    fill_until_oom(r, "raise")
    with pytest.raises(redis.ResponseError, match=OOM_RE):
        r.set("x", VALUE)
    r.config_set("maxmemory", 0)
    assert r.set("x", VALUE) is True
    r.config_set("maxmemory", used(r) + HEADROOM)
    assert r.set("y", VALUE) is True


def test_cache_mode_evicts(server_factory):
    s = server_factory("--cache_mode")
    r = s.client()
    assert r.info("memory")["maxmemory_policy"] == "allkeys-lru"
    r.config_set("maxmemory", used(r) + HEADROOM)
    write_keys(r, "cache", OVERFILL * HEADROOM // len(VALUE))
    assert r.info("stats")["evicted_keys"] > 0
