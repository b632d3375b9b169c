"""ACL users (issue 14): a user made through the API can do exactly what its rules allow on
every node (masters and replicas); a password rotation keeps an old connection working and
lets new clients in with the new password, and finish-rotation shuts the old one out; a node
killed and restarted by the supervisor gets the users again; bad rules are refused with 422
naming the token, and rules come back normalised as the node shows them; nodes added later get
the users; the default user's password rotates the same way, with its replicas following."""

import os
import signal

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, wait_for

RUN_TIMEOUT = 90
PUSH_TIMEOUT = 20  # a pass or two of the reconciler
KEYS = 40  # enough names to land on both shards
# What a cluster client needs besides: its topology discovery (CLUSTER SLOTS, INFO, COMMAND).
RULES = "+@read +cluster +info +command ~cache:* &events:*"


@pytest.fixture
def instance(control, tenant, replication_available):
    """A running instance of two shards, each with a replica when replication exists."""
    tid, tok = tenant
    replicas = 1 if replication_available else 0
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "users", "memory": "64mb", "shards": 2,
                          "replicas_per_shard": replicas})
    assert r.status_code == 202, r.text
    iid, password = r.json()["instance"]["id"], r.json()["credentials"]["password"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    return iid, tok, password, inst


def users_path(iid, name=None, action=None):
    return f"/v1/instances/{iid}/users" + (f"/{name}" if name else "") + \
        (f"/{action}" if action else "")


def node_client(node, username=None, password=None):
    return redis.Redis(host=HOST, port=node["port"], username=username, password=password,
                       decode_responses=True, socket_timeout=5)


def can_auth(node, username, password):
    c = node_client(node)
    try:
        c.execute_command("AUTH", username, password)
        return True
    except redis.exceptions.ResponseError as e:  # WRONGPASS
        assert "WRONGPASS" in str(e), e
        return False
    finally:
        c.connection_pool.disconnect()


def wait_auth_everywhere(inst, username, password, expect=True):
    for n in inst["nodes"]:
        wait_for(lambda: can_auth(n, username, password) == expect, PUSH_TIMEOUT,
                 f"AUTH {username} on node {n['id']} to be {expect}")


def cluster(inst, username, password):
    return RedisCluster(startup_nodes=[ClusterNode(HOST, inst["endpoint"]["port"])],
                        username=username, password=password, decode_responses=True)


def create_user(control, iid, tok, **body):
    r = control.api("POST", users_path(iid), token=tok, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_user_rules_on_every_node(control, instance):
    iid, tok, admin_pw, inst = instance
    made = create_user(control, iid, tok, name="reader", rules=RULES)
    pw = made["password"]
    user = made["user"]
    assert user["name"] == "reader" and user["enabled"] and not user["rotating"]
    # Normalised as the node shows it: applying it again gives the same text (no diff).
    assert "~cache:*" in user["rules"] and "&events:*" in user["rules"]
    assert "+@read" in user["rules"]
    again = control.api("PATCH", users_path(iid, "reader"), token=tok,
                        json={"rules": user["rules"]})
    assert again.status_code == 200 and again.json()["rules"] == user["rules"]
    assert "password" not in again.json()

    wait_auth_everywhere(inst, "reader", pw)
    for n in inst["nodes"]:
        c = node_client(n, "reader", pw)
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.execute_command("ACL", "WHOAMI")  # not @read
        assert isinstance(c.dbsize(), int)  # @read, no key
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.config_get("maxmemory")
        with pytest.raises(redis.exceptions.NoPermissionError):
            c.get("private:1")  # a key outside ~cache:*
        c.connection_pool.disconnect()

    admin = cluster(inst, None, admin_pw)
    for i in range(KEYS):
        admin.set(f"cache:{i}", f"v{i}")
    rc = cluster(inst, "reader", pw)
    assert [rc.get(f"cache:{i}") for i in range(KEYS)] == [f"v{i}" for i in range(KEYS)]
    for i in range(0, KEYS, 7):
        with pytest.raises(redis.exceptions.NoPermissionError):
            rc.set(f"cache:{i}", "x")  # no write commands
        with pytest.raises(redis.exceptions.NoPermissionError):
            rc.get(f"other:{i}")
    rc.close()

    # Listed, widened by an update, disabled, deleted: each reaches every node.
    listed = control.api("GET", users_path(iid), token=tok).json()["items"]
    assert [u["name"] for u in listed] == ["reader"]
    r = control.api("PATCH", users_path(iid, "reader"), token=tok,
                    json={"rules": "+@read +@write +cluster +info +command ~cache:*"})
    assert r.status_code == 200, r.text
    rc = cluster(inst, "reader", pw)
    wait_for(lambda: _try_set(rc, "cache:0"), PUSH_TIMEOUT, "SET to be allowed")
    rc.close()
    r = control.api("PATCH", users_path(iid, "reader"), token=tok, json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    wait_auth_everywhere(inst, "reader", pw, expect=False)
    assert control.api("DELETE", users_path(iid, "reader"), token=tok).status_code == 204
    assert control.api("GET", users_path(iid, "reader"), token=tok).status_code == 404
    for n in inst["nodes"]:
        c = node_client(n, None, admin_pw)
        wait_for(lambda: "reader" not in c.execute_command("ACL", "USERS"), PUSH_TIMEOUT,
                 "the user to be deleted")
        c.connection_pool.disconnect()
    admin.close()


def _try_set(rc, key):
    try:
        return rc.set(key, "w")
    except redis.exceptions.NoPermissionError:
        return False


def test_rotation_and_restart(control, instance):
    iid, tok, admin_pw, inst = instance
    old = create_user(control, iid, tok, name="app", password="old-password-1",
                      rules="+@all ~*")["password"]
    assert old == "old-password-1"
    wait_auth_everywhere(inst, "app", old)
    master = next(n for n in inst["nodes"] if n["role"] == "master")
    held = node_client(master, "app", old)
    assert held.ping()

    r = control.api("POST", users_path(iid, "app", "rotate-password"), token=tok,
                    json={"grace_period_seconds": 600})
    assert r.status_code == 200, r.text
    new = r.json()["password"]
    assert new != old and r.json()["user"]["rotating"]
    assert r.json()["user"]["old_password_expires_at"]
    again = control.api("POST", users_path(iid, "app", "rotate-password"), token=tok)
    assert again.status_code == 409
    wait_auth_everywhere(inst, "app", new)
    assert all(can_auth(n, "app", old) for n in inst["nodes"])  # both, during the grace period
    assert held.ping() and held.execute_command("ACL", "WHOAMI") == "app"

    r = control.api("POST", users_path(iid, "app", "finish-rotation"), token=tok)
    assert r.status_code == 200 and not r.json()["rotating"]
    wait_auth_everywhere(inst, "app", old, expect=False)
    assert all(can_auth(n, "app", new) for n in inst["nodes"])
    assert held.ping()  # the connection made with the old password stays
    held.connection_pool.disconnect()

    # A node killed is restarted by the supervisor and gets the users again.
    victim = inst["nodes"][-1]
    os.kill(victim["pid"], signal.SIGKILL)

    def restarted():
        cur = control.instance(iid, token=tok)
        n = next(x for x in cur["nodes"] if x["id"] == victim["id"])
        return n["pid"] != victim["pid"] and n["status"] == "running"

    wait_for(restarted, RUN_TIMEOUT, "the killed node to run again")
    wait_for(lambda: can_auth(victim, "app", new), PUSH_TIMEOUT, "the user on the new process")
    assert not can_auth(victim, "app", old)


def test_grace_period_ends_rotation(control, instance):
    iid, tok, admin_pw, inst = instance
    old = create_user(control, iid, tok, name="short", rules="+ping")["password"]
    wait_auth_everywhere(inst, "short", old)
    r = control.api("POST", users_path(iid, "short", "rotate-password"), token=tok,
                    json={"grace_period_seconds": 1, "password": "given-new-password"})
    assert r.status_code == 200 and r.json()["password"] == "given-new-password"
    wait_auth_everywhere(inst, "short", old, expect=False)
    wait_auth_everywhere(inst, "short", "given-new-password")
    u = control.api("GET", users_path(iid, "short"), token=tok).json()
    assert not u["rotating"] and u["old_password_expires_at"] is None


@pytest.mark.parametrize("rules, token", [
    ("+@read +nosuchcommand ~a:*", "+nosuchcommand"),
    ("+@read bogus", "bogus"),
    ("+@nocategory", "+@nocategory"),
    ("~a:* >secret", ">secret"),
    ("on +@all", "on"),
])
def test_invalid_rules(control, instance, rules, token):
    iid, tok, _, _ = instance
    r = control.api("POST", users_path(iid), token=tok, json={"name": "bad", "rules": rules})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["field"] == "rules" and f"'{token}'" in err["message"]
    assert control.api("GET", users_path(iid, "bad"), token=tok).status_code == 404


def test_user_api_errors(control, instance, tenant):
    iid, tok, _, _ = instance
    for body, field in [({"name": "default"}, "name"), ({"name": "a b"}, "name"),
                        ({"name": "x", "password": "short"}, "password"),
                        ({"name": "x", "color": 1}, "color")]:
        r = control.api("POST", users_path(iid), token=tok, json=body)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    create_user(control, iid, tok, name="dup", rules="+get ~k")
    assert control.api("POST", users_path(iid), token=tok,
                       json={"name": "dup"}).status_code == 409
    assert control.api("GET", users_path("in_nope"), token=tok).status_code == 404
    assert control.api("PATCH", users_path(iid, "nobody"), token=tok,
                       json={"enabled": True}).status_code == 404
    # Another tenant does not see the instance's users.
    other = control.create_tenant()
    otok = control.create_token(other["id"])["secret"]
    assert control.api("GET", users_path(iid), token=otok).status_code == 404


def test_nodes_added_later_get_the_users(control, tenant, replication_available):
    if not replication_available:
        pytest.skip("this dfly-server has no replication")
    tid, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": "grows", "memory": "64mb", "shards": 2})
    assert r.status_code == 202, r.text
    iid = r.json()["instance"]["id"]
    control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    pw = create_user(control, iid, tok, name="late", rules="+get ~k:*")["password"]
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"replicas_per_shard": 1})
    assert r.status_code == 202, r.text
    wait_for(lambda: len(control.instance(iid, token=tok)["nodes"]) == 4, RUN_TIMEOUT,
             "the replicas' rows")
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert [n["role"] for n in inst["nodes"]].count("replica") == 2
    wait_auth_everywhere(inst, "late", pw)


def test_default_password_rotation(control, instance):
    iid, tok, old, inst = instance
    held = node_client(inst["nodes"][0], None, old)
    assert held.ping()
    r = control.api("POST", users_path(iid, "default", "rotate-password"), token=tok,
                    json={"grace_period_seconds": 600})
    assert r.status_code == 200, r.text
    new = r.json()["password"]
    assert new != old and r.json()["user"]["name"] == "default" and r.json()["user"]["rotating"]
    assert control.api("POST", users_path(iid, "default", "rotate-password"),
                       token=tok).status_code == 409
    wait_auth_everywhere(inst, "default", new)
    assert all(can_auth(n, "default", old) for n in inst["nodes"])
    control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    assert held.ping()

    r = control.api("POST", users_path(iid, "default", "finish-rotation"), token=tok)
    assert r.status_code == 200 and not r.json()["rotating"]
    wait_auth_everywhere(inst, "default", old, expect=False)
    assert held.ping()
    held.connection_pool.disconnect()
    # The instance keeps working for the daemon (it restarts a killed node with the new
    # password in its config) and for clients with the new password.
    victim = inst["nodes"][0]
    os.kill(victim["pid"], signal.SIGKILL)
    wait_for(lambda: next(x for x in control.instance(iid, token=tok)["nodes"]
                          if x["id"] == victim["id"])["pid"] != victim["pid"], RUN_TIMEOUT,
             "the killed node to be restarted")
    control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    wait_auth_everywhere(inst, "default", new)
    for n in control.instance(iid, token=tok)["nodes"]:  # replicas follow with the new masterauth
        if n["role"] == "replica":
            c = node_client(n, None, new)
            wait_for(lambda: c.info("replication").get("master_link_status") == "up",
                     RUN_TIMEOUT, f"replica {n['id']} to be linked")
            c.connection_pool.disconnect()
    rc = cluster(inst, None, new)
    for i in range(KEYS):
        rc.set(f"k{i}", i)
    assert [int(rc.get(f"k{i}")) for i in range(KEYS)] == list(range(KEYS))
    rc.close()
    assert control.api("DELETE", users_path(iid, "default"), token=tok).status_code == 409
    assert [u["name"] for u in
            control.api("GET", users_path(iid), token=tok).json()["items"]] == []
