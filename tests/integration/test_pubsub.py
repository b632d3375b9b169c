"""Pub/Sub on a two-thread server: SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE and PUBLISH / SPUBLISH
with subscribers and publishers on both worker threads, exact PUBLISH counts (also while a
subscriber unsubscribes), per-publisher order, RESP2 subscribed mode and RESP3 pushes, PUBSUB
introspection, RESET and disconnects, CLIENT LIST fields, and the pubsub
client-output-buffer-limit that disconnects a subscriber that does not read.
"""

import socket
import threading
import time

import pytest
import redis

from conftest import allocates_with_mimalloc
from resp_raw import Error, Push, RawConn, conns_per_thread, encode, thread_of

NTHREADS = 2  # the `server` fixture runs --threads 2
WAIT_S = 5.0  # bound on every wait for a state change
POLL_S = 0.01
CONNECT_ATTEMPTS = 64  # connections tried to land one on a given thread
ORDER_MESSAGES = 2000  # messages of the ordering test
RACE_BATCH = 50  # pipelined PUBLISHes per round trip while a subscriber leaves
RACE_BEFORE = 500  # messages published before the subscriber leaves
RACE_MAX_MESSAGES = 200000  # bound on that stream
FLOOD_PAYLOAD = 64 * 1024  # bytes per message sent to a subscriber that does not read
FLOOD_MAX_BYTES = 512 * 1024 * 1024  # bound on what the flood test publishes
FLOOD_BATCH = 32  # PUBLISHes per pipelined batch
RSS_GROWTH_MAX = 256 * 1024 * 1024  # the server may not grow more than this during the flood
# ...and, in the sanitizer build (allocator "libc"), what AddressSanitizer's quarantine keeps of
# the freed reply buffers (its default quarantine_size_mb)
ASAN_QUARANTINE = 256 * 1024 * 1024
SMALL_RCVBUF = 4096

REFUSED = (
    "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
    "allowed in this context"
)


def wait_until(pred, what):
    deadline = time.monotonic() + WAIT_S
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


def raw_pair(server):
    """{thread: RawConn}, one connection on each worker thread."""
    return conns_per_thread(server.port, NTHREADS)


def read_push(conn):
    """The next message of a subscriber as a list of bytes (RESP2 array or RESP3 push)."""
    return list(conn.read_reply())


def pubsub_on_thread(server, thread):
    """A redis-py PubSub whose connection the server handles on `thread`."""
    c = server.client()
    for _ in range(CONNECT_ATTEMPTS):
        p = c.pubsub()
        p.connection = p.connection_pool.get_connection("pubsub")
        p.connection.send_command("CLIENT", "INFO")
        info = p.connection.read_response()
        if f"thread={thread}" in info.split():
            return p
        p.close()
    pytest.fail(f"no connection landed on thread {thread}")


