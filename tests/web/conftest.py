"""Fixtures of the web console's tests: the daemon fixtures of tests/control/conftest.py (loaded
from there, as tests/cli does, so start, readiness and teardown of every node are the same),
and where the browser and its driver are.

Fixtures:
    control, control_factory, tenant, replication_available   from tests/control/conftest.py
    artifacts      a directory for screenshots: $DFLY_WEB_ARTIFACTS, else
                   $DFLY_BUILD_DIR/web-artifacts, else a temporary directory
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PLAYWRIGHT = ROOT / "web" / "node_modules" / "playwright-core"

sys.path.insert(0, str(ROOT / "tests" / "control"))
_spec = importlib.util.spec_from_file_location("control_fixtures",
                                               ROOT / "tests" / "control" / "conftest.py")
control_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(control_fixtures)

pytest_configure = control_fixtures.pytest_configure
control_factory = control_fixtures.control_factory
control = control_fixtures.control
tenant = control_fixtures.tenant
replication_available = control_fixtures.replication_available
wait_for = control_fixtures.wait_for


@pytest.fixture
def browser_tools():
    """Skips (saying what to install) when Chromium, node or playwright-core is missing."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if not shutil.which("node"):
        missing.append("node (apt-get install nodejs npm)")
    if not PLAYWRIGHT.is_dir():
        missing.append("web/node_modules/playwright-core (cd web && npm ci)")
    if missing:
        pytest.fail("the browser tests need " + ", ".join(missing) + " (scripts/deps.sh installs them)")
    return {"chromium": CHROMIUM, "playwright": str(PLAYWRIGHT)}


@pytest.fixture
def artifacts(tmp_path):
    d = os.environ.get("DFLY_WEB_ARTIFACTS")
    if not d and os.environ.get("DFLY_BUILD_DIR"):
        d = os.path.join(os.environ["DFLY_BUILD_DIR"], "web-artifacts")
    path = Path(d) if d else tmp_path / "web-artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
