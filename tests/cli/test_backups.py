"""dfly backups, instances restore and failover, and the backup options of instances
create/update, against a real dfly-control. Skipped when the daemon's contract has no backup
routes (they came with a later issue than the CLI)."""


import pytest
import requests

from conftest import wait_for

MEMORY = "32mb"
WAIT = ("--wait", "--timeout", "90s")


@pytest.fixture
def backups_api(control):
    paths = requests.get(control.url + "/v1/openapi.json", timeout=10).json()["paths"]
    assert "/v1/instances/{instance_id}/backups" in paths
    return control


def create(cli, name, tid, *extra):
    out = cli.json("instances", "create", name, "--memory", MEMORY, "--tenant", tid, *WAIT,
                   *extra)
    assert out["instance"]["status"] == "running", out
    return out


def redis(cli, name, password, *cmd):
    p = cli("connect", name, "--exec", "--", *cmd, env={"DFLY_PASSWORD": password})
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def wait_running(cli, name):
    wait_for(lambda: cli.json("instances", "get", name)["status"] == "running", 60,
             f"{name} to run again", interval=0.2)


def test_backup_download_restore(backups_api, cli, tenant, tmp_path):
    tid, ttok = tenant
    out = create(cli, "src", tid)
    pw = out["credentials"]["password"]
    assert redis(cli, "src", pw, "set", "{k}a", "before") == "OK"

    b = cli.json("backups", "create", "src", *WAIT, token=ttok)
    assert b["operation"]["status"] == "succeeded"
    bak = b["backup"]
    assert bak["status"] == "succeeded" and bak["instance_id"] == out["instance"]["id"]
    assert [x["id"] for x in cli.json("backups", "list", "src")] == [bak["id"]]
    got = cli.json("backups", "get", bak["id"])
    assert got["manifest"]["shards"][0]["sha256"]
    table = cli("backups", "list", "src", "-o", "table").stdout
    assert bak["id"] in table and "succeeded" in table

    # download: to a file (via .part), and to stdout when it is not a terminal
    dest = tmp_path / "dump.rdb"
    p = cli("backups", "download", bak["id"], "--file", dest)
    assert p.returncode == 0, p.stderr
    data = dest.read_bytes()
    assert data.startswith(b"REDIS") and not (tmp_path / "dump.rdb.part").exists()
    p = cli("backups", "download", bak["id"], text=False)
    assert p.returncode == 0 and p.stdout == data
    p = cli("backups", "download", "bak_nope", "--file", tmp_path / "x.rdb")
    assert p.returncode == 3 and not (tmp_path / "x.rdb").exists()
    assert not (tmp_path / "x.rdb.part").exists()

    # restore: refused off a terminal without --yes, then the old value is back
    assert redis(cli, "src", pw, "set", "{k}a", "after") == "OK"
    p = cli("instances", "restore", "src", "--backup", bak["id"])
    assert p.returncode == 2 and "--yes" in p.stderr
    p = cli("instances", "restore", "src", "--yes")
    assert p.returncode == 2 and "--backup is required" in p.stderr
    r = cli.json("instances", "restore", "src", "--backup", bak["id"], "--yes", *WAIT)
    assert r["operation"]["kind"] == "restore" and r["operation"]["status"] == "succeeded"
    wait_running(cli, "src")
    assert redis(cli, "src", pw, "get", "{k}a") == "before"

    # a new instance from the backup
    new = create(cli, "copy", tid, "--restore-from", bak["id"])
    assert new["instance"]["restored_from"] == bak["id"]
    assert redis(cli, "copy", new["credentials"]["password"], "get", "{k}a") == "before"

    # delete
    assert cli("backups", "delete", bak["id"]).returncode == 2
    assert cli("backups", "delete", bak["id"], "--yes").returncode == 0
    p = cli("backups", "get", bak["id"])
    assert p.returncode == 3 and "dfly backups list" in p.stderr


def test_backup_schedule_options(backups_api, cli, tenant):
    tid, _ = tenant
    inst = create(cli, "sched", tid, "--backup-schedule", "6h", "--backup-keep", "3",
                  "--backup-max-age", "72h")["instance"]
    assert inst["backup_schedule"] == {"every_hours": 6}
    assert inst["backup_retention"] == {"count": 3, "max_age_hours": 72}
    up = cli.json("instances", "update", "sched", "--backup-schedule", "0 3 * * *",
                  "--backup-timezone", "Europe/Berlin")["instance"]
    assert up["backup_schedule"] == {"cron": "0 3 * * *", "timezone": "Europe/Berlin"}
    up = cli.json("instances", "update", "sched", "--backup-schedule", "none")["instance"]
    assert up["backup_schedule"] is None
    for bad in (["--backup-schedule", "often"], ["--backup-timezone", "UTC"],
                ["--backup-keep", "0"], ["--backup-max-age", "soon"]):
        p = cli("instances", "update", "sched", *bad)
        assert p.returncode == 2, (bad, p.stderr)


def test_failover(backups_api, cli, tenant):
    tid, _ = tenant
    create(cli, "single", tid)
    p = cli("instances", "failover", "single")
    assert p.returncode == 1 and "no replicas" in p.stderr
    out = create(cli, "pair", tid, "--replicas", "1")
    before = {n["role"]: n["id"] for n in out["instance"]["nodes"]}
    f = cli.json("instances", "failover", "pair", *WAIT)
    assert f["operation"]["kind"] == "failover" and f["operation"]["status"] == "succeeded"
    wait_running(cli, "pair")
    after = {n["role"]: n["id"] for n in cli.json("instances", "get", "pair")["nodes"]}
    assert after["master"] == before["replica"]
    assert any(e["type"] == "failover" for e in cli.json("events", "pair"))
    p = cli("instances", "failover", "pair", "--shard", "-1")
    assert p.returncode == 2
