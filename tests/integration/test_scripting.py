"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT: Redis 7.0's Lua scripting, seen by real clients.

Covers the script cache, KEYS/ARGV, redis.call/pcall and the rest of the redis.* API, the
conversions between replies and Lua values both ways (RESP2 and RESP3), the sandbox, the shebang
flags and read-only scripts, atomicity across shards (a job-queue script run from many
connections), busy scripts (BUSY, SCRIPT KILL, UNKILLABLE, SHUTDOWN NOSAVE), and a differential
run of many scripts against Debian's redis-server 7.0.
"""

import hashlib
import threading
import time

import pytest
import redis

from difftest import DiffRunner
from resp_raw import BigNum, Error, Map, RawConn, Set, Simple, Verbatim, conns_per_thread, encode, thread_of
from shardkeys import key_on_shard, keys_per_shard

NOSCRIPT = "No matching script. Please use EVAL."  # redis-py drops the code
BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
KILLED = "Script killed by user with SCRIPT KILL..."
UNKILLABLE = (
    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can"
    " either wait the script termination or kill the server in a hard way using the SHUTDOWN"
    " NOSAVE command."
)
BUSY_MS = 100  # busy-reply-threshold of the busy-script tests
BUSY_WAIT_S = 0.5  # long enough past BUSY_MS for the script to count as busy
JOBS = 600  # jobs of the job-queue test
WORKERS = 6  # connections popping jobs concurrently
THREADS = 2
MAX_TRIES = 64  # connections opened to find one more on a given worker thread


def err(fn, *args):
    """The error text a call raises. redis-py drops the code of the errors it knows (ERR,
    NOSCRIPT, OOM...) and keeps the others ("WRONGTYPE ...", a script's "MY error")."""
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


# ---- the script cache ------------------------------------------------------------------------


def test_eval_evalsha_and_the_cache(r):
    body = "return ARGV[1] .. KEYS[1]"
    sha = r.script_load(body)
    assert sha == hashlib.sha1(body.encode()).hexdigest()
    assert r.evalsha(sha, 1, "k", "v") == "vk"
    assert r.evalsha(sha.upper(), 1, "k", "v") == "vk"
    assert r.execute_command("EVALSHA_RO", sha, 1, "k", "v") == "vk"
    assert r.script_exists(sha, "0" * 40, sha.upper(), "short") == [True, False, True, False]
    # EVAL caches what it runs under the SHA-1 of its body.
    assert r.eval("return 7", 0) == 7
    assert r.script_exists(r.script_load("return 7")) == [True]
    assert r.script_flush() is True
    assert r.script_exists(sha) == [False]
    assert err(r.evalsha, sha, 0) == NOSCRIPT
    assert err(r.evalsha, "abc", 0) == NOSCRIPT
    assert r.script_flush("ASYNC") is True and r.script_flush("SYNC") is True
    assert err(r.execute_command, "SCRIPT", "FLUSH", "x") == (
        "SCRIPT FLUSH only support SYNC|ASYNC option"
    )


def test_numkeys_errors(r):
    assert err(r.eval, "return 1", 2, "a") == (
        "Number of keys can't be greater than number of args"
    )
    assert err(r.eval, "return 1", -1) == "Number of keys can't be negative"
    assert err(r.execute_command, "EVAL", "return 1", "x") == (
        "value is not an integer or out of range"
    )
    assert err(r.execute_command, "EVAL", "return 1") == (
        "wrong number of arguments for 'eval' command"
    )


def test_keys_and_argv(r):
    assert r.eval("return {#KEYS, #ARGV, KEYS[2], ARGV[1]}", 2, "a", "b", "x", "y") == [
        2,
        2,
        "b",
        "x",
    ]
    assert r.eval("return {#KEYS, #ARGV}", 0) == [0, 0]


def test_script_help_and_unknown_subcommand(r):
    lines = r.execute_command("SCRIPT", "HELP")
    assert lines[0].startswith("SCRIPT <subcommand>") and "KILL" in lines
    assert err(r.execute_command, "SCRIPT", "NOPE") == (
        "unknown subcommand 'NOPE'. Try SCRIPT HELP."
    )
    assert err(r.execute_command, "SCRIPT", "KILL") == "NOTBUSY No scripts in execution right now."
    assert r.execute_command("SCRIPT", "DEBUG", "NO") == "OK"


def test_command_getkeys(r):
    r.response_callbacks = {}  # redis-py would parse every COMMAND reply as COMMAND INFO
    assert r.execute_command("COMMAND", "GETKEYS", "EVAL", "return 1", 2, "a", "b", "c") == [
        "a",
        "b",
    ]
    (info,) = r.execute_command("COMMAND", "INFO", "FCALL")
    assert info[0] == "fcall" and "movablekeys" in info[2]


# ---- redis.call and the rest of the API ------------------------------------------------------


def test_call_touches_keys_on_every_shard(server):
    r = server.client()
    keys = keys_per_shard("k", THREADS, 3)
    # The script writes keys it never declared, on both shards.
    script = "for i, k in ipairs(ARGV) do redis.call('set', k, i) end return redis.call('mget', unpack(ARGV))"
    assert r.eval(script, 0, *keys) == [str(i + 1) for i in range(len(keys))]
    assert r.mget(keys) == [str(i + 1) for i in range(len(keys))]


def test_call_raises_pcall_returns(r):
    r.set("s", "x")
    body = "return redis.call('incr', 's')"
    assert err(r.eval, body, 0) == (
        f"value is not an integer or out of range script: {sha_of(body)}, on @user_script:1."
    )
    assert err(r.eval, "return redis.pcall('incr', 's')", 0) == (
        "value is not an integer or out of range"
    )
    assert r.eval("local e = redis.pcall('incr', 's') return e.err", 0) == (
        "ERR value is not an integer or out of range"
    )
    # pcall hands scripts the message of a Redis error, not the table.
    assert r.eval("local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e}", 0) == [
        "false",
        "ERR value is not an integer or out of range",
    ]


def test_call_argument_errors(r):
    assert "Please specify at least one argument for this redis lib call" in err(
        r.eval, "return redis.call()", 0
    )
    assert "Lua redis lib command arguments must be strings or integers" in err(
        r.eval, "return redis.call('get', {})", 0
    )
    assert "Unknown Redis command called from script" in err(r.eval, "return redis.call('x')", 0)
    assert "Wrong number of args calling Redis command from script" in err(
        r.eval, "return redis.call('get')", 0
    )
    # Numbers go to commands as %.17g.
    assert r.eval("redis.call('set', 'n', 0.1) return redis.call('get', 'n')", 0) == (
        "0.10000000000000001"
    )
    assert r.eval("redis.call('set', 'n', 3.0) return redis.call('get', 'n')", 0) == "3"


@pytest.mark.parametrize(
    "call",
    [
        "'multi'",
        "'exec'",
        "'watch', 'a'",
        "'subscribe', 'c'",
        "'eval', 'return 1', 0",
        "'evalsha', 'x', 0",
        "'fcall', 'f', 0",
        "'blpop', 'l', 0",
        "'script', 'load', 'return 1'",
        "'function', 'list'",
        "'client', 'kill', 'id', '1'",
    ],
)
def test_noscript_commands_refused(r, call):
    e = err(r.eval, f"return redis.call({call})", 0)
    assert e.startswith("This Redis command is not allowed from script"), e


def test_unknown_subcommand_from_script(r):
    assert err(r.eval, "return redis.call('script', 'nope')", 0).startswith(
        "Unknown Redis command called from script"
    )
    assert err(r.eval, "return redis.call('script')", 0).startswith(
        "Wrong number of args calling Redis command from script"
    )


def test_blocking_commands_do_not_block(r):
    # BLMOVE/BRPOPLPUSH/BZPOPMIN... are refused (noscript) like in Redis 7.0; a non-blocking
    # pop of an empty list just answers nil.
    assert r.eval("return redis.call('lpop', 'nolist')", 0) is None
    assert "not allowed from script" in err(r.eval, "return redis.call('blpop', 'l', 0)", 0)


def test_select_inside_script_stays_inside(r):
    r.set("x", "db0")
    assert r.eval("redis.call('select', 1) redis.call('set', 'x', 'db1') return redis.call('get', 'x')", 0) == "db1"
    assert r.get("x") == "db0"
    r.execute_command("SELECT", 1)
    assert r.get("x") == "db1"


def test_redis_api_helpers(r):
    assert r.eval("return redis.sha1hex('')", 0) == "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    assert r.eval("return redis.status_reply('FINE')", 0) == "FINE"
    assert err(r.eval, "return redis.error_reply('MY error')", 0) == "MY error"
    assert err(r.eval, "return redis.error_reply('-MY error')", 0) == "MY error"
    assert err(r.eval, "return {err='plain'}", 0) == "plain"
    assert r.eval("return redis.REDIS_VERSION", 0) == "7.0.15"
    assert r.eval("return redis.REDIS_VERSION_NUM", 0) == 0x07000F
    assert r.eval(
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", 0
    ) == [0, 1, 2, 3]
    assert r.eval("redis.log(redis.LOG_WARNING, 'from', 'a script') return 1", 0) == 1
    assert "Invalid debug level." in err(r.eval, "redis.log(9, 'x')", 0)
    assert "RESP version must be 2 or 3." in err(r.eval, "redis.setresp(4)", 0)
    assert r.eval("return redis.replicate_commands()", 0) == 1
    assert r.eval("redis.set_repl(redis.REPL_ALL) return 1", 0) == 1


def test_math_random_is_in_range(r):
    values = r.eval("local t = {} for i = 1, 50 do t[i] = math.random(10) end return t", 0)
    assert all(1 <= v <= 10 for v in values)
    assert r.eval("math.randomseed(42) local a = math.random(1000) math.randomseed(42) return a == math.random(1000)", 0) == 1


# ---- conversions -----------------------------------------------------------------------------


def test_lua_to_resp2(r):
    assert r.eval("return {1, 2.9, -3.7, 'a', true, false, {ok='x'}, nil, 5}", 0) == [
        1,
        2,
        -3,
        "a",
        1,
        None,
        "x",
    ]
    assert r.eval("return 1e100", 0) == -9223372036854775808
    assert r.eval("return nil", 0) is None
    assert r.eval("return {}", 0) == []
    assert r.eval("return {1, {2, {3}}}", 0) == [1, [2, [3]]]


def test_resp2_to_lua(r):
    r.rpush("l", "a", "b")
    assert r.eval("local t = redis.call('lrange', 'l', 0, -1) return #t", 0) == 2
    assert r.eval("return type(redis.call('get', 'missing'))", 0) == "boolean"
    assert r.eval("return redis.call('get', 'missing') == false", 0) == 1
    assert r.eval("return redis.call('ping')['ok']", 0) == "PONG"
    assert r.eval("return type(redis.call('incr', 'cnt'))", 0) == "number"


def test_resp3(server):
    with RawConn(server.port) as c:
        c.command("HELLO", "3")
        c.command("HSET", "h", "f", "v")
        c.command("ZADD", "z", "1.5", "m")
        # Without setresp(3) the script sees RESP2 replies and answers like RESP2.
        assert c.command("EVAL", "return true", "0") == 1
        assert c.command("EVAL", "return false", "0") is None
        # With it: RESP3 types in Lua, and back.
        assert c.command("EVAL", "redis.setresp(3) return true", "0") is True
        assert c.command("EVAL", "redis.setresp(3) return false", "0") is False
        assert c.command("EVAL", "redis.setresp(3) return redis.call('hgetall', 'h')", "0") == Map(
            [(b"f", b"v")]
        )
        assert c.command(
            "EVAL", "redis.setresp(3) return redis.call('hgetall', 'h')['map']['f']", "0"
        ) == b"v"
        assert c.command(
            "EVAL", "redis.setresp(3) return redis.call('zscore', 'z', 'm')['double']", "0"
        ) == 1
        assert c.command("EVAL", "return {double=3.5}", "0") == 3.5
        assert c.command("EVAL", "return {map={a=1}}", "0") == Map([(b"a", 1)])
        assert c.command("EVAL", "return {set={a=true}}", "0") == Set([b"a"])
        assert c.command("EVAL", "return {big_number='123456789012345678901234567890'}", "0") == (
            BigNum("123456789012345678901234567890")
        )
        v = c.command("EVAL", "return {verbatim_string={format='txt', string='hi'}}", "0")
        assert isinstance(v, Verbatim) and v.data == b"hi"
        assert c.command("EVAL", "return redis.status_reply('OK')", "0") == Simple("OK")
        assert isinstance(c.command("EVAL", "return {err='X y'}", "0"), Error)
        assert c.command(
            "EVAL", "redis.setresp(3) return redis.call('get', 'missing') == nil", "0"
        ) == 1


# ---- errors and the sandbox ------------------------------------------------------------------


def sha_of(body):
    return hashlib.sha1(body.encode()).hexdigest()


def test_error_formats(r):
    body = "error('boom')"
    assert err(r.eval, body, 0) == f"user_script:1: boom script: {sha_of(body)}, on @user_script:1."
    body = "error({err='E1 custom'})"
    assert err(r.eval, body, 0) == f"E1 custom script: {sha_of(body)}, on @user_script:1."
    body = "\n\nreturn redis.call('nocmd')"
    assert err(r.eval, body, 0) == (
        f"Unknown Redis command called from script script: {sha_of(body)}, on @user_script:3."
    )
    assert err(r.eval, "return 1 end", 0) == (
        "Error compiling script (new function): user_script:1: '<eof>' expected near 'end'"
    )
    assert err(r.execute_command, "SCRIPT", "LOAD", "syntax error here") == (
        "Error compiling script (new function): user_script:1: '=' expected near 'error'"
    )


@pytest.mark.parametrize(
    "body, message",
    [
        ("x = 1", "user_script:1: Attempt to modify a readonly table"),
        ("return x", "user_script:1: Script attempted to access nonexistent global variable 'x'"),
        ("local f = function() y = 5 end f()", "user_script:1: Attempt to modify a readonly table"),
        ("string.x = 1", "user_script:1: Attempt to modify a readonly table"),
        ("redis.call = nil", "user_script:1: Attempt to modify a readonly table"),
        ("rawset(_G, 'x', 1)", "Attempt to modify a readonly table"),
        ("setmetatable(_G, nil)", "Attempt to modify a readonly table"),
        ("getmetatable(_G).__index = nil", "user_script:1: Attempt to modify a readonly table"),
        ("return os.time()", "user_script:1: Script attempted to access nonexistent global variable 'os'"),
        ("return io", "user_script:1: Script attempted to access nonexistent global variable 'io'"),
        ("return loadfile", "user_script:1: Script attempted to access nonexistent global variable 'loadfile'"),
        ("return dofile", "user_script:1: Script attempted to access nonexistent global variable 'dofile'"),
        ("return require", "user_script:1: Script attempted to access nonexistent global variable 'require'"),
        ("return print", "user_script:1: Script attempted to access nonexistent global variable 'print'"),
        ("return debug", "user_script:1: Script attempted to access nonexistent global variable 'debug'"),
        ("return getfenv", "user_script:1: Script attempted to access nonexistent global variable 'getfenv'"),
        ("loadstring('z = 1')()", '[string "z = 1"]:1: Attempt to modify a readonly table'),
    ],
)
def test_sandbox(r, body, message):
    e = err(r.eval, body, 0)
    assert e.startswith(message + " script: "), e


def test_sandbox_leaves_nothing_behind(r):
    # Scripts cannot change what the next script sees.
    for body in ("x = 1", "string.len = nil", "redis.call = nil", "_G.KEYS = nil"):
        with pytest.raises(redis.ResponseError):
            r.eval(body, 0)
    assert r.eval("return string.len('abc')", 0) == 3
    assert r.eval("return redis.call('ping')", 0) == "PONG"
    assert r.eval("return ('abc'):upper()", 0) == "ABC"
    assert r.eval("local n = 0 for k in pairs(_G) do n = n + 1 end return n", 0) == 35
    assert r.eval("return rawget(_G, 'redis') ~= nil", 0) == 1


def test_libraries(r):
    assert r.eval("return cjson.encode({1, 2, {a=1}})", 0) == '[1,2,{"a":1}]'
    assert r.eval("return cjson.decode('[1,2,{\"a\":1.5}]')[3].a * 2", 0) == 3
    assert r.eval("return bit.band(0xff, 0x0f)", 0) == 15
    assert r.eval("return bit.tohex(65535, 4)", 0) == "ffff"
    assert r.eval("return struct.unpack('>I2', struct.pack('>I2', 258))", 0) == 258
    assert r.eval("return struct.size('>I4')", 0) == 4
    assert r.eval("return cmsgpack.unpack(cmsgpack.pack({1, 2, 'a'}))", 0) == [1, 2, "a"]
    assert r.eval("local t = cmsgpack.unpack(cmsgpack.pack({a = 5})) return t.a", 0) == 5


# ---- flags and read-only scripts ------------------------------------------------------------


def test_read_only_scripts(r):
    write = "return redis.call('set', 'k', 'v')"
    assert "Write commands are not allowed from read-only scripts." in err(
        r.execute_command, "EVAL_RO", write, 0
    )
    assert r.execute_command("EVAL_RO", "return redis.call('get', 'k')", 0) is None
    sha = r.script_load(write)
    assert "Write commands are not allowed from read-only scripts." in err(
        r.execute_command, "EVALSHA_RO", sha, 0
    )
    assert r.exists("k") == 0
    # A script with a shebang declares what it does.
    assert "Write commands are not allowed from read-only scripts." in err(
        r.eval, "#!lua flags=no-writes\n" + write, 0
    )
    assert err(r.execute_command, "EVAL_RO", "#!lua\nreturn 1", 0) == (
        "Can not execute a script with write flag using *_ro command."
    )
    assert r.execute_command("EVAL_RO", "#!lua flags=no-writes\nreturn 1", 0) == 1
    assert r.eval("#!lua\n" + write, 0) == "OK"


def test_shebang_errors(r):
    assert err(r.eval, "#!lua flags=bad\nreturn 1", 0) == "Unexpected flag in script shebang: bad"
    assert err(r.eval, "#!lua foo=bar\nreturn 1", 0) == "Unknown lua shebang option: foo=bar"
    assert err(r.eval, "#!perl\nreturn 1", 0) == "Unexpected engine in script shebang: #!perl"
    assert err(r.eval, "#!lua", 0) == "Invalid script shebang"
    assert r.eval("#!lua  flags=no-writes,allow-oom\nreturn 1", 0) == 1
    # The shebang line keeps its place: errors cite the right line.
    body = "#!lua\nerror('two')"
    assert err(r.eval, body, 0).startswith("user_script:2: two script:")


def test_oom_scripts(server_factory):
    s = server_factory("--maxmemory", "1")
    r = s.client()
    # Over maxmemory a script may not start writing, but may read.
    assert "command not allowed when used memory > 'maxmemory'" in err(
        r.eval, "return redis.call('set', 'k', 'v')", 0
    )
    assert r.eval("return redis.call('get', 'k')", 0) is None
    assert "allow-oom flag is not set on the script" in err(r.eval, "#!lua\nreturn 1", 0)
    assert r.eval("#!lua flags=allow-oom\nreturn redis.call('set', 'k', 'v')", 0) == "OK"


# ---- transactions and atomicity --------------------------------------------------------------


def test_eval_inside_multi(r):
    pipe = r.pipeline(transaction=True)
    pipe.set("a", "1")
    pipe.eval("return redis.call('incr', 'a')", 0)
    pipe.get("a")
    assert pipe.execute() == [True, 2, "2"]


JOB_SCRIPT = """
local job = redis.call('RPOP', KEYS[1])
if not job then return false end
if redis.call('HSETNX', 'job:' .. job, 'worker', ARGV[1]) == 0 then
  return redis.error_reply('DUP job ' .. job)
end
redis.call('HSET', 'job:' .. job, 'state', 'done')
redis.call('ZADD', 'done:' .. ARGV[1], tonumber(job), job)
redis.call('INCR', 'processed')
return job
"""


def test_job_queue_from_many_connections(server):
    r = server.client()
    r.rpush("queue", *range(JOBS))
    sha = r.script_load(JOB_SCRIPT)
    got = [[] for _ in range(WORKERS)]

    def worker(i):
        c = server.client()
        while True:
            job = c.evalsha(sha, 1, "queue", f"w{i}")
            if job is None:
                return
            got[i].append(int(job))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    done = [j for g in got for j in g]
    assert sorted(done) == list(range(JOBS))  # none lost, none twice
    assert r.get("processed") == str(JOBS)
    assert sum(r.zcard(f"done:w{i}") for i in range(WORKERS)) == JOBS
    for i in range(WORKERS):
        assert sorted(int(j) for j in r.zrange(f"done:w{i}", 0, -1)) == sorted(got[i])
    assert all(r.hget(f"job:{j}", "state") == "done" for j in range(0, JOBS, 37))


def test_script_is_atomic_for_other_clients(server):
    """A reader on another connection never sees half of a script's writes."""
    r = server.client()
    keys = keys_per_shard("pair", THREADS, 2)
    r.mset({k: 0 for k in keys})
    script = "for _, k in ipairs(KEYS) do redis.call('incr', k) end"
    stop = threading.Event()
    bad = []

    def reader():
        c = server.client()
        while not stop.is_set():
            vals = c.mget(keys)
            if len(set(vals)) != 1:
                bad.append(vals)

    t = threading.Thread(target=reader)
    t.start()
    for _ in range(300):
        r.eval(script, len(keys), *keys)
    stop.set()
    t.join(timeout=30)
    assert not bad
    assert r.mget(keys) == ["300"] * len(keys)


# ---- busy scripts ------------------------------------------------------------------------------


EVAL_FOREVER = encode("EVAL", "while true do end", 0)


def busy_server(server_factory, others=1):
    """A server with a low busy-reply-threshold, a connection to run scripts on, and `others`
    connections on another worker thread (the script's own thread: test_script_busy.py)."""
    s = server_factory("--busy-reply-threshold", str(BUSY_MS), threads=THREADS)
    conns = conns_per_thread(s.port, THREADS)
    runner = conns.pop(0)
    (other_thread, other), = conns.items()
    found = [other]
    for _ in range(MAX_TRIES):
        if len(found) == others:
            break
        c = RawConn(s.port)
        if thread_of(c) == other_thread:
            found.append(c)
        else:
            c.close()
    assert len(found) == others
    return s, runner, found


def test_busy_script_and_script_kill(server_factory):
    s, runner, (other,) = busy_server(server_factory)
    runner.send(EVAL_FOREVER)
    time.sleep(BUSY_WAIT_S)
    assert other.command("PING") == Error(BUSY_EVAL)
    assert other.command("GET", "x") == Error(BUSY_EVAL)
    assert other.command("SHUTDOWN") == Error(BUSY_EVAL)
    assert other.command("FUNCTION", "STATS") == Error(BUSY_EVAL)
    assert other.command("FUNCTION", "KILL") == Error(BUSY_EVAL)
    assert other.command("SCRIPT", "KILL") == Simple("OK")
    reply = runner.read_reply()
    assert isinstance(reply, Error) and reply.startswith("ERR " + KILLED + " script: ")
    assert other.command("PING") == Simple("PONG")
    assert runner.command("SCRIPT", "KILL") == Error("NOTBUSY No scripts in execution right now.")


def test_killed_script_cannot_catch_the_kill(server_factory):
    s, runner, (other,) = busy_server(server_factory)
    body = b"while true do pcall(function() while true do end end) end"
    runner.send(encode("EVAL", body, 0))
    time.sleep(BUSY_WAIT_S)
    assert other.command("SCRIPT", "KILL") == Simple("OK")
    reply = runner.read_reply()
    assert isinstance(reply, Error) and KILLED in reply


def test_busy_script_in_multi_aborts_exec(server_factory):
    s, runner, (tx, killer) = busy_server(server_factory, others=2)
    assert tx.command("MULTI") == Simple("OK")
    runner.send(EVAL_FOREVER)
    time.sleep(BUSY_WAIT_S)
    assert tx.command("SET", "k", "v") == Error(BUSY_EVAL)
    assert killer.command("SCRIPT", "KILL") == Simple("OK")
    assert isinstance(runner.read_reply(), Error)
    assert tx.command("EXEC") == Error(
        "EXECABORT Transaction discarded because of previous errors."
    )


def test_unkillable_script_and_shutdown_nosave(server_factory):
    s, runner, (other,) = busy_server(server_factory)
    body = b"redis.call('set', 'w', 1) while true do end"
    runner.send(encode("EVAL", body, 0))
    time.sleep(BUSY_WAIT_S)
    assert other.command("SCRIPT", "KILL") == Error(UNKILLABLE)
    assert other.command("SHUTDOWN") == Error(BUSY_EVAL)
    other.send(encode("SHUTDOWN", "NOSAVE"))
    other.expect_closed()
    s.proc.wait(timeout=10)
    assert s.proc.returncode == 0


def test_busy_threshold_config(server):
    r = server.client()
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "5000"}
    assert r.config_set("lua-time-limit", 250)
    assert r.config_get("busy-reply-threshold") == {"busy-reply-threshold": "250"}
    assert r.config_get("lua-time-limit") == {"lua-time-limit": "250"}


