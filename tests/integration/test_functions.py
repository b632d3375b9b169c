"""FUNCTION LOAD/DELETE/LIST/FLUSH/DUMP/RESTORE/STATS/KILL/HELP, FCALL and FCALL_RO: Redis 7.0's
function libraries, seen by real clients, compared with Debian's redis-server 7.0, and with
FUNCTION DUMP payloads moving both ways between the two.
"""

import time

import pytest
import redis

from difftest import DiffRunner
from resp_raw import Error, Simple, conns_per_thread, encode
from shardkeys import keys_per_shard

THREADS = 2
BUSY_MS = 100  # busy-reply-threshold of the busy-function tests
BUSY_WAIT_S = 0.5
BUSY_FUNCTION = (
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
)

LIB = """#!lua name=mylib
local function set(keys, args)
  return redis.call('set', keys[1], args[1])
end
redis.register_function('myset', set)
redis.register_function{
  function_name = 'myget',
  callback = function(keys, args) return redis.call('get', keys[1]) end,
  flags = {'no-writes'},
  description = 'reads a key',
}
redis.register_function('kv', function(keys, args) return {keys, args} end)
"""


def err(fn, *args):
    """The error text a call raises (redis-py drops the ERR code)."""
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def pairs_to_dict(flat):
    """A RESP2 map (a flat key, value list) as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


def function_list(r, *args):
    """FUNCTION LIST as dicts: redis-py 4.3 returns the flat lists."""
    libs = []
    for flat in r.execute_command("FUNCTION", "LIST", *args):
        entry = pairs_to_dict(flat)
        key = b"functions" if b"functions" in entry else "functions"
        entry[key] = [pairs_to_dict(f) for f in entry[key]]
        libs.append(entry)
    return libs


def lib(name, *functions, body="return 1"):
    lines = [f"#!lua name={name}"]
    for f in functions:
        lines.append(f"redis.register_function('{f}', function(keys, args) {body} end)")
    return "\n".join(lines) + "\n"


def test_load_and_fcall(r):
    assert r.function_load(LIB) == "mylib"
    assert r.fcall("myset", 1, "k", "v") == "OK"
    assert r.fcall("myget", 1, "k") == "v"
    assert r.fcall("MYGET", 1, "k") == "v"  # function names ignore case
    assert r.fcall_ro("myget", 1, "k") == "v"
    assert r.fcall("kv", 2, "a", "b", "x") == [["a", "b"], ["x"]]
    assert err(r.fcall_ro, "myset", 1, "k", "v") == (
        "Can not execute a script with write flag using *_ro command."
    )
    assert err(r.fcall, "nope", 0) == "Function not found"
    assert err(r.fcall, "myget", 2, "k") == "Number of keys can't be greater than number of args"
    assert err(r.fcall, "myget", -1) == "Number of keys can't be negative"
    assert err(r.execute_command, "FCALL", "myget", "x") == "Bad number of keys provided"


def test_functions_touch_keys_on_every_shard(r):
    r.function_load(
        "#!lua name=spread\n"
        "redis.register_function('spread', function(keys, args)\n"
        "  for i, k in ipairs(args) do redis.call('set', k, i) end\n"
        "  return redis.call('mget', unpack(args))\n"
        "end)\n"
    )
    keys = keys_per_shard("f", THREADS, 3)
    assert r.fcall("spread", 0, *keys) == [str(i + 1) for i in range(len(keys))]


def test_no_writes_flag(r):
    r.function_load(LIB)
    r.function_load(
        "#!lua name=ro\n"
        "redis.register_function{function_name='rowrite', flags={'no-writes'},"
        " callback=function(keys) return redis.call('set', keys[1], 'x') end}\n"
    )
    e = err(r.fcall, "rowrite", 1, "k")
    assert e == "Write commands are not allowed from read-only scripts. script: rowrite, on @user_function:2."
    assert r.exists("k") == 0


def test_load_errors(r):
    r.function_load(LIB)
    assert err(r.function_load, LIB) == "Library 'mylib' already exists"
    assert r.function_load(LIB, replace=True) == "mylib"
    assert err(r.function_load, "return 1") == "Missing library metadata"
    assert err(r.function_load, "#!lua name=x") == "Invalid library metadata"
    assert err(r.function_load, "#!lua\nreturn 1") == "Library name was not given"
    assert err(r.function_load, "#!lua name=x foo=bar\nreturn 1") == (
        "Invalid metadata value given: foo=bar"
    )
    assert err(r.function_load, "#!lua name=a name=b\nreturn 1") == (
        "Invalid metadata value, name argument was given multiple times"
    )
    assert err(r.function_load, "#!py name=x\nreturn 1") == "Engine 'py' not found"
    assert err(r.function_load, "#!lua name=bad-name\nreturn 1").startswith(
        "Library names can only contain letters"
    )
    assert err(r.function_load, "#!lua name=x\nreturn 1") == "No functions registered"
    assert err(r.function_load, lib("other", "myset")) == "Function myset already exists"
    assert err(r.function_load, lib("other", "MYSET")) == "Function MYSET already exists"
    assert err(r.function_load, "#!lua name=x\nthis is not lua").startswith(
        "Error compiling function: user_function:2:"
    )
    assert err(r.execute_command, "FUNCTION", "LOAD", "x", "y", "z") == "Unknown option given: x"
    # Libraries that failed leave nothing behind.
    assert [l["library_name"] for l in function_list(r)] == ["mylib"]


@pytest.mark.parametrize(
    "code, message",
    [
        ("local a = string.len('x')", "ERR user_function:2: Script attempted to access nonexistent global variable 'string'"),
        ("redis.call('ping')", "ERR user_function:2: Script attempted to access nonexistent global variable 'call'"),
        ("x = 1", "ERR user_function:2: Attempt to modify a readonly table"),
        ("redis.register_function('f1', function() end) redis.register_function('f1', function() end)", "ERR Function already exists in the library"),
        ("redis.register_function('1z!', function() end)", "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"),
        ("redis.register_function{function_name='f', callback=function() end, flags={'bad'}}", "ERR unknown flag given"),
        ("redis.register_function{function_name='f', callback=function() end, bogus=1}", "ERR unknown argument given to redis.register_function"),
        ("redis.register_function{callback=function() end}", "ERR redis.register_function must get a function name argument"),
        ("redis.register_function{function_name='f'}", "ERR redis.register_function must get a callback argument"),
        ("redis.register_function('f')", "ERR calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."),
        ("redis.register_function('f', 5)", "ERR second argument to redis.register_function must be a function"),
        ("redis.register_function({}, function() end)", "ERR first argument to redis.register_function must be a string"),
        ("redis.register_function()", "ERR wrong number of arguments to redis.register_function"),
        ("error('boom')", "ERR user_function:2: Script attempted to access nonexistent global variable 'error'"),
    ],
)
def test_registration_errors(r, code, message):
    assert err(r.function_load, "#!lua name=x\n" + code) == "Error registering functions: " + message


def test_load_timeout(r):
    e = err(r.function_load, "#!lua name=slow\nwhile true do end")
    assert e == "Error registering functions: ERR FUNCTION LOAD timeout"


def test_runtime_errors(r):
    r.function_load(
        "#!lua name=errs\n"
        "redis.register_function('bad', function() return redis.call('nocmd') end)\n"
        "redis.register_function('oops', function() error('oops') end)\n"
        "redis.register_function('glob', function() x = 1 end)\n"
        "redis.register_function('keys', function() return KEYS end)\n"
        "redis.register_function('reg', function() redis.register_function('y', function() end) end)\n"
    )
    assert err(r.fcall, "bad", 0) == (
        "Unknown Redis command called from script script: bad, on @user_function:2."
    )
    assert err(r.fcall, "oops", 0) == "user_function:3: oops script: oops, on @user_function:3."
    assert err(r.fcall, "glob", 0) == (
        "user_function:4: Attempt to modify a readonly table script: glob, on @user_function:4."
    )
    assert err(r.fcall, "keys", 0).startswith(
        "user_function:5: Script attempted to access nonexistent global variable 'KEYS'"
    )
    assert "attempt to call field 'register_function' (a nil value)" in err(r.fcall, "reg", 0)


def test_list_delete_flush(r):
    r.function_load(LIB)
    r.function_load(lib("second", "s1", "s2"))
    libs = {l["library_name"]: l for l in function_list(r)}
    assert set(libs) == {"mylib", "second"}
    mylib = libs["mylib"]
    assert mylib["engine"] == "LUA"
    funcs = {f["name"]: f for f in mylib["functions"]}
    assert set(funcs) == {"myset", "myget", "kv"}
    assert funcs["myget"]["description"] == "reads a key"
    assert funcs["myget"]["flags"] == ["no-writes"]
    assert funcs["myset"]["description"] is None and funcs["myset"]["flags"] == []
    assert "library_code" not in mylib
    (with_code,) = function_list(r, "LIBRARYNAME", "my*", "WITHCODE")
    assert with_code["library_code"] == LIB
    assert function_list(r, "LIBRARYNAME", "nomatch") == []
    assert err(r.execute_command, "FUNCTION", "LIST", "bad") == "Unknown argument bad"
    assert err(r.execute_command, "FUNCTION", "LIST", "LIBRARYNAME") == (
        "library name argument was not given"
    )
    assert err(r.execute_command, "FUNCTION", "LIST", "WITHCODE", "WITHCODE") == (
        "Unknown argument WITHCODE"
    )
    assert r.function_delete("second")
    assert err(r.fcall, "s1", 0) == "Function not found"
    assert err(r.function_delete, "second") == "Library not found"
    assert r.function_flush()
    assert function_list(r) == []
    assert err(r.fcall, "myget", 1, "k") == "Function not found"
    assert err(r.execute_command, "FUNCTION", "FLUSH", "x") == (
        "FUNCTION FLUSH only supports SYNC|ASYNC option"
    )
    assert r.execute_command("FUNCTION", "FLUSH", "ASYNC") == "OK"


def test_stats_help_kill(r):
    r.function_load(LIB)
    r.response_callbacks = {}
    stats = r.execute_command("FUNCTION", "STATS")
    assert stats == [
        "running_script",
        None,
        "engines",
        ["LUA", ["libraries_count", 1, "functions_count", 3]],
    ]
    assert err(r.execute_command, "FUNCTION", "KILL") == "NOTBUSY No scripts in execution right now."
    lines = r.execute_command("FUNCTION", "HELP")
    assert lines[0].startswith("FUNCTION <subcommand>") and "DUMP" in lines
    assert err(r.execute_command, "FUNCTION", "NOPE") == (
        "unknown subcommand 'NOPE'. Try FUNCTION HELP."
    )


def test_dump_restore(r):
    r.function_load(LIB)
    payload = r.function_dump()
    assert err(r.function_restore, payload) == "Library mylib already exists"
    assert r.function_restore(payload, "REPLACE")
    r.function_load(lib("extra", "e1"))
    assert r.function_restore(payload, "FLUSH")
    assert [l["library_name"] for l in function_list(r)] == ["mylib"]
    r.function_flush()
    assert r.function_restore(payload)
    assert r.fcall("myset", 1, "k", "v") == "OK"
    assert err(r.function_restore, payload[:-1] + bytes([payload[-1] ^ 1])) == (
        "DUMP payload version or checksum are wrong"
    )
    assert err(r.function_restore, b"short") == "DUMP payload version or checksum are wrong"
    assert err(r.function_restore, payload, "BAD") == (
        "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    )
    # A library of the payload whose function another library already has: nothing moves.
    r.function_flush()
    r.function_load(lib("clash", "myset"))
    assert err(r.function_restore, payload) == "Function myset already exists"
    assert [l["library_name"] for l in function_list(r)] == ["clash"]


def test_dump_payloads_move_between_dfly_and_redis(server, redis_server_factory):
    dfly = server.client(decode_responses=False)
    ref = redis_server_factory().client(decode_responses=False)
    # A long library, so that Redis compresses it (LZF) in its payload.
    code = LIB + "-- " + "padding " * 200 + "\n"
    ref.function_load(code)
    assert dfly.function_restore(ref.function_dump())
    assert dfly.fcall("myset", 1, "k", "v") == b"OK"
    assert function_list(dfly, "WITHCODE")[0][b"library_code"] == code.encode()
    dfly.function_load(lib("fromdfly", "fd", body="return 'dfly'"))
    ref.function_flush()
    assert ref.function_restore(dfly.function_dump())
    assert ref.fcall("fd", 0) == b"dfly"


def test_functions_match_redis(server, redis_server_factory):
    d = DiffRunner(server, redis_server_factory())
    d.run("FUNCTION", "LOAD", LIB)
    d.run("FUNCTION", "LOAD", LIB)
    d.run("FUNCTION", "LOAD", "REPLACE", LIB)
    for code in [
        "return 1",
        "#!lua name=x",
        "#!lua name=x\nreturn 1",
        "#!lua\nreturn 1",
        "#!lua name=x a=b\nreturn 1",
        "#!LUA name=ok1\nredis.register_function('ok1', function() return 1 end)",
        "#!lua name=x\nredis.register_function('myget', function() end)",
        "#!lua name=x\nredis.register_function('f', function() end) redis.register_function('f', function() end)",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, flags={'no-writes', 'BAD'}}",
        "#!lua name=x\nredis.register_function{function_name='f', callback=function() end, description=5}",
        "#!lua name=x\nx = 1",
        "#!lua name=x\nreturn redis.call('ping')",
        "#!lua name=x\nredis.log(redis.LOG_NOTICE, 'loading') return redis.REDIS_VERSION",
    ]:
        d.run("FUNCTION", "LOAD", code)
    d.run("FCALL", "myset", 1, "k", "v")
    d.run("FCALL", "myget", 1, "k")
    d.run("FCALL", "MYGET", 1, "k")
    d.run("FCALL_RO", "myget", 1, "k")
    d.run("FCALL_RO", "myset", 1, "k", "v")
    d.run("FCALL", "kv", 2, "a", "b", "c", "d")
    d.run("FCALL", "ok1", 0)
    d.run("FCALL", "nope", 0)
    d.run("FCALL", "myget", "x")
    d.run("FCALL", "myget", 3, "k")
    d.run("FUNCTION", "LIST", "LIBRARYNAME", "nomatch")
    d.run("FUNCTION", "LIST", "bogus")
    d.run("FUNCTION", "DELETE", "nolib")
    d.run("FUNCTION", "DELETE", "ok1")
    d.run("FUNCTION", "RESTORE", "garbage")
    d.run("FUNCTION", "RESTORE", "garbage", "BAD")
    d.run("FUNCTION", "KILL")
    d.run("FUNCTION", "STATS")
    d.run("FUNCTION", "FLUSH", "BAD")
    d.run("FUNCTION", "FLUSH")
    d.run("FUNCTION", "LIST")
    d.run("FUNCTION", "DUMP")


def test_fcall_inside_multi(r):
    r.function_load(LIB)
    pipe = r.pipeline(transaction=True)
    pipe.fcall("myset", 1, "k", "1")
    pipe.incr("k")
    pipe.fcall("myget", 1, "k")
    assert pipe.execute() == ["OK", 2, "2"]


# ---- busy functions ----------------------------------------------------------------------------


def test_busy_function_kill_and_stats(server_factory):
    s = server_factory("--busy-reply-threshold", str(BUSY_MS), threads=THREADS)
    conns = conns_per_thread(s.port, THREADS)
    runner = conns.pop(0)
    ((_, other),) = conns.items()
    assert other.command(
        "FUNCTION",
        "LOAD",
        "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
    ) == b"spin"
    runner.send(encode("FCALL", "spin", 0, "extra"))
    time.sleep(BUSY_WAIT_S)
    assert other.command("PING") == Error(BUSY_FUNCTION)
    stats = other.command("FUNCTION", "STATS")
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert running[b"name"] == b"spin"
    assert running[b"command"] == [b"FCALL", b"spin", b"0", b"extra"]
    assert running[b"duration_ms"] >= BUSY_MS
    assert other.command("SCRIPT", "KILL") == Error(BUSY_FUNCTION)
    assert other.command("FUNCTION", "KILL") == Simple("OK")
    reply = runner.read_reply()
    assert isinstance(reply, Error)
    assert reply.startswith("ERR Script killed by user with SCRIPT KILL... script: spin, on")
    assert other.command("PING") == Simple("PONG")
