"""Smoke test: dfly-server starts, answers real clients and stops cleanly."""

import re
import signal
import subprocess
import time

SIGTERM_EXIT_TIMEOUT = 10.0  # seconds dfly-server may take to exit on SIGTERM
RUN_TIMEOUT = 10.0  # seconds for --version / --help


def test_ping_redis_cli(server):
    assert server.cli("PING").strip() == "PONG"


def test_ping_redis_py(r):
    assert r.ping() is True  # redis-py maps the PONG reply to True


def test_set_get_redis_cli(server):
    assert server.cli("SET", "greeting", "hello world").strip() == "OK"
    assert server.cli("GET", "greeting").strip() == "hello world"


def test_set_get_redis_py(r):
    assert r.set("k", "v1") is True
    assert r.get("k") == "v1"
    assert r.get("missing") is None


def test_set_get_binary(server):
    c = server.client(decode_responses=False)
    value = bytes(range(256)) * 4 + b"\r\n\x00"
    assert c.set(b"bin\x00key", value) is True
    assert c.get(b"bin\x00key") == value


def test_version(dfly_binary):
    res = subprocess.run(
        [dfly_binary, "--version"], capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert res.returncode == 0, res.stderr
    assert re.search(r"\d+\.\d+", res.stdout + res.stderr), res.stdout + res.stderr


def test_help_lists_port(dfly_binary):
    res = subprocess.run(
        [dfly_binary, "--help"], capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert res.returncode == 0, res.stderr
    assert "--port" in res.stdout + res.stderr


def test_sigterm_exits_cleanly(server):
    assert server.cli("PING").strip() == "PONG"
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    rc = server.proc.wait(timeout=SIGTERM_EXIT_TIMEOUT)
    assert rc == 0
    assert time.monotonic() - started < SIGTERM_EXIT_TIMEOUT
