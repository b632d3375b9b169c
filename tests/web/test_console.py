"""The web console (web/, served by dfly-control at /): its file serving and security headers
checked with plain HTTP requests, and an end-to-end run in headless Chromium (console.spec.mjs
driven by playwright-core) against a real dfly-control with real nodes: sign in, tenants and
tokens, create an instance and watch it reach running, charts of the metrics API after load, ACL
users (checked on the node with redis-py), failover, a backup, delete, a TLS instance with its
CA bundle and client certificates (when the API has its internal CA), sign out; screenshots of
every page go to the artifacts directory."""

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import redis
import requests

HERE = Path(__file__).resolve().parent
SPEC = HERE / "console.spec.mjs"
E2E_TIMEOUT = 420  # seconds the whole browser run may take
LOAD_KEYS = 2000
READ_SECONDS = 3  # reads go on this long after the writes
READ_STRIDE = 10  # every tenth key is read in each round
READ_PAUSE_S = 0.2
SCRAPE_INTERVAL_MS = 1000  # the charts get points within seconds of the load
PUSH_TIMEOUT = 20  # seconds the reconciler may take to push a change (user, TLS) to a node
PUSH_RETRY_S = 0.3
HTTP_TIMEOUT = 10
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Referrer-Policy")


def raw_get(control, path, headers=None):
    """A GET whose path is sent exactly as written (no client-side normalisation of '..')."""
    s = requests.Session()
    req = requests.Request("GET", control.url + "/", headers=headers or {}).prepare()
    req.url = control.url + path
    try:
        return s.send(req, timeout=HTTP_TIMEOUT, allow_redirects=False)
    finally:
        s.close()


def assert_security_headers(r):
    for h in SECURITY_HEADERS:
        assert h in r.headers, f"{h} missing on {r.url}"
    csp = r.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"


