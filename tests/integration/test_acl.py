"""Users and ACL (Redis 7.0's model): ACL SETUSER/GETUSER/DELUSER/LIST/USERS/WHOAMI/CAT/GENPASS/
LOG/DRYRUN/SAVE/LOAD, AUTH and HELLO AUTH, requirepass as the default user's password, password
rotation, permission checks on commands, subcommands, keys (read/write), channels, inside MULTI
and scripts, live changes to connected users, redaction of secrets, --restricted_commands and
--rename_command. Where Redis 7.0 is the reference, the same calls run against redis-server and
the answers are compared."""

import hashlib
import socket
import time

import pytest
import redis

KEYS = [f"key:{i}" for i in range(16)]  # spread over both shards
WAIT_S = 5.0
POLL_S = 0.05

NOPERM_CMD = "this user has no permissions to run the '{}' command"
NOPERM_KEY = "this user has no permissions to access one of the keys used as arguments"
NOPERM_CHAN = "this user has no permissions to access one of the channels used as arguments"


AUTH_ERRORS = (redis.exceptions.AuthenticationError, redis.ResponseError)


def login(server, user, password, **kw):
    return server.client(username=user, password=password, **kw)


def ok(reply):
    """redis-py turns some +OK replies (AUTH, SELECT) into True."""
    return reply is True or reply == "OK"


def raw_call(port, *args):
    """Sends one RESP command on a new socket and returns the raw reply bytes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S)
    try:
        s.sendall(encode(*args))
        time.sleep(0.1)
        return s.recv(65536)
    finally:
        s.close()


def encode(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def err_of(fn, *args):
    with pytest.raises(redis.ResponseError) as e:
        fn(*args)
    return str(e.value)


def wait_until(pred, what):
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(POLL_S)
    pytest.fail(f"timed out waiting for {what}")


def is_closed(c):
    try:
        c.ping()
        return False
    except (redis.ConnectionError, redis.ResponseError):
        return True


# ---- users as Redis 7.0 shows them ----------------------------------------------------------


def test_default_user(r):
    assert getuser_raw(r, "default") == [
        "flags", ["on", "nopass"], "passwords", [], "commands", "+@all", "keys", "~*",
        "channels", "&*", "selectors", []]
    assert r.execute_command("ACL", "LIST") == ["user default on nopass ~* &* +@all"]
    assert r.execute_command("ACL", "WHOAMI") == "default"
    assert r.execute_command("ACL", "USERS") == ["default"]


RULE_SETS = [
    ["on", ">p1", ">p2", "+get", "+@string", "-set", "~foo*", "%R~bar", "&ch", "(+set ~x)"],
    ["+config|get"],
    ["+select|0"],
    ["on", "nopass", "allkeys", "allchannels", "allcommands", "-@dangerous"],
    ["reset"],
    ["%R~a", "%W~a", "%RW~b", "~c"],
    [">x", "(+get ~a)", "(+set", "~b)"],
    ["on", "#" + "a" * 64, "+@read", "+@write", "-@admin", "~k*", "&news.*"],
    ["on", ">a", ">b", "<a", "+@hash", "-hset"],
    ["nocommands", "+@all", "-@all", "+ping"],
    ["on", "+@list", "+@blocking", "resetkeys", "~l:*"],
    ["skip-sanitize-payload", "+acl|whoami", "+client|id"],
]


def getuser_raw(c, name):
    return c.execute_command("ACL", "GETUSER", name)


def normalized(reply):
    """Redis emits single-command rules in its hash table's order: compare them as a set."""
    if isinstance(reply, list):
        return [normalized(x) for x in reply]
    if isinstance(reply, str) and reply.startswith(("+@all", "-@all", "user ")):
        words = reply.split(" ")
        cats = [w for w in words if not w[:1] in "+-" or w[1:2] == "@"]
        single = sorted(w for w in words if w[:1] in "+-" and w[1:2] != "@")
        return cats + single
    return reply


