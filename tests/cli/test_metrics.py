"""dfly metrics (issue 14) against a real dfly-control scraping its nodes every second: after
some load the chart and the JSON show non-zero figures, the chart is Unicode on a UTF-8
terminal and ASCII otherwise, and --watch redraws until Ctrl-C, which ends it with status 0."""

import json
import os
import pty
import select
import signal
import subprocess
import time

import pytest
import redis

from conftest import Cli, wait_for

SCRAPE_MS = 1000
MEMORY = "32mb"
WAIT = ("--wait", "--timeout", "90s")
SCRAPE_TIMEOUT = 20  # seconds for a few scrapes to land
KEYS = 2000
WATCH_RUN = 2.0  # seconds --watch runs before Ctrl-C
STOP_TIMEOUT = 10
BLOCKS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def load(node, password, keys=KEYS):
    """SET and GET of `keys` keys on the node."""
    c = redis.Redis(host="127.0.0.1", port=node["port"], password=password, socket_timeout=10)
    pipe = c.pipeline(transaction=False)
    for i in range(keys):
        pipe.set(f"k{i}", "v" * 100)
        pipe.get(f"k{i}")
    pipe.execute()
    c.connection_pool.disconnect()


@pytest.fixture
def loaded(control_factory, tmp_path):
    """(cli, instance name, node, password) of a daemon scraping every second, after some load
    on a one-shard instance."""
    control = control_factory("--scrape-interval", str(SCRAPE_MS))
    cli = Cli(tmp_path / "cli", endpoint=control.url, token=control.token)
    t = cli.json("tenants", "create", "acme")
    out = cli.json("instances", "create", "cache", "--memory", MEMORY, "--tenant", t["id"], *WAIT)
    node = cli.json("instances", "get", "cache")["nodes"][0]
    load(node, out["credentials"]["password"])
    return cli, "cache", node, out["credentials"]["password"]


def series(body, name):
    """The instance series of that name (no points before the first scrape)."""
    return next((s for s in body["series"] if s["name"] == name and s["node_id"] is None),
                {"name": name, "points": []})


def test_metrics_after_load(loaded):
    cli, name, node, password = loaded

    def busy():
        load(node, password, KEYS // 10)  # ops between two scrapes, whenever they come
        body = cli.json("metrics", name, "--names", "ops_per_sec,keys,used_memory_bytes",
                        "--since", "5m")
        ops = [v for _, v in series(body, "ops_per_sec")["points"]]
        keys = [v for _, v in series(body, "keys")["points"]]
        return body if ops and max(ops) > 0 and keys and keys[-1] >= KEYS else None

    body = wait_for(busy, SCRAPE_TIMEOUT, "the load to show in the metrics", interval=0.5)
    assert {s["name"] for s in body["series"]} == {"ops_per_sec", "keys", "used_memory_bytes"}
    assert body["step"] >= 1 and body["to"] - body["from"] >= 290
    assert series(body, "used_memory_bytes")["points"][-1][1] > 0

    # the chart: a line per series with its latest figure; ASCII when stdout is no terminal
    p = cli("metrics", name, "-o", "table", "--since", "5m",
            "--names", "ops_per_sec,keys,hit_ratio")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("cache  last 5m  step ")
    keys_line = next(line for line in lines if line.startswith("keys "))
    assert keys_line.split()[-3] == "2.0k" and keys_line.endswith("max 2.0k")
    assert any(line.startswith("ops_per_sec ") and "/s" in line for line in lines)
    # a series without points in the range (no reads in a scrape interval yet) still shows
    assert any(line.startswith("hit_ratio ") for line in lines), p.stdout
    assert p.stdout.isascii()
    assert "#" in keys_line  # the highest ASCII level: keys stay at their maximum

    p = cli("metrics", name, "-o", "yaml", "--names", "keys")
    assert p.returncode == 0 and "resolution:" in p.stdout


def run_on_terminal(cli, *args, env=None):
    """Runs dfly with stdout on a pseudo-terminal; returns (status, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([cli.binary, *args], stdout=slave, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, env=cli.env(env))
    os.close(slave)
    out = b""
    deadline = time.monotonic() + STOP_TIMEOUT * 3
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return p.wait(timeout=STOP_TIMEOUT), out.decode()


def test_unicode_on_a_utf8_terminal(loaded):
    cli, name, _, _ = loaded
    def keys_seen():
        points = series(cli.json("metrics", name, "--names", "keys"), "keys")["points"]
        return points and points[-1][1] > 0

    wait_for(keys_seen, SCRAPE_TIMEOUT, "a scrape after the load", interval=0.5)
    utf8 = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "COLUMNS": "100"}
    rc, out = run_on_terminal(cli, "metrics", name, "--names", "keys", env=utf8)
    assert rc == 0 and any(b in out for b in BLOCKS), out
    rc, out = run_on_terminal(cli, "metrics", name, "--names", "keys", "--ascii", env=utf8)
    assert rc == 0 and "#" in out and not any(b in out for b in BLOCKS), out
    rc, out = run_on_terminal(cli, "metrics", name, "--names", "keys",
                              env={"LANG": "C", "LC_ALL": "C"})
    assert rc == 0 and not any(b in out for b in BLOCKS), out


def frames_of(text, fmt):
    """What --watch has drawn so far: JSON lines, or charts (by their header lines)."""
    if fmt == "json":
        return [line for line in text.splitlines() if line.strip()]
    return [line for line in text.splitlines() if line.startswith("cache  last 1h")]


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_watch_until_ctrl_c(loaded, fmt, tmp_path):
    cli, name, _, _ = loaded
    out_path = tmp_path / "watch.out"
    with open(out_path, "w") as out_file:
        p = subprocess.Popen([cli.binary, "metrics", name, "--watch", "--interval", "1s",
                              "--names", "keys", "-o", fmt], stdout=out_file,
                             stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=cli.env(),
                             text=True)
        try:
            time.sleep(WATCH_RUN)
            # a loaded machine may be slow to draw: Ctrl-C once two frames are out
            wait_for(lambda: len(frames_of(out_path.read_text(), fmt)) >= 2, STOP_TIMEOUT,
                     "two frames")
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=STOP_TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=STOP_TIMEOUT)
    assert p.returncode == 0, err
    frames = frames_of(out_path.read_text(), fmt)
    assert len(frames) >= 2
    if fmt == "json":
        assert all(s["name"] == "keys" for f in map(json.loads, frames) for s in f["series"])


def test_metrics_errors(loaded):
    cli, name, _, _ = loaded
    for bad in (["--since", "soon"], ["--step", "0s"], ["--interval", "10ms"]):
        p = cli("metrics", name, *bad)
        assert p.returncode == 2 and "not a duration" in p.stderr, (bad, p.stderr)
    assert cli("metrics", "nothing-here").returncode == 3
    p = cli("metrics", name, "--names", "no_such_series", "-o", "json")
    assert p.returncode in (0, 1), p.stderr  # an unknown name: no series, or the API's 400
