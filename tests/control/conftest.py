"""Fixtures for dfly-control's tests: a real daemon that provisions real dfly-server nodes.

Every daemon runs on a free 127.0.0.1 port with its own temporary data directory and a port
range of its own for nodes, and is always stopped at teardown. Nodes outlive a daemon by
design (the next start adopts them), so teardown also ends every dfly-server whose command
line names the test's data directory, passes or fails. A test fails at teardown when the daemon
or a node wrote a sanitizer report.

Every API answer that goes through `Control.api` is checked against api/openapi.yaml: its
status must be listed for the route and its body must match the schema (see contract.py).

Fixtures:
    control          a started Control (operator token in control.token)
    control_factory  control_factory(*extra_flags) -> Control (started)
    tenant           (tenant_id, tenant_token) of a new tenant of `control`
"""

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from contract import Contract

sys.path.append(str(Path(__file__).resolve().parents[1] / "integration"))  # ports.py
from ports import free_port  # noqa: E402

HOST = "127.0.0.1"
START_TIMEOUT = 15.0  # seconds until a started daemon answers /readyz
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
HTTP_TIMEOUT = 10.0  # one API request
PORT_RANGE_SIZE = 200  # node ports per daemon
PORT_RANGE_TRIES = 50
LOG_TAIL_LINES = 80
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    # Readiness probes of an HTTPS daemon do not verify its test certificate.
    config.addinivalue_line("filterwarnings",
                            "ignore::urllib3.exceptions.InsecureRequestWarning")
CONTRACT = Contract(ROOT / "api" / "openapi.yaml")




def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def free_port_range(size=PORT_RANGE_SIZE):
    """A range of ports of which a sample is free (the daemon skips taken ones anyway)."""
    for _ in range(PORT_RANGE_TRIES):
        base = random.randrange(20000, 32000)
        if all(_port_free(p) for p in range(base, base + size, 17)):
            return base, base + size - 1
    raise RuntimeError("no free port range found")


def processes_under(path):
    """{pid: argv} of live processes whose arguments mention path."""
    found = {}
    needle = str(path)
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "cmdline").read_bytes()
            state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        if any(needle in a for a in argv) and int(d.name) != os.getpid():
            found[int(d.name)] = argv
    return found


def node_processes(data_dir):
    """{pid: config path} of the dfly-server nodes of a daemon's data directory."""
    return {
        pid: argv[1]
        for pid, argv in processes_under(Path(data_dir) / "instances").items()
        if len(argv) > 1 and argv[1].endswith("/node.conf")
    }