@pytest.mark.parametrize("rules", RULE_SETS, ids=range(len(RULE_SETS)))
def test_setuser_getuser_list_like_redis(server, redis_server_factory, rules):
    rs = redis_server_factory()
    d, rr = server.client(), rs.client()
    assert d.execute_command("ACL", "SETUSER", "u", *rules) == "OK"
    assert rr.execute_command("ACL", "SETUSER", "u", *rules) == "OK"
    assert normalized(getuser_raw(d, "u")) == normalized(getuser_raw(rr, "u"))
    assert normalized(d.execute_command("ACL", "LIST")) == normalized(
        rr.execute_command("ACL", "LIST"))


BAD_RULES = [
    ["+nosuch"],
    ["+@nosuch"],
    ["badrule"],
    ["(~x"],
    ["nopass", "<foo"],
    ["!" + "0" * 64],
    ["-select|0"],
    ["+select|0|1"],
    ["+config|get|x"],
    ["+config|nosuch"],
    ["#abc"],
    ["#" + "A" * 64],
    ["~*", "~x"],
    ["&*", "&x"],
    ["%X~a"],
    ["%R~a b"],
    ["%~a"],
]


@pytest.mark.parametrize("rules", BAD_RULES, ids=range(len(BAD_RULES)))
def test_setuser_errors_like_redis(server, redis_server_factory, rules):
    rs = redis_server_factory()
    d, rr = server.client(), rs.client()
    assert err_of(d.execute_command, "ACL", "SETUSER", "z", *rules) == err_of(
        rr.execute_command, "ACL", "SETUSER", "z", *rules
    )
    # a failed SETUSER changes nothing
    assert d.execute_command("ACL", "GETUSER", "z") is None


def test_setuser_bad_name_and_failed_rules_keep_user(r):
    assert err_of(r.execute_command, "ACL", "SETUSER", "bad name") == (
        "Usernames can't contain spaces or null characters"
    )
    r.execute_command("ACL", "SETUSER", "k", "on", ">pw", "+get")
    with pytest.raises(redis.ResponseError):
        r.execute_command("ACL", "SETUSER", "k", "+set", "+nosuch")
    assert r.execute_command("ACL", "GETUSER", "k")[5] == "-@all +get"


def test_passwords_are_sha256(r):
    r.execute_command("ACL", "SETUSER", "h", "on", ">secret")
    u = r.acl_getuser("h")
    assert u["passwords"] == [hashlib.sha256(b"secret").hexdigest()]
    assert "secret" not in " ".join(r.execute_command("ACL", "LIST"))


def test_users_deluser_whoami(server, r):
    r.execute_command("ACL", "SETUSER", "b", "on", ">x", "+@all", "~*")
    r.execute_command("ACL", "SETUSER", "a", "on", ">x", "+@all", "~*")
    assert r.execute_command("ACL", "USERS") == ["a", "b", "default"]
    assert login(server, "a", "x").execute_command("ACL", "WHOAMI") == "a"
    assert err_of(r.execute_command, "ACL", "DELUSER", "default") == (
        "The 'default' user cannot be removed"
    )
    assert r.execute_command("ACL", "DELUSER", "a", "nosuch", "b") == 2
    assert r.execute_command("ACL", "USERS") == ["default"]


def test_genpass(r):
    p = r.execute_command("ACL", "GENPASS")
    assert len(p) == 64 and int(p, 16) >= 0
    assert len(r.execute_command("ACL", "GENPASS", 5)) == 2
    assert len(r.execute_command("ACL", "GENPASS", 4096)) == 1024
    assert p != r.execute_command("ACL", "GENPASS")
    for bad in (0, 4097, -1):
        assert "ACL GENPASS argument must be the number of bits" in err_of(
            r.execute_command, "ACL", "GENPASS", bad
        )


def test_cat(server, redis_server_factory):
    rr = redis_server_factory().client()
    r = server.client()
    assert r.execute_command("ACL", "CAT") == rr.execute_command("ACL", "CAT")
    assert err_of(r.execute_command, "ACL", "CAT", "nosuch") == "Unknown category 'nosuch'"
    assert "geoadd" in r.execute_command("ACL", "CAT", "geo")


def command_names(c):
    names = set()
    for info in c.execute_command("COMMAND"):
        names.add(info[0])
        for sub in info[9] if len(info) > 9 else []:
            names.add(sub[0])
    return names


