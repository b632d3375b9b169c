"""dfly without a daemon: help, usage errors, generated docs and completion, the API being
down."""

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = [
    "tenants create", "tenants list", "tenants get", "tenants update", "tenants delete",
    "tokens create", "tokens list", "tokens revoke",
    "instances create", "instances list", "instances get", "instances update",
    "instances delete", "instances restart",
    "instances restore", "instances failover",
    "backups create", "backups list", "backups get", "backups delete", "backups download",
    "operations get", "operations wait",
    "users create", "users list", "users get", "users update", "users delete", "users rotate",
    "certs ca", "certs show", "certs rotate", "certs client-create", "certs client-list",
    "certs client-revoke",
    "login", "logout", "events", "metrics", "connect", "version", "completion", "docs",
]


def test_overview_lists_every_command(offline_cli):
    p = offline_cli("--help")
    assert p.returncode == 0
    for c in COMMANDS:
        group, _, name = c.partition(" ")
        assert (name or group) in p.stdout, c
    assert "Exit codes" in p.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(offline_cli, command):
    p = offline_cli(*command.split(), "--help")
    assert p.returncode == 0, p.stderr
    assert f"Usage: dfly {command}" in p.stdout
    assert "Examples:\n  " in p.stdout and "dfly " in p.stdout.split("Examples:")[1]
    assert "--output" in p.stdout  # global options are listed too
    # "dfly help X" is the same
    assert offline_cli("help", *command.split()).stdout == p.stdout


