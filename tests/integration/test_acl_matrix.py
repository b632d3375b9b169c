"""ACL matrix: users x commands x keys x channels, run against dfly-server and Redis 7.0 with the
same users, comparing what each server allows. An outcome is "ok" (the command ran, whatever
its reply or non-ACL error) or the exact NOPERM text, so a difference in commands, categories,
subcommands, key patterns with read/write permissions, channels or selectors shows up as a
mismatching cell."""

import itertools

import pytest
import redis

PASSWORD = "matrix-pw"

# name -> ACL SETUSER rules (besides on and the password)
USERS = {
    "full": ["+@all", "~*", "&*"],
    "reader": ["+@read", "+@connection", "~app:*", "~{t}*"],
    "mixed": ["+@all", "-@dangerous", "%R~ro:*", "%W~wo:*", "~rw:*", "&news.*"],
    "narrow": ["-@all", "+get", "+set", "+publish", "+subscribe", "+psubscribe", "~{t}*",
               "&chan"],
    "nodel": ["+@write", "+@read", "-del", "~*", "resetchannels", "&a*"],
    "selectors": ["-@all", "+get", "~a*", "(+set ~b*)", "(+publish +subscribe &x*)"],
    "strings": ["+@string", "+@hash", "-hset", "%R~*", "%W~w*"],
    "subcmds": ["-@all", "+config|get", "+client|id", "+object|encoding", "+select|0", "~*"],
    "admin": ["+@admin", "+@keyspace", "-flushall", "~*"],
    "nowrite": ["+@all", "-@write", "~*", "&*"],
    "collections": ["+@hash", "+@set", "+@sortedset", "+@list", "+@stream", "%W~*", "%R~app:*"],
    "keyspace": ["+@keyspace", "+@fast", "~rw:*", "%R~ro:*"],
    "scripting": ["+@scripting", "+@string", "~a*", "%R~ro:*"],
    "slowonly": ["+@slow", "-@dangerous", "~*", "&*"],
}

KEYS = ["app:1", "ro:1", "wo:1", "rw:1", "a1", "b1", "{t}x", "w1", "other"]
SECOND_KEYS = ["ro:2", "wo:2", "a2", "{t}y"]
CHANNELS = ["news.1", "chan", "a1", "x1", "other"]
PATTERNS = ["news.*", "news.1*", "a*", "x*"]

ONE_KEY = [
    ("GET", "{k}"), ("SET", "{k}", "v"), ("SET", "{k}", "v", "GET"), ("DEL", "{k}"), ("INCR", "{k}"), ("EXISTS", "{k}"),
    ("APPEND", "{k}", "x"), ("STRLEN", "{k}"), ("HSET", "{k}", "f", "v"), ("HGET", "{k}", "f"),
    ("LPUSH", "{k}", "v"), ("TYPE", "{k}"), ("TTL", "{k}"), ("EXPIRE", "{k}", "100"),
    ("OBJECT", "ENCODING", "{k}"), ("GETDEL", "{k}"), ("SETBIT", "{k}", "1", "1"),
    ("GETEX", "{k}"), ("GETRANGE", "{k}", "0", "1"), ("SETRANGE", "{k}", "0", "x"),
    ("HINCRBY", "{k}", "f", "1"), ("SADD", "{k}", "m"), ("SMEMBERS", "{k}"),
    ("ZADD", "{k}", "1", "m"), ("ZRANGE", "{k}", "0", "-1"), ("XADD", "{k}", "*", "f", "v"),
    ("XLEN", "{k}"), ("PFADD", "{k}", "x"), ("PFCOUNT", "{k}"), ("DUMP", "{k}"),
    ("EVAL", "return 1", "1", "{k}"), ("EVAL_RO", "return 1", "1", "{k}"),
    ("SORT", "{k}"), ("LPOP", "{k}"), ("SPOP", "{k}"), ("PERSIST", "{k}"),
    ("UNLINK", "{k}"), ("TOUCH", "{k}"), ("MEMORY", "USAGE", "{k}"), ("BITCOUNT", "{k}"),
]
TWO_KEYS = [
    ("MGET", "{k}", "{k2}"), ("MSET", "{k}", "1", "{k2}", "2"), ("RPOPLPUSH", "{k}", "{k2}"),
    ("COPY", "{k}", "{k2}"), ("SUNIONSTORE", "{k}", "{k2}"), ("RENAME", "{k}", "{k2}"),
    ("PFMERGE", "{k}", "{k2}"), ("LMOVE", "{k}", "{k2}", "LEFT", "RIGHT"),
    ("SMOVE", "{k}", "{k2}", "m"), ("ZUNIONSTORE", "{k}", "1", "{k2}"),
    ("BITOP", "AND", "{k}", "{k2}"), ("SINTERCARD", "2", "{k}", "{k2}"),
    ("SORT", "{k}", "STORE", "{k2}"), ("ZRANGESTORE", "{k}", "{k2}", "0", "-1"),
    ("RENAMENX", "{k}", "{k2}"), ("EVAL", "return 1", "2", "{k}", "{k2}"),
]
CHANNEL_CMDS = [("PUBLISH", "{c}", "m"), ("SPUBLISH", "{c}", "m")]
KEYLESS = [
    ("PING",), ("DBSIZE",), ("CONFIG", "GET", "maxmemory"), ("CONFIG", "SET", "maxmemory", "0"),
    ("CLIENT", "ID"), ("CLIENT", "LIST"), ("SELECT", "0"), ("SELECT", "1"), ("KEYS", "nomatch*"),
    ("ACL", "WHOAMI"), ("ACL", "LIST"), ("INFO", "server"), ("ECHO", "x"), ("TIME",),
    ("SLOWLOG", "LEN"), ("MULTI",), ("DISCARD",), ("FLUSHDB",), ("SWAPDB", "0", "0"),
    ("LASTSAVE",), ("MEMORY", "STATS"), ("COMMAND", "COUNT"),
    ("SCRIPT", "EXISTS", "abc"), ("FUNCTION", "LIST"), ("PUBSUB", "CHANNELS"),
    ("CLIENT", "SETNAME", "n"), ("CLIENT", "GETNAME"), ("LATENCY", "LATEST"), ("ROLE",),
    ("WAIT", "0", "0"), ("RANDOMKEY",), ("SCAN", "0"), ("READONLY",), ("SAVE",),
]