def test_categories_match_redis(server, redis_server_factory):
    """Every category lists the same commands in both servers, for the commands both have."""
    rr = redis_server_factory().client()
    r = server.client()
    common = command_names(r) & command_names(rr)
    diffs = {}
    for cat in rr.execute_command("ACL", "CAT"):
        ours = set(r.execute_command("ACL", "CAT", cat)) & common
        theirs = set(rr.execute_command("ACL", "CAT", cat)) & common
        if ours != theirs:
            diffs[cat] = {"extra": sorted(ours - theirs), "missing": sorted(theirs - ours)}
    assert diffs == {}


# ---- authentication -------------------------------------------------------------------------


def test_auth_user_and_wrongpass(server, r):
    r.execute_command("ACL", "SETUSER", "alice", "on", ">wonder", "+@all", "~*")
    c = server.client()
    assert ok(c.execute_command("AUTH", "alice", "wonder"))
    assert c.execute_command("ACL", "WHOAMI") == "alice"
    with pytest.raises(AUTH_ERRORS, match="invalid username-password pair"):
        c.execute_command("AUTH", "alice", "bad")
    with pytest.raises(AUTH_ERRORS):
        server.client(username="nobody", password="x").ping()
    # a failed AUTH leaves the connection as it was
    assert c.execute_command("ACL", "WHOAMI") == "alice"
    log = r.acl_log()
    assert log[0]["reason"] == "auth" and log[0]["object"] == "AUTH"
    assert {e["username"] for e in log if e["reason"] == "auth"} >= {"alice", "nobody"}
    assert r.info("stats")["acl_access_denied_auth"] == 2


def test_disabled_user_cannot_auth(server, r):
    r.execute_command("ACL", "SETUSER", "off1", "off", ">pw", "+@all")
    with pytest.raises(AUTH_ERRORS):
        login(server, "off1", "pw").ping()


def test_hello_auth(server, r):
    r.execute_command("ACL", "SETUSER", "h3", "on", ">pw", "+@all", "~*")
    reply = raw_call(server.port, "HELLO", 3, "AUTH", "h3", "pw")
    assert reply.startswith(b"%7\r\n") and b"proto\r\n:3\r\n" in reply
    c = server.client()
    assert c.execute_command("HELLO", 2, "AUTH", "h3", "pw")
    assert c.execute_command("ACL", "WHOAMI") == "h3"
    with pytest.raises(AUTH_ERRORS, match="invalid username-password pair"):
        c.execute_command("HELLO", 2, "AUTH", "h3", "bad")
    assert raw_call(server.port, "HELLO", 3, "AUTH", "h3", "bad").startswith(b"-WRONGPASS")


def test_requirepass_is_default_password(server_factory):
    s = server_factory("--requirepass", "topsecret")
    c = s.client(password="topsecret")
    u = c.acl_getuser("default")
    assert u["passwords"] == [hashlib.sha256(b"topsecret").hexdigest()]
    assert "nopass" not in u["flags"]
    anon = s.client(password=None)
    with pytest.raises(AUTH_ERRORS, match="Authentication required"):
        anon.execute_command("GET", "x")
    assert ok(anon.execute_command("AUTH", "default", "topsecret"))
    # CONFIG SET requirepass changes the default user's password
    c.config_set("requirepass", "other")
    assert c.acl_getuser("default")["passwords"] == [hashlib.sha256(b"other").hexdigest()]
    c.config_set("requirepass", "")
    assert "nopass" in c.acl_getuser("default")["flags"]
    assert s.client(password=None).ping()


def test_password_rotation(server, r):
    r.execute_command("ACL", "SETUSER", "app", "on", ">old", "+@all", "~*")
    live = login(server, "app", "old")
    live.set(KEYS[0], "1")
    r.execute_command("ACL", "SETUSER", "app", ">new")
    assert login(server, "app", "old").ping() and login(server, "app", "new").ping()
    r.execute_command("ACL", "SETUSER", "app", "<old")
    with pytest.raises(AUTH_ERRORS):
        login(server, "app", "old").ping()
    assert login(server, "app", "new").get(KEYS[0]) == "1"
    assert live.get(KEYS[0]) == "1"  # connections already in stay
    # by hash too
    h = hashlib.sha256(b"third").hexdigest()
    r.execute_command("ACL", "SETUSER", "app", "#" + h, "!" + hashlib.sha256(b"new").hexdigest())
    assert login(server, "app", "third").ping()
    with pytest.raises(AUTH_ERRORS):
        login(server, "app", "new").ping()


