"""Random valid commands of every family over a small shared keyspace, so that commands meet
keys of other types (WRONGTYPE), empty keys, and each other's results. Used by test_cmdseq.py
(differential runs against redis-server 7.0 and concurrent runs with invariants) and by
tests/soak/cmdseq_soak.py for long runs.

Each generator returns (args, unordered): unordered marks replies whose order Redis leaves
unspecified. Commands whose replies depend on time or chance (TTL, SRANDMEMBER, SPOP, RANDOMKEY,
OBJECT IDLETIME...) and encodings (OBJECT ENCODING: dfly keeps small sets as listpacks, as Redis 7.2
does, where 7.0 uses a hash table) are left out of the differential mix; the concurrent mix adds them.
"""


KEYS = [f"k{i}" for i in range(8)] + ["{t}a", "{t}b", "{t}c"]
MEMBERS = [f"m{i}" for i in range(12)] + ["", "a b", "\u00e9", "0", "-1", "1.5"]
NUMBERS = ["0", "1", "-1", "7", "100", "-250", "3.5", "1e3", "abc", "", "9223372036854775807"]


def key(rng):
    return rng.choice(KEYS)


def member(rng):
    return rng.choice(MEMBERS)


def value(rng):
    r = rng.random()
    if r < 0.3:
        return rng.choice(NUMBERS)
    if r < 0.9:
        return rng.choice(MEMBERS) + str(rng.randint(0, 99))
    return "x" * rng.choice([60, 100, 300])  # beyond the small encodings' limits


def integer(rng, lo=-5, hi=20):
    return str(rng.randint(lo, hi))


def score(rng):
    return rng.choice(["0", "1", "-1", "2.5", "10", "-inf", "+inf", "3", "1e2", "0.1"])


def lex(rng):
    return rng.choice(["-", "+", "[m1", "(m3", "[m9", "(a", "[", "[\u00e9"])


def range_score(rng):
    s = score(rng)
    return ("(" + s) if rng.random() < 0.3 and "inf" not in s else s


# ---- families ----------------------------------------------------------------------------------