def listening(port):
    """True when something listens on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


class Control:
    """One dfly-control process and its data directory."""

    def __init__(self, binary, server, workdir, extra=()):
        self.binary = binary
        self.server = server
        self.workdir = Path(workdir)
        self.data_dir = self.workdir / "var"
        self.port = free_port()
        self.port_min, self.port_max = free_port_range()
        self.extra = [str(a) for a in extra]
        self.proc = None
        self.log_path = self.workdir / "control.log"
        self.url = f"http://{HOST}:{self.port}"
        self.scheme = "http"
        self.session = requests.Session()
        self.env = dict(os.environ)
        self.env.pop("DFLY_OPERATOR_TOKEN", None)

    def argv(self):
        return [
            self.binary,
            "--listen", f"{HOST}:{self.port}",
            "--data-dir", str(self.data_dir),
            "--server-binary", self.server,
            "--port-range", f"{self.port_min}-{self.port_max}",
            "--reconcile-interval", "200",
            "--restart-backoff-min", "200",
            "--restart-backoff-max", "2000",
            "--stop-grace-period", "5000",
            "--loglevel", "debug",
            *self.extra,
        ]

    def start(self, wait=True):
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"dfly-control exited with {self.proc.returncode}\n"
                                     + self.log_tail())
            try:
                return requests.get(f"{self.url}/readyz", timeout=1,
                                    verify=False).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, START_TIMEOUT, "dfly-control to be ready")

    @property
    def token(self):
        return (self.data_dir / "operator.token").read_text().strip()

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)
            raise AssertionError("dfly-control did not stop on SIGTERM\n" + self.log_tail())

    def kill(self):
        """SIGKILL, as a crash: its nodes keep running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT)

    def restart(self):
        self.kill()
        return self.start()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=LOG_TAIL_LINES):
        return "\n".join(self.log().splitlines()[-lines:])

    # --- the API -------------------------------------------------------------------------
    def api(self, method, path, token=None, json=None, data=None, headers=None, params=None,
            check=True):
        """One request, with the operator token unless another (or "" for none) is given.
        The answer is checked against the OpenAPI contract unless check is False."""
        h = dict(headers or {})
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = f"Bearer {tok}"
        r = self.session.request(method, self.url + path, json=json, data=data, headers=h,
                                 params=params, timeout=HTTP_TIMEOUT, verify=False)
        if check:
            CONTRACT.check(method, path, r)
        return r

    def create_tenant(self, name=None, **quotas):
        body = {"name": name or f"t{random.randrange(1 << 30)}", **quotas}
        r = self.api("POST", "/v1/tenants", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def create_token(self, tenant_id, token=None):
        r = self.api("POST", f"/v1/tenants/{tenant_id}/tokens", token=token,
                     json={"name": "test"})
        assert r.status_code == 201, r.text
        return r.json()

    def instance(self, iid, token=None):
        r = self.api("GET", f"/v1/instances/{iid}", token=token)
        return r.json() if r.status_code == 200 else None

    def wait_status(self, iid, status, timeout=60, token=None):
        """Waits until instance iid shows status (None: until it is 404)."""
        def reached():
            inst = self.instance(iid, token=token)
            if status is None:
                return inst is None
            return inst if inst and inst["status"] == status else False

        try:
            return wait_for(reached, timeout, f"instance {iid} to be {status}", interval=0.2)
        except AssertionError:
            inst = self.instance(iid, token=token)
            events = self.api("GET", f"/v1/instances/{iid}/events", token=token,
                              params={"limit": 100}, check=False)
            raise AssertionError(
                f"instance {iid} did not become {status}: {inst}\nevents: "
                f"{events.text[-3000:]}\nlog:\n{self.log_tail()}")

    def sanitizer_reports(self):
        texts = [("dfly-control", self.log())]
        for p in (self.data_dir / "instances").glob("*/*/stdout.log"):
            texts.append((str(p), p.read_text(errors="replace")))
        return [(name, t) for name, t in texts if any(m in t for m in SANITIZER_MARKERS)]

    def cleanup(self):
        """Stops the daemon and ends every node it left; returns sanitizer reports."""
        self.session.close()
        code = self.stop()
        reports = self.sanitizer_reports()
        for pid in processes_under(self.data_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_for(lambda: not processes_under(self.data_dir), STOP_TIMEOUT, "nodes to end")
        return code, reports


@pytest.fixture
def control_factory(tmp_path):
    binary = os.environ.get("DFLY_CONTROL")
    server = os.environ.get("DFLY_SERVER")
    if not binary or not server:
        pytest.fail("DFLY_CONTROL and DFLY_SERVER must name the built binaries")
    made = []

    def make(*extra, start=True, workdir=None):
        c = Control(binary, server, workdir or tmp_path / f"control{len(made)}", extra)
        made.append(c)
        return c.start() if start else c

    yield make
    problems = []
    for c in made:
        code, reports = c.cleanup()
        if code not in (None, 0, -signal.SIGKILL):
            problems.append(f"dfly-control exited with {code}\n{c.log_tail()}")
        for name, text in reports:
            problems.append(f"sanitizer report in {name}:\n{text[-4000:]}")
    if problems:
        pytest.fail("\n\n".join(problems))


@pytest.fixture
def control(control_factory):
    return control_factory()


@pytest.fixture
def tenant(control):
    t = control.create_tenant()
    tok = control.create_token(t["id"])
    return t["id"], tok["secret"]


@pytest.fixture(scope="session")
def replication_available(tmp_path_factory):
    """Whether this dfly-server knows REPLICAOF (replication may land after the control plane):
    asked of a throwaway server."""
    import redis

    server = os.environ.get("DFLY_SERVER")
    workdir = tmp_path_factory.mktemp("probe")
    port = free_port()
    p = subprocess.Popen([server, "--port", str(port), "--threads", "1", "--dir", str(workdir),
                          "--dbfilename", ""],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        wait_for(lambda: listening(port), START_TIMEOUT, "the probe server")
        c = redis.Redis(host=HOST, port=port, socket_timeout=5)
        try:
            c.execute_command("REPLICAOF", "NO", "ONE")  # harmless on a master
            return True
        except redis.exceptions.ResponseError as e:
            assert "unknown command" in str(e), e
            return False
        finally:
            c.connection_pool.disconnect()
    finally:
        p.kill()
        p.wait(timeout=STOP_TIMEOUT)
