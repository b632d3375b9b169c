"""SORT and SORT_RO, compared reply by reply with redis-server 7.0 (difftest.py): numeric and
ALPHA orders, DESC, LIMIT, BY patterns (string keys, hash fields, nosort), GET patterns, STORE,
and the errors. Keys deliberately live on both shards."""

import random

import pytest

from difftest import DiffRunner


@pytest.fixture
def d(server, redis_server_factory):
    return DiffRunner(server, redis_server_factory())


def fill(d):
    d.run("RPUSH", "nums", "3", "1", "2", "10", "-5", "2.5", "1e1", "0")
    d.run("RPUSH", "words", "pear", "apple", "fig", "banana", "apple", "Zebra", "")
    d.run("SADD", "s", "5", "3", "9", "1", "7")
    d.run("SADD", "ws", "b", "a", "d", "c")
    d.run("ZADD", "z", "3", "c", "1", "a", "2", "b", "5", "e", "4", "d")
    for i, w in enumerate(["1", "3", "2", "9", "5", "7"]):
        d.run("SET", f"w_{i + 1}", w)  # BY weights for the set members 1..7 (some missing)
        d.run("HSET", f"h_{i + 1}", "f", str(10 - i), "name", f"n{i}")
    d.run("SET", "obj_a", "A")
    d.run("SET", "obj_c", "C")


CASES = [
    ["SORT", "nums"],
    ["SORT", "nums", "DESC"],
    ["SORT", "nums", "LIMIT", "1", "3"],
    ["SORT", "nums", "LIMIT", "-2", "3"],
    ["SORT", "nums", "LIMIT", "5", "-1"],
    ["SORT", "nums", "LIMIT", "100", "3"],
    ["SORT", "nums", "LIMIT", "0", "0"],
    ["SORT", "words"],
    ["SORT", "words", "ALPHA"],
    ["SORT", "words", "ALPHA", "DESC", "LIMIT", "0", "3"],
    ["SORT", "s"],
    ["SORT", "s", "BY", "w_*"],
    ["SORT", "s", "BY", "w_*", "DESC"],
    ["SORT", "s", "BY", "w_*", "ALPHA"],
    ["SORT", "s", "BY", "h_*->f"],
    ["SORT", "s", "BY", "h_*->f", "GET", "#", "GET", "h_*->name", "GET", "w_*"],
    ["SORT", "s", "GET", "nosuch_*"],
    ["SORT", "s", "GET", "h_*->"],
    ["SORT", "s", "GET", "nostar"],
    ["SORT", "nums", "BY", "nosort"],
    ["SORT", "nums", "BY", "nosort", "DESC", "LIMIT", "1", "2"],
    ["SORT", "z"],
    ["SORT", "z", "ALPHA"],
    ["SORT", "z", "BY", "nosort"],
    ["SORT", "z", "BY", "nosort", "DESC"],
    ["SORT", "z", "BY", "nosort", "LIMIT", "1", "2"],
    ["SORT", "z", "BY", "nosort", "GET", "obj_*", "ALPHA"],
    ["SORT", "missing"],
    ["SORT", "missing", "STORE", "dst0"],
    ["SORT_RO", "nums", "DESC"],
    ["SORT_RO", "s", "BY", "w_*", "GET", "#"],
    # errors
    ["SORT", "words"],
    ["SORT", "nums", "LIMIT", "x", "1"],
    ["SORT", "nums", "LIMIT", "1"],
    ["SORT", "nums", "ASC", "bogus"],
    ["SORT", "w_1"],
    ["SORT_RO", "nums", "STORE", "dst"],
    ["SORT", "s", "BY", "h_*->name"],
]


def test_sort_matches_redis(d):
    fill(d)
    for case in CASES:
        d.run(*case)


def test_sort_store(d):
    fill(d)
    d.run("SORT", "nums", "STORE", "dst1")
    d.run("LRANGE", "dst1", "0", "-1")
    d.run("SORT", "s", "BY", "w_*", "GET", "#", "GET", "nosuch_*", "STORE", "dst2")
    d.run("LRANGE", "dst2", "0", "-1")
    d.run("SET", "dst3", "was a string")
    d.run("EXPIRE", "dst3", "1000")
    d.run("SORT", "ws", "ALPHA", "STORE", "dst3")
    d.run("TYPE", "dst3")
    d.run("TTL", "dst3")
    d.run("LRANGE", "dst3", "0", "-1")
    # an empty result deletes the destination
    d.run("SORT", "missing", "STORE", "dst3")
    d.run("EXISTS", "dst3")
    # BY nosort on a set with STORE sorts anyway, so that every server stores the same list
    d.run("SORT", "ws", "BY", "nosort", "STORE", "dst4")
    d.run("LRANGE", "dst4", "0", "-1")
    d.run("SORT", "nums", "STORE", "nums")  # in place
    d.run("LRANGE", "nums", "0", "-1")


def test_sort_random_lists(d):
    rng = random.Random(7)
    for round_ in range(30):
        key = f"l{round_}"
        n = rng.randint(0, 40)
        vals = [str(rng.choice([rng.randint(-50, 50), rng.random() * 100])) for _ in range(n)]
        if vals:
            d.run("RPUSH", key, *vals)
        for i in range(n):
            if rng.random() < 0.7:
                d.run("SET", f"wt{round_}_{vals[i]}", str(rng.randint(0, 5)))
        opts = []
        if rng.random() < 0.5:
            opts += ["BY", f"wt{round_}_*"]
        if rng.random() < 0.3:
            opts += ["LIMIT", str(rng.randint(-2, 10)), str(rng.randint(-1, 10))]
        if rng.random() < 0.5:
            opts += ["DESC"]
        if rng.random() < 0.3 and "BY" not in opts:
            # (ALPHA with BY leaves equal weights in an order Redis does not define)
            opts += ["ALPHA"]
        if rng.random() < 0.3:
            opts += ["GET", "#", "GET", f"wt{round_}_*"]
        d.run("SORT", key, *opts)


def test_sort_is_replicated_and_journaled_as_its_result(server_factory):
    """STORE is journaled as DEL + RPUSH of the result: a replay gives the same list."""
    s = server_factory("--appendonly", "yes")
    c = s.client()
    c.sadd("set", *[f"m{i}" for i in range(50)])
    assert c.sort("set", alpha=True, store="out") == 50
    want = c.lrange("out", 0, -1)
    assert want == sorted(want)
    s.kill()
    s2 = server_factory("--appendonly", "yes", workdir=s.workdir)
    assert s2.client().lrange("out", 0, -1) == want


def test_sort_patterns_in_cluster_mode(server_factory):
    s = server_factory("--cluster_mode", "emulated")
    c = s.client()
    c.rpush("{u}list", "2", "1")
    c.set("{u}w_1", "9")
    c.set("{u}w_2", "1")
    assert c.execute_command("SORT", "{u}list", "BY", "{u}w_*") == ["2", "1"]
    assert c.execute_command("SORT", "{u}list", "BY", "nosort") == ["2", "1"]
    assert c.execute_command("SORT", "{u}list", "GET", "#") == ["1", "2"]
    for opt, word in (("BY", "BY"), ("GET", "GET")):
        with pytest.raises(Exception) as e:
            c.execute_command("SORT", "{u}list", opt, "w_*")
        assert str(e.value) == (
            f"{word} option of SORT denied in Cluster mode when keys formed by the pattern may "
            "be in different slots."
        )
