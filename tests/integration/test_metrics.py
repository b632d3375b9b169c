"""GET /metrics on the main port: Prometheus text (format 0.0.4) with the server's counters,
404 for other paths, 400 and a close for a malformed request line, and RESP on the same port
before, after and beside HTTP."""

import re
import socket
import time

import pytest
import requests

from shardkeys import key_shard, keys_per_shard

NSHARDS = 2
HTTP_TIMEOUT = 10.0
TTL_MS = 50
EXPIRE_DEADLINE_S = 10.0
# name{labels} value, as the text format allows (no timestamps here).
SAMPLE_RE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? '
    r"(-?[0-9.eE+-]+|NaN|[+-]Inf)$"
)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
METRIC_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def url(server, path="/metrics"):
    return f"http://127.0.0.1:{server.port}{path}"


def parse(text):
    """Checks the exposition format line by line; returns {(name, labels): value} and the
    declared types."""
    samples, types, helps = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, f"HELP twice for {name}"
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in METRIC_TYPES, line
            assert name not in types, f"TYPE twice for {name}"
            types[name] = kind
            continue
        assert line and not line.startswith("#"), f"unexpected line {line!r}"
        m = SAMPLE_RE.match(line)
        assert m, f"not a sample: {line!r}"
        name = m.group(1)
        assert name in types, f"sample before its TYPE: {line!r}"
        labels = tuple(LABEL_RE.findall(m.group(2) or ""))
        assert (name, labels) not in samples, f"duplicate sample {line!r}"
        samples[(name, labels)] = float(m.group(4))
    return samples, types


def scrape(server):
    resp = requests.get(url(server), timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(resp.text)


def value(samples, name, **labels):
    return samples[(name, tuple(labels.items()))]


def test_metrics_format_and_basics(server, r):
    samples, types = scrape(server)
    assert value(samples, "dragonfly_uptime_in_seconds") >= 0
    assert value(samples, "dragonfly_connected_clients") >= 1
    assert value(samples, "dragonfly_memory_used_bytes") > 0
    assert value(samples, "dragonfly_threads") == NSHARDS
    for name in ("dragonfly_expired_keys_total", "dragonfly_evicted_keys_total",
                 "dragonfly_keyspace_hits_total", "dragonfly_keyspace_misses_total",
                 "dragonfly_net_input_bytes_total", "dragonfly_net_output_bytes_total",
                 "dragonfly_commands_processed_total"):
        assert types[name] == "counter"
        assert value(samples, name) >= 0
    assert types["dragonfly_memory_used_bytes"] == "gauge"
    assert types["dragonfly_db_keys"] == "gauge"


def test_metrics_follow_the_data(server, r):
    keys = keys_per_shard("m", NSHARDS, 10)
    assert {key_shard(k, NSHARDS) for k in keys} == set(range(NSHARDS))
    before, _ = scrape(server)
    for k in keys:
        r.set(k, "x" * 100)
    for k in keys:
        r.get(k)
        r.get(k + ":missing")
    server.client(db=3).set("other-db", "v")
    after, _ = scrape(server)
    assert value(after, "dragonfly_db_keys", db="db0") == len(keys)
    assert value(after, "dragonfly_db_keys", db="db3") == 1
    assert value(after, "dragonfly_commands_total", cmd="set") == len(keys) + 1
    assert value(after, "dragonfly_commands_total", cmd="get") == 2 * len(keys)
    assert value(after, "dragonfly_commands_duration_seconds_total", cmd="get") >= 0
    grew = lambda name: value(after, name) - value(before, name)  # noqa: E731
    assert grew("dragonfly_keyspace_hits_total") == len(keys)
    assert grew("dragonfly_keyspace_misses_total") == len(keys)
    assert grew("dragonfly_net_input_bytes_total") > 0
    assert grew("dragonfly_net_output_bytes_total") > 0
    assert grew("dragonfly_commands_processed_total") >= 3 * len(keys)
    assert grew("dragonfly_memory_used_bytes") > len(keys) * 100


def test_metrics_expired_and_evicted(server, r):
    for k in keys_per_shard("e", NSHARDS, 3):
        r.set(k, "v", px=TTL_MS)
    deadline = time.monotonic() + EXPIRE_DEADLINE_S
    while time.monotonic() < deadline:
        samples, _ = scrape(server)
        if value(samples, "dragonfly_expired_keys_total") == 2 * 3:
            break
        time.sleep(0.05)
    assert value(samples, "dragonfly_expired_keys_total") == 2 * 3
    r.config_set("maxmemory-policy", "allkeys-random")
    r.config_set("maxmemory", r.info("memory")["used_memory"] + 100_000)
    pipe = r.pipeline(transaction=False)
    for k in keys_per_shard("ev", NSHARDS, 200):
        pipe.set(k, "v" * 1000)
    pipe.execute()
    samples, _ = scrape(server)
    assert value(samples, "dragonfly_evicted_keys_total") > 0
    assert value(samples, "dragonfly_memory_max_bytes") > 0


def test_other_paths_are_404(server):
    for path in ("/", "/metricsx", "/foo/bar"):
        resp = requests.get(url(server, path), timeout=HTTP_TIMEOUT)
        assert resp.status_code == 404
    assert requests.get(url(server, "/metrics?x=1"), timeout=HTTP_TIMEOUT).status_code == 200


def raw_http(server, request):
    """Sends request bytes; returns everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=HTTP_TIMEOUT) as s:
        s.sendall(request)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


@pytest.mark.parametrize(
    "request_line",
    [b"GET /metrics extra HTTP/1.1", b"GET /metrics  HTTP/1.1", b"GET /metrics HTTP/1.x"],
)
def test_malformed_request_line_gets_400_and_close(server, request_line):
    data = raw_http(server, request_line + b"\r\nHost: x\r\n\r\n")  # returns: the server closed
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 400 ")
    assert "connection: close" in head.lower()


def test_keep_alive_serves_several_requests(server):
    with requests.Session() as s:
        for _ in range(3):
            resp = s.get(url(server), timeout=HTTP_TIMEOUT)
            assert resp.status_code == 200
    samples, _ = scrape(server)
    assert value(samples, "dragonfly_connected_clients") >= 1


def test_connection_close_is_honoured(server):
    data = raw_http(server, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    body = data.split(b"\r\n\r\n", 1)[1]
    parse(body.decode())


def test_resp_still_works_on_the_same_port(server, r):
    assert r.set("k", "v") is True
    assert requests.get(url(server), timeout=HTTP_TIMEOUT).status_code == 200
    assert r.get("k") == "v"
    assert server.cli("PING").strip() == "PONG"
    samples, _ = scrape(server)
    assert value(samples, "dragonfly_commands_total", cmd="ping") >= 1
