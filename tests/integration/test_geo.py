"""Geo commands with Redis 7 semantics: GEOADD (NX XX CH) GEODIST GEOHASH GEOPOS GEOSEARCH
(FROMMEMBER FROMLONLAT BYRADIUS BYBOX ASC DESC COUNT ANY WITHCOORD WITHDIST WITHHASH)
GEOSEARCHSTORE (STOREDIST) GEORADIUS GEORADIUSBYMEMBER (+ _RO, STORE, STOREDIST). Points are
sorted-set members scored by 52-bit geohashes; results, their order and every printed digit are
compared with Debian's redis-server on fixed and seeded random inputs, in both sorted-set
encodings, RESP2 and RESP3.
"""

import random

import pytest
import redis

from difftest import DiffRunner
from resp_raw import RawConn
from shardkeys import keys_per_shard

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "syntax error"
PALERMO = ("13.361389", "38.115556", "Palermo")
CATANIA = ("15.087269", "37.502669", "Catania")
RANDOM_POINTS = 600  # a skiplist-encoded set
SMALL_POINTS = 40  # a listpack-encoded set
QUERIES = 1500
SEEDS = (11, 12)
UNITS = ["m", "km", "ft", "mi", "KM", "Mi"]


def err(c, *args):
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*args)
    return str(e.value)


def raw(c, *args):
    saved = c.response_callbacks
    c.response_callbacks = {}
    try:
        return c.execute_command(*args)
    finally:
        c.response_callbacks = saved


def sicily(c, key="Sicily"):
    return raw(c, "GEOADD", key, *PALERMO, *CATANIA)


# ---- basics ---------------------------------------------------------------------------------


def test_geoadd_and_score(r):
    assert sicily(r) == 2
    assert r.zscore("Sicily", "Palermo") == 3479099956230698
    assert r.zscore("Sicily", "Catania") == 3479447370796909
    assert r.type("Sicily") == "zset"
    assert raw(r, "GEOADD", "Sicily", "NX", *PALERMO) == 0
    assert raw(r, "GEOADD", "Sicily", "XX", "CH", "13", "38", "Palermo", "1", "1", "new") == 1
    assert r.zscore("Sicily", "new") is None
    assert raw(r, "GEOADD", "Sicily", "CH", "13", "38", "Palermo") == 0  # same position


def test_geoadd_errors(r):
    r.set("str", "x")
    assert err(r, "GEOADD", "g", "200", "100", "x") == (
        "invalid longitude,latitude pair 200.000000,100.000000"
    )
    assert err(r, "GEOADD", "g", "10", "86", "x") == (
        "invalid longitude,latitude pair 10.000000,86.000000"
    )
    assert err(r, "GEOADD", "g", "abc", "1", "x") == "value is not a valid float"
    assert err(r, "GEOADD", "g", "NX", "XX", "1", "1", "x") == SYNTAX
    assert err(r, "GEOADD", "g", "GT", "1", "1", "x") == SYNTAX
    assert err(r, "GEOADD", "g", "1", "1", "x", "2") == SYNTAX
    assert err(r, "GEOADD", "g", "1", "1") == "wrong number of arguments for 'geoadd' command"
    assert err(r, "GEOADD", "str", "1", "1", "x") == WRONGTYPE
    # One bad pair: nothing is added.
    assert err(r, "GEOADD", "g", "1", "1", "a", "1", "99", "b") == (
        "invalid longitude,latitude pair 1.000000,99.000000"
    )
    assert r.exists("g") == 0


def test_geodist_geopos_geohash(r):
    sicily(r)
    assert raw(r, "GEODIST", "Sicily", "Palermo", "Catania") == "166274.1516"
    assert raw(r, "GEODIST", "Sicily", "Palermo", "Catania", "km") == "166.2742"
    assert raw(r, "GEODIST", "Sicily", "Palermo", "Catania", "MI") == "103.3182"
    assert raw(r, "GEODIST", "Sicily", "Palermo", "nope") is None
    assert raw(r, "GEODIST", "nokey", "a", "b") is None
    assert err(r, "GEODIST", "Sicily", "Palermo", "Catania", "parsec") == (
        "unsupported unit provided. please use M, KM, FT, MI"
    )
    assert err(r, "GEODIST", "Sicily", "a", "b", "km", "x") == SYNTAX
    assert raw(r, "GEOPOS", "Sicily", "Palermo", "nope") == [
        ["13.36138933897018433", "38.11555639549629859"],
        None,
    ]
    assert raw(r, "GEOPOS", "nokey", "a") == [None]
    assert raw(r, "GEOHASH", "Sicily", "Palermo", "Catania", "nope") == [
        "sqc8b49rny0",
        "sqdtr74hyu0",
        None,
    ]
    assert raw(r, "GEOHASH", "nokey", "a") == [None]
    r.set("str", "x")
    for cmd in (("GEODIST", "str", "a", "b"), ("GEOPOS", "str", "a"), ("GEOHASH", "str", "a")):
        assert err(r, *cmd) == WRONGTYPE


