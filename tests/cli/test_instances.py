"""dfly instances, operations, events and connect against a real dfly-control running real
dfly-server nodes."""

import json
import signal
import subprocess
import time

import pytest
import yaml

from conftest import Cli, wait_for

MEMORY = "64mb"
FOLLOW_TIMEOUT = 60


def create(cli, name, *extra):
    """Creates an instance with --wait and returns the parsed answer."""
    out = cli.json("instances", "create", name, "--memory", MEMORY, "--wait", "--timeout", "90s",
                   *extra)
    assert out["operation"]["status"] == "succeeded", out
    assert out["instance"]["status"] == "running", out
    return out


def test_instance_lifecycle(cli, tenant):
    tid, ttok = tenant
    out = create(cli, "cache", "--shards", "2", "--label", "env=prod", "--label", "team=a",
                 "--eviction", "allkeys-lru", "--tenant", tid)
    inst, creds = out["instance"], out["credentials"]
    assert creds["username"] == "default" and len(creds["password"]) >= 16
    assert inst["shards"] == 2 and inst["labels"] == {"env": "prod", "team": "a"}
    assert inst["eviction_policy"] == "allkeys-lru" and inst["memory"] == 64 << 20
    iid = inst["id"]

    # by name and by id, with the tenant's token and the operator's
    assert cli.json("instances", "get", "cache", token=ttok)["id"] == iid
    assert cli.json("instances", "get", iid)["name"] == "cache"
    # yaml is the same data (nested objects, arrays of objects, nulls, quoted strings)
    assert yaml.safe_load(cli("instances", "get", "cache", "-o", "yaml").stdout) == \
        cli.json("instances", "get", "cache")
    table = cli("instances", "get", "cache", "-o", "table", token=ttok).stdout
    assert "running" in table and "64mb" in table and "uri: redis://default@" in table
    assert table.count("master") == 2  # the nodes table

    # list and its filters
    assert [i["id"] for i in cli.json("instances", "list", token=ttok)] == [iid]
    assert [i["id"] for i in cli.json("instances", "list", "--label", "env=prod")] == [iid]
    assert cli.json("instances", "list", "--label", "env=dev") == []
    assert [i["id"] for i in cli.json("instances", "list", "--status", "running",
                                      "--tenant", tid)] == [iid]

    # update: memory and labels (KEY=VALUE adds, KEY- removes), waited for
    up = cli.json("instances", "update", "cache", "--memory", "128mb", "--label", "env=dev",
                  "--label", "team-", "--wait", token=ttok)
    assert up["operation"]["status"] == "succeeded"
    assert up["instance"]["memory"] == 128 << 20 and up["instance"]["labels"] == {"env": "dev"}
    p = cli("instances", "update", "cache", "--memory", "256mb", "--if-match", '"v1"')
    assert p.returncode == 1 and "(precondition_failed" in p.stderr
    assert "get it again" in p.stderr

    # restart, then the operation by id
    rs = cli.json("instances", "restart", "cache", "--wait", token=ttok)
    assert rs["operation"]["kind"] == "restart" and rs["operation"]["status"] == "succeeded"
    op = cli.json("operations", "get", rs["operation"]["id"], token=ttok)
    assert op["status"] == "succeeded" and op["progress"] == 100
    assert cli.json("operations", "wait", op["id"])["status"] == "succeeded"

    # events: every transition, oldest first
    events = cli.json("events", "cache", token=ttok)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(seqs) >= 4
    assert any(e["type"] == "status" and e["to_status"] == "running" for e in events)

    # connect: the URI, and redis-cli with the password from the environment
    uri = cli("connect", "cache", "-o", "table").stdout.strip()
    assert uri == inst["uri"] or uri.startswith("redis://default@127.0.0.1:")
    c = cli.json("connect", "cache")
    assert c["username"] == "default" and c["tls"] is False and c["port"] > 0
    env = {"DFLY_PASSWORD": creds["password"]}
    p = cli("connect", "cache", "--exec", "--", "set", "{k}1", "v1", env=env)
    assert p.returncode == 0 and p.stdout.strip() == "OK", p.stdout + p.stderr
    p = cli("connect", "cache", "--exec", "--", "get", "{k}1", env=env)
    assert p.stdout.strip() == "v1"
    p = cli("connect", "cache", "--exec", "--password-stdin", "--", "get", "{k}1",
            input=creds["password"] + "\n")
    assert p.stdout.strip() == "v1"
    p = cli("connect", "cache", "--exec", "--", "get", "{k}1")
    assert "NOAUTH" in p.stdout + p.stderr and "no password given" in p.stderr

    # delete: refused without --yes off a terminal, then done and waited for
    p = cli("instances", "delete", "cache", token=ttok)
    assert p.returncode == 2 and "--yes" in p.stderr
    d = cli.json("instances", "delete", "cache", "--yes", "--wait", token=ttok)
    assert d["operation"]["kind"] == "delete" and d["operation"]["status"] == "succeeded"
    assert cli("instances", "get", iid).returncode == 3


