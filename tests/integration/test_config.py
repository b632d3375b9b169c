"""CONFIG GET / SET / RESETSTAT / REWRITE / HELP with Redis 7's names, replies and error
texts; settings changed at runtime take effect on every thread."""

import re
import time

import pytest
import redis

from shardkeys import keys_per_shard

NSHARDS = 2
SET_FAILED = "CONFIG SET failed (possibly related to argument '{}') - {}"
SLOW_US = 20_000
SLEEP_S = 0.05


def err(name, why):
    """A regex matching the CONFIG SET error for name whose reason starts with why."""
    return "^" + re.escape(SET_FAILED.format(name, why))


# --- CONFIG GET ---------------------------------------------------------------------------------


def test_get_patterns(r):
    got = r.config_get("maxmemory*")
    assert got == {"maxmemory": "0", "maxmemory-policy": "noeviction", "maxmemory-samples": "5"}
    assert r.config_get("port") == {"port": str(r.connection_pool.connection_kwargs["port"])}
    assert r.config_get("nosuch") == {}
    everything = r.config_get("*")
    assert {"port", "bind", "dir", "dbfilename", "requirepass", "timeout", "hz"} <= set(everything)
    assert len(everything) > 30


def test_get_what_clients_ask_for_at_connect(r):
    got = r.config_get("save")
    assert got == {"save": ""}
    for name, value in (("appendonly", "no"), ("databases", "16"), ("maxmemory", "0"),
                        ("maxmemory-policy", "noeviction"), ("notify-keyspace-events", ""),
                        ("slowlog-log-slower-than", "10000"), ("slowlog-max-len", "128"),
                        ("timeout", "0"), ("maxclients", "10000")):
        assert r.config_get(name) == {name: value}


def test_get_several_patterns_without_duplicates(r):
    r.response_callbacks = {}
    got = r.execute_command("CONFIG", "GET", "maxmemory", "maxmemory*", "hz")
    assert got == ["maxmemory", "0", "maxmemory-policy", "noeviction", "maxmemory-samples", "5",
                   "hz", "10"]


def test_get_underscore_spelling(r):
    assert r.config_get("maxmemory_policy") == {"maxmemory_policy": "noeviction"}
    assert r.config_get("MAXMEMORY-POLICY") == {"maxmemory-policy": "noeviction"}


ZIPLIST_ALIASES = {
    "list-max-ziplist-size": "list-max-listpack-size",
    "hash-max-ziplist-entries": "hash-max-listpack-entries",
    "hash-max-ziplist-value": "hash-max-listpack-value",
    "zset-max-ziplist-entries": "zset-max-listpack-entries",
    "zset-max-ziplist-value": "zset-max-listpack-value",
}


def test_ziplist_aliases_are_the_listpack_settings(r):
    # Redis 7.0 still takes the *-ziplist-* names of older config files and clients.
    for alias, name in ZIPLIST_ALIASES.items():
        assert r.config_get(alias) == {alias: r.config_get(name)[name]}
    assert r.config_set("hash-max-ziplist-entries", "2")
    assert r.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "2"}
    r.hset("zl:h", mapping={"a": 1, "b": 2})
    assert r.object("encoding", "zl:h") == "listpack"
    r.hset("zl:h", "c", 3)
    assert r.object("encoding", "zl:h") == "hashtable"
    assert r.config_set("zset-max-listpack-entries", "1")
    assert r.config_get("zset-max-ziplist-entries") == {"zset-max-ziplist-entries": "1"}
    r.zadd("zl:z", {"a": 1, "b": 2})
    assert r.object("encoding", "zl:z") == "skiplist"


def test_ziplist_alias_on_the_command_line(server_factory):
    s = server_factory("--zset-max-ziplist-entries", "3")
    c = s.client()
    assert c.config_get("zset-max-listpack-entries") == {"zset-max-listpack-entries": "3"}


