"""Differential testing against Debian's redis-server 7.0: the same command sequence runs on a
real Redis and on dfly-server, and every reply must be the same.

    from difftest import DiffRunner

    def test_lists_random(server, redis_server_factory):
        d = DiffRunner(server, redis_server_factory())
        rng = random.Random(1234)
        for _ in range(2000):
            d.run("LPUSH", "k", str(rng.randint(0, 9)))
        d.run("LRANGE", "k", "0", "-1")

Replies are compared as redis-py returns them without response callbacks (bytes, ints, lists,
errors as the ResponseError text). unordered="pairs" compares a flat field/value list as a set
of pairs (HGETALL). unordered=True compares a list reply as a multiset (for
commands whose order Redis leaves unspecified: SMEMBERS, HKEYS, SPOP with count...). A mismatch
fails with the whole command history, so the failing sequence can be replayed by hand.
"""

import redis


def _normalize(reply, unordered):
    if unordered == "pairs" and isinstance(reply, list):  # HGETALL: field, value, ...
        pairs = zip(reply[0::2], reply[1::2])
        return sorted(((_normalize(f, False), _normalize(v, False)) for f, v in pairs), key=repr)
    if isinstance(reply, list):
        items = [_normalize(x, False) for x in reply]
        if unordered:
            return sorted(items, key=repr)
        return items
    if isinstance(reply, Exception):  # an error inside EXEC's reply
        return ("error", str(reply))
    if isinstance(reply, (set, frozenset)):
        return sorted((_normalize(x, False) for x in reply), key=repr)
    return reply


def _call(client, args):
    try:
        return client.execute_command(*args)
    except redis.ResponseError as e:
        return ("error", str(e))


class DiffRunner:
    def __init__(self, dfly_server, redis_server):
        self.dfly = dfly_server.client(decode_responses=False)
        self.ref = redis_server.client(decode_responses=False)
        for c in (self.dfly, self.ref):
            c.response_callbacks = {}
        self.history = []

    def run(self, *args, unordered=False, compare=True):
        """Runs one command on both servers; returns dfly's reply."""
        args = [a if isinstance(a, (bytes, str)) else str(a) for a in args]
        self.history.append(args)
        got = _call(self.dfly, args)
        want = _call(self.ref, args)
        if compare and _normalize(got, unordered) != _normalize(want, unordered):
            tail = "\n".join(" ".join(map(str, h)) for h in self.history[-50:])
            raise AssertionError(
                f"reply differs for {args}:\n  dfly:  {got!r}\n  redis: {want!r}\n"
                f"last commands:\n{tail}"
            )
        return got
