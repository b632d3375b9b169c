"""Snapshots: SAVE, BGSAVE, save points, the snapshot on shutdown, their files (readable by
Redis 7.0's redis-check-rdb and redis-server), point-in-time consistency while clients write,
and failures that leave the old file and the server intact."""

import resource
import subprocess
import threading
import time

import pytest
import redis

import dataset

REDIS_CHECK_RDB = "/usr/bin/redis-check-rdb"
SAVE_WAIT_S = 60  # bound on waiting for a background snapshot
SLOW_S = 120  # socket timeout for DEBUG POPULATE/DIGEST of big datasets (sanitizer builds)
POLL_S = 0.02
CHECK_TIMEOUT_S = 60


def raw(r, *args):
    """A command's reply as the server sent it (redis-py turns BGSAVE's status into True)."""
    conn = r.connection_pool.get_connection(args[0])
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def info(r, field):
    return r.info("persistence")[field]


def wait_idle(r, timeout=SAVE_WAIT_S):
    deadline = time.monotonic() + timeout
    while info(r, "rdb_bgsave_in_progress") and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert info(r, "rdb_bgsave_in_progress") == 0


def check_rdb(path):
    res = subprocess.run(
        [REDIS_CHECK_RDB, str(path)], capture_output=True, text=True, timeout=CHECK_TIMEOUT_S
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "RDB looks OK" in res.stdout
    return res.stdout


def redis_digest_of(redis_server_factory, path):
    """Loads the file into a real redis-server 7.0 and returns its DEBUG DIGEST and client."""
    import shutil

    rs = redis_server_factory("--dbfilename", "loaded.rdb", "--enable-debug-command", "yes")
    # redis-server loads at start only: restart it on a copy of the file.
    rs.stop()
    shutil.copy(path, rs.workdir / "loaded.rdb")
    rs.start()
    c = rs.client(decode_responses=True, socket_timeout=SLOW_S)
    return dataset.digest(c), c


# --- SAVE and the file format ---------------------------------------------------------------


def test_save_writes_a_file_redis_reads(server, r, redis_server_factory):
    dataset.fill(r, seed=7)
    before = dataset.digest(r)
    expected = dataset.snapshot_of(r)
    assert r.save() is True
    path = server.workdir / "dump.rdb"
    out = check_rdb(path)
    assert "Checksum OK" in out
    got, rc = redis_digest_of(redis_server_factory, path)
    assert dataset.snapshot_of(rc) == expected
    assert got == before
    assert rc.fcall("dset_echo", 0, "hi") == "hi"


def test_save_of_an_empty_dataset(server, r, redis_server_factory):
    assert r.save() is True
    check_rdb(server.workdir / "dump.rdb")
    _, rc = redis_digest_of(redis_server_factory, server.workdir / "dump.rdb")
    assert rc.dbsize() == 0


def test_expired_keys_are_left_out(server, r, redis_server_factory):
    r.set("gone", 1, px=1)
    r.set("kept", 1, ex=1000)
    time.sleep(0.05)
    assert r.save() is True
    _, rc = redis_digest_of(redis_server_factory, server.workdir / "dump.rdb")
    assert rc.keys("*") == ["kept"]
    assert 990 <= rc.ttl("kept") <= 1000


def test_large_strings_are_lzf_compressed(server, r):
    r.set("big", "abc" * 100000)
    assert r.save() is True
    assert (server.workdir / "dump.rdb").stat().st_size < 20000


def test_dbfilename_and_dir(server, r, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    r.set("k", "v")
    r.config_set("dir", str(other))
    r.config_set("dbfilename", "custom.rdb")
    assert r.save() is True
    check_rdb(other / "custom.rdb")


# --- BGSAVE, LASTSAVE, INFO -----------------------------------------------------------------


def test_bgsave_info_and_lastsave(server, r):
    r.set("a", 1)
    assert info(r, "rdb_changes_since_last_save") >= 1
    before = r.lastsave()
    saves = info(r, "rdb_saves")
    time.sleep(1.1)  # LASTSAVE has a resolution of one second
    assert raw(r, "BGSAVE") == "Background saving started"
    wait_idle(r)
    p = r.info("persistence")
    assert p["rdb_last_bgsave_status"] == "ok"
    assert p["rdb_saves"] == saves + 1
    assert p["rdb_changes_since_last_save"] == 0
    assert r.lastsave() > before
    check_rdb(server.workdir / "dump.rdb")


def test_bgsave_while_one_runs(server):
    r = server.client(socket_timeout=SLOW_S)
    r.execute_command("DEBUG", "POPULATE", 300000, "key", 100)
    assert raw(r, "BGSAVE") == "Background saving started"
    saw_error = saw_schedule = False
    deadline = time.monotonic() + SAVE_WAIT_S
    while info(r, "rdb_bgsave_in_progress") and time.monotonic() < deadline:
        try:
            raw(r, "BGSAVE")
        except redis.ResponseError as e:
            assert str(e) == "Background save already in progress"
            saw_error = True
            if raw(r, "BGSAVE", "SCHEDULE") == "Background saving scheduled":
                saw_schedule = True
            break
    wait_idle(r)
    if saw_schedule:
        # The scheduled one runs after the first: a second save is counted.
        deadline = time.monotonic() + SAVE_WAIT_S
        while info(r, "rdb_saves") < 2 and time.monotonic() < deadline:
            time.sleep(POLL_S)
        assert info(r, "rdb_saves") == 2
    assert saw_error or info(r, "rdb_saves") >= 1  # the first may finish before we ask
    wait_idle(r)


def test_bgsave_syntax(r):
    with pytest.raises(redis.ResponseError, match="syntax error"):
        raw(r, "BGSAVE", "NOW")


def test_save_is_refused_in_multi(r):
    p = r.pipeline(transaction=True)
    p.execute_command("SAVE")
    with pytest.raises(redis.ResponseError, match="Command not allowed inside a transaction"):
        p.execute()


# --- point in time --------------------------------------------------------------------------


def writer(port, stop, acked, prefix):
    c = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
    i = 0
    try:
        while not stop.is_set() and i < 200000:
            p = c.pipeline(transaction=False)
            for j in range(50):
                k = f"key:{(i * 50 + j) * 7 % 400000}"
                p.set(k, f"changed-{prefix}-{i}")
                p.delete(f"key:{(i * 50 + j) * 13 % 400000 + 1}")
                p.set(f"new-{prefix}-{i}-{j}", 1)
            p.execute()
            acked.append(i)
            i += 1
    finally:
        c.connection_pool.disconnect()


def test_bgsave_is_a_point_in_time_while_clients_write(server, redis_server_factory):
    r = server.client(socket_timeout=SLOW_S)
    r.execute_command("DEBUG", "POPULATE", 400000, "key", 64)
    r.hset("h", mapping={f"f{i}": i for i in range(1000)})
    expected = dataset.digest(r)
    stop = threading.Event()
    acked = []
    threads = [
        threading.Thread(target=writer, args=(server.port, stop, acked, t)) for t in range(3)
    ]
    assert raw(r, "BGSAVE") == "Background saving started"
    for t in threads:
        t.start()
    deadline = time.monotonic() + SAVE_WAIT_S
    writes_during = 0
    while info(r, "rdb_bgsave_in_progress") and time.monotonic() < deadline:
        writes_during = len(acked)
        time.sleep(POLL_S)
    stop.set()
    for t in threads:
        t.join(timeout=SAVE_WAIT_S)
    assert info(r, "rdb_last_bgsave_status") == "ok"
    assert dataset.digest(r) != expected  # the writers changed the live data
    got, rc = redis_digest_of(redis_server_factory, server.workdir / "dump.rdb")
    assert got == expected
    assert rc.dbsize() == 400001
    print(f"pipelines acknowledged while the snapshot ran: {writes_during}")


def test_flushall_during_bgsave_keeps_the_snapshot_whole(server, redis_server_factory):
    r = server.client(socket_timeout=SLOW_S)
    r.execute_command("DEBUG", "POPULATE", 300000, "key", 32)
    expected = dataset.digest(r)
    assert raw(r, "BGSAVE") == "Background saving started"
    r.flushall()
    r.set("after", 1)
    wait_idle(r)
    got, rc = redis_digest_of(redis_server_factory, server.workdir / "dump.rdb")
    assert got == expected
    assert rc.get("after") is None


def test_swapdb_during_bgsave(server, redis_server_factory):
    r = server.client(socket_timeout=SLOW_S)
    r.execute_command("DEBUG", "POPULATE", 200000, "key", 16)
    r.execute_command("SELECT", 0)
    expected = dataset.digest(r)
    assert raw(r, "BGSAVE") == "Background saving started"
    r.swapdb(0, 1)
    wait_idle(r)
    got, rc = redis_digest_of(redis_server_factory, server.workdir / "dump.rdb")
    assert got == expected
    assert rc.dbsize() == 200000


# --- failures -------------------------------------------------------------------------------


def test_full_disk_keeps_the_old_file_and_serves(server, r):
    r.set("old", "1")
    assert r.save() is True
    path = server.workdir / "dump.rdb"
    old = path.read_bytes()
    # A file size limit on the server process stands in for a full disk.
    limit = 64 * 1024
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    r.execute_command("DEBUG", "POPULATE", 50000, "key", 100)
    with pytest.raises(redis.ResponseError, match="snapshot failed: cannot write .*File too large"):
        r.save()
    assert path.read_bytes() == old
    assert info(r, "rdb_last_bgsave_status") == "err"
    assert not [p for p in server.workdir.iterdir() if ".tmp-" in p.name]
    assert r.set("still", "serving") is True
    assert r.dbsize() == 50002
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert r.save() is True
    assert info(r, "rdb_last_bgsave_status") == "ok"


def test_unwritable_directory(server, r, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    r.config_set("dir", str(gone))
    gone.rmdir()
    with pytest.raises(redis.ResponseError, match="cannot create .*No such file or directory"):
        r.save()
    with pytest.raises(redis.ResponseError, match="cannot create"):
        raw(r, "BGSAVE")
    assert r.ping() is True
    r.config_set("dir", str(server.workdir))


# --- automatic snapshots ----------------------------------------------------------------------


def test_save_points(server_factory):
    s = server_factory("--save", "1 3")
    c = s.client()
    c.set("a", 1)
    time.sleep(1.5)
    assert c.info("persistence")["rdb_saves"] == 0  # one change: below the save point
    c.set("b", 1)
    c.set("c", 1)
    deadline = time.monotonic() + 10
    while c.info("persistence")["rdb_saves"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert c.info("persistence")["rdb_saves"] >= 1
    check_rdb(s.workdir / "dump.rdb")


def test_shutdown_saves_and_nosave_does_not(server_factory):
    s = server_factory()
    c = s.client()
    c.set("k", "v")
    c.shutdown(nosave=True)  # redis-py swallows the closed connection
    s.proc.wait(timeout=10)
    assert not (s.workdir / "dump.rdb").exists()

    s2 = server_factory()
    c2 = s2.client()
    c2.set("k", "v")
    c2.shutdown()
    s2.proc.wait(timeout=10)
    assert s2.proc.returncode == 0
    check_rdb(s2.workdir / "dump.rdb")


def test_sigterm_saves(server_factory, redis_server_factory):
    s = server_factory()
    c = s.client()
    c.set("k", "v")
    s.stop()
    assert s.proc.returncode == 0
    _, rc = redis_digest_of(redis_server_factory, s.workdir / "dump.rdb")
    assert rc.get("k") == "v"


def test_empty_dbfilename_disables_snapshots(server_factory):
    s = server_factory("--dbfilename", "")
    c = s.client()
    with pytest.raises(redis.ResponseError, match="snapshots are disabled"):
        c.save()
    s.stop()
    assert not list(s.workdir.glob("*.rdb"))


def test_snapshot_cron(server_factory):
    s = server_factory("--snapshot_cron", "* * * * *")
    c = s.client()
    c.set("k", "v")
    # Every minute, at second 0: within 61 s one snapshot starts.
    deadline = time.monotonic() + 65
    while c.info("persistence")["rdb_saves"] == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert c.info("persistence")["rdb_saves"] >= 1
    assert "snapshot: starting (snapshot_cron)" in s.log()
    check_rdb(s.workdir / "dump.rdb")


def test_snapshot_cron_is_validated(dfly_binary, r, tmp_path):
    with pytest.raises(redis.ResponseError, match="minute"):
        r.config_set("snapshot_cron", "61 * * * *")
    r.config_set("snapshot_cron", "*/5 * * * *")
    assert r.config_get("snapshot_cron") == {"snapshot_cron": "*/5 * * * *"}
    res = subprocess.run(
        [dfly_binary, "--port", "0", "--dir", str(tmp_path), "--snapshot_cron", "61 * * * *"],
        capture_output=True, text=True, timeout=CHECK_TIMEOUT_S,
    )
    assert res.returncode == 2
    assert "invalid --snapshot_cron '61 * * * *': minute" in res.stderr