def test_get_arity(r):
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'config|get'"):
        r.execute_command("CONFIG", "GET")


# --- CONFIG SET ---------------------------------------------------------------------------------


def test_set_several_at_once(r):
    assert r.execute_command("CONFIG", "SET", "maxmemory", "10mb",
                             "maxmemory-policy", "ALLKEYS-LRU") == "OK"
    assert r.config_get("maxmemory*")["maxmemory"] == str(10 * 1024 * 1024)
    assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "allkeys-lru"}
    assert r.info("memory")["maxmemory_policy"] == "allkeys-lru"


def test_set_is_atomic(r):
    with pytest.raises(redis.ResponseError, match=err("maxmemory-policy", "argument(s) must be")):
        r.execute_command("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", "bad")
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    with pytest.raises(redis.ResponseError, match=err("port", "can't set immutable config")):
        r.execute_command("CONFIG", "SET", "hz", "20", "port", "1")
    assert r.config_get("hz") == {"hz": "10"}


@pytest.mark.parametrize(
    "name,value,why",
    [
        ("port", "1234", "can't set immutable config"),
        ("threads", "4", "can't set immutable config"),
        ("databases", "4", "can't set immutable config"),
        ("hz", "abc", "argument couldn't be parsed into an integer"),
        ("hz", "0", "argument must be between 1 and 500 inclusive"),
        ("maxmemory", "abc", "argument must be a memory value"),
        ("protected-mode", "maybe", "argument must be 'yes' or 'no'"),
        ("loglevel", "loud",
         "argument(s) must be one of the following: debug, verbose, notice, warning"),
        ("maxmemory-policy", "lru",
         "argument(s) must be one of the following: volatile-lru, volatile-lfu, "
         "volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"),
        ("notify-keyspace-events", "Q",
         "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        ("dbfilename", "a/b.rdb", "dbfilename can't be a path, just a filename"),
        ("save", "60", "Invalid save parameters"),
    ],
)
def test_set_errors(r, name, value, why):
    with pytest.raises(redis.ResponseError) as e:
        r.config_set(name, value)
    assert str(e.value) == SET_FAILED.format(name, why)


def test_set_unknown_duplicate_and_syntax(r):
    with pytest.raises(redis.ResponseError,
                       match="^Unknown option or number of arguments for CONFIG SET - 'nosuch'$"):
        r.config_set("nosuch", "1")
    with pytest.raises(redis.ResponseError, match=err("maxmemory", "duplicate parameter")):
        r.execute_command("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2")
    with pytest.raises(redis.ResponseError, match="^syntax error$"):
        r.execute_command("CONFIG", "SET", "maxmemory", "1", "hz")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'config|set'"):
        r.execute_command("CONFIG", "SET", "maxmemory")


def test_set_canonical_values(r):
    r.config_set("notify-keyspace-events", "KEA")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "AKE"}
    r.config_set("notify-keyspace-events", "Exg")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "gxE"}
    r.config_set("save", "900 1 300 10")
    assert r.config_get("save") == {"save": "900 1 300 10"}
    r.config_set("appendonly", "no")
    r.config_set("maxmemory", "1gb")
    assert r.config_get("maxmemory") == {"maxmemory": str(1 << 30)}


def test_set_slowlog_takes_effect_on_every_shard(server, r):
    c = server.client()
    c.response_callbacks = {}
    r.config_set("slowlog-log-slower-than", 0)
    keys = keys_per_shard("cs", NSHARDS, 2)
    for k in keys:
        r.set(k, "v")
    r.config_set("slowlog-log-slower-than", -1)
    logged = [e[3][1] for e in c.execute_command("SLOWLOG", "GET", -1) if e[3][0] == "SET"]
    assert sorted(logged) == sorted(keys)


