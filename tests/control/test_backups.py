"""Backups (issue 15): taken on demand and on a schedule, pruned by retention, restored into a
new instance of another shard count and into the same instance (key by key equal to the
source), refused when a file is corrupt (the instance untouched), retried when they fail, and
exported as one RDB file that redis-server 7.0 loads."""

import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

from conftest import HOST, free_port, listening, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from dataset import key_value  # noqa: E402

RUN_TIMEOUT = 90
BACKUP_TIMEOUT = 60
CRON_TIMEOUT = 75  # a one-minute cron fires within 60 s
SCHEDULE_HOUR_MS = 1500  # --schedule-hour for the tests: every_hours 1 = every 1.5 s
REDIS_SERVER = "/usr/bin/redis-server"
TTL_S = 3600


@pytest.fixture
def bctl(control_factory):
    return control_factory("--schedule-hour", str(SCHEDULE_HOUR_MS), "--backup-retry-delay",
                           "300", "--backup-max-attempts", "2")


@pytest.fixture
def btenant(bctl):
    t = bctl.create_tenant()
    return t["id"], bctl.create_token(t["id"])["secret"]


def create(control, tok, name, shards, **extra):
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": name, "memory": f"{32 * shards}mb", "shards": shards,
                          **extra})
    assert r.status_code == 202, r.text
    iid, password = r.json()["instance"]["id"], r.json()["credentials"]["password"]
    return iid, password, control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)


def client(inst, password):
    if inst["shards"] == 1:
        return redis.Redis(host=HOST, port=inst["endpoint"]["port"], password=password,
                           decode_responses=True, socket_timeout=10)
    return RedisCluster(startup_nodes=[ClusterNode(n["host"], n["port"]) for n in inst["nodes"]],
                        password=password, decode_responses=True, socket_timeout=10)


