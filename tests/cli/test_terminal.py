"""dfly on a terminal (a pty): --wait's progress display, the confirmation prompt of
destructive commands, the token prompt of login without echo, and table output by default."""

import json
import os
import pty
import select
import subprocess
import time


from conftest import Cli

SESSION_TIMEOUT = 90  # seconds one terminal session may take
MEMORY = "32mb"


class Terminal:
    """dfly with stdin, stdout and stderr on one pty, as in a terminal."""

    def __init__(self, cli, *args, token=None):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([cli.binary, *args], stdin=slave, stdout=slave,
                                     stderr=slave, env=cli.env(token=token),
                                     start_new_session=True)
        os.close(slave)
        self.text = ""

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            data = os.read(self.master, 4096)
        except OSError:  # EIO: the other side is closed
            return None
        if not data:
            return None
        self.text += data.decode(errors="replace")
        return True

    def expect(self, needle, timeout=SESSION_TIMEOUT):
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            if time.monotonic() > deadline or self._read(0.2) is None:
                raise AssertionError(f"no {needle!r} on the terminal; it shows:\n{self.text!r}")

    def send(self, text):
        os.write(self.master, text.encode())

    def finish(self, timeout=SESSION_TIMEOUT):
        """Reads everything until the program exits; returns its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._read(0.2) is None:
                break
        try:
            return self.proc.wait(timeout=max(1, deadline - time.monotonic()))
        finally:
            os.close(self.master)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def test_wait_shows_progress_and_tables(cli, tenant):
    tid, ttok = tenant
    t = Terminal(cli, "instances", "create", "tty", "--memory", MEMORY, "--shards", "2", "--wait",
                 token=ttok)
    assert t.finish() == 0, t.text
    # the progress line is redrawn in place with a spinner and a percentage
    assert "\r\x1b[K" in t.text
    assert any(f"{s} op_" in t.text for s in "|/-\\"), t.text
    assert "%" in t.text
    assert "succeeded in" in t.text
    # the table is the default on a terminal; the password is shown once
    assert "password: " in t.text and "ID" in t.text and "NAME" in t.text
    assert "running" in t.text
    t = Terminal(cli, "instances", "list", token=ttok)
    assert t.finish() == 0
    header = [line for line in t.text.splitlines() if line.startswith("ID")]
    assert header and header[0].split()[:3] == ["ID", "NAME", "STATUS"]


def test_confirmation_prompt(cli, tenant):
    tid, ttok = tenant
    iid = cli.json("instances", "create", "victim", "--memory", MEMORY, "--tenant",
                   tid)["instance"]["id"]
    # answering no keeps it
    t = Terminal(cli, "instances", "delete", "victim", token=ttok)
    t.expect(f"Delete instance victim ({iid}) and all its data? [y/N]")
    t.send("n\r")
    assert t.finish() == 1
    assert "cancelled" in t.text
    assert cli("instances", "get", iid).returncode == 0
    # answering yes deletes it
    t = Terminal(cli, "instances", "delete", "victim", "--wait", token=ttok)
    t.expect("[y/N]")
    t.send("y\r")
    assert t.finish() == 0, t.text
    assert "succeeded in" in t.text
    assert cli("instances", "get", iid).returncode == 3
    # --yes asks nothing, even on a terminal
    t = Terminal(cli, "tenants", "delete", tid, "--yes")
    assert t.finish() == 0, t.text
    assert "[y/N]" not in t.text


def test_login_asks_for_the_token_without_echo(control, tmp_path):
    c = Cli(tmp_path / "cli")
    t = Terminal(c, "login", "--endpoint", control.url)
    t.expect("Token: ")
    t.send(control.token + "\r")
    assert t.finish() == 0, t.text
    assert control.token not in t.text
    assert "Logged in" in t.text
    assert json.loads(c.config_file.read_text())["profiles"]["default"]["token"] == control.token