def next_message(p, timeout=WAIT_S):
    """The next data message of a redis-py PubSub (subscription confirmations skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=POLL_S * 10)
        if m:
            return m
    raise AssertionError("no message arrived")


# --- delivery across threads ------------------------------------------------------------------


def test_publish_reaches_channel_and_pattern_subscribers_on_every_thread(server):
    subs = raw_pair(server)
    pubs = raw_pair(server)
    for conn in subs.values():
        assert conn.command("SUBSCRIBE", "news") == [b"subscribe", b"news", 1]
        assert conn.command("PSUBSCRIBE", "n*s") == [b"psubscribe", b"n*s", 2]
    for t, pub in pubs.items():
        body = f"from-{t}".encode()
        # Two channel subscribers and two pattern subscribers, one of each per thread.
        assert pub.command("PUBLISH", "news", body) == 4
        for conn in subs.values():
            assert read_push(conn) == [b"message", b"news", body]
            assert read_push(conn) == [b"pmessage", b"n*s", b"news", body]
    assert pubs[0].command("PUBLISH", "nothing-here", "x") == 0
    assert pubs[1].command("PUBLISH", "nexts", "y") == 2
    for conn in subs.values():
        assert read_push(conn) == [b"pmessage", b"n*s", b"nexts", b"y"]


def test_redis_py_pubsub_across_threads(server, r):
    subs = [pubsub_on_thread(server, t % NTHREADS) for t in range(4)]
    for i, p in enumerate(subs):
        p.subscribe("chat", f"own-{i}")
        p.psubscribe("ch*")
        assert p.get_message(timeout=WAIT_S)["type"] == "subscribe"
        assert p.get_message(timeout=WAIT_S)["type"] == "subscribe"
        assert p.get_message(timeout=WAIT_S) == {
            "type": "psubscribe",
            "pattern": None,
            "channel": "ch*",
            "data": 3,
        }
    assert r.publish("chat", "hello") == 8
    for p in subs:
        assert next_message(p) == {"type": "message", "pattern": None, "channel": "chat",
                                   "data": "hello"}  # fmt: skip
        assert next_message(p) == {"type": "pmessage", "pattern": "ch*", "channel": "chat",
                                   "data": "hello"}  # fmt: skip
    for i, p in enumerate(subs):
        assert r.publish(f"own-{i}", "mine") == 1
        assert next_message(p)["data"] == "mine"
    assert r.pubsub_numsub("chat", "own-0", "none") == [("chat", 4), ("own-0", 1), ("none", 0)]
    assert r.pubsub_numpat() == 1
    for p in subs:
        p.close()
    wait_until(lambda: r.pubsub_numsub("chat") == [("chat", 0)], "subscribers to leave")
    assert r.pubsub_numpat() == 0
    assert r.publish("chat", "nobody") == 0


def test_messages_of_one_publisher_arrive_in_order(server):
    subs = raw_pair(server)
    for conn in subs.values():
        conn.command("SUBSCRIBE", "seq")
    for pub in raw_pair(server).values():
        pub.send(b"".join(encode("PUBLISH", "seq", str(i)) for i in range(ORDER_MESSAGES)))
        assert [pub.read_reply() for _ in range(ORDER_MESSAGES)] == [2] * ORDER_MESSAGES
        for conn in subs.values():
            got = [read_push(conn)[2] for _ in range(ORDER_MESSAGES)]
            assert got == [str(i).encode() for i in range(ORDER_MESSAGES)]


def test_publish_count_is_exact_while_a_subscriber_leaves(server):
    """A publisher on the other thread streams messages while the subscriber unsubscribes:
    every message PUBLISH counted the subscriber in reaches it, all of them before its
    UNSUBSCRIBE confirmation, and none after. The count is exactly who received it."""
    for sub_thread in range(NTHREADS):
        sub = raw_pair(server)[sub_thread]
        pub = raw_pair(server)[1 - sub_thread]
        sub.command("SUBSCRIBE", "race")
        counts, left = [], threading.Event()

        def stream():
            while len(counts) < RACE_MAX_MESSAGES:
                base = len(counts)
                pub.send(b"".join(encode("PUBLISH", "race", str(base + i))
                                  for i in range(RACE_BATCH)))  # fmt: skip
                batch = [pub.read_reply() for _ in range(RACE_BATCH)]
                counts.extend(batch)
                if left.is_set() and not any(batch):
                    return

        t = threading.Thread(target=stream)
        t.start()
        wait_until(lambda: len(counts) >= RACE_BEFORE, "messages before leaving")
        sub.send(encode("UNSUBSCRIBE", "race"))
        left.set()
        received = []
        while True:
            m = read_push(sub)
            if m[0] == b"unsubscribe":
                assert m == [b"unsubscribe", b"race", 0]
                break
            assert m[0] == b"message"
            received.append(int(m[2]))
        t.join(timeout=WAIT_S * 4)
        assert not t.is_alive()
        assert set(counts) == {0, 1}
        counted = [i for i, n in enumerate(counts) if n == 1]
        assert received == counted
        # A prefix: once gone, the subscriber is never counted again.
        assert counted == list(range(len(counted)))
        assert sub.nothing_within(0.2)
        assert sub.command("PING") == "PONG"


CHURN_SUBSCRIBERS = 1000  # subscribers that come and go during the churn test
CHURN_SECONDS = 10.0  # bound on the churn test's loop


def test_subscribers_leaving_on_one_thread_while_another_publishes(server):
    """Subscribers on one thread subscribe and disconnect, one after the other, while a publisher
    on the other thread streams to their channel. A publish lists a subscriber's handle under
    the registry lock; once the lock is released, the subscriber's thread may free it, so the
    publisher must not look at it any more (ASan caught exactly that read). Every PUBLISH gets
    a count, and the server keeps serving."""
    conns = raw_pair(server)
    sub_thread, pub = 0, conns[1]
    conns[0].close()
    stop, counts, errors = threading.Event(), [], []

    def stream():
        try:
            while not stop.is_set():
                pub.send(b"".join(encode("PUBLISH", "churn", "m") for _ in range(RACE_BATCH)))
                counts.extend(pub.read_reply() for _ in range(RACE_BATCH))
        except Exception as e:  # reported below: the loop must end either way
            errors.append(repr(e))

    t = threading.Thread(target=stream)
    t.start()
    left = 0
    deadline = time.monotonic() + CHURN_SECONDS
    try:
        while left < CHURN_SUBSCRIBERS and time.monotonic() < deadline:
            for c in conns_per_thread(server.port, NTHREADS).values():
                if thread_of(c) == sub_thread:
                    c.command("SUBSCRIBE", "churn")
                    left += 1
                c.close()  # gone without UNSUBSCRIBE, maybe with messages on their way
    finally:
        stop.set()
        t.join(timeout=WAIT_S * 4)
    assert not t.is_alive() and not errors, errors
    assert left >= CHURN_SUBSCRIBERS // 10, left
    assert counts and all(isinstance(n, int) and n >= 0 for n in counts)
    assert pub.command("PING") == "PONG"


# --- RESP2 subscribed mode and RESP3 ----------------------------------------------------------


def test_resp2_subscribed_mode_allows_only_pubsub_commands(server):
    with RawConn(server.port) as c:
        c.command("SUBSCRIBE", "a")
        assert c.command("GET", "x") == Error("ERR " + REFUSED.format("get"))
        assert c.command("CONFIG", "GET", "x") == Error("ERR " + REFUSED.format("config|get"))
        assert c.command("MULTI") == Error("ERR " + REFUSED.format("multi"))
        assert c.command("PING") == [b"pong", b""]
        assert c.command("PING", "hi") == [b"pong", b"hi"]
        assert c.command("PSUBSCRIBE", "p*") == [b"psubscribe", b"p*", 2]
        assert c.command("SSUBSCRIBE", "s") == [b"ssubscribe", b"s", 1]
        assert c.command("SUNSUBSCRIBE") == [b"sunsubscribe", b"s", 0]
        assert c.command("PUNSUBSCRIBE") == [b"punsubscribe", b"p*", 1]
        assert c.command("UNSUBSCRIBE") == [b"unsubscribe", b"a", 0]
        # Out of subscribed mode: everything runs again.
        assert c.command("PING") == "PONG"
        assert c.command("GET", "x") is None
        c.command("SUBSCRIBE", "a")
        assert c.command("QUIT") == "OK"
        c.expect_closed()


def test_unsubscribe_replies_as_redis(server):
    with RawConn(server.port) as c:
        assert c.command("UNSUBSCRIBE") == [b"unsubscribe", None, 0]
        assert c.command("PUNSUBSCRIBE") == [b"punsubscribe", None, 0]
        assert c.command("SUNSUBSCRIBE") == [b"sunsubscribe", None, 0]
        c.send(encode("SUBSCRIBE", "a", "b", "a"))
        assert [c.read_reply() for _ in range(3)] == [
            [b"subscribe", b"a", 1],
            [b"subscribe", b"b", 2],
            [b"subscribe", b"a", 2],
        ]
        assert c.command("UNSUBSCRIBE", "zz") == [b"unsubscribe", b"zz", 2]
        c.send(encode("UNSUBSCRIBE"))
        got = sorted(tuple(c.read_reply()) for _ in range(2))
        assert [g[1] for g in got] == [b"a", b"b"]
        assert sorted(g[2] for g in got) == [0, 1]
        assert c.command("SUBSCRIBE") == Error(
            "ERR wrong number of arguments for 'subscribe' command"
        )


def test_resp3_pushes_and_any_command(server):
    with RawConn(server.port) as c, RawConn(server.port) as pub:
        c.command("HELLO", "3")
        got = c.command("SUBSCRIBE", "a")
        assert isinstance(got, Push) and got == [b"subscribe", b"a", 1]
        assert c.command("SET", "k", "v") == "OK"
        assert c.command("GET", "k") == b"v"
        assert c.command("PING") == "PONG"
        assert pub.command("PUBLISH", "a", "m") == 1
        m = c.read_reply()
        assert isinstance(m, Push) and m == [b"message", b"a", b"m"]
        # A subscriber publishing to itself: the message, then PUBLISH's reply (Redis's order).
        assert c.command("PUBLISH", "a", "self") == Push([b"message", b"a", b"self"])
        assert c.read_reply() == 1
        got = c.command("UNSUBSCRIBE")
        assert isinstance(got, Push) and got == [b"unsubscribe", b"a", 0]
        assert c.command("UNSUBSCRIBE") == Push([b"unsubscribe", None, 0])


def test_subscribe_inside_multi(server):
    with RawConn(server.port) as c, RawConn(server.port) as pub:
        assert c.command("MULTI") == "OK"
        assert c.command("SUBSCRIBE", "tx") == "QUEUED"
        assert c.command("PUBLISH", "tx", "inside") == "QUEUED"
        assert c.command("EXEC") == [[b"subscribe", b"tx", 1], 1]
        assert read_push(c) == [b"message", b"tx", b"inside"]
        assert c.command("GET", "k") == Error("ERR " + REFUSED.format("get"))
        assert pub.command("MULTI") == "OK"
        pub.command("PUBLISH", "tx", "1")
        pub.command("SET", "{tx}k", "v")
        pub.command("PUBLISH", "tx", "2")
        assert pub.command("EXEC") == [1, "OK", 1]
        assert read_push(c) == [b"message", b"tx", b"1"]
        assert read_push(c) == [b"message", b"tx", b"2"]


# --- shard channels ---------------------------------------------------------------------------


def test_shard_channels_are_apart_from_channels(server, r):
    subs = raw_pair(server)
    for conn in subs.values():
        assert conn.command("SSUBSCRIBE", "orders") == [b"ssubscribe", b"orders", 1]
        assert conn.command("PSUBSCRIBE", "*") == [b"psubscribe", b"*", 1]
    assert r.execute_command("SPUBLISH", "orders", "o1") == 2
    for conn in subs.values():
        assert read_push(conn) == [b"smessage", b"orders", b"o1"]
    # PUBLISH reaches the pattern subscribers only; SPUBLISH never reaches patterns.
    assert r.publish("orders", "o2") == 2
    for conn in subs.values():
        assert read_push(conn) == [b"pmessage", b"*", b"orders", b"o2"]
    assert r.execute_command("SPUBLISH", "other", "x") == 0
    assert r.execute_command("PUBSUB", "SHARDCHANNELS") == ["orders"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "orders", "x") == ["orders", 2, "x", 0]
    assert r.execute_command("PUBSUB", "CHANNELS") == []
    with RawConn(server.port) as c:
        assert c.command("COMMAND", "GETKEYS", "SPUBLISH", "ch", "m") == [b"ch"]
        assert c.command("COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b") == [b"a", b"b"]


# --- introspection ----------------------------------------------------------------------------


def test_pubsub_introspection(server, r):
    subs = raw_pair(server)
    subs[0].command("SUBSCRIBE", "alpha", "beta")
    subs[0].read_reply()
    subs[1].command("SUBSCRIBE", "alpha", "gamma")
    subs[1].read_reply()
    subs[0].command("PSUBSCRIBE", "a*")
    subs[1].command("PSUBSCRIBE", "a*")
    subs[1].command("PSUBSCRIBE", "b*")
    assert sorted(r.pubsub_channels()) == ["alpha", "beta", "gamma"]
    assert sorted(r.pubsub_channels("?a*")) == ["gamma"]
    assert r.pubsub_numsub("alpha", "beta", "zeta") == [("alpha", 2), ("beta", 1), ("zeta", 0)]
    assert r.pubsub_numpat() == 2  # unique patterns, as Redis 7 counts
    subs[1].command("SSUBSCRIBE", "shard-a")
    stats = r.info("stats")
    assert (stats["pubsub_channels"], stats["pubsub_patterns"]) == (3, 2)
    assert stats["pubsubshard_channels"] == 1
    assert r.execute_command("PUBSUB", "NUMSUB") == []
    help_text = r.execute_command("PUBSUB", "HELP")
    assert help_text[0].startswith("PUBSUB <subcommand>")
    assert "NUMPAT" in help_text and "SHARDNUMSUB [<shardchannel> ...]" in help_text
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'foo'. Try PUBSUB HELP.$"):
        r.execute_command("PUBSUB", "foo")
    with pytest.raises(
        redis.ResponseError,
        match=r"^unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP",
    ):
        r.execute_command("PUBSUB", "CHANNELS", "a", "b")
    with pytest.raises(redis.ResponseError, match=r"'pubsub\|numpat' command"):
        r.execute_command("PUBSUB", "NUMPAT", "x")
    with RawConn(server.port) as c:
        sub, pub = c.command("COMMAND", "INFO", "SUBSCRIBE", "PUBLISH")
        assert sub[1] == -2 and "pubsub" in sub[2] and "noscript" in sub[2]
        assert pub[1] == 3 and "fast" in pub[2]


def test_client_list_shows_subscriptions(server, r):
    with RawConn(server.port) as c:
        cid = c.command("CLIENT", "ID")
        c.command("SUBSCRIBE", "a", "b")
        c.read_reply()
        c.command("PSUBSCRIBE", "p*")
        c.command("SSUBSCRIBE", "s")
        line = r.client_list(_type="pubsub")[0]
        assert int(line["id"]) == cid
        assert (line["sub"], line["psub"], line["ssub"], line["flags"]) == ("2", "1", "1", "P")
        c.command("RESET")
        line = [x for x in r.client_list() if int(x["id"]) == cid][0]
        assert (line["sub"], line["psub"], line["ssub"], line["flags"]) == ("0", "0", "0", "N")
        assert r.client_list(_type="pubsub") == []


def test_reset_and_disconnect_drop_subscriptions(server, r):
    subs = raw_pair(server)
    for conn in subs.values():
        conn.command("SUBSCRIBE", "gone")
        conn.command("PSUBSCRIBE", "go*")
    assert r.publish("gone", "x") == 4
    assert subs[0].read_reply()[0] == b"message"
    assert subs[0].read_reply()[0] == b"pmessage"
    # RESET: back to an ordinary connection, no leftover message in its replies.
    assert subs[0].command("RESET") == "RESET"
    assert r.publish("gone", "y") == 2
    assert subs[0].command("PING") == "PONG"
    assert subs[0].nothing_within(0.2)
    subs[1].close()
    wait_until(lambda: r.publish("gone", "z") == 0, "the closed subscriber to be dropped")
    assert r.pubsub_numpat() == 0 and r.pubsub_channels() == []


def test_many_subscribers_count(server, r):
    subs = [RawConn(server.port) for _ in range(40)]
    try:
        for i, c in enumerate(subs):
            c.command("SUBSCRIBE", "many")
            if i % 2:
                c.command("PSUBSCRIBE", "ma*")
        assert r.publish("many", "hi") == 60
        for i, c in enumerate(subs):
            assert read_push(c) == [b"message", b"many", b"hi"]
            if i % 2:
                assert read_push(c) == [b"pmessage", b"ma*", b"many", b"hi"]
    finally:
        for c in subs:
            c.close()


# --- client-output-buffer-limit ---------------------------------------------------------------


def test_config_client_output_buffer_limit(r):
    default = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    assert r.config_get("client-output-buffer-limit") == {"client-output-buffer-limit": default}
    assert r.config_set("client-output-buffer-limit", "PUBSUB 1kb 1k 0 normal 1 2 3")
    assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == (
        "normal 1 2 3 slave 268435456 67108864 60 pubsub 1024 1000 0"
    )
    assert r.config_set("client-output-buffer-limit", "replica 1 0 1 normal 0 0 0")
    assert r.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == (
        "normal 0 0 0 slave 1 0 1 pubsub 1024 1000 0"
    )
    errors = {
        "pubsub 1mb": "Wrong number of arguments in buffer limit configuration.",
        "master 1 0 1": "Invalid client class specified in buffer limit configuration.",
        "pubsub -1 0 0": "Error in hard, soft or soft_seconds setting in buffer limit "
        "configuration.",
        "pubsub 1 0 -1": "Error in hard, soft or soft_seconds setting in buffer limit "
        "configuration.",
    }
    for value, reason in errors.items():
        with pytest.raises(redis.ResponseError) as e:
            r.config_set("client-output-buffer-limit", value)
        assert str(e.value) == (
            "CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - "
            + reason
        )


def rss(r):
    return r.info("memory")["used_memory_rss"]


def silent_subscriber(server, channel):
    """A subscriber with a tiny receive buffer that never reads after subscribing."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RCVBUF)
    s.settimeout(WAIT_S)
    s.connect(("127.0.0.1", server.port))
    s.sendall(encode("SUBSCRIBE", channel))
    want = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(channel), channel.encode())
    got = b""
    while len(got) < len(want):
        got += s.recv(len(want) - len(got))
    assert got == want
    return s