def fill(c, seed=7, n=60):
    """Keys of every common type, spread over all slots; returns their names."""
    rnd = random.Random(seed)
    keys = []
    for i in range(n):
        k = f"s:{i}:{rnd.randrange(10**6)}"
        c.set(k, "v" * rnd.randrange(1, 300))
        keys.append(k)
        k = f"n:{i}"
        c.set(k, rnd.randrange(-10**12, 10**12))
        keys.append(k)
        k = f"t:{i}"
        c.set(k, i, ex=TTL_S)
        keys.append(k)
    for i in range(n // 4):
        size = 5 if i % 2 else 300
        c.rpush(f"l:{i}", *[str(rnd.randrange(10**9)) for _ in range(size)])
        c.hset(f"h:{i}", mapping={f"f{j}": f"v{j}" for j in range(size)})
        c.sadd(f"set:{i}", *range(size))
        c.zadd(f"z:{i}", {f"m{j}": rnd.uniform(-100, 100) for j in range(size)})
        keys += [f"l:{i}", f"h:{i}", f"set:{i}", f"z:{i}"]
    c.pfadd("hll", *[f"e{j}" for j in range(100)])
    keys.append("hll")
    return keys


def contents(c, keys):
    """{key: (type, value)}; a HyperLogLog (binary) by its count."""
    return {k: ("hll", c.pfcount(k)) if k == "hll" else key_value(c, k) for k in keys}


def dbsize(c):
    n = c.dbsize(target_nodes=RedisCluster.PRIMARIES) if isinstance(c, RedisCluster) else c.dbsize()
    return sum(n.values()) if isinstance(n, dict) else n


def take_backup(control, iid, tok=None):
    r = control.api("POST", f"/v1/instances/{iid}/backups", token=tok)
    assert r.status_code == 202, r.text
    assert r.json()["operation"]["kind"] == "backup"
    bid = r.json()["backup"]["id"]
    return wait_backup(control, bid, tok)


def wait_backup(control, bid, tok=None, want="succeeded"):
    def done():
        b = control.api("GET", f"/v1/backups/{bid}", token=tok).json()
        return b if b["status"] in ("succeeded", "failed") else None

    b = wait_for(done, BACKUP_TIMEOUT, f"backup {bid}")
    assert b["status"] == want, b
    return b


def events(control, iid, tok=None):
    items, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = control.api("GET", f"/v1/instances/{iid}/events", token=tok, params=params).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_backup_restores_into_an_instance_of_another_shard_count(bctl, btenant):
    _, tok = btenant
    src, pw, inst = create(bctl, tok, "src", 2)
    c = client(inst, pw)
    keys = fill(c)
    want = contents(c, keys)
    c.close()
    b = take_backup(bctl, src, tok)
    assert b["trigger"] == "manual" and b["shards"] == 2 and b["size"] > 0
    assert b["duration_ms"] is not None and b["attempts"] == 1
    m = b["manifest"]
    assert [s["shard"] for s in m["shards"]] == [0, 1]
    assert m["shards"][0]["slot_ranges"] == [{"start": 0, "end": 8191}]
    assert all(len(s["sha256"]) == 64 and s["size"] > 0 for s in m["shards"])
    assert m["instance"]["shards"] == 2 and m["instance"]["name"] == "src"
    listed = bctl.api("GET", f"/v1/instances/{src}/backups", token=tok).json()["items"]
    assert [x["id"] for x in listed] == [b["id"]]
    for shards in (3, 1):
        dst, pw2, inst2 = create(bctl, tok, f"dst{shards}", shards, restore_from=b["id"])
        assert inst2["restored_from"] == b["id"]
        c2 = client(inst2, pw2)
        assert contents(c2, keys) == want
        assert dbsize(c2) == len(keys)
        assert 0 < c2.ttl("t:1") <= TTL_S
        c2.close()
    types = [e["type"] for e in events(bctl, dst, tok)]
    assert "restored" in types


def test_exported_rdb_loads_into_redis_server(bctl, btenant, tmp_path):
    _, tok = btenant
    iid, pw, inst = create(bctl, tok, "exp", 3)
    c = client(inst, pw)
    keys = fill(c, seed=11, n=40)
    want = contents(c, keys)
    c.close()
    b = take_backup(bctl, iid, tok)
    r = bctl.api("GET", f"/v1/backups/{b['id']}/download", token=tok)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/octet-stream"
    assert r.content[:5] == b"REDIS"
    (tmp_path / "dump.rdb").write_bytes(r.content)
    check = subprocess.run(["/usr/bin/redis-check-rdb", str(tmp_path / "dump.rdb")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    p = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", HOST, "--dir",
                          str(tmp_path), "--dbfilename", "dump.rdb", "--save", "",
                          "--appendonly", "no"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: listening(port), 30, "redis-server")
        rs = redis.Redis(host=HOST, port=port, decode_responses=True, socket_timeout=10)
        wait_for(lambda: rs.info("persistence")["loading"] == 0, 30, "redis-server to load")
        assert rs.dbsize() == len(keys)
        assert contents(rs, keys) == want
        rs.connection_pool.disconnect()
    finally:
        p.kill()
        p.wait(timeout=10)


def test_corrupt_backup_is_refused_and_the_instance_untouched(bctl, btenant):
    _, tok = btenant
    iid, pw, inst = create(bctl, tok, "cor", 2)
    c = client(inst, pw)
    c.set("before", "1")
    b = take_backup(bctl, iid, tok)
    c.set("after", "2")
    path = bctl.data_dir / "backups" / b["id"] / "shard-1.rdb"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    pids = {n["id"]: n["pid"] for n in inst["nodes"]}
    r = bctl.api("POST", f"/v1/instances/{iid}/restore", token=tok, json={"backup_id": b["id"]})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "backup_corrupt"
    assert "shard-1.rdb" in r.json()["error"]["message"]
    r = bctl.api("POST", "/v1/instances", token=tok,
                 json={"name": "from-corrupt", "memory": "32mb", "restore_from": b["id"]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "backup_corrupt"
    r = bctl.api("GET", f"/v1/backups/{b['id']}/download", token=tok)
    assert r.status_code == 422 and r.json()["error"]["code"] == "backup_corrupt"
    time.sleep(1)
    inst = bctl.instance(iid, token=tok)
    assert inst["status"] == "running"
    assert {n["id"]: n["pid"] for n in inst["nodes"]} == pids
    assert c.get("before") == "1" and c.get("after") == "2"
    c.close()
    listed = bctl.api("GET", "/v1/instances", token=tok).json()["items"]
    assert [i["name"] for i in listed] == ["cor"]


@pytest.mark.parametrize("appendonly", [False, True])
def test_restore_in_place_replaces_the_data(bctl, btenant, appendonly):
    _, tok = btenant
    iid, pw, inst = create(bctl, tok, "inplace", 2, replicas_per_shard=1,
                           persistence={"appendonly": appendonly})
    c = client(inst, pw)
    keys = fill(c, seed=3, n=30)
    want = contents(c, keys)
    b = take_backup(bctl, iid, tok)
    c.set("later", "x")
    c.delete(keys[0])
    c.set(keys[1], "changed")
    c.close()
    r = bctl.api("POST", f"/v1/instances/{iid}/restore", token=tok, json={"backup_id": b["id"]})
    assert r.status_code == 202, r.text
    op = r.json()["operation"]
    assert op["kind"] == "restore"

    def done():
        o = bctl.api("GET", f"/v1/operations/{op['id']}", token=tok).json()
        return o if o["status"] in ("succeeded", "failed") else None

    assert wait_for(done, RUN_TIMEOUT, "the restore")["status"] == "succeeded"
    inst = bctl.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    c = client(inst, pw)
    assert contents(c, keys) == want
    assert c.get("later") is None and dbsize(c) == len(keys)
    # the replicas copied the restored data
    for n in inst["nodes"]:
        if n["role"] == "replica":
            rc = redis.Redis(host=HOST, port=n["port"], password=pw, decode_responses=True)
            wait_for(lambda: rc.info("replication").get("master_link_status") == "up",
                     RUN_TIMEOUT, "a replica to sync")
            wait_for(lambda: rc.dbsize() > 0, RUN_TIMEOUT, "a replica to hold data")
            rc.connection_pool.disconnect()
    c.close()


def test_schedule_takes_backups_and_retention_prunes(bctl, btenant):
    _, tok = btenant
    iid, _, _ = create(bctl, tok, "sched", 1, backup_schedule={"every_hours": 1},
                       backup_retention={"count": 2})

    def pruned():
        return [e for e in events(bctl, iid, tok) if e["type"] == "backup_pruned"]

    wait_for(pruned, BACKUP_TIMEOUT, "retention to prune a scheduled backup", interval=0.5)
    # Stop the schedule, then once nothing runs, the retention holds exactly.
    r = bctl.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"backup_schedule": None})
    assert r.status_code == 202 and r.json()["instance"]["backup_schedule"] is None

    def settled():
        items = bctl.api("GET", f"/v1/instances/{iid}/backups", token=tok).json()["items"]
        return items if all(b["status"] in ("succeeded", "failed") for b in items) else None

    wait_for(settled, BACKUP_TIMEOUT, "the last scheduled backup")
    time.sleep(1)
    items = settled()
    ok = [b for b in items if b["trigger"] == "schedule" and b["status"] == "succeeded"]
    assert len(ok) == 2, items
    gone = pruned()[0]["reason"].split()[1]
    assert bctl.api("GET", f"/v1/backups/{gone}", token=tok).status_code == 404
    assert not (bctl.data_dir / "backups" / gone).exists()
    # A manual backup is not subject to the retention.
    take_backup(bctl, iid, tok)


def test_cron_schedule_fires(bctl, btenant):
    _, tok = btenant
    iid, _, inst = create(bctl, tok, "cron", 1,
                          backup_schedule={"cron": "* * * * *", "timezone": "Europe/Berlin"})
    assert inst["backup_schedule"] == {"cron": "* * * * *", "timezone": "Europe/Berlin"}

    def scheduled():
        items = bctl.api("GET", f"/v1/instances/{iid}/backups", token=tok).json()["items"]
        return [b for b in items if b["trigger"] == "schedule" and b["status"] == "succeeded"]

    b = wait_for(scheduled, CRON_TIMEOUT, "a backup from the one-minute cron", interval=1)[0]
    assert b["size"] > 0


def test_failed_backup_is_retried_and_reported(bctl, btenant, tmp_path):
    _, tok = btenant
    iid, pw, inst = create(bctl, tok, "failing", 1)
    c = redis.Redis(host=HOST, port=inst["endpoint"]["port"], password=pw, socket_timeout=5)
    # Snapshots of this node now fail: their directory is gone.
    gone = tmp_path / "gone"
    gone.mkdir()
    c.config_set("dir", str(gone))
    shutil.rmtree(gone)
    r = bctl.api("POST", f"/v1/instances/{iid}/backups", token=tok)
    b = wait_backup(bctl, r.json()["backup"]["id"], tok, want="failed")
    assert b["attempts"] == 2 and b["error"]
    types = [e["type"] for e in events(bctl, iid, tok)]
    assert "backup_retry" in types and "backup_failed" in types
    op = bctl.api("GET", f"/v1/operations/{r.json()['operation']['id']}", token=tok).json()
    assert op["status"] == "failed"
    c.connection_pool.disconnect()


def test_backup_requests_are_validated(bctl, btenant):
    _, tok = btenant
    for bad in ({"cron": "61 * * * *"}, {"every_hours": 0}, {"cron": "* * * * *",
                                                             "timezone": "Mars/Base"},
                {"cron": "@daily", "every_hours": 2}, "daily"):
        r = bctl.api("POST", "/v1/instances", token=tok,
                     json={"name": "v", "memory": "8mb", "backup_schedule": bad})
        assert r.status_code == 422 and r.json()["error"]["field"] == "backup_schedule", bad
    r = bctl.api("POST", "/v1/instances", token=tok,
                 json={"name": "v", "memory": "8mb", "backup_retention": {"count": 0}})
    assert r.status_code == 422
    r = bctl.api("POST", "/v1/instances", token=tok,
                 json={"name": "v", "memory": "8mb", "restore_from": "bak_nope"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "restore_from"
    assert bctl.api("GET", "/v1/backups/bak_nope", token=tok).status_code == 404
    iid, _, _ = create(bctl, tok, "v2", 1)
    b = take_backup(bctl, iid, tok)
    other = bctl.create_tenant()
    otok = bctl.create_token(other["id"])["secret"]
    assert bctl.api("GET", f"/v1/backups/{b['id']}", token=otok).status_code == 404
    r = bctl.api("POST", f"/v1/instances/{iid}/restore", token=tok, json={"backup_id": "x"})
    assert r.status_code == 422
    # A deleted instance's backups stay, listed and restorable.
    assert bctl.api("DELETE", f"/v1/instances/{iid}", token=tok).status_code == 202
    bctl.wait_status(iid, None, RUN_TIMEOUT, token=tok)
    listed = bctl.api("GET", f"/v1/instances/{iid}/backups", token=tok).json()["items"]
    assert [x["id"] for x in listed] == [b["id"]]
    assert bctl.api("DELETE", f"/v1/backups/{b['id']}", token=tok).status_code == 204
    assert bctl.api("GET", f"/v1/backups/{b['id']}", token=tok).status_code == 404
    assert not (bctl.data_dir / "backups" / b["id"]).exists()


def test_backup_survives_a_daemon_crash(bctl, btenant):
    """kill -9 of dfly-control right after a backup was asked: after the restart the backup
    is taken (a new attempt) and succeeds."""
    _, tok = btenant
    iid, pw, inst = create(bctl, tok, "crash", 2)
    c = client(inst, pw)
    keys = fill(c, seed=5, n=20)
    want = contents(c, keys)
    c.close()
    r = bctl.api("POST", f"/v1/instances/{iid}/backups", token=tok)
    bid = r.json()["backup"]["id"]
    bctl.kill()
    bctl.start()
    wait_backup(bctl, bid, tok)
    dst, pw2, inst2 = create(bctl, tok, "crash-copy", 1, restore_from=bid)
    c2 = client(inst2, pw2)
    assert contents(c2, keys) == want
    c2.close()


def test_s3_store_holds_backups(control_factory):
    """--backup-store s3 against an S3-compatible server (s3fake.py checks every request's
    Signature Version 4): backups go there, restore and download read them back, a corrupt
    object is refused, delete removes them, wrong credentials fail the backup."""
    from s3fake import S3Fake

    with S3Fake("AKIDDFLYTEST", "s3cr3t-key") as s3:
        def start(secret):
            c = control_factory("--backup-store", "s3", "--backup-s3-endpoint", s3.url,
                                "--backup-s3-bucket", "dfly-backups", "--backup-s3-prefix",
                                "prod", "--backup-retry-delay", "200", "--backup-max-attempts",
                                "2", start=False)
            c.env.update(AWS_ACCESS_KEY_ID="AKIDDFLYTEST", AWS_SECRET_ACCESS_KEY=secret)
            return c.start()

        ctl = start("s3cr3t-key")
        t = ctl.create_tenant()
        tok = ctl.create_token(t["id"])["secret"]
        iid, pw, inst = create(ctl, tok, "s3src", 2)
        c = client(inst, pw)
        keys = fill(c, seed=9, n=20)
        want = contents(c, keys)
        c.close()
        b = take_backup(ctl, iid, tok)
        names = sorted(k for k in s3.objects if k.startswith(f"dfly-backups/prod/{b['id']}/"))
        assert [n.rsplit("/", 1)[1] for n in names] == ["manifest.json", "shard-0.rdb",
                                                        "shard-1.rdb"]
        assert not (ctl.data_dir / "backups" / b["id"]).exists()
        dst, pw2, inst2 = create(ctl, tok, "s3dst", 1, restore_from=b["id"])
        c2 = client(inst2, pw2)
        assert contents(c2, keys) == want
        c2.close()
        assert ctl.api("GET", f"/v1/backups/{b['id']}/download", token=tok).status_code == 200
        key = f"dfly-backups/prod/{b['id']}/shard-0.rdb"
        s3.objects[key] = s3.objects[key][:-1] + b"\x00"
        r = ctl.api("POST", f"/v1/instances/{iid}/restore", token=tok, json={"backup_id": b["id"]})
        assert r.status_code == 422 and r.json()["error"]["code"] == "backup_corrupt"
        assert ctl.api("DELETE", f"/v1/backups/{b['id']}", token=tok).status_code == 204
        assert not [k for k in s3.objects if b["id"] in k]
        ctl.stop()
        # Another secret: S3 refuses every request; the backup fails after its attempts.
        bad = start("not-the-secret")
        t = bad.create_tenant()
        tok = bad.create_token(t["id"])["secret"]
        iid, _, _ = create(bad, tok, "s3bad", 1)
        r = bad.api("POST", f"/v1/instances/{iid}/backups", token=tok)
        failed = wait_backup(bad, r.json()["backup"]["id"], tok, want="failed")
        assert failed["attempts"] == 2 and "403" in failed["error"], failed
        bad.stop()