# ---- permission checks ----------------------------------------------------------------------


def test_command_and_category_denials(server, r):
    r.execute_command("ACL", "SETUSER", "ro", "on", ">pw", "+@read", "+ping", "~*")
    c = login(server, "ro", "pw")
    assert c.get(KEYS[1]) is None
    assert err_of(c.set, KEYS[1], "v") == NOPERM_CMD.format("set")
    assert err_of(c.execute_command, "FLUSHALL") == NOPERM_CMD.format("flushall")
    log = r.acl_log(count=1)[0]
    assert (log["reason"], log["context"], log["object"], log["username"]) == (
        "command", "toplevel", "flushall", "ro")
    info = log["client-info"]
    assert (info.get("user") if isinstance(info, dict) else info.split("user=")[1][:2]) == "ro"


def test_subcommands(server, r):
    r.execute_command("ACL", "SETUSER", "cfg", "on", ">pw", "+config|get", "+client|id")
    c = login(server, "cfg", "pw")
    assert c.config_get("maxmemory")
    assert err_of(c.config_set, "maxmemory", "0") == NOPERM_CMD.format("config|set")
    assert isinstance(c.client_id(), int)
    assert err_of(c.execute_command, "CLIENT", "LIST") == NOPERM_CMD.format("client|list")


def test_first_arg_rule(server, r):
    r.execute_command("ACL", "SETUSER", "sel", "on", ">pw", "+select|0", "+ping")
    c = login(server, "sel", "pw")
    assert ok(c.execute_command("SELECT", 0))
    assert err_of(c.execute_command, "SELECT", 1) == NOPERM_CMD.format("select")


def test_key_patterns_read_write(server, r):
    r.execute_command("ACL", "SETUSER", "k", "on", ">pw", "+@all", "~app:*", "%R~ro:*",
                      "%W~wo:*")
    r.mset({"app:1": "a", "ro:1": "b", "wo:1": "c", "other": "d"})
    c = login(server, "k", "pw")
    assert c.get("app:1") == "a"
    assert c.set("app:2", "x")
    assert c.get("ro:1") == "b"
    assert err_of(c.set, "ro:1", "x") == NOPERM_KEY
    assert c.set("wo:1", "x")
    assert err_of(c.get, "wo:1") == NOPERM_KEY
    assert err_of(c.get, "other") == NOPERM_KEY
    # every key of a multi-key command is checked, on whichever shard it lives
    assert c.mget(["app:1", "ro:1"]) == ["a", "b"]
    assert err_of(c.mget, ["app:1", "other"]) == NOPERM_KEY
    assert err_of(c.delete, "app:1", "ro:1") == NOPERM_KEY
    log = r.acl_log(count=1)[0]
    assert (log["reason"], log["object"]) == ("key", "ro:1")


def test_channels(server, r):
    r.execute_command("ACL", "SETUSER", "ps", "on", ">pw", "+@all", "~*", "&news.*", "&exact")
    c = login(server, "ps", "pw")
    assert c.publish("news.1", "x") == 0
    assert err_of(c.publish, "sport", "x") == NOPERM_CHAN
    p = login(server, "ps", "pw").pubsub()
    p.subscribe("news.a", "exact")
    with pytest.raises(redis.ResponseError, match="channels"):
        p2 = login(server, "ps", "pw").pubsub()
        p2.subscribe("other")
        p2.get_message(timeout=1)
    # patterns must be allowed literally
    p3 = login(server, "ps", "pw").pubsub()
    p3.psubscribe("news.*")
    with pytest.raises(redis.ResponseError, match="channels"):
        p4 = login(server, "ps", "pw").pubsub()
        p4.psubscribe("news.1*")
        p4.get_message(timeout=1)
    log = r.acl_log(count=1)[0]
    assert (log["reason"], log["object"]) == ("channel", "news.1*")