def test_script_under_threshold_is_not_busy(server_factory):
    s, runner, (other,) = busy_server(server_factory)
    # A short script: the other thread's client just waits for its turn.
    body = b"local n = 0 while n < 200000 do n = n + 1 end return n"
    runner.send(encode("EVAL", body, 0))
    assert runner.read_reply() == 200000
    assert other.command("PING") == Simple("PONG")


# ---- differential run against redis-server 7.0 -------------------------------------------------

DIFF_SCRIPTS = [
    ("return 1", []),
    ("return 'a'", []),
    ("return {1, 'two', {3, 'four'}}", []),
    ("return {1, 2, nil, 3}", []),
    ("return 3.99", []),
    ("return -3.99", []),
    ("return true", []),
    ("return false", []),
    ("return nil", []),
    ("return {ok='STATUS'}", []),
    ("return {err='MYERR failed'}", []),
    ("return redis.error_reply('ERR nope')", []),
    ("return redis.status_reply('YES')", []),
    ("return redis.call('set', KEYS[1], ARGV[1])", ["k1", "v1"]),
    ("return redis.call('get', KEYS[1])", ["k1"]),
    ("return redis.call('get', 'missing')", []),
    ("return redis.call('incrby', KEYS[1], 5)", ["cnt"]),
    ("return redis.call('incr', 'k1')", []),
    ("return redis.pcall('incr', 'k1')", []),
    ("return redis.call('rpush', 'l', 'a', 'b', 'c')", []),
    ("return redis.call('lrange', 'l', 0, -1)", []),
    ("return redis.call('hset', 'h', 'f1', 'v1', 'f2', 'v2')", []),
    ("return redis.call('hget', 'h', 'f1')", []),
    ("return redis.call('zadd', 'z', 1, 'a', 2.5, 'b')", []),
    ("return redis.call('zrange', 'z', 0, -1, 'withscores')", []),
    ("return redis.call('zscore', 'z', 'b')", []),
    ("return redis.call('ping')", []),
    ("return redis.call('type', 'l')", []),
    ("return redis.call('exists', 'k1', 'l', 'nope')", []),
    ("return redis.call('nosuchcommand')", []),
    ("return redis.call('get')", []),
    ("return redis.call()", []),
    ("return redis.call('get', {})", []),
    ("return redis.pcall('get', {})", []),
    ("return redis.call('multi')", []),
    ("return redis.call('blpop', 'l', 0)", []),
    ("error('custom')", []),
    ("error({err='E2 table error'})", []),
    ("error()", []),
    ("x = 5", []),
    ("return undefined_global", []),
    ("return os", []),
    ("string.foo = 1", []),
    ("rawset(_G, 'g', 1)", []),
    ("local ok, e = pcall(error, {err='X y'}) return {tostring(ok), e}", []),
    ("local ok, e = pcall(function() z = 1 end) return {tostring(ok), e}", []),
    ("local ok, e = pcall(redis.call, 'nocmd') return {tostring(ok), e}", []),
    ("return {pcall(redis.call, 'get', 'k1')}", []),
    ("return cjson.encode({a = {1, 2, 3}})", []),
    ("return cjson.encode({1, 'x', true})", []),
    ("return cjson.decode('{\"a\":[1,2,{\"b\":null}]}').a[2]", []),
    ("return cjson.encode(cjson.decode('[1.5, \"s\", false]'))", []),
    ("return cmsgpack.pack({1, 2, 'abc', {x = 1}})", []),
    ("return cmsgpack.pack(1, -1, 127, 128, -33, 65536, 4294967296, -2147483649, 1.5, 0.1)", []),
    ("return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300), true, false)", []),
    ("return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3}))}", []),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}", []),
    ("return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}", []),
    ("return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}", []),
    ("return cmsgpack.unpack('\\xc1')", []),
    ("return cmsgpack.unpack('\\xcd\\x01')", []),
    ("return cmsgpack.pack()", []),
    ("return bit.bor(1, 2, 4)", []),
    ("return bit.lshift(1, 40)", []),
    ("return bit.tohex(-1)", []),
    ("return bit.bxor(5, 3)", []),
    ("return struct.pack('>I2i4', 258, -2)", []),
    ("return struct.pack('<hHlLbB', -2, 65535, -3, 7, -1, 255)", []),
    ("return {struct.unpack('>I2i4', struct.pack('>I2i4', 258, -2))}", []),
    ("return struct.pack('s', 'ab')", []),
    ("return struct.pack('c3', 'abcd')", []),
    ("return struct.pack('c3', 'ab')", []),
    ("return struct.pack('!4 b i', 1, 2)", []),
    ("return struct.pack('i64', 1)", []),
    ("return struct.pack('q', 1)", []),
    ("return {struct.unpack('Bc0', '\\3abc')}", []),
    ("return {struct.unpack('c0', '\\3abc')}", []),
    ("return {struct.unpack('>I2', 'a')}", []),
    ("return struct.size('s')", []),
    ("return struct.pack('>d', 1.5)", []),
    ("return {struct.unpack('<f', struct.pack('<f', 0.5))}", []),
    ("return string.format('%d %s %.3f', 1, 'x', 1.5)", []),
    ("return tostring(1/3)", []),
    ("return table.concat({1, 2, 3}, ',')", []),
    ("return redis.sha1hex('abc')", []),
    ("return redis.sha1hex()", []),
    ("return type(redis.setresp)", []),
    ("return redis.setresp(4)", []),
    ("redis.log(1)", []),
    ("redis.log('a', 'b')", []),
    ("return tostring(redis.breakpoint())", []),
    ("return #KEYS + #ARGV", ["a", "b", "c"]),
    ("return KEYS", ["a", "b"]),
    ("return ARGV", []),
    ("return tonumber('0x10')", []),
    ("return {string.byte('abc', 1, -1)}", []),
    ("return math.floor(-3.5)", []),
    ("return coroutine.wrap(function() coroutine.yield(5) end)()", []),
    ("return select('#', ...)", []),
    ("return unpack({1, 2, 3})", []),
    ("return redis.call('select', 1) and redis.call('dbsize')", []),
]


