"""Key expiry with Redis 7 semantics against a --threads 2 dfly-server: EXPIRE PEXPIRE EXPIREAT
PEXPIREAT with NX XX GT LT, TTL PTTL EXPIRETIME PEXPIRETIME PERSIST, lazy expiry on access and
active expiry of keys nobody touches.
"""

import time

import pytest
import redis

from shardkeys import key_on_shard, keys_per_shard

NSHARDS = 2
INCOMPATIBLE_NX = "NX and XX, GT or LT options at the same time are not compatible"
INCOMPATIBLE_GT_LT = "GT and LT options at the same time are not compatible"
NOT_INT = "value is not an integer or out of range"
SHORT_TTL_MS = 100  # TTL of keys that must disappear during a test
EXPIRY_SLACK_S = 0.3  # extra wait after a short TTL, for a loaded machine
ACTIVE_EXPIRE_KEYS = 400  # keys per active expiry test, spread over the shards
ACTIVE_EXPIRE_TIMEOUT_S = 10.0  # bound on waiting for the timer to delete them
POLL_S = 0.05
INT64_MAX = 2**63 - 1


def err(excinfo):
    return str(excinfo.value)


def now_ms():
    return int(time.time() * 1000)


# --- EXPIRE and friends -----------------------------------------------------------------------


