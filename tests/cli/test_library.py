"""libdflyapi's HTTP behaviour, seen through dfly against a scripted fake API: retries with
back-off on 429/502-504 and lost connections, Idempotency-Key on creates (the same key on each
retry), no retry of a POST without one, Retry-After, pagination, headers, and answers that are
not the API's."""

import http.server
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import Cli


class FakeApi:
    """A tiny HTTP server answering from a script: a list of (status, body, headers) for each
    request in turn (the last one repeats). Records every request."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append({"method": self.command, "path": self.path,
                                      "headers": dict(self.headers), "body": body})
                i = min(len(fake.requests), len(fake.script)) - 1
                status, payload, headers = fake.script[i]
                if status == "drop":  # close without an answer
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake(tmp_path):
    made = []

    def make(*script):
        f = FakeApi(script)
        made.append(f)
        return f, Cli(tmp_path / "cli", endpoint=f.url, token="tok-" + "x" * 30)

    yield make
    for f in made:
        f.close()


PAGE = {"items": [], "next_cursor": None}
ERR_503 = {"error": {"code": "internal", "message": "busy"}}
TENANT = {"id": "ten_1", "name": "a", "max_instances": 1, "max_memory": 0, "created_at": "t",
          "updated_at": "t", "usage": {"instances": 0, "memory": 0}}


def test_retries_transient_errors_then_succeeds(fake):
    f, c = fake((503, ERR_503, None), (502, b"<html>bad gateway</html>", None),
                (200, PAGE, None))
    assert c.json("tenants", "list") == []
    assert len(f.requests) == 3
    r = f.requests[0]
    assert r["headers"]["Authorization"] == "Bearer tok-" + "x" * 30
    assert r["headers"]["User-Agent"].startswith("dfly-cli/")
    assert r["headers"]["Accept"] == "application/json"
    assert r["path"].startswith("/v1/tenants?limit=100")


def test_gives_up_after_the_retries(fake):
    f, c = fake((503, ERR_503, None))
    t0 = time.monotonic()
    p = c("tenants", "list")
    assert p.returncode == 1
    assert "busy (internal)" in p.stderr
    assert len(f.requests) == 3  # the first attempt and the CLI's 2 retries
    assert time.monotonic() - t0 < 10


def test_rate_limit_honours_retry_after(fake):
    f, c = fake((429, {"error": {"code": "rate_limited", "message": "slow down"}},
                 {"Retry-After": "1"}), (200, PAGE, None))
    t0 = time.monotonic()
    assert c.json("tenants", "list") == []
    assert time.monotonic() - t0 >= 1.0
    assert len(f.requests) == 2


def test_lost_answer_is_retried(fake):
    f, c = fake(("drop", None, None), (200, PAGE, None))
    assert c.json("instances", "list") == []
    assert len(f.requests) == 2


def test_creates_retry_with_one_idempotency_key(fake):
    f, c = fake((503, ERR_503, None), (201, TENANT, None))
    assert c.json("tenants", "create", "a")["id"] == "ten_1"
    keys = [r["headers"].get("Idempotency-Key") for r in f.requests]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert json.loads(f.requests[0]["body"]) == {"name": "a"}
    assert f.requests[0]["headers"]["Content-Type"] == "application/json"
    # a key given on the command line is the one sent
    f, c = fake((201, TENANT, None))
    c.json("tenants", "create", "a", "--idempotency-key", "mine")
    assert f.requests[0]["headers"]["Idempotency-Key"] == "mine"


def test_pages_are_walked(fake):
    page1 = {"items": [dict(TENANT, id="ten_1")], "next_cursor": "c1"}
    page2 = {"items": [dict(TENANT, id="ten_2")], "next_cursor": None}
    f, c = fake((200, page1, None), (200, page2, None))
    assert [t["id"] for t in c.json("tenants", "list")] == ["ten_1", "ten_2"]
    assert "cursor=c1" in f.requests[1]["path"]


def test_answers_that_are_not_the_api(fake):
    f, c = fake((404, b"<html>no</html>", None))
    p = c("tenants", "get", "ten_1")
    assert p.returncode == 3
    assert "not an API error: is the endpoint right?" in p.stderr
    f, c = fake((200, b"not json", None))
    p = c("tenants", "get", "ten_1")
    assert p.returncode == 1 and "not JSON" in p.stderr


def test_ids_are_url_encoded(fake):
    f, c = fake((200, TENANT, None))
    c("tenants", "get", "../v1/instances?x=1")
    assert f.requests[0]["path"] == "/v1/tenants/..%2Fv1%2Finstances%3Fx%3D1"


def test_if_match_is_sent(fake):
    inst = {"id": "ins_1", "name": "a", "labels": {}}
    accepted = {"instance": inst, "operation": {"id": "op_1"}}
    f, c = fake((200, inst, {"ETag": '"v1"'}), (202, accepted, None))
    p = c("instances", "update", "ins_1", "--memory", "1gb", "--if-match", '"v1"')
    assert p.returncode == 0, p.stderr
    assert f.requests[1]["method"] == "PATCH"
    assert f.requests[1]["headers"]["If-Match"] == '"v1"'
    assert json.loads(f.requests[1]["body"]) == {"memory": "1gb"}


def test_connect_passes_tls_flags(fake, tmp_path):
    """An instance with TLS gets redis-cli --tls (and --cacert when given)."""
    inst = {"id": "ins_1", "name": "a", "cluster_mode": "emulated", "tls": True,
            "endpoint": {"host": "127.0.0.1", "port": 7001},
            "uri": "rediss://default@127.0.0.1:7001"}
    f, c = fake((200, inst, None))
    script = tmp_path / "fake-redis-cli"
    record = tmp_path / "argv"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    script.chmod(0o755)
    p = c("connect", "ins_1", "--exec", "--cacert", "/x/ca.pem", "--", "ping",
          env={"DFLY_REDIS_CLI": str(script), "DFLY_PASSWORD": "pw"})
    assert p.returncode == 0, p.stderr
    assert record.read_text().split() == ["-h", "127.0.0.1", "-p", "7001", "--user", "default",
                                          "--tls", "--cacert", "/x/ca.pem", "ping"]
    assert c.json("connect", "ins_1")["tls"] is True


def test_connect_fetches_the_ca(fake, tmp_path):
    """Without --cacert, the internal CA (GET /v1/ca) goes to a private cache file that
    redis-cli is given; --cert and --key go along, and only together."""
    inst = {"id": "ins_1", "name": "a", "cluster_mode": "emulated", "tls": True,
            "endpoint": {"host": "127.0.0.1", "port": 7001},
            "uri": "rediss://default@127.0.0.1:7001"}
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    f, c = fake((200, inst, None), (200, pem, None))
    script = tmp_path / "fake-redis-cli"
    record = tmp_path / "argv"
    script.write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    script.chmod(0o755)
    p = c("connect", "ins_1", "--exec", "--user", "app", "--cert", "a.crt", "--key", "a.key",
          "--", "ping", env={"DFLY_REDIS_CLI": str(script), "DFLY_PASSWORD": "pw"})
    assert p.returncode == 0, p.stderr
    argv = record.read_text().split()
    assert f.requests[1]["path"] == "/v1/ca"
    ca = Path(argv[argv.index("--cacert") + 1])
    assert ca.read_bytes() == pem and ca.stat().st_mode & 0o777 == 0o600
    assert ca.parent == c.home / ".cache" / "dfly"
    assert argv[:6] == ["-h", "127.0.0.1", "-p", "7001", "--user", "app"]
    assert argv[argv.index("--cert") + 1] == "a.crt" and argv[argv.index("--key") + 1] == "a.key"
    assert argv[-1] == "ping"
    p = c("connect", "ins_1", "--exec", "--cert", "a.crt", env={"DFLY_REDIS_CLI": str(script)})
    assert p.returncode == 2 and "--cert and --key go together" in p.stderr
