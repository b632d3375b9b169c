"""dfly login, tenants and tokens against a real dfly-control."""

import json
import os
import stat
import subprocess

import yaml

from conftest import Cli


def test_login_stores_a_private_profile(control, tmp_path):
    c = Cli(tmp_path / "cli")  # no DFLY_ENDPOINT / DFLY_TOKEN: only what login stores
    token = control.token
    p = c("login", "--endpoint", control.url, "--token-stdin", input=token + "\n")
    assert p.returncode == 0, p.stderr
    assert token not in p.stdout + p.stderr
    mode = stat.S_IMODE(os.stat(c.config_file).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(c.config_file.parent).st_mode) == 0o700
    cfg = json.loads(c.config_file.read_text())
    assert cfg["current_profile"] == "default"
    assert cfg["profiles"]["default"] == {"endpoint": control.url, "token": token}
    # the stored profile is used
    assert c.json("tenants", "list") == []
    # a second profile, made current; --profile picks the other
    t = c.json("tenants", "create", "acme")
    tok = c.json("tokens", "create", t["id"])["secret"]
    p = c("login", "--profile", "acme", "--endpoint", control.url, "--token", tok)
    assert p.returncode == 0, p.stderr
    assert tok not in p.stdout + p.stderr
    assert c("tenants", "list").returncode == 5  # the tenant's token is current now
    assert [x["name"] for x in c.json("tenants", "list", "--profile", "default")] == ["acme"]
    assert [x["name"] for x in c.json("tenants", "list", env={"DFLY_PROFILE": "default"})] \
        == ["acme"]
    # DFLY_TOKEN and --token override the profile
    assert c.json("tenants", "list", env={"DFLY_TOKEN": token})[0]["name"] == "acme"
    assert c.json("tenants", "list", "--token", token)[0]["name"] == "acme"
    # a config file others may read is used, with a warning
    os.chmod(c.config_file, 0o644)
    p = c("tenants", "list")
    assert p.returncode == 5 and "readable by others; chmod 600" in p.stderr
    os.chmod(c.config_file, 0o600)
    # logout forgets the token
    assert c("logout").returncode == 0
    assert "token" not in json.loads(c.config_file.read_text())["profiles"]["acme"]
    assert c("tenants", "list").returncode == 5


def test_login_refuses_a_bad_token(control, tmp_path):
    c = Cli(tmp_path / "cli")
    p = c("login", "--endpoint", control.url, "--token", "not-a-real-token-0123456789")
    assert p.returncode == 5, p.stderr
    assert "hint: check the token" in p.stderr
    assert not c.config_file.exists()
    p = c("login", "--endpoint", control.url)  # no token and no terminal to ask on
    assert p.returncode == 2
    p = c("login", "--endpoint", control.url, "--token-stdin", input="")
    assert p.returncode == 2


def test_bad_or_missing_token(cli):
    for tok in ("wrong-token-wrong-token-wrong", ""):
        p = cli("instances", "list", token=tok, env={"DFLY_TOKEN": tok})
        assert p.returncode == 5, p.stderr
        line, = p.stderr.strip().splitlines()
        assert line.startswith("dfly: error: ") and "(unauthorized)" in line
        assert "hint: check the token" in line


def test_tenants_lifecycle(cli):
    t = cli.json("tenants", "create", "acme", "--max-instances", "3", "--max-memory", "2gb")
    assert t["name"] == "acme" and t["max_instances"] == 3 and t["max_memory"] == 2 << 30
    assert t["usage"] == {"instances": 0, "memory": 0}
    assert cli.json("tenants", "get", t["id"]) == t
    assert [x["id"] for x in cli.json("tenants", "list")] == [t["id"]]
    u = cli.json("tenants", "update", t["id"], "--name", "acme2", "--max-memory", "4gb")
    assert u["name"] == "acme2" and u["max_memory"] == 4 << 30 and u["max_instances"] == 3
    table = cli("tenants", "list", "-o", "table").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "INSTANCES"]
    assert t["id"] in table[1] and "4gb" in table[1]
    assert yaml.safe_load(cli("tenants", "get", t["id"], "-o", "yaml").stdout) == \
        cli.json("tenants", "get", t["id"])
    # without a terminal, delete needs --yes
    p = cli("tenants", "delete", t["id"])
    assert p.returncode == 2 and "--yes" in p.stderr
    assert cli("tenants", "get", t["id"]).returncode == 0
    p = cli("tenants", "delete", t["id"], "--yes")
    assert p.returncode == 0, p.stderr
    p = cli("tenants", "get", t["id"])
    assert p.returncode == 3
    assert "(not_found)" in p.stderr and "dfly tenants list" in p.stderr