def test_expire_and_ttl(r):
    r.set("k", "v")
    assert r.ttl("k") == -1
    assert r.pttl("k") == -1
    assert r.expire("k", 100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 99000 < r.pttl("k") <= 100000
    assert r.ttl("missing") == -2
    assert r.pttl("missing") == -2
    assert r.expire("missing", 100) is False


def test_pexpire_expireat_pexpireat(r):
    r.set("a", 1)
    assert r.pexpire("a", 50000) is True
    assert 49000 < r.pttl("a") <= 50000
    at = int(time.time()) + 1000
    assert r.expireat("a", at) is True
    assert r.expiretime("a") == at
    assert r.pexpiretime("a") == at * 1000
    at_ms = now_ms() + 777777
    assert r.pexpireat("a", at_ms) is True
    assert r.pexpiretime("a") == at_ms
    assert r.expiretime("a") == (at_ms + 500) // 1000


def test_expiretime_missing_and_persistent(r):
    r.set("p", 1)
    assert r.expiretime("p") == -1
    assert r.pexpiretime("p") == -1
    assert r.expiretime("nope") == -2
    assert r.pexpiretime("nope") == -2


def test_ttl_rounds_to_nearest_second(r):
    r.set("round", 1, px=1600)
    assert r.ttl("round") == 2
    r.set("round", 1, px=1400)
    assert r.ttl("round") == 1


def test_past_time_deletes_key(r):
    keys = keys_per_shard("past", NSHARDS, 2)
    for k in keys:
        r.set(k, 1)
    assert r.expire(keys[0], -1) is True
    assert r.pexpire(keys[1], 0) is True
    assert r.expireat(keys[2], 1) is True
    assert r.pexpireat(keys[3], now_ms() - 1000) is True
    assert r.exists(*keys) == 0
    assert r.dbsize() == 0


def test_expire_overwritten_by_set_and_kept_by_keepttl(r):
    r.set("o", 1, ex=100)
    r.set("o", 2)
    assert r.ttl("o") == -1
    r.set("o", 3, ex=100)
    r.set("o", 4, keepttl=True)
    assert 99 <= r.ttl("o") <= 100


def test_persist(r):
    r.set("ps", 1, ex=100)
    assert r.persist("ps") is True
    assert r.ttl("ps") == -1
    assert r.persist("ps") is False
    assert r.persist("missing") is False


def test_expire_rewrites_existing_ttl(r):
    r.set("rw", 1, ex=100)
    assert r.expire("rw", 500) is True
    assert 499 <= r.ttl("rw") <= 500
    assert r.expire("rw", 10) is True
    assert 9 <= r.ttl("rw") <= 10


# --- NX XX GT LT -------------------------------------------------------------------------------


def test_nx(r):
    r.set("n", 1)
    assert r.expire("n", 100, nx=True) is True
    assert r.expire("n", 200, nx=True) is False
    assert 99 <= r.ttl("n") <= 100


def test_xx(r):
    r.set("x", 1)
    assert r.expire("x", 100, xx=True) is False
    assert r.ttl("x") == -1
    r.expire("x", 100)
    assert r.expire("x", 200, xx=True) is True
    assert 199 <= r.ttl("x") <= 200


def test_gt_treats_no_ttl_as_infinite(r):
    r.set("g", 1)
    assert r.expire("g", 100, gt=True) is False
    assert r.ttl("g") == -1
    r.expire("g", 100)
    assert r.expire("g", 50, gt=True) is False
    assert r.expire("g", 200, gt=True) is True
    assert 199 <= r.ttl("g") <= 200
    # a past time is not greater either: the key survives
    assert r.expire("g", -1, gt=True) is False
    assert r.exists("g") == 1


def test_lt_treats_no_ttl_as_infinite(r):
    r.set("l", 1)
    assert r.expire("l", 100, lt=True) is True
    assert r.expire("l", 200, lt=True) is False
    assert r.expire("l", 50, lt=True) is True
    assert 49 <= r.ttl("l") <= 50
    # a past time is less: the key goes
    assert r.expire("l", -1, lt=True) is True
    assert r.exists("l") == 0


def test_xx_gt_together(r):
    r.set("xg", 1)
    assert r.execute_command("EXPIRE", "xg", 100, "XX", "GT") == 0
    r.expire("xg", 100)
    assert r.execute_command("EXPIRE", "xg", 200, "xx", "gt") == 1
    assert r.execute_command("PEXPIRE", "xg", 1000, "XX", "LT") == 1
    assert r.pttl("xg") <= 1000


def test_option_errors(r):
    r.set("e", 1)
    for opts in (("NX", "XX"), ("NX", "GT"), ("NX", "LT"), ("XX", "NX")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command("EXPIRE", "e", 10, *opts)
        assert err(e) == INCOMPATIBLE_NX
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PEXPIRE", "e", 10, "GT", "LT")
    assert err(e) == INCOMPATIBLE_GT_LT
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("EXPIRE", "e", 10, "foo")
    assert err(e) == "Unsupported option foo"
    # options are checked before the time, as in Redis
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("EXPIRE", "e", "notanumber", "NX", "XX")
    assert err(e) == INCOMPATIBLE_NX
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("EXPIRE", "e", "notanumber")
    assert err(e) == NOT_INT
    assert r.ttl("e") == -1


def test_overflow_errors(r):
    r.set("ov", 1)
    cases = (
        ("EXPIRE", 99999999999999999, "expire"),
        ("EXPIRE", -99999999999999999, "expire"),
        ("PEXPIRE", INT64_MAX, "pexpire"),
        ("EXPIREAT", 99999999999999999, "expireat"),
    )
    for cmd, value, name in cases:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(cmd, "ov", value)
        assert err(e) == f"invalid expire time in '{name}' command"
    # the largest absolute millisecond time is valid
    assert r.execute_command("PEXPIREAT", "ov", INT64_MAX) == 1
    assert r.pexpiretime("ov") == INT64_MAX


def test_arity(r):
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(cmd, "k")
        assert err(e) == f"wrong number of arguments for '{cmd.lower()}' command"
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME", "PERSIST"):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(cmd, "k", "extra")
        assert err(e) == f"wrong number of arguments for '{cmd.lower()}' command"


# --- lazy and active expiry ---------------------------------------------------------------------


def test_lazy_expiry_on_access(r):
    keys = keys_per_shard("lazy", NSHARDS, 3)
    for k in keys:
        r.set(k, "v", px=SHORT_TTL_MS)
    assert r.exists(*keys) == len(keys)
    time.sleep(SHORT_TTL_MS / 1000 + EXPIRY_SLACK_S)
    for k in keys:
        assert r.get(k) is None
        assert r.ttl(k) == -2
    assert r.exists(*keys) == 0


def test_expired_key_is_not_renamed_or_copied(r):
    a, b = key_on_shard("ex", 0, NSHARDS), key_on_shard("ex", 1, NSHARDS)
    r.set(a, 1, px=1)
    time.sleep(0.05)
    with pytest.raises(redis.ResponseError):
        r.rename(a, b)
    assert r.copy(a, b) is False
    assert r.exists(b) == 0


def wait_for_dbsize(c, want, timeout=ACTIVE_EXPIRE_TIMEOUT_S):
    deadline = time.monotonic() + timeout
    size = c.dbsize()
    while size != want and time.monotonic() < deadline:
        time.sleep(POLL_S)
        size = c.dbsize()
    return size


def test_active_expiry_deletes_untouched_keys(r):
    """Keys with short TTLs vanish from DBSIZE (which counts expired keys still stored) with
    no client reading them: the shards' timers delete them."""
    keys = keys_per_shard("active", NSHARDS, ACTIVE_EXPIRE_KEYS // NSHARDS)
    persistent = keys_per_shard("keep", NSHARDS, 5)
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.set(k, "v", px=SHORT_TTL_MS)
    for k in persistent:
        pipe.set(k, "v")
    pipe.execute()
    assert r.dbsize() == len(keys) + len(persistent)
    assert wait_for_dbsize(r, len(persistent)) == len(persistent)
    assert sorted(r.keys("*")) == sorted(persistent)


def test_active_expiry_in_other_dbs(server):
    c3 = server.client(db=3)
    keys = keys_per_shard("db3", NSHARDS, 20)
    for k in keys:
        c3.set(k, 1, px=SHORT_TTL_MS)
    assert wait_for_dbsize(c3, 0) == 0


def test_persisted_key_survives_active_expiry(r):
    keys = keys_per_shard("surv", NSHARDS, 10)
    for k in keys:
        r.set(k, 1, px=SHORT_TTL_MS * 3)
    assert r.persist(keys[0]) == 1
    assert r.persist(keys[1]) == 1
    assert wait_for_dbsize(r, 2) == 2
    assert r.exists(keys[0], keys[1]) == 2


def test_renamed_key_keeps_expiring(r):
    a, b = key_on_shard("rk", 0, NSHARDS), key_on_shard("rk", 1, NSHARDS)
    r.set(a, 1, px=SHORT_TTL_MS)
    r.rename(a, b)
    assert 0 < r.pttl(b) <= SHORT_TTL_MS
    assert wait_for_dbsize(r, 0) == 0


def test_expire_inside_transaction(r):
    a, b = key_on_shard("tx", 0, NSHARDS), key_on_shard("tx", 1, NSHARDS)
    r.set(a, 1)
    r.set(b, 1)
    pipe = r.pipeline(transaction=True)
    pipe.expire(a, 100)
    pipe.pexpire(b, -1)
    pipe.ttl(a)
    pipe.exists(b)
    pipe.persist(a)
    assert pipe.execute() == [True, True, 100, 0, True]


def test_matches_redis(server, redis_server_factory):
    ref = redis_server_factory().client()
    mine = server.client()
    script = [
        ("SET", "k", "v"), ("EXPIRE", "k", "100", "XX"), ("EXPIRE", "k", "100", "NX"),
        ("EXPIRE", "k", "50", "GT"), ("EXPIRE", "k", "200", "GT"), ("TTL", "k"),
        ("EXPIRE", "k", "300", "LT"), ("PERSIST", "k"), ("PERSIST", "k"), ("TTL", "k"),
        ("PEXPIREAT", "k", "99999999999999"), ("PEXPIRETIME", "k"), ("EXPIRETIME", "k"),
        ("EXPIRE", "k", "-5", "GT"), ("EXISTS", "k"), ("EXPIRE", "k", "-5", "LT"),
        ("EXISTS", "k"), ("TTL", "k"), ("PTTL", "k"), ("EXPIRE", "nokey", "5"),
    ]
    for cmd in script:
        assert mine.execute_command(*cmd) == ref.execute_command(*cmd), cmd
