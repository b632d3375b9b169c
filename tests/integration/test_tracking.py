"""Client-side caching (CLIENT TRACKING) on a two-thread server, seen through raw RESP2/RESP3
connections (Debian's redis-py 4.3 has no RESP3): default-mode invalidations of keys read on
both shards and written from the other thread, NOLOOP, BCAST with prefixes, OPTIN/OPTOUT with
CLIENT CACHING (also inside MULTI), REDIRECT to a RESP2 subscriber of __redis__:invalidate and
a broken redirect, the null invalidation of FLUSHALL/FLUSHDB, invalidations of expired and
forgotten keys (tracking-table-max-keys), invalidations never overtaking the reply that carried
the value, CLIENT TRACKINGINFO / GETREDIR / LIST / INFO, and Redis's exact errors.
"""

import time

import pytest

from resp_raw import Error, Push, RawConn, conns_per_thread, encode, info_text
from shardkeys import keys_per_shard

NTHREADS = 2  # the `server` fixture runs --threads 2
WAIT_S = 5.0  # bound on every wait for something to arrive
QUIET_S = 0.3  # how long "nothing more arrives" is watched
POLL_S = 0.02
INVALIDATE_CHANNEL = b"__redis__:invalidate"
LIMIT_KEYS = 10  # tracking-table-max-keys in the limit test
LIMIT_READS = 100  # keys read in the limit test
RACE_THREADS = 4  # shards of the ordering test
RACE_ROUNDS = 500  # pipelined read rounds of the ordering test
RACE_KEYS = 8  # keys (on every shard) of the ordering test
RACE_WRITERS = 2  # connections writing meanwhile


# ---- helpers -----------------------------------------------------------------------------------


def on_threads(server, resp=3):
    """{thread: RawConn}, one connection per worker thread, speaking RESP `resp`."""
    conns = conns_per_thread(server.port, NTHREADS)
    if resp == 3:
        for c in conns.values():
            assert isinstance(c.command("HELLO", "3"), list)  # a map, parsed as pairs
    return conns


def other(thread):
    return (thread + 1) % NTHREADS


def cmd(conn, *args):
    """Sends a command and returns its reply, keeping pushes that arrive before it aside."""
    conn.send(encode(*args))
    while True:
        reply = conn.read_reply()
        if isinstance(reply, Push):
            conn.pushes = getattr(conn, "pushes", []) + [reply]
            continue
        return reply


def next_push(conn):
    """The next push (one set aside by cmd() first); bounded by the connection's timeout."""
    kept = getattr(conn, "pushes", [])
    if kept:
        return kept.pop(0)
    reply = conn.read_reply()
    assert isinstance(reply, Push), f"expected a push, got {reply!r}"
    return reply


def invalidated_keys(conn, expected):
    """Reads invalidation pushes until every key of `expected` was named; returns the keys seen
    (all of them, in arrival order)."""
    seen = []
    deadline = time.monotonic() + WAIT_S
    while not set(expected) <= set(seen):
        assert time.monotonic() < deadline, f"missing invalidations: {set(expected) - set(seen)}"
        push = next_push(conn)
        assert push[0] == b"invalidate", push
        assert push[1] is not None, push
        seen += push[1]
    return seen


def quiet(conn):
    """True when nothing arrives on conn for a while (and nothing was set aside)."""
    return not getattr(conn, "pushes", []) and conn.nothing_within(QUIET_S)


def b(keys):
    return [k.encode() for k in keys]


def tracking_info(conn):
    reply = cmd(conn, "CLIENT", "TRACKINGINFO")
    if isinstance(reply, list) and reply and not isinstance(reply[0], tuple):
        reply = list(zip(reply[::2], reply[1::2]))  # RESP2: a flat array
    return dict(reply)


def info_field(conn, section, field):
    text = info_text(cmd(conn, "INFO", section))
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise AssertionError(f"{field} not in INFO {section}")


# ---- default mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("tracker_thread", range(NTHREADS))
def test_writes_from_the_other_thread_invalidate_keys_read_on_both_shards(server, tracker_thread):
    conns = on_threads(server)
    t, w = conns[tracker_thread], conns[other(tracker_thread)]
    keys = keys_per_shard(f"dm{tracker_thread}", NTHREADS, per_shard=3)
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    for k in keys:
        assert cmd(t, "GET", k) is None
    for k in keys:
        assert cmd(w, "SET", k, "v") == "OK"
    assert sorted(invalidated_keys(t, b(keys))) == sorted(b(keys))
    # Forgotten once invalidated: a second write says nothing until the key is read again.
    for k in keys:
        cmd(w, "SET", k, "v2")
    assert quiet(t)
    assert cmd(t, "GET", keys[0]) == b"v2"
    cmd(w, "DEL", keys[0])
    assert invalidated_keys(t, [keys[0].encode()]) == [keys[0].encode()]