def calls():
    for tpl in KEYLESS:
        yield tpl
    for tpl, k in itertools.product(ONE_KEY, KEYS):
        yield tuple(a.format(k=k) for a in tpl)
    for tpl, k, k2 in itertools.product(TWO_KEYS, KEYS, SECOND_KEYS):
        yield tuple(a.format(k=k, k2=k2) for a in tpl)
    for tpl, ch in itertools.product(CHANNEL_CMDS, CHANNELS):
        yield tuple(a.format(c=ch) for a in tpl)


def outcome(client, call):
    try:
        client.execute_command(*call)
        return "ok"
    except redis.exceptions.NoPermissionError as e:
        return str(e)
    except redis.ResponseError as e:
        return str(e) if "no permissions" in str(e) else "ok"


def setup_users(client):
    for name, rules in USERS.items():
        client.execute_command("ACL", "SETUSER", name, "on", ">" + PASSWORD, *rules)


def run_matrix(server):
    admin = server.client()
    setup_users(admin)
    results = {}
    for user in USERS:
        c = server.client(username=user, password=PASSWORD, decode_responses=False)
        c.response_callbacks.clear()  # outcomes only: no reply parsing
        for call in calls():
            results[(user,) + call] = outcome(c, call)
            if call == ("MULTI",) and results[(user,) + call] == "ok":
                c.execute_command("DISCARD")
        c.close()
    return results


def dryrun_matrix(server):
    """Subscriptions through ACL DRYRUN (a subscribed connection stops answering commands)."""
    admin = server.client()
    setup_users(admin)
    results = {}
    for user in USERS:
        for ch in CHANNELS:
            for cmd in ("SUBSCRIBE", "SSUBSCRIBE"):
                results[(user, cmd, ch)] = admin.execute_command("ACL", "DRYRUN", user, cmd, ch)
        for pat in PATTERNS:
            results[(user, "PSUBSCRIBE", pat)] = admin.execute_command(
                "ACL", "DRYRUN", user, "PSUBSCRIBE", pat)
    return results


def diff(ours, theirs):
    return {k: (ours[k], theirs[k]) for k in theirs if ours.get(k) != theirs[k]}


def test_acl_matrix_commands_keys_channels(server, redis_server_factory):
    ref = redis_server_factory()
    ours, theirs = run_matrix(server), run_matrix(ref)
    assert len(theirs) > 1000
    d = diff(ours, theirs)
    assert d == {}, "\n".join(f"{k}: dfly {v[0]!r}, redis {v[1]!r}" for k, v in sorted(d.items()))


def test_acl_matrix_subscriptions(server, redis_server_factory):
    ref = redis_server_factory()
    ours, theirs = dryrun_matrix(server), dryrun_matrix(ref)
    assert diff(ours, theirs) == {}


def test_acl_matrix_real_subscribe(server, redis_server_factory):
    """SUBSCRIBE and PSUBSCRIBE for real on a few cells, both servers."""
    ref = redis_server_factory()
    for srv in (server, ref):
        setup_users(srv.client())

    def attempt(srv, user, cmd, name):
        c = srv.client(username=user, password=PASSWORD)
        p = c.pubsub()
        try:
            getattr(p, cmd)(name)
            msg = p.get_message(timeout=2)
            return "ok" if msg and msg["type"].endswith("subscribe") else repr(msg)
        except redis.ResponseError as e:
            return str(e)
        finally:
            p.close()
            c.close()

    cells = [("narrow", "subscribe", "chan"), ("narrow", "subscribe", "other"),
             ("mixed", "psubscribe", "news.*"), ("mixed", "psubscribe", "news.1*"),
             ("selectors", "subscribe", "x1"), ("selectors", "subscribe", "a1")]
    for cell in cells:
        assert attempt(server, *cell) == attempt(ref, *cell), cell


@pytest.mark.parametrize("user", ["mixed", "selectors"])
def test_acl_matrix_multi(server, redis_server_factory, user):
    """The same calls queued in MULTI: refused at queue time and EXEC aborted alike."""
    ref = redis_server_factory()
    out = []
    for srv in (server, ref):
        setup_users(srv.client())
        c = srv.client(username=user, password=PASSWORD)
        res = []
        for call in [("SET", "wo:1", "v"), ("GET", "wo:1"), ("SET", "b1", "v"), ("GET", "a1")]:
            res.append(outcome(c, ("MULTI",)))
            res.append(outcome(c, call))
            try:
                c.execute_command("EXEC")
                res.append("exec ok")
            except redis.ResponseError as e:
                res.append(str(e))
        out.append(res)
    assert out[0] == out[1]