def test_set_hz_and_loglevel_at_runtime(server, r):
    r.config_set("hz", 100)
    assert r.info("server")["hz"] == 100
    r.config_set("loglevel", "warning")
    assert r.config_get("loglevel") == {"loglevel": "warning"}
    # The timers still run at the new rate: active expiry keeps working.
    for k in keys_per_shard("hz", NSHARDS, 3):
        r.set(k, "v", px=20)
    deadline = time.monotonic() + 5
    while r.dbsize() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert r.dbsize() == 0


def test_set_dir(server, r, tmp_path):
    target = tmp_path / "newdir"
    target.mkdir()
    r.config_set("dir", str(target))
    assert r.config_get("dir") == {"dir": str(target)}
    with pytest.raises(redis.ResponseError, match="No such file or directory"):
        r.config_set("dir", str(tmp_path / "missing"))
    assert r.config_get("dir") == {"dir": str(target)}


def test_set_requirepass_applies_to_new_connections(server, r):
    r.config_set("requirepass", "secret")
    try:
        fresh = server.client()
        with pytest.raises(redis.AuthenticationError):
            fresh.ping()
    finally:
        r.config_set("requirepass", "")


# --- RESETSTAT / REWRITE / HELP -----------------------------------------------------------------


def test_resetstat(r):
    r.set("k", "v")
    assert r.info("commandstats")["cmdstat_set"]["calls"] == 1
    assert r.config_resetstat() is True
    assert "cmdstat_set" not in r.info("commandstats")


def test_rewrite_without_config_file(r):
    with pytest.raises(redis.ResponseError, match="^The server is running without a config file$"):
        r.config_rewrite()


def test_rewrite_keeps_the_file_and_updates_it(server_factory, tmp_path):
    conf = tmp_path / "dfly.conf"
    conf.write_text(
        "# my settings\n"
        "maxmemory 1mb\n"
        "slowlog-max-len 64\n"
        "\n"
        "slowlog-max-len 65\n"
        "hz 10\n"
    )
    s = server_factory(str(conf))
    r = s.client()
    assert r.config_get("maxmemory") == {"maxmemory": str(1024 * 1024)}
    assert r.info("server")["config_file"] == str(conf)
    r.config_set("maxmemory", "2mb")
    r.config_set("maxmemory-policy", "allkeys-lru")
    r.config_set("notify-keyspace-events", "KEA")
    r.config_set("save", "")
    assert r.config_rewrite() in (True, "OK")
    text = conf.read_text()
    lines = text.splitlines()
    assert lines[0] == "# my settings"
    assert lines[1] == "maxmemory 2097152"
    assert lines.count("slowlog-max-len 65") == 1 and "slowlog-max-len 64" not in lines
    assert "hz 10" in lines
    assert "maxmemory-policy allkeys-lru" in lines
    assert "notify-keyspace-events AKE" in lines
    assert "# Generated by CONFIG REWRITE" in lines
    # The rewritten file starts a server with the same settings.
    s.stop()
    s2 = server_factory(str(conf))
    r2 = s2.client()
    assert r2.config_get("maxmemory*")["maxmemory-policy"] == "allkeys-lru"
    assert r2.config_get("maxmemory") == {"maxmemory": str(2 * 1024 * 1024)}
    assert r2.config_get("slowlog-max-len") == {"slowlog-max-len": "65"}


def test_help_and_unknown_subcommand(r):
    r.response_callbacks = {}
    lines = r.execute_command("CONFIG", "HELP")
    assert lines[0] == "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert "RESETSTAT" in lines and lines[-1] == "    Prints this help."
    with pytest.raises(redis.ResponseError, match=r"^unknown subcommand 'foo'. Try CONFIG HELP.$"):
        r.execute_command("CONFIG", "foo")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'config'"):
        r.execute_command("CONFIG")


def test_config_with_redis_cli(server):
    assert server.cli("CONFIG", "SET", "maxmemory-policy", "volatile-ttl").strip() == "OK"
    assert server.cli("CONFIG", "GET", "maxmemory-policy").split() == [
        "maxmemory-policy", "volatile-ttl"
    ]