def flood_until_dropped(r, pub, channel, payload, rate_sleep=0.0):
    """Publishes payload on channel in pipelined batches until nobody subscribes to it any more
    (bounded by FLOOD_MAX_BYTES). Returns the bytes published."""
    sent = 0
    while sent < FLOOD_MAX_BYTES:
        p = pub.pipeline(transaction=False)
        for _ in range(FLOOD_BATCH):
            p.publish(channel, payload)
        counts = p.execute()
        sent += FLOOD_BATCH * len(payload)
        if counts[-1] == 0:
            return sent
        if rate_sleep:
            time.sleep(rate_sleep)
    raise AssertionError(f"subscriber still connected after {sent} bytes published")


def assert_closed(s):
    """The server closed s (what was buffered is drained first)."""
    s.settimeout(WAIT_S)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if not s.recv(1 << 20):
                return
        except (ConnectionResetError, BrokenPipeError):
            return
    raise AssertionError("the slow subscriber was not disconnected")


@pytest.mark.parametrize("limit", [None, "pubsub 4mb 0 0"])
def test_subscriber_that_never_reads_is_disconnected(server, r, limit):
    """Hard limit (Redis's default 32mb, and a small one): the server's memory stays bounded
    and everybody else keeps working."""
    if limit:
        r.config_set("client-output-buffer-limit", limit)
    fast = pubsub_on_thread(server, 0)
    fast.subscribe("flood-side")
    slow = silent_subscriber(server, "flood")
    before = rss(r)
    pub = server.client()
    payload = "x" * FLOOD_PAYLOAD
    flood_until_dropped(r, pub, "flood", payload)
    quarantine = 0 if allocates_with_mimalloc(r) else ASAN_QUARANTINE
    assert rss(r) - before < RSS_GROWTH_MAX + quarantine
    assert_closed(slow)
    slow.close()
    assert r.ping()
    assert r.publish("flood-side", "still here") == 1
    assert next_message(fast)["data"] == "still here"
    assert r.client_list(_type="pubsub")[0]["sub"] == "1"