@pytest.mark.parametrize("argv, needle", [
    ([], "Usage: dfly COMMAND"),
    (["bogus"], "unknown command 'bogus'"),
    (["instances", "bogus"], "unknown command 'instances bogus'"),
    (["instances"], "Usage: dfly instances COMMAND"),
    (["instances", "get"], "wrong number of arguments"),
    (["instances", "get", "a", "b"], "wrong number of arguments"),
    (["instances", "list", "--bogus"], "unknown option --bogus"),
    (["instances", "list", "--memory", "1gb"], "takes no --memory"),
    (["instances", "list", "-o", "xml"], "'xml' is not one of table, json, yaml"),
    (["instances", "create", "x"], "--memory is required"),
    (["instances", "create", "x", "--memory", "1gb", "--shards", "65"], "--shards: '65'"),
    (["instances", "create", "x", "--memory", "1gb", "--label", "novalue"], "KEY=VALUE"),
    (["instances", "create", "x", "--memory", "1gb", "--appendonly", "maybe"], "on or off"),
    (["operations", "wait", "op_1", "--timeout", "soon"], "not a duration"),
    (["instances", "get", "x", "--endpoint"], "--endpoint needs a value"),
    (["completion", "fish"], "not bash or zsh"),
    (["tokens", "revoke", "ten_1", "tok_1"], "refusing to revoke without --yes"),
    (["instances", "create", "x", "--memory", "1gb", "--tls", "--tls-client-auth", "maybe"],
     "not no, optional or yes"),
    (["instances", "update", "x", "--tls", "--no-tls"], "contradict"),
    (["instances", "create", "x", "--memory", "1gb", "--no-tls"], "takes no --no-tls"),
    (["users", "create", "x"], "wrong number of arguments"),
    (["users", "update", "x", "u"], "nothing to change"),
    (["users", "update", "x", "u", "--enabled", "maybe"], "not on or off"),
    (["users", "rotate", "x", "u", "--finish", "--grace", "1m"], "--finish ends a rotation"),
    (["users", "rotate", "x", "u", "--grace", "200h"], "--grace: '200h'"),
    (["users", "delete", "x", "u"], "refusing to delete without --yes"),
    (["metrics", "x", "--since", "soon"], "--since: 'soon' is not a duration"),
    (["metrics", "x", "--watch", "--interval", "1ms"], "--interval: '1ms'"),
    (["certs", "client-create", "x", "a/b"], "is not a certificate name"),
    (["certs", "client-create", "x", "app", "--days", "900"], "--days: '900'"),
    (["certs", "client-revoke", "x", "crt_1"], "refusing to client-revoke without --yes"),
])
def test_usage_errors_exit_2(offline_cli, argv, needle):
    p = offline_cli(*argv)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert needle in p.stderr + p.stdout
    if argv and argv != ["instances"]:  # an error is one line (the bare group prints its help)
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_api_down_is_a_clear_error(offline_cli):
    for argv in (["instances", "list"], ["tenants", "get", "ten_1"], ["version"],
                 ["operations", "get", "op_1"]):
        p = offline_cli(*argv)
        assert p.returncode == 6, (argv, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert lines[0].startswith("dfly: error: cannot reach http://127.0.0.1:")
        assert "hint: is dfly-control running there?" in lines[0]


def test_version_client_only(offline_cli):
    v = json.loads(offline_cli("version", "--client", "-o", "json").stdout)
    assert v == {"client": {"version": v["client"]["version"]}}
    assert v["client"]["version"][0].isdigit()
    assert offline_cli("version", "--client", "-o", "table").stdout.startswith("Client: dfly ")


def test_docs_cli_md_is_current(offline_cli):
    p = offline_cli("docs", "markdown")
    assert p.returncode == 0
    checked_in = (ROOT / "docs" / "cli.md").read_text()
    assert p.stdout == checked_in, \
        "docs/cli.md is stale: regenerate it with 'dfly docs markdown > docs/cli.md'"
    for c in COMMANDS:
        assert f"### `dfly {c}`" in checked_in


def test_short_options_are_unique(offline_cli):
    doc = offline_cli("docs", "markdown").stdout
    shorts = {}
    for label in re.findall(r"`(-[A-Za-z]), --([a-z-]+)", doc):
        shorts.setdefault(label[0], set()).add(label[1])
    assert shorts and all(len(v) == 1 for v in shorts.values()), shorts


def bash_complete(offline_cli, words):
    """COMPREPLY of the bash completion for the command line `words` (last one partial)."""
    script = offline_cli("completion", "bash").stdout
    cmd = (script + "\nCOMP_WORDS=(dfly " + " ".join(f"'{w}'" for w in words) + ")\n"
           f"COMP_CWORD={len(words)}\n_dfly\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    p = subprocess.run(["bash", "--norc", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_bash_completion(offline_cli):
    assert subprocess.run(["bash", "-n"], input=offline_cli("completion", "bash").stdout,
                          text=True, timeout=30).returncode == 0
    assert bash_complete(offline_cli, ["ins"]) == ["instances"]
    assert set(bash_complete(offline_cli, ["instances", ""])) == {
        "create", "list", "get", "update", "delete", "restart", "restore", "failover"}
    assert set(bash_complete(offline_cli, ["users", ""])) == {
        "create", "list", "get", "update", "delete", "rotate"}
    assert set(bash_complete(offline_cli, ["certs", "client-"])) == {
        "client-create", "client-list", "client-revoke"}
    assert "--watch" in bash_complete(offline_cli, ["metrics", "x", "--"])
    assert bash_complete(offline_cli, ["instances", "create", "x", "--tl"]) == [
        "--tls", "--tls-client-auth"]
    assert bash_complete(offline_cli, ["instances", "create", "x", "--wa"]) == ["--wait"]
    assert "--follow" in bash_complete(offline_cli, ["events", "x", "--"])
    assert "--wait" not in bash_complete(offline_cli, ["instances", "list", "--"])
    assert bash_complete(offline_cli, ["completion", "z"]) == ["zsh"]


def test_zsh_completion(offline_cli):
    s = offline_cli("completion", "zsh").stdout
    assert s.startswith("#compdef dfly")
    assert "instances/create) opts=(" in s and "--wait" in s
    assert s.rstrip().endswith("compdef _dfly dfly")
