"""dfly_acl_user with the real terraform binary against a real dfly-control and its nodes: the
user can do what its rules allow (redis-py), a plan after apply is empty also with rules written
differently from how the nodes normalise them, rules change in place, outside changes are seen
and undone, the password rotates on a new password_version, import, removal and destroy."""

import json

import redis

from conftest import wait_for

PUSH_TIMEOUT = 30  # the reconciler gives users to the nodes within a pass or two
REDIS_TIMEOUT = 5
# Not how a node normalises them ("~cache:* resetchannels -@all +get +set …"): no diff anyway.
RULES = "+get   +set ~cache:*  +ping"
WIDER = "+@read ~cache:* ~other:* +ping"


def users_tf(rules=RULES, password_version=None, with_user=True):
    version = f'password_version = "{password_version}"' if password_version else ""
    user = f"""
        resource "dfly_acl_user" "app" {{
          instance_id = dfly_instance.main.id
          username    = "app"
          rules       = "{rules}"
          {version}
        }}
        output "user_password" {{
          value     = dfly_acl_user.app.password
          sensitive = true
        }}
        """ if with_user else ""
    return """
        resource "dfly_instance" "main" {
          name   = "users"
          memory = "32mb"
        }
        output "id"   { value = dfly_instance.main.id }
        output "host" { value = dfly_instance.main.host }
        output "port" { value = dfly_instance.main.port }
        """ + user


def client(t, username, password):
    return redis.Redis(host=t.output("host"), port=int(t.output("port")), username=username,
                       password=password, socket_timeout=REDIS_TIMEOUT, decode_responses=True)


def can_auth(t, username, password):
    c = client(t, None, None)
    try:
        c.execute_command("AUTH", username, password)
        return True
    except redis.exceptions.ResponseError as e:
        assert "WRONGPASS" in str(e), e
        return False
    finally:
        c.connection_pool.disconnect()


def allowed(c, *cmd):
    """True when the command runs, False when ACL refuses it (NOPERM)."""
    try:
        c.execute_command(*cmd)
        return True
    except redis.exceptions.NoPermissionError:
        return False


def wait_allowed(c, expect, *cmd):
    wait_for(lambda: allowed(c, *cmd) == expect, PUSH_TIMEOUT, f"{cmd} allowed={expect}")


def user_state(t):
    state = json.loads(t.run("show", "-json").stdout)
    for r in state["values"]["root_module"]["resources"]:
        if r["type"] == "dfly_acl_user":
            return r["values"]
    return None


def api_user(control, token, iid, name="app"):
    r = control.api("GET", f"/v1/instances/{iid}/users/{name}", token=token, check=False)
    return r.json() if r.status_code == 200 else None


def test_user_rules_plan_update_drift_rotation_import_destroy(control, tenant, tf):
    _, token = tenant
    t = tf(token)
    t.write(users_tf())
    t.apply()
    iid, pw = t.output("id"), t.output("user_password")
    assert len(pw) >= 8

    # the user works on the node and may do exactly what its rules allow
    wait_for(lambda: can_auth(t, "app", pw), PUSH_TIMEOUT, "AUTH app")
    c = client(t, "app", pw)
    assert c.set("cache:a", "1") and c.get("cache:a") == "1"
    assert not allowed(c, "SET", "other:a", "1")
    assert not allowed(c, "GET", "other:a")
    assert not allowed(c, "DEL", "cache:a")

    # the API keeps the node's normalised form; the state keeps what the configuration says
    api = api_user(control, token, iid)
    assert api["rules"] != RULES and "~cache:*" in api["rules"]
    state = user_state(t)
    assert state["rules"] == RULES and state["rules_normalized"] == api["rules"]
    assert state["id"] == f"{iid}/app" and state["enabled"] is True
    code, out = t.plan_exitcode()
    assert code == 0, out

    # rules change in place
    t.write(users_tf(rules=WIDER))
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "must be replaced" not in out, out
    t.apply()
    wait_allowed(c, True, "GET", "other:a")
    wait_allowed(c, False, "SET", "cache:a", "2")
    assert t.output("user_password") == pw
    assert t.plan_exitcode()[0] == 0

    # a change made outside Terraform is seen and undone
    r = control.api("PATCH", f"/v1/instances/{iid}/users/app", token=token,
                    json={"rules": "+ping", "enabled": False}, check=False)
    assert r.status_code == 200, r.text
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "enabled" in out, out
    t.apply()
    api = api_user(control, token, iid)
    assert api["enabled"] and "~other:*" in api["rules"]
    assert t.plan_exitcode()[0] == 0

    # a first password_version is recorded; a new one rotates the password at once
    t.write(users_tf(rules=WIDER, password_version="1"))
    t.apply()
    assert t.output("user_password") == pw
    t.write(users_tf(rules=WIDER, password_version="2"))
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out, out
    t.apply()
    new_pw = t.output("user_password")
    assert new_pw != pw
    wait_for(lambda: can_auth(t, "app", new_pw), PUSH_TIMEOUT, "AUTH with the new password")
    wait_for(lambda: not can_auth(t, "app", pw), PUSH_TIMEOUT, "the old password refused")
    assert t.plan_exitcode()[0] == 0

    # import by instance_id/username: the same user, the password unknown (the API shows it
    # once); the rules as the node shows them, so a configuration that writes them differently
    # sees one in-place update, which changes nothing on the node
    t.run("state", "rm", "dfly_acl_user.app")
    t.run("import", "dfly_acl_user.app", f"{iid}/app")
    state = user_state(t)
    assert state["rules"] == api_user(control, token, iid)["rules"]
    assert state["password"] is None and state["enabled"] is True
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "must be replaced" not in out, out
    t.apply()
    assert user_state(t)["rules"] == WIDER
    assert t.plan_exitcode()[0] == 0
    assert can_auth(t, "app", new_pw)

    # a user removed from the configuration is deleted on the nodes too
    t.write(users_tf(with_user=False))
    t.apply()
    assert api_user(control, token, iid) is None
    wait_for(lambda: not can_auth(t, "app", new_pw), PUSH_TIMEOUT, "the user gone")
    c.close()
    t.run("destroy", "-auto-approve")