def test_scripts_match_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    for body, args in DIFF_SCRIPTS:
        nkeys = 1 if args and len(args) <= 2 and body.count("KEYS") else 0
        if body.startswith("return #KEYS") or body == "return KEYS":
            nkeys = len(args)
        d.run("EVAL", body, nkeys, *args)
    for body, _ in DIFF_SCRIPTS[:10]:
        sha = d.run("SCRIPT", "LOAD", body)
        d.run("EVALSHA", sha, 0)
        d.run("EVALSHA_RO", sha, 0)
    d.run("SCRIPT", "EXISTS", "a" * 40)
    d.run("EVAL_RO", "return redis.call('set', 'a', 'b')", 0)
    d.run("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", 0)
    d.run("EVAL", "#!lua flags=no-cluster,allow-stale\nreturn 1", 0)
    d.run("SCRIPT", "FLUSH")
    d.run("EVALSHA", "b" * 40, 0)


def test_keys_in_scripts_span_shards(server):
    r = server.client()
    a = key_on_shard("a", 0, THREADS)
    b = key_on_shard("b", 1, THREADS)
    r.set(a, "on0")
    r.set(b, "on1")
    assert r.eval("return {redis.call('get', KEYS[1]), redis.call('get', ARGV[1])}", 1, a, b) == [
        "on0",
        "on1",
    ]


@pytest.mark.parametrize("threads", [1, 4])
def test_scripts_on_other_thread_counts(server_factory, threads):
    s = server_factory(threads=threads)
    r = s.client()
    keys = keys_per_shard("t", threads, 2)
    body = "for _, k in ipairs(KEYS) do redis.call('incr', k) end return redis.call('mget', unpack(KEYS))"
    for _ in range(20):
        r.eval(body, len(keys), *keys)
    assert r.mget(keys) == ["20"] * len(keys)
    r.function_load(
        "#!lua name=t\nredis.register_function('t', function(keys) return redis.call('incr', keys[1]) end)"
    )
    assert r.fcall("t", 1, keys[-1]) == 21


def test_pipelined_scripts_keep_their_order(r):
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        pipe.eval("return redis.call('rpush', KEYS[1], ARGV[1])", 1, "order", i)
        pipe.set(f"plain{i}", i)
    pipe.lrange("order", 0, -1)
    out = pipe.execute()
    assert out[-1] == [str(i) for i in range(50)]
    assert out[0:4] == [1, True, 2, True]
