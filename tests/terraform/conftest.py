"""Fixtures for the Terraform provider's tests: the real terraform binary drives the real
terraform-provider-dfly against a real dfly-control (started as tests/control/conftest.py does,
with real dfly-server nodes).

Terraform finds the provider through a `dev_overrides` CLI configuration (TF_CLI_CONFIG_FILE),
so no `terraform init` and no network are needed. The provider writes sanitizer reports (ASan
build) to files that the `tf` fixture checks at teardown.

Fixtures:
    control   a started dfly-control (tests/control/conftest.py's Control); a test marked
              `@pytest.mark.slow_node_start(seconds)` gets one whose nodes start that much later
    tenant    (tenant_id, tenant_token) of a new tenant
    tf        tf(token=None) -> Terraform: a working directory with its own CLI configuration
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CONTROL_TESTS = HERE.parent / "control"
TF_TIMEOUT = 180  # seconds one terraform command may take
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def _load_control_conftest():
    """tests/control/conftest.py as a module of another name (ours is also `conftest`)."""
    sys.path.insert(0, str(CONTROL_TESTS))  # for its `contract` import
    spec = importlib.util.spec_from_file_location("control_conftest",
                                                  CONTROL_TESTS / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cc = _load_control_conftest()
Control = cc.Control
wait_for = cc.wait_for


def provider_binary():
    path = os.environ.get("DFLY_PROVIDER")
    if not path or not os.access(path, os.X_OK):
        pytest.fail("DFLY_PROVIDER must name the built terraform-provider-dfly")
    return path


class Terraform:
    """A terraform working directory whose provider dfly/dfly is the one under test."""

    def __init__(self, workdir, endpoint, token):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.reports = self.dir / "sanitizer"
        self.reports.mkdir(exist_ok=True)
        rc = self.dir / "terraform.rc"
        rc.write_text(textwrap.dedent(f"""\
            provider_installation {{
              dev_overrides {{
                "dfly/dfly" = "{Path(provider_binary()).parent}"
              }}
            }}
            """))
        self.env = dict(os.environ)
        self.env.update({
            "TF_CLI_CONFIG_FILE": str(rc),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "TF_INPUT": "0",
            "DFLY_ENDPOINT": endpoint,
            "DFLY_TOKEN": token,
            "ASAN_OPTIONS": f"log_path={self.reports}/asan",
            "UBSAN_OPTIONS": f"log_path={self.reports}/ubsan:print_stacktrace=1",
        })
        self.env.pop("TF_LOG", None)

    def write(self, body, name="main.tf"):
        header = textwrap.dedent("""\
            terraform {
              required_providers {
                dfly = { source = "dfly/dfly" }
              }
            }
            """)
        (self.dir / name).write_text(header + textwrap.dedent(body))

    def run(self, *args, check=True):
        p = subprocess.run(["terraform", *args, "-no-color"], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=TF_TIMEOUT)
        if check and p.returncode != 0:
            raise AssertionError(f"terraform {' '.join(args)} exited {p.returncode}\n"
                                 f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def apply(self, *args):
        return self.run("apply", "-auto-approve", *args)

    def plan_exitcode(self, *args):
        """terraform plan -detailed-exitcode: 0 no changes, 2 changes (1 is an error)."""
        p = self.run("plan", "-detailed-exitcode", *args, check=False)
        if p.returncode == 1:
            raise AssertionError(f"terraform plan failed\n{p.stdout}\n{p.stderr}")
        return p.returncode, p.stdout

    def output(self, name):
        return self.run("output", "-raw", name).stdout

    def sanitizer_reports(self):
        found = []
        for f in self.reports.iterdir():
            text = f.read_text(errors="replace")
            if any(m in text for m in SANITIZER_MARKERS):
                found.append((f.name, text))
        return found


def pytest_configure(config):
    config.addinivalue_line("markers", "slow_node_start(seconds): every dfly-server node the "
                            "control fixture starts waits that long before it runs")
    # the https test's daemon has a test certificate that readiness probes do not verify
    config.addinivalue_line("filterwarnings",
                            "ignore::urllib3.exceptions.InsecureRequestWarning")


def _slow_server(server, seconds, directory):
    """A dfly-server named executable that waits, then becomes the real server: the node's
    process is still found by its name and config argument once it runs."""
    directory.mkdir(parents=True, exist_ok=True)
    wrapper = directory / "dfly-server"
    wrapper.write_text(f'#!/bin/sh\nsleep {seconds}\nexec "{server}" "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.fixture
def control(request, tmp_path):
    binary = os.environ.get("DFLY_CONTROL")
    server = os.environ.get("DFLY_SERVER")
    if not binary or not server:
        pytest.fail("DFLY_CONTROL and DFLY_SERVER must name the built binaries")
    slow = request.node.get_closest_marker("slow_node_start")
    if slow:
        server = _slow_server(server, slow.args[0], tmp_path / "slow-bin")
    c = Control(binary, server, tmp_path / "control")
    c.start()
    yield c
    code, reports = c.cleanup()
    problems = [f"sanitizer report in {name}:\n{text[-4000:]}" for name, text in reports]
    if code not in (None, 0):
        problems.append(f"dfly-control exited with {code}\n{c.log_tail()}")
    if problems:
        pytest.fail("\n\n".join(problems))


@pytest.fixture
def tenant(control):
    # unchecked against the contract: tests/control pins that, these tests pin Terraform's use
    r = control.api("POST", "/v1/tenants", json={"name": "tf-tenant", "max_memory": "4gb"},
                    check=False)
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    r = control.api("POST", f"/v1/tenants/{tid}/tokens", json={"name": "tf"}, check=False)
    assert r.status_code == 201, r.text
    return tid, r.json()["secret"]


@pytest.fixture
def tf(tmp_path, control):
    made = []

    def make(token):
        t = Terraform(tmp_path / f"tf{len(made)}", control.url, token)
        made.append(t)
        return t

    yield make
    problems = []
    for t in made:
        for name, text in t.sanitizer_reports():
            problems.append(f"provider sanitizer report {name}:\n{text[-4000:]}")
    if problems:
        pytest.fail("\n\n".join(problems))