def test_selectors(server, r):
    r.execute_command("ACL", "SETUSER", "s", "on", ">pw", "+get", "~a*", "(+set ~b*)")
    c = login(server, "s", "pw")
    assert c.get("a1") is None
    assert c.set("b1", "x")
    # denied by every selector: the most relevant reason (a key beats a command)
    assert err_of(c.set, "a1", "x") == NOPERM_KEY
    assert err_of(c.get, "b1") == NOPERM_KEY
    r.execute_command("ACL", "SETUSER", "s", "clearselectors")
    assert err_of(c.set, "b1", "x") == NOPERM_CMD.format("set")


def test_multi_checks_at_queue_and_exec(server, r):
    r.execute_command("ACL", "SETUSER", "m", "on", ">pw", "+@all", "-flushall", "~*")
    c = login(server, "m", "pw")
    p = c.pipeline(transaction=True)
    p.set(KEYS[2], "1").execute_command("FLUSHALL")
    with pytest.raises(redis.ResponseError):
        p.execute()
    assert r.get(KEYS[2]) is None
    assert r.acl_log(count=1)[0]["context"] == "multi"
    # permissions changed between queueing and EXEC
    raw = login(server, "m", "pw")
    raw.execute_command("MULTI")
    raw.execute_command("SET", KEYS[3], "1")
    raw.execute_command("GET", KEYS[3])
    r.execute_command("ACL", "SETUSER", "m", "-set")
    res = raw.execute_command("EXEC")
    assert isinstance(res[0], redis.ResponseError)
    assert "ACLs rules changed between the moment the transaction" in str(res[0])
    assert res[1] is None
    assert r.get(KEYS[3]) is None


def test_scripts_use_callers_permissions(server, r):
    r.execute_command("ACL", "SETUSER", "sc", "on", ">pw", "+@all", "-flushall", "~ok*")
    c = login(server, "sc", "pw")
    assert c.eval("return redis.call('set', KEYS[1], 'v')", 1, "ok1") == "OK"
    e = err_of(c.eval, "return redis.call('get', 'nope')", 0)
    assert e.startswith("The user executing the script can't access at least one of the keys")
    e = err_of(c.eval, "return redis.call('flushall')", 0)
    assert e.startswith("The user executing the script can't run this command or subcommand")
    e = err_of(c.eval, "return redis.call('publish', 'ch', 'x')", 0)
    assert e.startswith("The user executing the script can't publish to the channel")
    assert c.eval("return redis.acl_check_cmd('flushall')", 0) is None
    assert c.eval("return redis.acl_check_cmd('get', 'ok')", 0) == 1
    assert r.acl_log(count=1)[0]["context"] == "lua"


def test_admin_and_cluster_commands_need_permission(server, r):
    r.execute_command("ACL", "SETUSER", "app", "on", ">pw", "+@all", "-@admin", "~*", "&*")
    c = login(server, "app", "pw")
    assert c.set(KEYS[4], "1")
    assert err_of(c.execute_command, "DFLYCLUSTER", "MYID").startswith(
        "this user has no permissions to run the 'dflycluster")
    assert err_of(c.execute_command, "ACL", "SETUSER", "x") == NOPERM_CMD.format("acl|setuser")
    assert err_of(c.execute_command, "DEBUG", "SLEEP", 0).startswith(
        "this user has no permissions to run the 'debug")


def test_auth_commands_always_allowed(server, r):
    r.execute_command("ACL", "SETUSER", "none", "on", "nopass", "-@all")
    c = login(server, "none", "x")
    assert err_of(c.get, "a") == NOPERM_CMD.format("get")
    assert ok(c.execute_command("AUTH", "default", "x"))
    assert c.get("a") is None


def test_dryrun(r):
    r.execute_command("ACL", "SETUSER", "t", "on", ">pw", "+@all", "-flushall", "~a*", "&c*")
    assert r.execute_command("ACL", "DRYRUN", "t", "GET", "a1") == "OK"
    assert r.execute_command("ACL", "DRYRUN", "t", "GET", "b") == (
        "This user has no permissions to access the 'b' key")
    assert r.execute_command("ACL", "DRYRUN", "t", "FLUSHALL") == (
        "This user has no permissions to run the 'flushall' command")
    assert r.execute_command("ACL", "DRYRUN", "t", "PUBLISH", "x", "m") == (
        "This user has no permissions to access the 'x' channel")
    assert err_of(r.execute_command, "ACL", "DRYRUN", "nouser", "GET", "a") == (
        "User 'nouser' not found")
    assert err_of(r.execute_command, "ACL", "DRYRUN", "t", "nocmd") == "Command 'nocmd' not found"
    assert r.acl_log() == []  # dry runs leave no trace