def test_search_shapes_and_options(r):
    sicily(r)
    raw(r, "GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2")
    assert raw(r, "GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
               "ASC") == ["Catania", "Palermo"]  # fmt: skip
    assert raw(r, "GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km",
               "ASC", "WITHCOORD", "WITHDIST", "WITHHASH") == [
        ["Catania", "56.4413", 3479447370796909,
         ["15.08726745843887329", "37.50266842333162032"]],
        ["Palermo", "190.4424", 3479099956230698,
         ["13.36138933897018433", "38.11555639549629859"]],
        ["edge2", "279.7403", 3481342659049484, ["17.24151045083999634", "38.78813451624225195"]],
        ["edge1", "279.7405", 3479273021651468, ["12.7584877610206604", "38.78813451624225195"]],
    ]  # fmt: skip
    assert raw(r, "GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km",
               "DESC", "COUNT", "1") == ["Catania"]  # fmt: skip
    assert raw(r, "GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "ASC") == [
        ["Catania", "56.4413"],
        ["Palermo", "190.4424"],
    ]
    assert raw(r, "GEORADIUSBYMEMBER", "Sicily", "Palermo", "100", "km") == ["Palermo", "edge1"]
    assert raw(r, "GEORADIUS_RO", "Sicily", "15", "37", "100", "km") == ["Catania"]
    assert raw(r, "GEOSEARCH", "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "m") == []


def test_store_variants(r):
    src, dst = keys_per_shard("geo", 2, 1)  # source and destination on different shards
    sicily(r, src)
    assert raw(r, "GEORADIUS", src, "15", "37", "200", "km", "STORE", dst) == 2
    assert r.zrange(dst, 0, -1, withscores=True) == [
        ("Palermo", 3479099956230698),
        ("Catania", 3479447370796909),
    ]
    assert raw(r, "GEORADIUS", src, "15", "37", "200", "km", "STOREDIST", dst) == 2
    assert raw(r, "ZRANGE", dst, "0", "-1", "WITHSCORES") == [
        "Catania", "56.441257870158204", "Palermo", "190.44242984775784"
    ]  # fmt: skip
    assert raw(r, "GEOSEARCHSTORE", dst, src, "FROMLONLAT", "15", "37", "BYRADIUS", "100",
               "km", "STOREDIST") == 1  # fmt: skip
    assert r.zrange(dst, 0, -1) == ["Catania"]
    assert raw(r, "GEORADIUSBYMEMBER", src, "Palermo", "10", "km", "STORE", dst) == 1
    # Nothing found, or no source: the destination goes.
    assert raw(r, "GEORADIUS", src, "0", "0", "1", "m", "STORE", dst) == 0
    assert r.exists(dst) == 0
    r.zadd(dst, {"x": 1})
    assert raw(r, "GEOSEARCHSTORE", dst, "nokey", "FROMLONLAT", "0", "0", "BYRADIUS", "1",
               "m") == 0  # fmt: skip
    assert r.exists(dst) == 0


def test_search_errors(r):
    sicily(r)
    r.set("str", "x")
    cases = [
        (("GEORADIUS", "Sicily", "15", "37", "-1", "km"), "radius cannot be negative"),
        (("GEORADIUS", "Sicily", "15", "37", "x", "km"), "need numeric radius"),
        (("GEORADIUS", "Sicily", "15", "37", "1", "parsec"),
         "unsupported unit provided. please use M, KM, FT, MI"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "0"), "COUNT must be > 0"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "x"),
         "value is not an integer or out of range"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "ANY"),
         "the ANY argument requires COUNT argument"),
        (("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "WITHDIST"),
         "STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD "
         "options"),
        (("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"), SYNTAX),
        (("GEORADIUS", "Sicily", "200", "37", "1", "km"),
         "invalid longitude,latitude pair 200.000000,37.000000"),
        (("GEORADIUSBYMEMBER", "Sicily", "nope", "100", "km"),
         "could not decode requested zset member"),
        (("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "1", "1", "BYRADIUS",
          "1", "km"), SYNTAX),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1",
          "1", "km"), SYNTAX),
        (("GEOSEARCH", "Sicily", "BYRADIUS", "1", "km", "ASC", "WITHDIST"),
         "exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH"),
        (("geosearch", "Sicily", "FROMLONLAT", "15", "37", "ASC", "WITHDIST"),
         "exactly one of BYRADIUS and BYBOX can be specified for geosearch"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "-1", "1", "km"),
         "height or width cannot be negative"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "x", "1", "km"),
         "need numeric width"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "1", "y", "km"),
         "need numeric height"),
        (("GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"),
         "could not decode requested zset member"),
        (("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "STOREDIST"),
         SYNTAX),
        (("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km",
          "WITHDIST"),
         "GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"),
        (("GEOSEARCH", "str", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km"), WRONGTYPE),
    ]  # fmt: skip
    for cmd, want in cases:
        assert err(r, *cmd) == want, cmd
    # A missing source skips the member and radius checks of GEORADIUSBYMEMBER, as in Redis.
    assert raw(r, "GEORADIUSBYMEMBER", "nokey", "nope", "-100", "km") == []


# ---- RESP3 ----------------------------------------------------------------------------------


def test_resp3_like_redis(server, redis_server_factory):
    ref = redis_server_factory()
    cmds = [
        ("GEOADD", "g", *PALERMO, *CATANIA),
        ("GEOPOS", "g", "Palermo", "nope"),
        ("GEODIST", "g", "Palermo", "Catania"),
        ("GEOHASH", "g", "Palermo"),
        ("GEOSEARCH", "g", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "WITHCOORD",
         "WITHDIST", "WITHHASH", "ASC"),
        ("GEORADIUS", "g", "15", "37", "200", "km", "WITHCOORD"),
    ]  # fmt: skip
    with RawConn(server.port) as ours, RawConn(ref.port) as theirs:
        for c in (ours, theirs):
            c.command("HELLO", "3")
        for cmd in cmds:
            assert ours.command(*cmd) == theirs.command(*cmd), cmd


# ---- differential runs ----------------------------------------------------------------------


def _coord(rnd, lo, hi):
    if rnd.random() < 0.05:
        return str(rnd.choice([lo, hi, 0]))
    return f"{rnd.uniform(lo, hi):.{rnd.randint(0, 8)}f}"


def _point(rnd, cluster):
    """A point near the cluster center (or anywhere), sometimes exactly a previous one."""
    if cluster and rnd.random() < 0.8:
        lon = min(180, max(-180, cluster[0] + rnd.gauss(0, 2)))
        lat = min(85.05, max(-85.05, cluster[1] + rnd.gauss(0, 2)))
        return f"{lon:.5f}", f"{lat:.5f}"
    return _coord(rnd, -180, 180), _coord(rnd, -85.05112878, 85.05112878)


def _populate(d, rnd, key, n, cluster):
    pts = []
    for i in range(n):
        if pts and rnd.random() < 0.05:
            lon, lat = rnd.choice(pts)  # equal positions: ties in distance
        else:
            lon, lat = _point(rnd, cluster)
        pts.append((lon, lat))
        d.run("GEOADD", key, lon, lat, f"p{i}")
    return pts


def _random_query(rnd, key, members, store_key, cluster):
    if cluster and rnd.random() < 0.7:
        lon, lat = _point(rnd, cluster)
    else:
        lon, lat = _coord(rnd, -180, 180), _coord(rnd, -85.05112878, 85.05112878)
    unit = rnd.choice(UNITS)
    scale = {"m": 1000, "km": 1, "ft": 3280, "mi": 0.62, "KM": 1, "Mi": 0.62}[unit]
    radius = str(round(rnd.choice([0, 1, 10, 50, 200, 500, 2000, 8000, 21000]) * scale, 3))
    opts = []
    for o in ("WITHDIST", "WITHHASH", "WITHCOORD"):
        if rnd.random() < 0.3:
            opts.append(o)
    if rnd.random() < 0.6:
        opts.append(rnd.choice(["ASC", "DESC"]))
    if rnd.random() < 0.4:
        opts += ["COUNT", str(rnd.randint(1, 30))]
        if rnd.random() < 0.3:
            opts.append("ANY")
    member = rnd.choice(members)
    kind = rnd.randrange(6)
    if kind == 0:
        return ("GEORADIUS", key, lon, lat, radius, unit, *opts)
    if kind == 1:
        return ("GEORADIUSBYMEMBER_RO", key, member, radius, unit, *opts)
    center = ["FROMLONLAT", lon, lat] if rnd.random() < 0.6 else ["FROMMEMBER", member]
    if rnd.random() < 0.5:
        shape = ["BYRADIUS", radius, unit]
    else:
        w = str(round(float(radius) * rnd.uniform(0.5, 3), 2))
        shape = ["BYBOX", w, radius, unit]
    if kind in (2, 3):
        return ("GEOSEARCH", key, *center, *shape, *opts)
    plain = [o for o in opts if not o.startswith("WITH")]
    if kind == 4:
        return ("GEOSEARCHSTORE", store_key, key, *center, *shape, *plain,
                *(["STOREDIST"] if rnd.random() < 0.5 else []))  # fmt: skip
    return ("GEORADIUS", key, lon, lat, radius, unit, *plain,
            rnd.choice(["STORE", "STOREDIST"]), store_key)  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_random_searches_like_redis(server, redis_server_factory, seed):
    d = DiffRunner(server, redis_server_factory())
    rnd = random.Random(seed)
    big, small, dst = keys_per_shard("rg", 2, 2)[:3]
    cluster = (rnd.uniform(-170, 170), rnd.uniform(-80, 80))
    _populate(d, rnd, big, RANDOM_POINTS, cluster)
    _populate(d, rnd, small, SMALL_POINTS, None)
    d.run("OBJECT", "ENCODING", big)
    d.run("OBJECT", "ENCODING", small)
    for _ in range(QUERIES):
        key, n, cl = (big, RANDOM_POINTS, cluster) if rnd.random() < 0.7 else (small, SMALL_POINTS, None)
        members = [f"p{i}" for i in range(n)] + ["nope"]
        cmd = _random_query(rnd, key, members, dst, cl)
        d.run(*cmd)
        if "STORE" in cmd or "STOREDIST" in cmd or cmd[0] == "GEOSEARCHSTORE":
            d.run("ZRANGE", dst, "0", "-1", "WITHSCORES")
            d.run("OBJECT", "ENCODING", dst)
        if rnd.random() < 0.1:
            a, b = rnd.choice(members), rnd.choice(members)
            d.run("GEODIST", key, a, b, rnd.choice(UNITS))
            d.run("GEOPOS", key, a, b)
            d.run("GEOHASH", key, a, b)


def test_poles_antimeridian_and_huge_radii_like_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    pts = [("-180", "0"), ("180", "0"), ("179.999", "10"), ("-179.999", "-10"),
           ("0", "85.05112878"), ("0", "-85.05112878"), ("90", "84.9"), ("-90", "-84.9"),
           ("0", "0"), ("0.000001", "0.000001"), ("45", "45"), ("-45", "-45")]  # fmt: skip
    for i, (lon, lat) in enumerate(pts):
        d.run("GEOADD", "edge", lon, lat, f"e{i}")
    for lon, lat in pts:
        for radius in ("0", "1", "1000", "5000", "20000", "40000"):
            d.run("GEOSEARCH", "edge", "FROMLONLAT", lon, lat, "BYRADIUS", radius, "km", "ASC",
                  "WITHDIST", "WITHCOORD")  # fmt: skip
            d.run("GEOSEARCH", "edge", "FROMLONLAT", lon, lat, "BYBOX", radius, radius, "km")
    for i in range(len(pts)):
        d.run("GEOPOS", "edge", f"e{i}")
        d.run("GEOHASH", "edge", f"e{i}")
        d.run("GEODIST", "edge", f"e{i}", f"e{(i + 1) % len(pts)}", "km")
    # Scores that are no geohash at all (ZADD can store anything).
    d.run("ZADD", "edge", "-1", "neg", "1e300", "huge", "4503599627370495", "max52")
    for m in ("neg", "huge", "max52"):
        d.run("GEOPOS", "edge", m)
        d.run("GEOHASH", "edge", m)


def test_command_getkeys_like_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    for cmd in (
        ("GEORADIUS", "k", "1", "1", "1", "km", "STORE", "x", "STOREDIST", "y"),
        ("GEORADIUSBYMEMBER", "k", "m", "1", "km", "STOREDIST", "x"),
        ("GEORADIUS_RO", "k", "1", "1", "1", "km"),
        ("GEOSEARCHSTORE", "d", "s", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"),
        ("GEOADD", "k", "1", "1", "m"),
    ):
        d.run("COMMAND", "GETKEYS", *cmd)
