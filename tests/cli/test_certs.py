"""dfly certs (issue 14) and the TLS options of instances and connect, against a real
dfly-control with its internal CA: certs ca prints what GET /v1/ca gives, a client certificate
written by client-create authenticates redis-py and redis-cli against a TLS instance that
requires one (and nothing else gets in), revocation shuts it out, a rotation keeps connections,
and an instance switched to TLS with instances update takes TLS clients."""

import json
import os
import stat

import pytest
import redis
import requests

from conftest import wait_for

MEMORY = "32mb"
WAIT = ("--wait", "--timeout", "90s")
PUSH_TIMEOUT = 30  # seconds for the reconciler to give a change to the nodes
HOST = "127.0.0.1"


def tls_client(port, ca, password, cert=None, key=None):
    return redis.Redis(host=HOST, port=port, password=password, ssl=True, ssl_ca_certs=str(ca),
                       ssl_certfile=cert and str(cert), ssl_keyfile=key and str(key),
                       socket_timeout=5, decode_responses=True)


def pings(port, ca, password, cert=None, key=None):
    c = tls_client(port, ca, password, cert, key)
    try:
        return c.ping()
    except (redis.exceptions.ConnectionError, OSError):
        return False
    finally:
        c.connection_pool.disconnect()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_ca_matches_the_api(control, cli, tenant, tmp_path):
    tid, tok = tenant
    r = requests.get(control.url + "/v1/ca", headers={"Authorization": f"Bearer {tok}"},
                     timeout=10)
    assert r.status_code == 200 and r.text.startswith("-----BEGIN CERTIFICATE-----")
    p = cli("certs", "ca", token=tok)
    assert p.returncode == 0 and p.stdout == r.text, p.stderr
    dest = tmp_path / "ca.pem"
    assert cli("certs", "ca", "--file", dest).returncode == 0
    assert dest.read_text() == r.text
    p = cli("certs", "ca", token="not-a-token-" + "x" * 20)
    assert p.returncode == 5, p.stderr


def test_client_certificates(cli, tenant, tmp_path):
    tid, tok = tenant
    out = cli.json("instances", "create", "sec", "--memory", MEMORY, "--tls",
                   "--tls-client-auth", "yes", *WAIT, token=tok)
    inst, pw = out["instance"], out["credentials"]["password"]
    assert inst["tls"] is True and inst["tls_client_auth"] == "yes"
    conn = cli.json("connect", "sec", token=tok)
    assert conn["tls"] is True and conn["uri"].startswith("rediss://")
    port = conn["port"]

    cert = cli.json("certs", "show", "sec", token=tok)
    assert "IP:127.0.0.1" in cert["sans"] and cert["serial"] and cert["fingerprint_sha256"]
    table = cli("certs", "show", "sec", "-o", "table", token=tok).stdout
    assert "IP:127.0.0.1" in table and cert["serial"] in table

    # client-create --out-dir: the three files, private to their owner
    d = tmp_path / "tls"
    p = cli("certs", "client-create", "sec", "app", "--days", "30", "--out-dir", d, "-o", "json",
            token=tok)
    assert p.returncode == 0, p.stderr
    made = json.loads(p.stdout)
    assert made["name"] == "app" and "private_key" not in made
    assert mode(d) == 0o700
    for f in ("app.crt", "app.key", "ca.crt"):
        assert mode(d / f) == 0o600, f
    assert (d / "app.key").read_text().startswith("-----BEGIN")
    ca, crt, key = d / "ca.crt", d / "app.crt", d / "app.key"

    # the certificate gets in; without one, or in plain text, nothing does
    wait_for(lambda: pings(port, ca, pw, crt, key), PUSH_TIMEOUT, "TLS with the client cert")
    assert not pings(port, ca, pw)
    plain = redis.Redis(host=HOST, port=port, password=pw, socket_timeout=5)
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        plain.ping()
    plain.connection_pool.disconnect()

    # connect --exec: redis-cli with --tls, the cached CA and the client certificate
    p = cli("connect", "sec", "--exec", "--cert", crt, "--key", key, "--", "ping",
            env={"DFLY_PASSWORD": pw}, token=tok)
    assert p.returncode == 0 and p.stdout.strip() == "PONG", p.stdout + p.stderr
    cached = list((cli.home / ".cache" / "dfly").glob("ca-*.pem"))
    assert len(cached) == 1 and cached[0].read_text() == ca.read_text()
    assert mode(cached[0]) == 0o600

    # without --out-dir everything is printed (once)
    other = cli.json("certs", "client-create", "sec", "other", token=tok)
    assert other["private_key"].startswith("-----BEGIN") and other["certificate"]
    table = cli("certs", "client-create", "sec", "third", "-o", "table", token=tok)
    assert table.returncode == 0 and "PRIVATE KEY-----" in table.stdout
    assert "not shown again" in table.stderr
    listed = cli.json("certs", "client-list", "sec", token=tok)
    assert [c["name"] for c in listed] == ["app", "other", "third"]
    assert not any(c["revoked"] for c in listed)

    # a rotation keeps the open connection; revocation shuts the certificate out
    held = tls_client(port, ca, pw, crt, key)
    assert held.ping()
    rot = cli.json("certs", "rotate", "sec", *WAIT, token=tok)
    assert rot["operation"]["status"] == "succeeded"
    assert cli.json("certs", "show", "sec", token=tok)["serial"] != cert["serial"]
    assert held.ping()
    held.connection_pool.disconnect()
    p = cli("certs", "client-revoke", "sec", made["id"], token=tok)
    assert p.returncode == 2 and "--yes" in p.stderr
    assert cli("certs", "client-revoke", "sec", made["id"], "--yes", token=tok).returncode == 0
    listed = {c["name"]: c["revoked"] for c in cli.json("certs", "client-list", "sec", token=tok)}
    assert listed == {"app": True, "other": False, "third": False}
    wait_for(lambda: not pings(port, ca, pw, crt, key), PUSH_TIMEOUT, "the revoked cert out")


def test_tls_off_and_switched_on(cli, tenant, tmp_path):
    tid, tok = tenant
    out = cli.json("instances", "create", "plain", "--memory", MEMORY, *WAIT, token=tok)
    pw = out["credentials"]["password"]
    assert out["instance"]["tls"] is False
    p = cli("certs", "show", "plain", token=tok)
    assert p.returncode == 3 and "TLS" in p.stderr, p.stderr
    p = cli("certs", "client-create", "plain", "app", token=tok)
    assert p.returncode == 1 and "conflict" in p.stderr, p.stderr
    assert cli("certs", "rotate", "plain", token=tok).returncode == 1

    up = cli.json("instances", "update", "plain", "--tls", *WAIT, token=tok)
    assert up["instance"]["tls"] is True and up["instance"]["uri"].startswith("rediss://")
    ca = tmp_path / "ca.pem"
    assert cli("certs", "ca", "--file", ca, token=tok).returncode == 0
    port = up["instance"]["endpoint"]["port"]
    wait_for(lambda: pings(port, ca, pw), PUSH_TIMEOUT, "TLS on the switched instance")
    p = cli("connect", "plain", "--exec", "--", "ping", env={"DFLY_PASSWORD": pw}, token=tok)
    assert p.returncode == 0 and p.stdout.strip() == "PONG", p.stdout + p.stderr