def test_each_key_gets_its_own_message_and_multi_key_reads_are_tracked(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    keys = keys_per_shard("mk", NTHREADS, per_shard=2)
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    assert cmd(t, "MGET", *keys) == [None] * len(keys)
    assert cmd(w, "MSET", *[x for k in keys for x in (k, "1")]) == "OK"
    for _ in keys:
        push = next_push(t)
        assert push[0] == b"invalidate" and len(push[1]) == 1
    assert quiet(t)


def test_keys_read_by_a_script_are_tracked(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    keys = keys_per_shard("lua", NTHREADS)
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    script = "local r = {} for i, k in ipairs(KEYS) do r[i] = redis.call('exists', k) end return r"
    assert cmd(t, "EVAL", script, len(keys), *keys) == [0] * len(keys)
    cmd(w, "MSET", *[x for k in keys for x in (k, "1")])
    assert sorted(invalidated_keys(t, b(keys))) == sorted(b(keys))


def test_write_commands_are_not_tracked_and_untouched_keys_say_nothing(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    cmd(t, "SET", "wr:a", "1")  # a write: its key is not remembered
    cmd(w, "SET", "wr:a", "2")
    cmd(w, "DEL", "wr:never-existed")  # deleting nothing modifies nothing
    assert quiet(t)


def test_own_write_is_invalidated_after_its_reply_unless_noloop(server):
    t = on_threads(server)[0]
    keys = keys_per_shard("own", NTHREADS)
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    for k in keys:
        cmd(t, "GET", k)
        t.send(encode("SET", k, "mine"))
        assert t.read_reply() == "OK"  # the reply comes first, then the push
        assert next_push(t) == [b"invalidate", [k.encode()]]
    assert cmd(t, "CLIENT", "TRACKING", "ON", "NOLOOP") == "OK"
    for k in keys:
        cmd(t, "GET", k)
        assert cmd(t, "SET", k, "mine again") == "OK"
    assert quiet(t)


def test_resp2_connection_without_redirect_gets_no_pushes(server):
    conns = on_threads(server, resp=2)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    assert cmd(t, "GET", "r2k") is None
    cmd(w, "SET", "r2k", "x")
    assert t.nothing_within(QUIET_S)
    assert cmd(t, "GET", "r2k") == b"x"  # the stream stays in step


def test_tracking_off_stops_invalidations(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    cmd(t, "GET", "off:k")
    assert cmd(t, "CLIENT", "TRACKING", "OFF") == "OK"
    cmd(w, "SET", "off:k", "1")
    assert quiet(t)


def test_reset_turns_tracking_off(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "rs") == "OK"
    assert cmd(t, "RESET") == "RESET"
    assert tracking_info(t) == {b"flags": [b"off"], b"redirect": -1, b"prefixes": []}
    cmd(w, "SET", "rs:k", "1")
    assert quiet(t)
    assert info_field(w, "clients", "tracking_clients") == "0"
    assert info_field(w, "stats", "tracking_total_prefixes") == "0"


def test_disconnected_tracking_client_is_forgotten(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    keys = keys_per_shard("gone", NTHREADS)
    cmd(t, "MGET", *keys)
    assert info_field(w, "clients", "tracking_clients") == "1"
    t.close()
    deadline = time.monotonic() + WAIT_S
    while info_field(w, "clients", "tracking_clients") != "0":
        assert time.monotonic() < deadline
        time.sleep(POLL_S)
    for k in keys:  # invalidating for a client that is gone is harmless
        assert cmd(w, "SET", k, "1") == "OK"
    assert cmd(w, "PING") == "PONG"


# ---- BCAST ---------------------------------------------------------------------------------------


def test_bcast_prefixes_report_every_matching_write(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "ord") == "OK"
    matching = keys_per_shard("user:", NTHREADS, 2) + keys_per_shard("order", NTHREADS, 2)
    others = keys_per_shard("session", NTHREADS, 2)
    for k in others + matching:
        cmd(w, "SET", k, "1")  # never read: BCAST reports them anyway
    seen = invalidated_keys(t, b(matching))
    assert sorted(seen) == sorted(b(matching))
    assert quiet(t)
    info = tracking_info(t)
    assert info[b"prefixes"] == [b"ord", b"user:"]
    assert b"bcast" in info[b"flags"]


def test_bcast_without_prefix_reports_everything_and_noloop_skips_own_writes(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON", "BCAST", "NOLOOP") == "OK"
    assert tracking_info(t)[b"prefixes"] == [b""]
    mine = keys_per_shard("self", NTHREADS)
    theirs = keys_per_shard("peer", NTHREADS)
    for k in mine:
        assert cmd(t, "SET", k, "1") == "OK"
    for k in theirs:
        cmd(w, "SET", k, "1")
    assert sorted(invalidated_keys(t, b(theirs))) == sorted(b(theirs))
    assert quiet(t)


# ---- OPTIN / OPTOUT ------------------------------------------------------------------------------


def test_optin_tracks_only_after_caching_yes(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    a, bb, c = keys_per_shard("optin", NTHREADS, 2)[:3]
    assert cmd(t, "CLIENT", "TRACKING", "ON", "OPTIN") == "OK"
    cmd(t, "GET", a)
    assert cmd(t, "CLIENT", "CACHING", "YES") == "OK"
    assert b"caching-yes" in tracking_info(t)[b"flags"]  # CLIENT keeps it for the next command
    cmd(t, "GET", bb)
    assert b"caching-yes" not in tracking_info(t)[b"flags"]
    cmd(t, "GET", c)
    cmd(w, "MSET", a, "1", bb, "1", c, "1")
    assert invalidated_keys(t, [bb.encode()]) == [bb.encode()]
    assert quiet(t)


def test_optin_caching_holds_for_a_whole_transaction(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    keys = keys_per_shard("optmulti", NTHREADS)
    late = keys_per_shard("optlate", NTHREADS)
    assert cmd(t, "CLIENT", "TRACKING", "ON", "OPTIN") == "OK"
    assert cmd(t, "MULTI") == "OK"
    assert cmd(t, "CLIENT", "CACHING", "YES") == "QUEUED"
    for k in keys:
        assert cmd(t, "GET", k) == "QUEUED"
    assert cmd(t, "EXEC") == ["OK"] + [None] * len(keys)
    cmd(t, "MGET", *late)  # after EXEC the flag is gone
    cmd(w, "MSET", *[x for k in keys + late for x in (k, "1")])
    assert sorted(invalidated_keys(t, b(keys))) == sorted(b(keys))
    assert quiet(t)


def test_optout_skips_only_after_caching_no(server):
    conns = on_threads(server)
    t, w = conns[1], conns[0]
    a, bb = keys_per_shard("optout", NTHREADS)
    assert cmd(t, "CLIENT", "TRACKING", "ON", "OPTOUT") == "OK"
    assert cmd(t, "CLIENT", "CACHING", "NO") == "OK"
    assert b"caching-no" in tracking_info(t)[b"flags"]
    cmd(t, "GET", a)
    cmd(t, "GET", bb)
    cmd(w, "MSET", a, "1", bb, "1")
    assert invalidated_keys(t, [bb.encode()]) == [bb.encode()]
    assert quiet(t)


# ---- REDIRECT ------------------------------------------------------------------------------------


@pytest.mark.parametrize("sub_thread", range(NTHREADS))
def test_redirect_to_resp2_subscriber_of_invalidate_channel(server, sub_thread):
    conns = on_threads(server, resp=2)
    s, t = conns[sub_thread], conns[other(sub_thread)]
    w = RawConn(server.port)
    sid = cmd(s, "CLIENT", "ID")
    assert cmd(s, "SUBSCRIBE", "__redis__:invalidate") == [b"subscribe", INVALIDATE_CHANNEL, 1]
    assert cmd(t, "CLIENT", "TRACKING", "ON", "REDIRECT", sid) == "OK"
    assert cmd(t, "CLIENT", "GETREDIR") == sid
    keys = keys_per_shard(f"redir{sub_thread}", NTHREADS)
    cmd(t, "MGET", *keys)
    for k in keys:
        cmd(w, "SET", k, "1")
    got = []
    for _ in keys:
        msg = s.read_reply()
        assert msg[:2] == [b"message", INVALIDATE_CHANNEL]
        got += msg[2]
    assert sorted(got) == sorted(b(keys))
    assert cmd(w, "FLUSHALL") == "OK"
    assert s.read_reply() == [b"message", INVALIDATE_CHANNEL, None]
    assert t.nothing_within(QUIET_S)  # the tracking client itself hears nothing
    w.close()


def test_redirect_to_resp3_connection_gets_pushes(server):
    conns = on_threads(server)
    target, t = conns[0], conns[1]
    w = RawConn(server.port)
    assert cmd(t, "CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", cmd(target, "CLIENT", "ID")) == "OK"
    cmd(w, "SET", "r3:key", "1")
    assert next_push(target) == [b"invalidate", [b"r3:key"]]
    assert quiet(t)
    w.close()


def test_broken_redirect_is_reported_to_the_tracking_client(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    gone = RawConn(server.port)
    gone_id = cmd(gone, "CLIENT", "ID")
    assert cmd(t, "CLIENT", "TRACKING", "ON", "REDIRECT", gone_id) == "OK"
    keys = keys_per_shard("broken", NTHREADS)
    cmd(t, "MGET", *keys)
    gone.close()
    deadline = time.monotonic() + WAIT_S
    while f"id={gone_id} " in info_text(cmd(w, "CLIENT", "LIST")):
        assert time.monotonic() < deadline
        time.sleep(POLL_S)
    cmd(w, "SET", keys[0], "1")
    assert next_push(t) == [b"tracking-redir-broken", gone_id]
    info = tracking_info(t)
    assert info[b"flags"] == [b"on", b"broken_redirect"]
    assert info[b"redirect"] == gone_id
    line = info_text(cmd(t, "CLIENT", "INFO"))
    assert "flags=tR " in line and f"redir={gone_id} " in line


# ---- flushes, expiry, the table limit ---------------------------------------------------------------


@pytest.mark.parametrize("flush", [("FLUSHALL",), ("FLUSHDB",), ("FLUSHALL", "ASYNC")])
def test_flush_sends_null_invalidation_to_every_tracking_client(server, flush):
    conns = on_threads(server)
    extra = on_threads(server)
    default_mode, bcast = conns[0], extra[1]
    w = conns[1]
    assert cmd(default_mode, "CLIENT", "TRACKING", "ON") == "OK"
    assert cmd(bcast, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "zzz") == "OK"
    cmd(default_mode, "GET", "fl:k")
    assert cmd(w, *flush) == "OK"
    for c in (default_mode, bcast):
        assert next_push(c) == [b"invalidate", None]
    # The tables are empty: the key read before the flush is no longer tracked.
    assert info_field(w, "stats", "tracking_total_keys") == "0"
    cmd(w, "SET", "fl:k", "1")
    assert quiet(default_mode)


def test_expired_keys_are_invalidated(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    keys = keys_per_shard("exp", NTHREADS, 2)
    for k in keys:
        cmd(w, "SET", k, "v", "PX", "100")
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    assert cmd(t, "MGET", *keys) == [b"v"] * len(keys)
    # Active expiry (or a lazy one) deletes them within a few cycles: bounded by WAIT_S.
    assert sorted(invalidated_keys(t, b(keys))) == sorted(b(keys))


def test_table_limit_forgets_keys_with_invalidations(server):
    conns = on_threads(server)
    t, w = conns[0], conns[1]
    assert cmd(w, "CONFIG", "SET", "tracking-table-max-keys", str(LIMIT_KEYS)) == "OK"
    assert cmd(w, "CONFIG", "GET", "tracking-table-max-keys") == [  # a RESP3 map
        (b"tracking-table-max-keys", str(LIMIT_KEYS).encode())
    ]
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    keys = [f"lim:{i}" for i in range(LIMIT_READS)]
    for k in keys:
        cmd(t, "GET", k)
    # Each shard keeps at most its share once the total is over the limit.
    kept = int(info_field(w, "stats", "tracking_total_keys"))
    assert kept <= 2 * LIMIT_KEYS
    forgotten = invalidated_keys(t, [])
    deadline = time.monotonic() + WAIT_S
    while len(forgotten) < LIMIT_READS - kept:
        assert time.monotonic() < deadline, (len(forgotten), kept)
        forgotten += next_push(t)[1]
    assert len(set(forgotten)) == LIMIT_READS - kept
    assert quiet(t)


# ---- ordering: an invalidation never overtakes the value it is about -------------------------------


def apply_invalidation(cache, push):
    assert push[0] == b"invalidate"
    if push[1] is None:
        cache.clear()
    for k in push[1] or []:
        cache.pop(k, None)


def test_simulated_cache_stays_consistent_under_concurrent_writes(server_factory):
    """A client caches what its pipelined GETs return and drops what it is told, while other
    connections write the same keys. With four shards a pipeline's reads finish on different
    threads at different times, so an invalidation can reach the reader's thread before the
    pipeline's replies are complete: it must wait for them, or the client keeps a stale value.
    Each round checks the cache against the server once the writes are done and delivered."""
    srv = server_factory(threads=RACE_THREADS)
    t = RawConn(srv.port)
    assert isinstance(t.command("HELLO", "3"), list)
    writers = [RawConn(srv.port) for _ in range(RACE_WRITERS)]
    checker = RawConn(srv.port)
    keys = keys_per_shard("race", RACE_THREADS, RACE_KEYS // RACE_THREADS)
    assert t.command("CLIENT", "TRACKING", "ON") == "OK"
    cache = {}

    def read_reply_of_t():
        while True:
            reply = t.read_reply()
            if not isinstance(reply, Push):
                return reply
            apply_invalidation(cache, reply)

    for rnd in range(RACE_ROUNDS):
        t.send(b"".join(encode("GET", k) for k in keys))
        for n, wc in enumerate(writers):
            wc.send(b"".join(encode("SET", k, f"{rnd}.{n}") for k in keys))
        for wc in writers:
            assert all(wc.read_reply() == "OK" for _ in keys)
        for k in keys:
            value = read_reply_of_t()
            if value is not None:
                cache[k.encode()] = value
        # The writes are done, so their invalidations are on their way to the reader's thread:
        # two round trips later they have been written out.
        for _ in range(2):
            t.send(encode("PING"))
            assert read_reply_of_t() == "PONG"
        current = dict(zip(b(keys), checker.command("MGET", *keys)))
        for k, v in cache.items():
            assert current[k] == v, f"round {rnd}: stale cached value of {k!r}"
    for c in writers + [t, checker]:
        c.close()


# ---- introspection and errors ---------------------------------------------------------------------


def test_trackinginfo_getredir_and_client_list(server):
    conns = on_threads(server)
    t, x = conns[0], conns[1]
    off = tracking_info(t)
    assert off == {b"flags": [b"off"], b"redirect": -1, b"prefixes": []}
    assert cmd(t, "CLIENT", "GETREDIR") == -1
    xid = cmd(x, "CLIENT", "ID")
    assert cmd(t, "CLIENT", "TRACKING", "ON", "OPTOUT", "NOLOOP", "REDIRECT", xid) == "OK"
    info = tracking_info(t)
    assert info == {b"flags": [b"on", b"optout", b"noloop"], b"redirect": xid, b"prefixes": []}
    assert cmd(t, "CLIENT", "GETREDIR") == xid
    line = info_text(cmd(t, "CLIENT", "INFO"))
    assert "flags=t " in line and f"redir={xid} " in line
    assert cmd(t, "CLIENT", "TRACKING", "OFF") == "OK"
    assert cmd(t, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b", "PREFIX", "a") == "OK"
    assert tracking_info(t) == {b"flags": [b"on", b"bcast"], b"redirect": 0, b"prefixes": [b"a", b"b"]}
    assert "flags=tB " in info_text(cmd(t, "CLIENT", "INFO"))
    assert cmd(t, "CLIENT", "GETREDIR") == 0
    # RESP2: the map is a flat array.
    r2 = on_threads(server, resp=2)[0]
    assert cmd(r2, "CLIENT", "TRACKINGINFO") == [b"flags", [b"off"], b"redirect", -1, b"prefixes", []]


def test_info_counts_tracking(server):
    conns = on_threads(server)
    t, u = conns[0], conns[1]
    assert cmd(t, "CLIENT", "TRACKING", "ON") == "OK"
    assert cmd(u, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p1", "PREFIX", "p2") == "OK"
    cmd(t, "MGET", *keys_per_shard("cnt", NTHREADS, 2))
    assert info_field(t, "clients", "tracking_clients") == "2"
    assert info_field(t, "stats", "tracking_total_keys") == "4"
    assert info_field(t, "stats", "tracking_total_items") == "4"
    assert info_field(t, "stats", "tracking_total_prefixes") == "2"


ERRORS = [
    (("ON", "PREFIX", "a"), "ERR PREFIX option requires BCAST mode to be enabled"),
    (("ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"),
     "ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client "
     "must not overlap."),
    (("ON", "REDIRECT", "999999"), "ERR The client ID you want redirect to does not exist"),
    (("ON", "REDIRECT", "0"), "ERR The client ID you want redirect to does not exist"),
    (("OFF", "REDIRECT", "999999"), "ERR The client ID you want redirect to does not exist"),
    (("ON", "REDIRECT", "abc"), "ERR value is not an integer or out of range"),
    (("ON", "OPTIN", "OPTOUT"), "ERR You can't specify both OPTIN mode and OPTOUT mode"),
    (("ON", "BCAST", "OPTIN"), "ERR OPTIN and OPTOUT are not compatible with BCAST"),
    (("MAYBE",), "ERR syntax error"),
    (("ON", "FOO"), "ERR syntax error"),
    (("ON", "PREFIX"), "ERR syntax error"),
    (("ON", "REDIRECT"), "ERR syntax error"),
]


@pytest.mark.parametrize("args, message", ERRORS)
def test_tracking_errors(server, args, message):
    c = RawConn(server.port)
    assert cmd(c, "CLIENT", "TRACKING", *args) == Error(message)
    assert tracking_info(c)[b"flags"] == [b"off"]  # nothing changed
    c.close()


def test_errors_that_depend_on_the_current_mode(server):
    c = RawConn(server.port)
    me = cmd(c, "CLIENT", "ID")
    assert cmd(c, "CLIENT", "CACHING", "YES") == Error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN "
        "or OPTOUT mode enabled"
    )
    assert cmd(c, "CLIENT", "TRACKING", "ON", "REDIRECT", me, "REDIRECT", me) == Error(
        "ERR A client can only redirect to a single other client"
    )
    assert cmd(c, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a") == "OK"
    assert cmd(c, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab") == Error(
        "ERR Prefix 'ab' overlaps with an existing prefix 'a'. Prefixes for a single client must "
        "not overlap."
    )
    assert cmd(c, "CLIENT", "TRACKING", "ON") == Error(
        "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and "
        "then re-enabling it with a different mode."
    )
    assert cmd(c, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "b") == "OK"  # prefixes add up
    assert tracking_info(c)[b"prefixes"] == [b"a", b"b"]
    assert cmd(c, "CLIENT", "TRACKING", "OFF") == "OK"
    assert cmd(c, "CLIENT", "TRACKING", "ON", "OPTIN") == "OK"
    assert cmd(c, "CLIENT", "TRACKING", "ON", "OPTOUT") == Error(
        "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and "
        "then re-enabling it with a different mode."
    )
    assert cmd(c, "CLIENT", "CACHING", "NO") == Error(
        "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
    )
    assert cmd(c, "CLIENT", "CACHING", "MAYBE") == Error("ERR syntax error")
    assert cmd(c, "CLIENT", "TRACKING", "OFF") == "OK"
    assert cmd(c, "CLIENT", "TRACKING", "ON", "OPTOUT") == "OK"
    assert cmd(c, "CLIENT", "CACHING", "YES") == Error(
        "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
    )
    assert cmd(c, "CLIENT", "TRACKING") == Error(
        "ERR wrong number of arguments for 'client|tracking' command"
    )
    c.close()


def test_same_answers_as_redis(server, redis_server_factory):
    """The error texts and TRACKINGINFO replies of a sequence of commands match Redis 7.0's."""
    script = [
        ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x", "PREFIX", "x"),
        ("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "x"),
        ("CLIENT", "TRACKING", "ON", "BCAST"),
        ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "TRACKING", "ON", "OPTIN"),
        ("CLIENT", "TRACKING", "OFF"),
        ("CLIENT", "TRACKING", "ON", "OPTIN", "NOLOOP"),
        ("CLIENT", "CACHING", "YES"),
        ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "GETREDIR"),
        ("CLIENT", "TRACKING", "OFF"),
        ("CLIENT", "TRACKINGINFO"),
    ]
    redis = redis_server_factory()
    answers = []
    for port in (server.port, redis.port):
        c = RawConn(port)
        cmd(c, "HELLO", "3")
        answers.append([cmd(c, *line) for line in script])
        c.close()
    assert answers[0] == answers[1]