def g_string(rng):
    k = key(rng)
    c = rng.randrange(16)
    if c == 0:
        opts = rng.choice([[], ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", "1000"], ["XX", "GET"]])
        return ["SET", k, value(rng), *opts], False
    if c == 1:
        return ["GET", k], False
    if c == 2:
        return ["APPEND", k, value(rng)], False
    if c == 3:
        return [rng.choice(["INCR", "DECR"]), k], False
    if c == 4:
        return [rng.choice(["INCRBY", "DECRBY"]), k, rng.choice(NUMBERS)], False
    if c == 5:
        return ["INCRBYFLOAT", k, rng.choice(["0.1", "1.5", "-2", "1e2", "abc", "3"])], False
    if c == 6:
        return ["GETRANGE", k, integer(rng, -10, 10), integer(rng, -10, 10)], False
    if c == 7:
        return ["SETRANGE", k, str(rng.randint(0, 40)), value(rng)], False
    if c == 8:
        return ["STRLEN", k], False
    if c == 9:
        n = rng.randint(1, 3)
        return ["MSET", *[x for _ in range(n) for x in (key(rng), value(rng))]], False
    if c == 10:
        return ["MGET", *[key(rng) for _ in range(rng.randint(1, 4))]], False
    if c == 11:
        return ["GETDEL", k], False
    if c == 12:
        return ["SETNX", k, value(rng)], False
    if c == 13:
        return ["MSETNX", key(rng), value(rng), key(rng), value(rng)], False
    if c == 14:
        return ["GETSET", k, value(rng)], False
    return ["LCS", key(rng), key(rng)], False


def g_keys(rng):
    c = rng.randrange(13)
    if c == 12:
        opts = rng.choice([[], ["ALPHA"], ["ALPHA", "DESC", "LIMIT", "1", "3"], ["DESC"]])
        return ["SORT", key(rng), *opts, *rng.choice([[], ["STORE", key(rng)]])], False
    if c == 0:
        return ["DEL", *[key(rng) for _ in range(rng.randint(1, 3))]], False
    if c == 1:
        return ["EXISTS", *[key(rng) for _ in range(rng.randint(1, 3))]], False
    if c == 2:
        return ["TYPE", key(rng)], False
    if c == 3:
        return ["RENAME", key(rng), key(rng)], False
    if c == 4:
        return ["RENAMENX", key(rng), key(rng)], False
    if c == 5:
        # Distinct seconds: GT/LT between two equal values would depend on the millisecond.
        secs = str(rng.randint(1000, 10**9))
        return ["EXPIRE", key(rng), secs, *rng.choice([[], ["NX"], ["GT"], ["LT"], ["XX"]])], False
    if c == 6:
        return ["PERSIST", key(rng)], False
    if c == 7:
        return ["COPY", key(rng), key(rng), *rng.choice([[], ["REPLACE"]])], False
    if c == 8:
        return ["UNLINK", key(rng)], False
    if c == 9:
        return ["EXPIRETIME", key(rng)], False
    if c == 10:
        return ["TOUCH", key(rng), key(rng)], False
    return ["KEYS", rng.choice(["k*", "*", "{t}?", "k[0-3]"])], True


def g_list(rng):
    k = key(rng)
    c = rng.randrange(15)
    if c == 0:
        return [rng.choice(["LPUSH", "RPUSH"]), k, *[value(rng) for _ in range(rng.randint(1, 4))]], False
    if c == 1:
        return [rng.choice(["LPUSHX", "RPUSHX"]), k, value(rng)], False
    if c == 2:
        return [rng.choice(["LPOP", "RPOP"]), k, *rng.choice([[], [str(rng.randint(0, 4))]])], False
    if c == 3:
        return ["LRANGE", k, integer(rng, -6, 6), integer(rng, -6, 6)], False
    if c == 4:
        return ["LINDEX", k, integer(rng, -6, 6)], False
    if c == 5:
        return ["LSET", k, integer(rng, -4, 4), value(rng)], False
    if c == 6:
        return ["LINSERT", k, rng.choice(["BEFORE", "AFTER"]), value(rng), value(rng)], False
    if c == 7:
        return ["LREM", k, integer(rng, -2, 2), value(rng)], False
    if c == 8:
        return ["LTRIM", k, integer(rng, -5, 5), integer(rng, -5, 5)], False
    if c == 9:
        return ["LPOS", k, value(rng), *rng.choice([[], ["RANK", "-1"], ["COUNT", "0"], ["MAXLEN", "2"]])], False
    if c == 10:
        sides = [rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"])]
        return ["LMOVE", key(rng), key(rng), *sides], False
    if c == 11:
        return ["LLEN", k], False
    if c == 12:
        return ["RPOPLPUSH", key(rng), key(rng)], False
    if c == 13:
        return ["LMPOP", "2", key(rng), key(rng), rng.choice(["LEFT", "RIGHT"]), "COUNT", "2"], False
    return ["BLPOP", key(rng), key(rng), "0.01"], False


def g_hash(rng):
    k = key(rng)
    c = rng.randrange(13)
    if c == 0:
        n = rng.randint(1, 3)
        return ["HSET", k, *[x for _ in range(n) for x in (member(rng), value(rng))]], False
    if c == 1:
        return ["HGET", k, member(rng)], False
    if c == 2:
        return ["HDEL", k, member(rng), member(rng)], False
    if c == 3:
        return ["HLEN", k], False
    if c == 4:
        return ["HINCRBY", k, member(rng), rng.choice(NUMBERS)], False
    if c == 5:
        return ["HINCRBYFLOAT", k, member(rng), rng.choice(["0.5", "-1", "abc", "2e1"])], False
    if c == 6:
        return ["HMGET", k, member(rng), member(rng)], False
    if c == 7:
        return ["HGETALL", k], "pairs"
    if c == 8:
        return [rng.choice(["HKEYS", "HVALS"]), k], True
    if c == 9:
        return ["HEXISTS", k, member(rng)], False
    if c == 10:
        return ["HSETNX", k, member(rng), value(rng)], False
    if c == 11:
        return ["HSTRLEN", k, member(rng)], False
    return ["HMSET", k, member(rng), value(rng)], False


def g_set(rng):
    k = key(rng)
    c = rng.randrange(13)
    if c == 0:
        return ["SADD", k, *[member(rng) for _ in range(rng.randint(1, 5))]], False
    if c == 1:
        return ["SREM", k, member(rng), member(rng)], False
    if c == 2:
        return ["SCARD", k], False
    if c == 3:
        return ["SISMEMBER", k, member(rng)], False
    if c == 4:
        return ["SMISMEMBER", k, member(rng), member(rng)], False
    if c == 5:
        return ["SMEMBERS", k], True
    if c == 6:
        return [rng.choice(["SINTER", "SUNION", "SDIFF"]), k, key(rng)], True
    if c == 7:
        return [rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), key(rng), k, key(rng)], False
    if c == 8:
        return ["SMOVE", k, key(rng), member(rng)], False
    if c == 9:
        return ["SINTERCARD", "2", k, key(rng)], False
    if c == 10:
        return ["SADD", k, *[str(rng.randint(0, 600)) for _ in range(rng.randint(1, 8))]], False
    if c == 11:
        return ["SCARD", key(rng)], False
    return ["SADD", k, *[f"n{rng.randint(0, 200)}" for _ in range(rng.randint(20, 40))]], False


def g_zset(rng):
    k = key(rng)
    c = rng.randrange(16)
    if c == 0:
        opts = rng.choice([[], ["NX"], ["XX"], ["GT"], ["LT"], ["CH"], ["XX", "CH"], ["INCR"]])
        n = 1 if "INCR" in opts else rng.randint(1, 4)
        return ["ZADD", k, *opts, *[x for _ in range(n) for x in (score(rng), member(rng))]], False
    if c == 1:
        return ["ZINCRBY", k, score(rng), member(rng)], False
    if c == 2:
        return ["ZREM", k, member(rng), member(rng)], False
    if c == 3:
        return ["ZCARD", k], False
    if c == 4:
        return ["ZSCORE", k, member(rng)], False
    if c == 5:
        extra = rng.choice([[], ["REV"], ["WITHSCORES"], ["REV", "WITHSCORES"]])
        return ["ZRANGE", k, integer(rng, -5, 5), integer(rng, -5, 5), *extra], False
    if c == 6:
        extra = rng.choice([[], ["LIMIT", "0", "2"], ["WITHSCORES"], ["LIMIT", "1", "-1", "WITHSCORES"]])
        return ["ZRANGE", k, range_score(rng), range_score(rng), "BYSCORE", *extra], False
    if c == 7:
        return ["ZRANGE", k, lex(rng), lex(rng), "BYLEX", *rng.choice([[], ["LIMIT", "0", "3"]])], False
    if c == 8:
        return [rng.choice(["ZRANK", "ZREVRANK"]), k, member(rng)], False
    if c == 9:
        return ["ZCOUNT", k, range_score(rng), range_score(rng)], False
    if c == 10:
        return ["ZLEXCOUNT", k, lex(rng), lex(rng)], False
    if c == 11:
        return [rng.choice(["ZPOPMIN", "ZPOPMAX"]), k, *rng.choice([[], ["2"]])], False
    if c == 12:
        op = rng.choice(["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"])
        extra = [] if op == "ZDIFFSTORE" else rng.choice([[], ["AGGREGATE", "MAX"], ["WEIGHTS", "2", "0.5"]])
        return [op, key(rng), "2", k, key(rng), *extra], False
    if c == 13:
        return ["ZMSCORE", k, member(rng), member(rng)], False
    if c == 14:
        return ["ZREMRANGEBYSCORE", k, range_score(rng), range_score(rng)], False
    return ["ZADD", k, *[x for i in range(rng.randint(100, 140)) for x in (str(i), f"z{i}")]], False


def g_bits(rng):
    k = key(rng)
    c = rng.randrange(6)
    if c == 0:
        return ["SETBIT", k, str(rng.randint(0, 200)), rng.choice(["0", "1"])], False
    if c == 1:
        return ["GETBIT", k, str(rng.randint(0, 200))], False
    if c == 2:
        return ["BITCOUNT", k, *rng.choice([[], ["0", "-1"], ["1", "3", "BIT"]])], False
    if c == 3:
        return ["BITPOS", k, rng.choice(["0", "1"]), *rng.choice([[], ["2"], ["0", "-1", "BIT"]])], False
    if c == 4:
        return ["BITOP", rng.choice(["AND", "OR", "XOR"]), key(rng), k, key(rng)], False
    return ["BITFIELD", k, "INCRBY", "u8", str(rng.randint(0, 40)), integer(rng)], False


# HyperLogLogs live on keys of their own: string commands that change an HLL's bytes leave a
# corrupt sparse HLL, on which Redis reads and writes past the value's end (undefined
# behaviour no reply can be compared with); dfly answers INVALIDOBJ there.
HLL_KEYS = ["hll0", "hll1", "{t}hll"]


def g_hll(rng):
    k = rng.choice(HLL_KEYS)
    r = rng.random()
    if r < 0.6:
        return ["PFADD", k, *[member(rng) for _ in range(rng.randint(1, 4))]], False
    if r < 0.8:
        return ["PFCOUNT", k, *rng.choice([[], [rng.choice(HLL_KEYS)], [key(rng)]])], False
    return ["PFMERGE", k, rng.choice(HLL_KEYS)], False


FAMILIES = [g_string, g_keys, g_list, g_hash, g_set, g_zset, g_bits, g_hll]


def command(rng):
    return rng.choice(FAMILIES)(rng)


def sequence(rng):
    """One step: a single command, or a MULTI block of a few (EXEC or DISCARD)."""
    if rng.random() < 0.05:
        body = [ordered_command(rng) for _ in range(rng.randint(1, 5))]
        end = ["EXEC"] if rng.random() < 0.85 else ["DISCARD"]
        return [(["MULTI"], False), *body, (end, False)]
    return [command(rng)]


def ordered_command(rng):
    """A command whose reply has one order (EXEC's reply nests them)."""
    while True:
        args, unordered = command(rng)
        if not unordered:
            return args, False


# Commands the concurrent mix adds: replies we cannot predict, but that must not break anything.
def chaotic(rng):
    k = key(rng)
    return rng.choice(
        [
            ["SRANDMEMBER", k, integer(rng, -5, 5)],
            ["SPOP", k, *rng.choice([[], ["2"]])],
            ["HRANDFIELD", k, integer(rng, -3, 3), "WITHVALUES"],
            ["ZRANDMEMBER", k, integer(rng, -3, 3)],
            ["RANDOMKEY"],
            ["TTL", k],
            ["PEXPIRE", k, str(rng.randint(1, 50))],
            ["SCAN", "0", "COUNT", "5"],
            ["DBSIZE"],
            ["SORT", k, "BY", "nosort", "LIMIT", "0", "3"],
            ["DUMP", k],
            ["OBJECT", "FREQ", k],
            ["OBJECT", "ENCODING", k],  # small sets are listpacks here, as in Redis 7.2
        ]
    )


# Commands the concurrent mix adds besides: scripts, blocking pops and moves (a short timeout,
# across shards), streams with consumer groups, pub/sub. Replies depend on timing.
SCRIPTS = [
    "return redis.call('INCR', KEYS[1])",
    "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1])",
    "return redis.call('LPUSH', KEYS[1], ARGV[1], ARGV[1])",
    "return redis.pcall('HINCRBY', KEYS[1], 'f', 1)",
    "local n = 0 for i, k in ipairs(KEYS) do n = n + redis.call('EXISTS', k) end return n",
]
BLOCK_TIMEOUT = "0.01"


def g_script(rng):
    keys = [key(rng) for _ in range(rng.randint(1, 2))]
    return ["EVAL", rng.choice(SCRIPTS), str(len(keys)), *keys, member(rng)]


def g_blocking(rng):
    a, b = key(rng), key(rng)
    return rng.choice(
        [
            ["BLPOP", a, b, BLOCK_TIMEOUT],
            ["BRPOP", a, BLOCK_TIMEOUT],
            ["BLMOVE", a, b, rng.choice(["LEFT", "RIGHT"]), rng.choice(["LEFT", "RIGHT"]),
             BLOCK_TIMEOUT],
            ["BZPOPMIN", a, b, BLOCK_TIMEOUT],
            ["BLMPOP", BLOCK_TIMEOUT, "2", a, b, "LEFT", "COUNT", "2"],
        ]
    )


def g_stream(rng):
    k = key(rng)
    return rng.choice(
        [
            ["XADD", k, "*", "f", member(rng)],
            ["XADD", k, "MAXLEN", "~", "20", "*", "f", member(rng), "g", value(rng)],
            ["XLEN", k],
            ["XRANGE", k, "-", "+", "COUNT", "3"],
            ["XTRIM", k, "MAXLEN", "5"],
            ["XGROUP", "CREATE", k, "g", "0", "MKSTREAM"],
            ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "2", "STREAMS", k, ">"],
            ["XACK", k, "g", "0-1"],
            ["XPENDING", k, "g"],
            ["XAUTOCLAIM", k, "g", "c2", "0", "0-0", "COUNT", "2"],
            ["XREAD", "COUNT", "2", "STREAMS", k, "0"],
        ]
    )


def extra(rng):
    """One command of the concurrent mix's extra families."""
    if rng.random() < 0.1:
        return ["PUBLISH", rng.choice(["ch0", "ch1"]), member(rng)]
    return rng.choice([g_script, g_blocking, g_stream])(rng)


# Errors the extra families earn from Redis too, with the keyspace shared by every type.
EXTRA_EXPECTED_ERRORS = (
    "BUSYGROUP",
    "NOGROUP",
    "The XGROUP subcommand requires the key to exist",  # redis-py drops "ERR " (below)
)


# Errors that random valid commands earn from Redis too: anything else is a bug.
EXPECTED_ERRORS = (
    "WRONGTYPE",
    "ERR value is not an integer",
    "ERR value is not a valid float",
    "ERR increment or decrement would overflow",
    "ERR hash value is not an integer",
    "ERR hash value is not a float",
    "ERR no such key",
    "ERR index out of range",
    "ERR syntax error",
    "ERR string exceeds maximum allowed size",
    "ERR bit offset is not an integer",
    "ERR increment would produce NaN or Infinity",
    "ERR resulting score is not a number (NaN)",
    "ERR min or max is not a float",
    "ERR min or max not valid string range item",
    "ERR weight value is not a float",
    "ERR offset is out of range",
    "ERR The bit argument must be 1 or 0.",
    "ERR GT, LT, and/or NX options at the same time are not compatible",
    "ERR XX and NX options at the same time are not compatible",
    "ERR INCR option supports a single increment-element pair",
    "ERR value is out of range",
    "ERR LIMIT",
    "ERR RANK can't be zero",
    "ERR COUNT can't be negative",
    "ERR MAXLEN can't be negative",
    "ERR Number of keys can't be greater than number of args",
    "ERR One or more scores can't be converted into double",
    "ERR One or more",
    "ERR source and destination objects are the same",
    "ERR The BITOP",
    "EXECABORT",
    "WRONGTYPE Key is not a valid HyperLogLog string value.",
    "INVALIDOBJ",
    "An LFU maxmemory policy is not selected",
    "ERR The specified keys must contain string values",
)
# redis-py drops the "ERR " of generic errors.
EXPECTED_ERRORS = tuple(e[4:] if e.startswith("ERR ") else e for e in EXPECTED_ERRORS)