def test_acl_log(server, r):
    r.execute_command("ACL", "SETUSER", "lg", "on", ">pw", "-@all", "+ping")
    c = login(server, "lg", "pw")
    for _ in range(3):
        with pytest.raises(redis.ResponseError):
            c.get("x")
    with pytest.raises(redis.ResponseError):
        c.set("x", "1")
    log = r.acl_log()
    assert len(log) == 2
    assert log[0]["object"] == "set" and log[0]["count"] == 1
    assert log[1]["object"] == "get" and log[1]["count"] == 3
    raw = r.execute_command("ACL", "LOG", 1)[0]
    fields = raw[0::2] if isinstance(raw, list) else list(raw)
    assert fields == ["count", "reason", "context", "object", "username", "age-seconds",
                      "client-info"]
    assert len(r.acl_log(count=1)) == 1
    assert err_of(r.execute_command, "ACL", "LOG", "x") == "value is not an integer or out of range"
    assert r.acl_log_reset()
    assert r.acl_log() == []
    assert r.info("stats")["acl_access_denied_cmd"] == 4


# ---- live changes ---------------------------------------------------------------------------


def conns(server, user, password, n=6):
    cs = [login(server, user, password) for _ in range(n)]  # on both worker threads
    for c in cs:
        c.ping()
    return cs


def test_changes_apply_to_live_connections(server, r):
    r.execute_command("ACL", "SETUSER", "lv", "on", ">pw", "+@all", "~*")
    cs = conns(server, "lv", "pw")
    r.execute_command("ACL", "SETUSER", "lv", "-get")
    for c in cs:
        assert err_of(c.get, KEYS[5]) == NOPERM_CMD.format("get")
    r.execute_command("ACL", "SETUSER", "lv", "+get", "resetkeys", "~x")
    for c in cs:
        assert err_of(c.get, KEYS[5]) == NOPERM_KEY


