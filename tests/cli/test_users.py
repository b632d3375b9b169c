"""dfly users (issue 14) against a real dfly-control: a user made with the CLI can do what its
rules allow on the instance's node (redis-py), update changes that, a rotation prints a new
password once and keeps the old one working until --finish, delete asks for --yes, and the
password of --password-stdin is the one that works."""

import json

import pytest
import redis

from conftest import wait_for

MEMORY = "32mb"
WAIT = ("--wait", "--timeout", "90s")
PUSH_TIMEOUT = 30  # seconds for the reconciler to give a change to the node
HOST = "127.0.0.1"


@pytest.fixture
def instance(cli, tenant):
    """A running one-shard instance of a tenant: (name, tenant token, node)."""
    tid, tok = tenant
    out = cli.json("instances", "create", "users", "--memory", MEMORY, *WAIT, token=tok)
    assert out["instance"]["status"] == "running", out
    node = cli.json("instances", "get", "users", token=tok)["nodes"][0]
    return "users", tok, node


def client(node, username, password):
    return redis.Redis(host=HOST, port=node["port"], username=username, password=password,
                       decode_responses=True, socket_timeout=5)


def can_auth(node, username, password):
    c = redis.Redis(host=HOST, port=node["port"], decode_responses=True, socket_timeout=5)
    try:
        c.execute_command("AUTH", username, password)
        return True
    except redis.exceptions.ResponseError as e:  # WRONGPASS, or a disabled user
        assert "WRONGPASS" in str(e) or "disabled" in str(e).lower(), e
        return False
    finally:
        c.connection_pool.disconnect()


def may_write(node, username, password, key):
    c = client(node, username, password)
    try:
        return c.set(key, "v")
    except redis.exceptions.NoPermissionError:
        return False
    finally:
        c.connection_pool.disconnect()


def test_user_lifecycle(cli, instance):
    name, tok, node = instance
    made = cli.json("users", "create", name, "app", "--rules", "+@read +@write ~app:*",
                    token=tok)
    pw = made["password"]
    assert made["user"]["name"] == "app" and made["user"]["enabled"] and pw
    assert "~app:*" in made["user"]["rules"]
    wait_for(lambda: can_auth(node, "app", pw), PUSH_TIMEOUT, "app to log in")
    assert may_write(node, "app", pw, "app:1")
    assert not may_write(node, "app", pw, "other:1")  # outside its keys

    # list and get; the table never shows a password
    assert [u["name"] for u in cli.json("users", "list", name, token=tok)] == ["app"]
    table = cli("users", "list", name, "-o", "table", token=tok)
    assert table.returncode == 0 and "app" in table.stdout and pw not in table.stdout
    assert cli.json("users", "get", name, "app", token=tok)["rules"] == made["user"]["rules"]

    # update: read only now
    got = cli.json("users", "update", name, "app", "--rules", "+@read ~app:*", token=tok)
    assert "+@write" not in got["rules"]
    wait_for(lambda: not may_write(node, "app", pw, "app:2"), PUSH_TIMEOUT, "app to lose writes")
    assert client(node, "app", pw).get("app:1") == "v"

    # rotate: a new password beside the old one, until --finish
    held = client(node, "app", pw)
    assert held.get("app:1") == "v"
    p = cli("users", "rotate", name, "app", "--grace", "10m", "-o", "table", token=tok)
    assert p.returncode == 0, p.stderr
    new = next(line.split(": ", 1)[1] for line in p.stdout.splitlines()
               if line.startswith("password: "))
    assert new != pw and "not shown again" in p.stderr and "--finish" in p.stderr
    wait_for(lambda: can_auth(node, "app", new), PUSH_TIMEOUT, "the new password")
    assert can_auth(node, "app", pw)
    assert cli.json("users", "get", name, "app", token=tok)["rotating"]
    done = cli.json("users", "rotate", name, "app", "--finish", token=tok)
    assert not done["rotating"]
    wait_for(lambda: not can_auth(node, "app", pw), PUSH_TIMEOUT, "the old password to go")
    assert can_auth(node, "app", new)
    assert held.get("app:1") == "v"  # a connection made with the old password stays
    held.connection_pool.disconnect()

    # disable, then delete (refused off a terminal without --yes)
    assert not cli.json("users", "update", name, "app", "--enabled", "off", token=tok)["enabled"]
    wait_for(lambda: not can_auth(node, "app", new), PUSH_TIMEOUT, "the disabled user out")
    p = cli("users", "delete", name, "app", token=tok)
    assert p.returncode == 2 and "--yes" in p.stderr
    p = cli("users", "delete", name, "app", "--yes", token=tok)
    assert p.returncode == 0, p.stderr
    assert cli("users", "get", name, "app", token=tok).returncode == 3
    assert cli.json("users", "list", name, token=tok) == []


def test_given_password_and_errors(cli, instance, tenant):
    name, tok, node = instance
    p = cli("users", "create", name, "given", "--rules", "+@all ~*", "--password-stdin",
            "-o", "json", input="a-given-password\n", token=tok)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["password"] == "a-given-password"
    wait_for(lambda: can_auth(node, "given", "a-given-password"), PUSH_TIMEOUT, "given to log in")

    p = cli("users", "create", name, "bad", "--rules", "+nosuchcommand", token=tok)
    assert p.returncode == 1 and "nosuchcommand" in p.stderr, p.stderr
    p = cli("users", "create", name, "given", token=tok)
    assert p.returncode == 1 and "conflict" in p.stderr, p.stderr
    assert cli("users", "get", name, "nobody", token=tok).returncode == 3
    assert cli("users", "list", "no-such-instance", token=tok).returncode == 3
    assert cli("users", "update", name, "given", token=tok).returncode == 2
    assert cli("users", "rotate", name, "given", "--finish", "--grace", "1m",
               token=tok).returncode == 2
    assert cli("users", "rotate", name, "given", "--grace", "8d", token=tok).returncode == 2
    assert cli("users", "create", name, "x", "--enabled", "maybe", token=tok).returncode == 2

    # the default user's password rotates too: the instance's own password
    old = cli.json("users", "rotate", name, "default", "--grace", "10m", token=tok)
    assert old["user"]["name"] == "default" and old["password"]
    wait_for(lambda: can_auth(node, "default", old["password"]), PUSH_TIMEOUT,
             "the default user's new password")

    # another tenant sees nothing of it
    other = cli.json("tenants", "create", "other")
    otok = cli.json("tokens", "create", other["id"])["secret"]
    assert cli("users", "list", name, token=otok).returncode == 3