def test_index_and_files(control):
    r = raw_get(control, "/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="/js/app.js">' in r.text
    assert_security_headers(r)
    assert r.headers["Cache-Control"] == "no-cache"
    for path, ctype in [("/js/app.js", "text/javascript"), ("/css/console.css", "text/css"),
                        ("/vendor/uplot/uPlot.esm.js", "text/javascript"),
                        ("/favicon.svg", "image/svg+xml")]:
        r = raw_get(control, path)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith(ctype), path
        assert_security_headers(r)


def test_no_inline_script_or_style():
    """The CSP forbids inline script and style: the console's HTML must not need them."""
    html = (HERE.parents[1] / "web" / "index.html").read_text()
    assert "<style" not in html and " style=" not in html
    for line in html.splitlines():
        if "<script" in line:
            assert "src=" in line, line


def test_etag_revalidation(control):
    r = raw_get(control, "/js/app.js")
    etag = r.headers["ETag"]
    again = raw_get(control, "/js/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert_security_headers(again)
    assert raw_get(control, "/js/app.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_head(control):
    r = requests.head(control.url + "/index.html", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert int(r.headers["Content-Length"]) > 0
    assert_security_headers(r)


def test_traversal_and_unknown_paths_are_404(control, tmp_path):
    for path in ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/js/../../README.md",
                 "/js/%2e%2e/index.html", "//etc/passwd", "/.gitignore", "/js/", "/css",
                 "/node_modules/uplot/package.json", "/package.json", "/vendor.sh",
                 "/README.md", "/nope.html", "/index.html/",
                 "/a\\b.js"]:
        r = raw_get(control, path)
        assert r.status_code == 404, (path, r.status_code)
        assert "root:" not in r.text
        assert_security_headers(r)


def test_symlink_out_of_web_dir_is_404(control_factory, tmp_path):
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>t</title>")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    (web / "leak.txt").symlink_to(secret)
    (web / "ok.txt").write_text("fine")
    c = control_factory("--web-dir", str(web))
    assert raw_get(c, "/").text.startswith("<!doctype html>")
    assert raw_get(c, "/ok.txt").text == "fine"
    r = raw_get(c, "/leak.txt")
    assert r.status_code == 404 and "secret" not in r.text


def test_missing_web_dir_keeps_the_api(control_factory, tmp_path):
    c = control_factory("--web-dir", str(tmp_path / "none"))
    assert raw_get(c, "/").status_code == 404
    assert c.api("GET", "/v1/tenants").status_code == 200
    assert "web console: off" in c.log()


def test_api_paths_are_not_files(control):
    """/v1/... and the public routes stay the API's: JSON errors, not console files."""
    r = raw_get(control, "/v1/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert raw_get(control, "/healthz").json() == {"status": "ok"}
    r = requests.post(control.url + "/index.html", timeout=HTTP_TIMEOUT)
    assert r.status_code == 404 and r.headers["Content-Type"] == "application/json"


def test_api_cors_stays_closed(control):
    origin = "http://evil.example"
    r = requests.options(control.url + "/v1/instances", timeout=HTTP_TIMEOUT,
                         headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
    assert "Access-Control-Allow-Origin" not in r.headers
    r = control.api("GET", "/v1/instances", headers={"Origin": origin})
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers


def write_keys(host, port, password):
    c = redis.Redis(host=host, port=port, password=password, socket_timeout=10,
                    decode_responses=True)
    try:
        pipe = c.pipeline(transaction=False)
        for i in range(LOAD_KEYS):
            pipe.set(f"web:{i}", "x" * (i % 100))
        pipe.execute()
        assert c.get("web:7") == "x" * 7
        # Reads (hits and a few misses) over a few scrapes: rates need two scrapes of a node, so
        # a burst before its first scrape would never show as a hit ratio.
        end = time.monotonic() + READ_SECONDS
        while time.monotonic() < end:
            pipe = c.pipeline(transaction=False)
            for i in range(0, LOAD_KEYS, READ_STRIDE):
                pipe.get(f"web:{i}")
            pipe.get("web:missing")
            pipe.execute()
            time.sleep(READ_PAUSE_S)
    finally:
        c.connection_pool.disconnect()


def auth_result(host, port, user, password):
    """True when the node accepts user/password (PING may then be refused by the user's rules:
    the connection was authenticated all the same)."""
    c = redis.Redis(host=host, port=port, username=user, password=password, socket_timeout=5)
    try:
        return c.ping()
    except redis.exceptions.NoPermissionError:
        return True
    except redis.AuthenticationError:
        return False
    except redis.ResponseError as e:  # a disabled user: "WRONGPASS ..." or similar
        if "WRONGPASS" in str(e) or "NOAUTH" in str(e):
            return False
        raise
    finally:
        c.connection_pool.disconnect()


def check_auth(msg):
    """Waits until the node's answer for the user is the expected one: "ok", or "fail <why>"."""
    deadline = time.monotonic() + PUSH_TIMEOUT
    while True:
        got = auth_result(msg["host"], msg["port"], msg["user"], msg["password"])
        if got == msg["accepted"]:
            return "ok"
        if time.monotonic() > deadline:
            return f"fail the node still {'refuses' if msg['accepted'] else 'accepts'} it"
        time.sleep(PUSH_RETRY_S)


def check_tls(msg):
    """A TLS connection that trusts only the downloaded CA bundle: "ok", or "fail <why>"."""
    deadline = time.monotonic() + PUSH_TIMEOUT
    while True:
        c = redis.Redis(host=msg["host"], port=msg["port"], password=msg["password"], ssl=True,
                        ssl_ca_certs=msg["ca"], ssl_cert_reqs="required", socket_timeout=5)
        try:
            if c.ping():
                return "ok"
        except (redis.ConnectionError, redis.TimeoutError) as e:
            if time.monotonic() > deadline:
                return f"fail {e}"
        finally:
            c.connection_pool.disconnect()
        time.sleep(PUSH_RETRY_S)


def read_lines(pipe, lines):
    for line in pipe:
        lines.put(line)
    lines.put(None)  # end of output


def test_console_end_to_end(control_factory, browser_tools, artifacts, replication_available,
                            tmp_path):
    control = control_factory("--scrape-interval", str(SCRAPE_INTERVAL_MS))
    env = dict(os.environ,
               CONSOLE_URL=control.url, OPERATOR_TOKEN=control.token, ARTIFACTS=str(artifacts),
               PLAYWRIGHT=browser_tools["playwright"], CHROMIUM=browser_tools["chromium"],
               WITH_FAILOVER="1" if replication_available else "0")
    stderr_path = tmp_path / "node.stderr"
    with open(stderr_path, "w") as err:  # a file: a full stderr pipe would block the script
        proc = subprocess.Popen(["node", str(SPEC)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=err, text=True, env=env, cwd=HERE)
    # A thread reads the script's lines into a queue: select() on a buffered pipe would miss
    # lines already read into the buffer.
    lines = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + E2E_TIMEOUT
    steps, result = [], None
    try:
        while result is None:
            left = deadline - time.monotonic()
            assert left > 0, f"the browser run timed out after steps {steps}"
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                break
            msg = json.loads(line)
            if "step" in msg:
                steps.append(msg["step"])
            elif msg.get("need") == "load":
                write_keys(msg["host"], msg["port"], msg["password"])
                proc.stdin.write("loaded\n")
                proc.stdin.flush()
            elif msg.get("need") == "auth":
                proc.stdin.write(check_auth(msg) + "\n")
                proc.stdin.flush()
            elif msg.get("need") == "tls":
                proc.stdin.write(check_tls(msg) + "\n")
                proc.stdin.flush()
            elif msg.get("done"):
                result = msg
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = stderr_path.read_text()
    assert result is not None, f"the browser run ended early after {steps}: {stderr}"
    assert result["ok"], (f"failed at {result.get('phase')}: {result.get('error')}\n"
                          f"console: {result.get('consoleErrors')}\nstderr: {stderr}\n"
                          f"screenshots in {artifacts}\nlog:\n{control.log_tail()}")
    expected = {"01-signin", "03-tokens", "04-tenants", "05-create-errors", "06-created",
                "08-instance", "09-charts", "11-backups", "12-deleted", "14-users-rule-error",
                "15-users-created", "16-users-rotating", "10-instances-metrics",
                "17-tls-instance", "18-client-certificates"}
    assert expected <= {p.stem for p in artifacts.glob("*.png")}