def test_password_never_in_redis_cli_argv(cli, tenant, tmp_path):
    """--exec hands the password to redis-cli in REDISCLI_AUTH, never in argv."""
    tid, _ = tenant
    out = create(cli, "argv", "--tenant", tid)
    fake = tmp_path / "fake-redis-cli"
    record = tmp_path / "record"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {record}\necho \"$REDISCLI_AUTH\" >> {record}\n")
    fake.chmod(0o755)
    p = cli("connect", "argv", "--exec", "--", "ping",
            env={"DFLY_PASSWORD": out["credentials"]["password"], "DFLY_REDIS_CLI": str(fake)})
    assert p.returncode == 0, p.stderr
    argv, auth = record.read_text().splitlines()
    assert out["credentials"]["password"] not in argv
    assert auth == out["credentials"]["password"]
    ep = out["instance"]["endpoint"]
    assert argv.split() == ["-h", ep["host"], "-p", str(ep["port"]), "--user", "default", "ping"]


def test_multi_shard_connect_uses_cluster_mode(cli, tenant, tmp_path):
    tid, _ = tenant
    create(cli, "clustered", "--tenant", tid, "--shards", "2")
    fake = tmp_path / "fake-redis-cli"
    record = tmp_path / "record"
    fake.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    fake.chmod(0o755)
    assert cli("connect", "clustered", "--exec", env={"DFLY_REDIS_CLI": str(fake)}).returncode == 0
    assert " -c" in " " + record.read_text()


def test_instance_errors(cli, tenant):
    tid, ttok = tenant
    for argv in (["instances", "get", "nosuch"], ["instances", "get", "ins_nosuch"],
                 ["instances", "delete", "nosuch", "--yes"], ["instances", "restart", "nosuch"],
                 ["instances", "update", "nosuch", "--memory", "1gb"], ["events", "nosuch"],
                 ["connect", "nosuch"], ["operations", "get", "op_nosuch"],
                 ["operations", "wait", "op_nosuch"]):
        p = cli(*argv, token=ttok)
        assert p.returncode == 3, (argv, p.stderr)
        line, = p.stderr.strip().splitlines()
        assert line.startswith("dfly: error: ") and "hint:" in line
    p = cli("instances", "create", "bad", "--memory", "lots", "--tenant", tid)
    assert p.returncode == 1
    assert "(validation_failed, field memory)" in p.stderr
    p = cli("instances", "create", "x", "--memory", "1gb")  # an operator must name a tenant
    assert p.returncode == 1 and "tenant_id" in p.stderr
    p = cli("instances", "create", "big", "--memory", "1tb", token=ttok)
    assert p.returncode == 1 and "quota" in p.stderr


def test_events_follow_ends_when_the_instance_is_gone(cli, tenant, tmp_path):
    tid, ttok = tenant
    create(cli, "followed", "--tenant", tid)
    out_path = tmp_path / "follow.out"

    def printed():
        return [json.loads(line) for line in out_path.read_text().splitlines()]

    with open(out_path, "w") as out:
        f = subprocess.Popen([cli.binary, "events", "followed", "--follow", "--interval",
                              "200ms", "-o", "json"], stdout=out, stderr=subprocess.PIPE,
                             text=True, env=cli.env(token=ttok), stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: any(e["to_status"] == "running" for e in printed()),
                     FOLLOW_TIMEOUT, "the events of the create")
            # new events appear while it follows
            assert cli("instances", "restart", "followed", "--wait").returncode == 0
            wait_for(lambda: any(e["to_status"] == "updating" for e in printed()),
                     FOLLOW_TIMEOUT, "the events of the restart")
            assert cli("instances", "delete", "followed", "--yes").returncode == 0
            _, err = f.communicate(timeout=FOLLOW_TIMEOUT)
        finally:
            if f.poll() is None:
                f.kill()
                f.wait()
    assert f.returncode == 0, err
    events = printed()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))  # each once, in order
    assert "restart requested" in " ".join(e["reason"] for e in events)
    assert "is gone" in err


@pytest.fixture
def failing_control(control_factory):
    """A daemon whose nodes cannot start (the server binary exits at once)."""
    return control_factory("--server-binary", "/bin/false", "--create-max-attempts", "2",
                           "--restart-backoff-min", "3000",
                           "--restart-backoff-max", "3000")  # fails after >= 3 s


def test_wait_reports_failure_and_timeout(failing_control, tmp_path):
    c = Cli(tmp_path / "cli", endpoint=failing_control.url, token=failing_control.token)
    t = c.json("tenants", "create", "acme")
    out = c.json("instances", "create", "doomed", "--memory", MEMORY, "--tenant", t["id"])
    op = out["operation"]["id"]
    # Ctrl-C stops waiting, not the operation, and says how to follow it again
    w = subprocess.Popen([c.binary, "operations", "wait", op], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=c.env(),
                         stdin=subprocess.DEVNULL)
    time.sleep(0.3)
    w.send_signal(signal.SIGINT)
    _, err = w.communicate(timeout=30)
    assert w.returncode == 130, err
    assert f"'dfly operations wait {op}'" in err
    p = c("operations", "wait", op, "--timeout", "300ms")
    assert p.returncode == 4, p.stderr
    assert "hint: it goes on in the background" in p.stderr
    p = c("operations", "wait", op, "--timeout", "60s")
    assert p.returncode == 1, p.stderr
    assert f"operation {op} failed" in p.stderr
    assert json.loads(p.stdout)["status"] == "failed"
    p = c("instances", "create", "doomed2", "--memory", MEMORY, "--tenant", t["id"], "--wait")
    assert p.returncode == 1 and "failed" in p.stderr
    assert json.loads(p.stdout)["instance"]["status"] == "failed"
    # plain progress lines off a terminal
    assert "pending" in p.stderr or "running" in p.stderr