def test_deluser_and_off_disconnect(server, r):
    r.execute_command("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
    r.execute_command("ACL", "SETUSER", "dis", "on", ">pw", "+@all", "~*")
    a = conns(server, "gone", "pw")
    b = conns(server, "dis", "pw")
    others = conns(server, "default", "x")
    r.execute_command("ACL", "DELUSER", "gone")
    r.execute_command("ACL", "SETUSER", "dis", "off")
    for c in a + b:
        wait_until(lambda c=c: is_closed(c), "the connection to be closed")
    for c in others:
        assert c.ping()
    # the users' connections are refused afterwards too
    with pytest.raises(AUTH_ERRORS):
        login(server, "dis", "pw").ping()


def test_deluser_of_self_replies_then_closes(server, r):
    r.execute_command("ACL", "SETUSER", "me", "on", ">pw", "+@all", "~*")
    c = login(server, "me", "pw")
    assert c.execute_command("ACL", "DELUSER", "me") == 1
    wait_until(lambda: is_closed(c), "the caller to be closed")


# ---- CLIENT, INFO, MONITOR, SLOWLOG -----------------------------------------------------------


def test_client_list_user(server, r):
    r.execute_command("ACL", "SETUSER", "cl", "on", ">pw", "+@all", "~*")
    c = login(server, "cl", "pw")
    assert "user=cl" in c.execute_command("CLIENT", "INFO")
    users = {e["user"] for e in r.client_list()}
    assert users == {"cl", "default"}
    assert r.execute_command("CLIENT", "KILL", "USER", "cl") == 1
    assert "No such user" in err_of(r.execute_command, "CLIENT", "KILL", "USER", "nosuch")


def read_monitor(sock, deadline):
    data = b""
    while time.monotonic() < deadline and b'"mark"' not in data:
        try:
            data += sock.recv(65536)
        except socket.timeout:
            pass
    return data.decode()


def test_monitor_and_slowlog_redact_secrets(server, r):
    r.execute_command("ACL", "SETUSER", "sec", "on", ">hunter2", "+@all", "~*")
    mon = socket.create_connection(("127.0.0.1", server.port), timeout=0.2)
    mon.sendall(b"MONITOR\r\n")
    time.sleep(0.2)
    r.config_set("slowlog-log-slower-than", 0)
    c = server.client()
    c.execute_command("AUTH", "sec", "hunter2")
    c.execute_command("HELLO", 2, "AUTH", "sec", "hunter2")
    r.execute_command("ACL", "SETUSER", "sec2", ">hunter3")
    c.set("mark", "1")
    out = read_monitor(mon, time.monotonic() + WAIT_S).lower()
    mon.close()
    assert '"auth" "(redacted)" "(redacted)"' in out
    assert '"hello" "2" "auth" "(redacted)" "(redacted)"' in out
    assert "hunter" not in out
    slow = r.slowlog_get(128)
    text = repr(slow)
    assert "hunter" not in text
    assert "(redacted)" in text
    assert "hunter" not in server.log()


# ---- ACL file ---------------------------------------------------------------------------------


def test_aclfile_save_load_and_restart(server_factory, tmp_path):
    path = tmp_path / "users.acl"
    path.write_text("user default on nopass ~* &* +@all\nuser f on >filepw ~f:* +@read\n")
    s = server_factory("--aclfile", str(path))
    r = s.client()
    assert r.execute_command("ACL", "USERS") == ["default", "f"]
    f = login(s, "f", "filepw")
    assert f.get("f:1") is None
    assert err_of(f.set, "f:1", "x") == NOPERM_CMD.format("set")
    r.execute_command("ACL", "SETUSER", "g", "on", ">gpw", "+@all", "~*")
    assert r.execute_command("ACL", "SAVE") == "OK"
    text = path.read_text()
    assert "user g on #" in text and "gpw" not in text
    # LOAD replaces the users with the file; connections of vanished users are closed
    path.write_text(text.replace("user f on", "user f off"))
    g = login(s, "g", "gpw")
    path.write_text("\n".join(l for l in text.splitlines() if not l.startswith("user g")) + "\n")
    assert r.execute_command("ACL", "LOAD") == "OK"
    assert r.execute_command("ACL", "USERS") == ["default", "f"]
    wait_until(lambda: is_closed(g), "g's connection to close")
    # a bad file is refused as a whole
    path.write_text("user default on nopass ~* &* +@all\nuser bad +nosuch\n")
    assert "Unknown command or category name in ACL" in err_of(r.execute_command, "ACL", "LOAD")
    assert r.execute_command("ACL", "USERS") == ["default", "f"]
    # restart: the file is loaded at start
    path.write_text(text)
    s.stop()
    s2 = server_factory("--aclfile", str(path), workdir=s.workdir)
    assert login(s2, "g", "gpw").execute_command("ACL", "WHOAMI") == "g"


def test_save_load_without_aclfile(r):
    assert "not configured to use an ACL file" in err_of(r.execute_command, "ACL", "SAVE")
    assert "not configured to use an ACL file" in err_of(r.execute_command, "ACL", "LOAD")


# ---- restricted and renamed commands -----------------------------------------------------------


def test_restricted_commands_only_on_admin_port(server_factory):
    from conftest import free_port

    admin = free_port()
    s = server_factory("--restricted_commands", "FLUSHALL,DEBUG,CONFIG,KEYS", "--admin_port",
                       str(admin))
    r = s.client()
    for cmd in (("FLUSHALL",), ("CONFIG", "GET", "port"), ("KEYS", "*"), ("DEBUG", "SLEEP", 0)):
        assert err_of(r.execute_command, *cmd) == "Cannot execute restricted command (admin only)"
    assert "restricted" in err_of(r.eval, "return redis.call('flushall')", 0)
    a = redis.Redis(host="127.0.0.1", port=admin, decode_responses=True)
    try:
        assert a.execute_command("CONFIG", "GET", "port")
        assert a.flushall()
    finally:
        a.close()


def test_rename_command(server_factory):
    s = server_factory("--rename_command", "FLUSHALL=,CONFIG=myconfig")
    r = s.client()
    assert "unknown command" in err_of(r.execute_command, "FLUSHALL")
    assert "unknown command" in err_of(r.execute_command, "CONFIG", "GET", "port")
    assert r.execute_command("MYCONFIG", "GET", "port")[1] == str(s.port)


def test_subscribers_losing_a_channel_are_disconnected(server, r):
    r.execute_command("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "&news.*", "&alerts")
    keep = login(server, "sub", "pw").pubsub()
    keep.subscribe("alerts")
    lose = login(server, "sub", "pw").pubsub()
    lose.subscribe("news.1")
    for p in (keep, lose):
        assert p.get_message(timeout=WAIT_S)["type"] == "subscribe"
    r.execute_command("ACL", "SETUSER", "sub", "resetchannels", "&alerts")

    def gone():
        try:
            lose.get_message(timeout=POLL_S)
            return False
        except (redis.ConnectionError, OSError):
            return True

    wait_until(gone, "the subscriber of news.1 to be disconnected")
    assert r.publish("alerts", "still here") == 1
    msg = keep.get_message(timeout=WAIT_S)
    assert msg and msg["data"] == "still here"


def test_aclfile_without_default_user(server_factory, tmp_path):
    path = tmp_path / "only.acl"
    path.write_text("# users of the app\n\nuser app on >apw ~* +@all\n")
    s = server_factory("--aclfile", str(path))
    r = s.client()
    assert r.execute_command("ACL", "USERS") == ["app", "default"]
    assert r.execute_command("ACL", "LIST")[1] == "user default on nopass ~* &* +@all"
    assert login(s, "app", "apw").execute_command("ACL", "WHOAMI") == "app"


def test_aclfile_bad_at_start_refuses_to_start(server_factory, tmp_path):
    from conftest import ServerStartError

    path = tmp_path / "bad.acl"
    path.write_text("user x +nosuch\n")
    with pytest.raises(ServerStartError):
        server_factory("--aclfile", str(path))


def test_acl_flags_in_config_file(server_factory, tmp_path):
    from conftest import free_port

    users = tmp_path / "users.acl"
    users.write_text("user default on nopass ~* &* +@all\nuser cf on >cfpw ~* +@all\n")
    admin = free_port()
    conf = tmp_path / "dfly.conf"
    conf.write_text(
        f"aclfile {users}\n"
        "rename-command CONFIG=cfg\n"
        "restricted-commands FLUSHALL\n"
        f"admin-port {admin}\n"
    )
    s = server_factory(str(conf))
    r = s.client()
    assert login(s, "cf", "cfpw").execute_command("ACL", "WHOAMI") == "cf"
    assert r.execute_command("CFG", "GET", "aclfile")[1] == str(users)
    assert "unknown command" in err_of(r.execute_command, "CONFIG", "GET", "port")
    assert err_of(r.execute_command, "FLUSHALL") == "Cannot execute restricted command (admin only)"


BAD_FILES = [
    "user default on nopass ~* &* +@all\nuser bad on +nosuch\n",
    "user default on nopass ~* &* +@all\nfoo bar\n",
    "user default on nopass ~* &* +@all\nuser a on\nuser a off\n",
    "user default on nopass ~* &* +@all\nuser s on (+get ~x\n",
]


def test_acl_load_errors_like_redis(server_factory, redis_server_factory, tmp_path):
    good = "user default on nopass ~* &* +@all\n"
    ours_path, theirs_path = tmp_path / "ours.acl", tmp_path / "theirs.acl"
    ours_path.write_text(good)
    theirs_path.write_text(good)
    ours = server_factory("--aclfile", str(ours_path)).client()
    theirs = redis_server_factory("--aclfile", str(theirs_path)).client()
    for text in BAD_FILES[:3]:
        ours_path.write_text(text)
        theirs_path.write_text(text)
        a = err_of(ours.execute_command, "ACL", "LOAD").replace(str(ours_path), "F")
        b = err_of(theirs.execute_command, "ACL", "LOAD").replace(str(theirs_path), "F")
        assert a == b
    ours_path.write_text(BAD_FILES[3])
    assert "Unmatched parenthesis" in err_of(ours.execute_command, "ACL", "LOAD")
    assert ours.execute_command("ACL", "USERS") == ["default"]
