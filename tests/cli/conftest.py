"""Fixtures for the tests of `dfly`, the command-line tool: the real binary against a real
dfly-control (the daemon fixtures of tests/control/conftest.py, loaded from there so that the
start, the readiness wait and the teardown of every node are the same).

Fixtures:
    control, control_factory, tenant   from tests/control/conftest.py
    cli            cli(*args, token=None, input=None, env=None) -> CompletedProcess: dfly run
                   against `control` (operator token unless token= says otherwise), with a
                   config directory of its own and a bounded run time
    offline_cli    the same without a daemon (for help, completion, usage errors, API down)
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT = 120  # seconds one dfly command may take (a --wait included)

sys.path.insert(0, str(ROOT / "tests" / "control"))
_spec = importlib.util.spec_from_file_location("control_fixtures",
                                               ROOT / "tests" / "control" / "conftest.py")
control_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(control_fixtures)

pytest_configure = control_fixtures.pytest_configure  # quiet readiness probes of HTTPS daemons
control_factory = control_fixtures.control_factory
control = control_fixtures.control
tenant = control_fixtures.tenant
free_port = control_fixtures.free_port
wait_for = control_fixtures.wait_for


def cli_binary():
    b = os.environ.get("DFLY_CLI")
    if not b:
        pytest.fail("DFLY_CLI must name the built dfly binary")
    return b


class Cli:
    """Runs dfly with a clean environment: its own XDG_CONFIG_HOME and HOME, no DFLY_* from
    the caller's shell."""

    def __init__(self, workdir, endpoint=None, token=None):
        self.binary = cli_binary()
        self.home = Path(workdir)
        self.home.mkdir(parents=True, exist_ok=True)
        self.endpoint = endpoint
        self.token = token

    def env(self, extra=None, token=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DFLY_")}
        env["XDG_CONFIG_HOME"] = str(self.home / "config")
        env["HOME"] = str(self.home)
        if self.endpoint:
            env["DFLY_ENDPOINT"] = self.endpoint
        tok = self.token if token is None else token
        if tok:
            env["DFLY_TOKEN"] = tok
        env.update(extra or {})
        return env

    def __call__(self, *args, token=None, input=None, env=None, timeout=RUN_TIMEOUT, text=True):
        return subprocess.run([self.binary, *map(str, args)], input=input,
                              capture_output=True, text=text, env=self.env(env, token),
                              timeout=timeout, stdin=None if input is not None
                              else subprocess.DEVNULL)

    def json(self, *args, **kw):
        """Runs with -o json, asserts success and returns the parsed output."""
        p = self(*args, "-o", "json", **kw)
        assert p.returncode == 0, f"dfly {' '.join(map(str, args))}: {p.returncode}\n{p.stderr}"
        return json.loads(p.stdout)

    @property
    def config_file(self):
        return self.home / "config" / "dfly" / "config.json"


@pytest.fixture
def cli(control, tmp_path):
    return Cli(tmp_path / "cli", endpoint=control.url, token=control.token)


@pytest.fixture
def offline_cli(tmp_path):
    # a port nothing listens on: "API down"
    return Cli(tmp_path / "cli", endpoint=f"http://127.0.0.1:{free_port()}", token="x" * 32)