def test_soft_limit_disconnects_after_its_seconds(server, r):
    r.config_set("client-output-buffer-limit", "pubsub 0 256kb 1")
    slow = silent_subscriber(server, "soft")
    pub = server.client()
    start = time.monotonic()
    flood_until_dropped(r, pub, "soft", "y" * 4096, rate_sleep=0.01)
    # Over the soft limit for more than a second, not at the first message over it.
    assert time.monotonic() - start >= 1.0
    assert_closed(slow)
    slow.close()


def test_publishers_on_many_threads_concurrently(server, r):
    """Publishers on both threads at once while subscribers come and go: every subscriber that
    stays gets every message of each publisher, in order."""
    subs = raw_pair(server)
    for conn in subs.values():
        conn.command("SUBSCRIBE", "multi")
    n = 500
    errors = []

    def publish_all(conn, tag):
        try:
            conn.send(b"".join(encode("PUBLISH", "multi", f"{tag}:{i}") for i in range(n)))
            for _ in range(n):
                assert conn.read_reply() >= 2
        except Exception as e:  # reported by the main thread
            errors.append(e)

    def churn(conn):
        """Subscribes and leaves again and again; after each confirmation of leaving, not one
        more message may come (the next reply is PING's)."""
        try:
            for _ in range(50):
                assert conn.command("SUBSCRIBE", "multi") == [b"subscribe", b"multi", 1]
                conn.send(encode("UNSUBSCRIBE", "multi"))
                while read_push(conn)[0] != b"unsubscribe":
                    pass
                assert conn.command("PING") == "PONG"
        except Exception as e:
            errors.append(e)

    pubs = raw_pair(server)
    churners = raw_pair(server)
    threads = [threading.Thread(target=publish_all, args=(c, t)) for t, c in pubs.items()]
    threads += [threading.Thread(target=churn, args=(c,)) for c in churners.values()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=WAIT_S * 4)
    assert not errors, errors
    for conn in subs.values():
        got = {0: [], 1: []}
        for _ in range(n * NTHREADS):
            tag, i = read_push(conn)[2].decode().split(":")
            got[int(tag)].append(int(i))
        assert got == {0: list(range(n)), 1: list(range(n))}