def test_given_password_enabled_grace_and_destroy(control, tenant, tf):
    _, token = tenant
    t = tf(token)
    body = """
        resource "dfly_acl_user" "ro" {
          instance_id = dfly_instance.main.id
          username    = "ro"
          password    = "%s"
          rules       = "+@read ~*"
          enabled     = %s
          %s
        }
        """
    t.write(users_tf(with_user=False) + body % ("first-password", "false", ""))
    t.apply()
    iid = t.output("id")
    api = api_user(control, token, iid, "ro")
    assert api and api["enabled"] is False
    assert not can_auth(t, "ro", "first-password")  # disabled
    assert t.plan_exitcode()[0] == 0

    # enabling and a new password change it in place
    t.write(users_tf(with_user=False) + body % ("second-password", "true", ""))
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out, out
    t.apply()
    wait_for(lambda: can_auth(t, "ro", "second-password"), PUSH_TIMEOUT, "AUTH ro")
    assert not can_auth(t, "ro", "first-password")
    assert t.plan_exitcode()[0] == 0

    # with a grace period the old password keeps working beside the new one; the next
    # rotation ends the previous one's grace period
    grace = 'rotation_grace_period = "10m"'
    t.write(users_tf(with_user=False) + body % ("third-password", "true", grace))
    t.apply()
    wait_for(lambda: can_auth(t, "ro", "third-password"), PUSH_TIMEOUT, "AUTH ro (third)")
    assert can_auth(t, "ro", "second-password")
    assert api_user(control, token, iid, "ro")["rotating"] is True
    t.write(users_tf(with_user=False) + body % ("fourth-password", "true", grace))
    t.apply()
    wait_for(lambda: can_auth(t, "ro", "fourth-password"), PUSH_TIMEOUT, "AUTH ro (fourth)")
    wait_for(lambda: not can_auth(t, "ro", "second-password"), PUSH_TIMEOUT, "second refused")
    assert can_auth(t, "ro", "third-password")
    assert t.plan_exitcode()[0] == 0

    t.run("destroy", "-auto-approve")
    wait_for(lambda: not control.api("GET", "/v1/instances", token=token,
                                     check=False).json()["items"], 60, "instances gone")


def test_invalid_rules_and_username_are_refused(control, tenant, tf):
    _, token = tenant
    t = tf(token)
    t.write(users_tf(with_user=False) + """
        resource "dfly_acl_user" "bad" {
          instance_id = dfly_instance.main.id
          username    = "default"
        }
        """)
    p = t.run("plan", check=False)
    assert p.returncode == 1 and "username" in p.stderr, p.stderr
    t.write(users_tf(with_user=False) + """
        resource "dfly_acl_user" "bad" {
          instance_id           = dfly_instance.main.id
          username              = "has space"
          password              = "short"
          rotation_grace_period = "200h"
        }
        """)
    p = t.run("plan", check=False)
    assert p.returncode == 1, p.stderr
    for attr in ("username", "password", "rotation_grace_period"):
        assert f"Invalid {attr}" in p.stderr, p.stderr
    t.write(users_tf(rules="+nosuchcommand ~x"))
    p = t.run("apply", "-auto-approve", check=False)
    assert p.returncode == 1 and "nosuchcommand" in p.stderr, p.stderr
    assert "dfly_acl_user.app" in p.stderr or "rules" in p.stderr, p.stderr
    t.run("destroy", "-auto-approve")