def test_tenants_pages_are_walked(cli):
    # more than one page of the API (100) would be slow; the CLI asks 100 a page, so check
    # that a list of several comes back whole and in order
    ids = [cli.json("tenants", "create", f"t{i}")["id"] for i in range(5)]
    assert [x["id"] for x in cli.json("tenants", "list")] == ids


def test_tenant_errors(cli):
    p = cli("tenants", "create", "Bad_Name")
    assert p.returncode == 1
    line, = p.stderr.strip().splitlines()
    assert "(validation_failed, field name)" in line
    assert "hint: see 'dfly tenants create --help'" in line
    cli.json("tenants", "create", "dup")
    p = cli("tenants", "create", "dup")
    assert p.returncode == 1 and "(conflict" in p.stderr
    p = cli("tenants", "update", "ten_nope", "--name", "x")
    assert p.returncode == 3
    p = cli("tenants", "update", "ten_nope")
    assert p.returncode == 2 and "nothing to change" in p.stderr
    p = cli("tenants", "delete", "ten_nope", "--yes")
    assert p.returncode == 3


def test_tokens(cli, control):
    t = cli.json("tenants", "create", "acme")
    tok = cli.json("tokens", "create", t["id"], "--name", "ci")
    assert tok["name"] == "ci" and tok["secret"].startswith(tok["prefix"])
    listed = cli.json("tokens", "list", t["id"])
    assert [x["id"] for x in listed] == [tok["id"]]
    assert "secret" not in listed[0]
    # a tenant token reads its tenant, and is refused operator-only routes
    assert cli.json("tenants", "get", t["id"], token=tok["secret"])["id"] == t["id"]
    p = cli("tenants", "list", token=tok["secret"])
    assert p.returncode == 5 and "hint: this needs an operator token" in p.stderr
    # table output shows the secret once, with a warning on stderr
    p = cli("tokens", "create", t["id"], "-o", "table")
    assert p.returncode == 0 and "secret: dfly_" in p.stdout and "not shown again" in p.stderr
    # revoke: it stops working at once
    p = cli("tokens", "revoke", t["id"], tok["id"])
    assert p.returncode == 2
    p = cli("tokens", "revoke", t["id"], tok["id"], "--yes")
    assert p.returncode == 0, p.stderr
    assert cli("instances", "list", token=tok["secret"]).returncode == 5
    assert cli("tokens", "list", "ten_nope").returncode == 3


def test_idempotency_key(cli):
    a = cli.json("tenants", "create", "idem", "--idempotency-key", "k1")
    b = cli.json("tenants", "create", "idem", "--idempotency-key", "k1")
    assert a == b
    p = cli("tenants", "create", "other", "--idempotency-key", "k1")
    assert p.returncode == 1 and "idempotency_key_reused" in p.stderr


def test_https_endpoint(control_factory, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    control = control_factory("--tls-cert-file", cert, "--tls-key-file", key, start=False)
    control.url = control.url.replace("http://", "https://")
    control.start()
    c = Cli(tmp_path / "cli", endpoint=control.url, token=control.token)
    p = c("tenants", "list")  # a certificate the system does not trust
    assert p.returncode == 6 and "certificate" in p.stderr.lower(), p.stderr
    assert c.json("tenants", "list", "--ca-file", cert) == []
    assert c.json("tenants", "list", env={"DFLY_CA_FILE": str(cert)}) == []
    assert c.json("tenants", "list", "--insecure") == []
    # login keeps the CA file in the profile
    c2 = Cli(tmp_path / "cli2")
    p = c2("login", "--endpoint", control.url, "--token", control.token, "--ca-file", cert)
    assert p.returncode == 0, p.stderr
    assert json.loads(c2.config_file.read_text())["profiles"]["default"]["ca_file"] == str(cert)
    assert c2.json("tenants", "list") == []
