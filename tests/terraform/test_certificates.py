"""TLS with the real terraform binary against a real dfly-control and its nodes: the data source
dfly_ca_certificate gives the CA of GET /v1/ca; dfly_instance switches to TLS with client
authentication in place (rediss:// uri); a dfly_client_certificate's files let redis-py connect
while clients without one, and plain-text clients, are refused; destroying the certificate
revokes it on the nodes; TLS switches off in place again; terraform/examples/tls-and-users
works as its comment says."""

import json
import os
import shutil
import ssl

import pytest
import redis

from conftest import wait_for

PUSH_TIMEOUT = 30  # the CRL reaches the nodes within a reconciler pass or two
REDIS_TIMEOUT = 5
CONNECT_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ssl.SSLError,
                  OSError)


def tls_tf(tls=None, client_auth=None, cert=False, days=None):
    settings = ""
    if tls is not None:
        settings += f"tls = {'true' if tls else 'false'}\n"
    if client_auth is not None:
        settings += f'tls_client_auth = "{client_auth}"\n'
    body = f"""
        data "dfly_ca_certificate" "ca" {{}}

        resource "dfly_instance" "main" {{
          name   = "secure"
          memory = "32mb"
          {settings}
        }}
        output "ca"   {{ value = data.dfly_ca_certificate.ca.pem }}
        output "id"   {{ value = dfly_instance.main.id }}
        output "host" {{ value = dfly_instance.main.host }}
        output "port" {{ value = dfly_instance.main.port }}
        output "uri"  {{ value = dfly_instance.main.uri }}
        output "password" {{
          value     = dfly_instance.main.default_password
          sensitive = true
        }}
        """
    if cert:
        body += f"""
        resource "dfly_client_certificate" "app" {{
          instance_id = dfly_instance.main.id
          name        = "app"
          {f"days = {days}" if days else ""}
        }}
        output "cert_id"  {{ value = dfly_client_certificate.app.id }}
        output "cert_pem" {{ value = dfly_client_certificate.app.certificate_pem }}
        output "cert_ca"  {{ value = dfly_client_certificate.app.ca_pem }}
        output "key_pem" {{
          value     = dfly_client_certificate.app.private_key_pem
          sensitive = true
        }}
        """
    return body


def client(t, tls, ca=None, cert=None, key=None):
    kw = dict(ssl=True, ssl_ca_certs=ca, ssl_certfile=cert, ssl_keyfile=key) if tls else {}
    return redis.Redis(host=t.output("host"), port=int(t.output("port")),
                       password=t.output("password"), socket_timeout=REDIS_TIMEOUT,
                       decode_responses=True, **kw)


def works(c):
    """True when a command runs; False when the connection (or its handshake) is refused."""
    try:
        return c.ping()
    except CONNECT_ERRORS:
        return False
    finally:
        c.connection_pool.disconnect()


def resource_values(t, rtype):
    state = json.loads(t.run("show", "-json").stdout)
    for r in state["values"]["root_module"]["resources"]:
        if r["type"] == rtype:
            return r["values"]
    return None


def test_tls_instance_with_client_certificate(control, tenant, tf, tmp_path):
    _, token = tenant
    t = tf(token)

    # a plain instance; the data source gives the CA exactly as GET /v1/ca does
    t.write(tls_tf())
    t.apply()
    iid = t.output("id")
    r = control.api("GET", "/v1/ca", token=token, check=False)
    assert r.status_code == 200, r.text
    assert t.output("ca") == r.text and r.text.startswith("-----BEGIN CERTIFICATE-----")
    ca = tmp_path / "ca.pem"
    ca.write_text(t.output("ca"))
    assert t.output("uri").startswith("redis://")
    assert works(client(t, tls=False))
    assert resource_values(t, "dfly_instance")["tls"] is False
    assert t.plan_exitcode()[0] == 0

    # TLS with client authentication, switched on in place, and a client certificate
    t.write(tls_tf(tls=True, client_auth="yes", cert=True, days=30))
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to add, 1 to change, 0 to destroy" in out, out
    t.apply()
    assert t.output("id") == iid
    assert t.output("uri").startswith("rediss://")
    inst = control.api("GET", f"/v1/instances/{iid}", token=token, check=False).json()
    assert inst["tls"] is True and inst["tls_client_auth"] == "yes"
    assert t.output("cert_ca") == t.output("ca")
    cert, key = tmp_path / "app.crt", tmp_path / "app.key"
    cert.write_text(t.output("cert_pem"))
    key.write_text(t.output("key_pem"))
    files = dict(ca=str(ca), cert=str(cert), key=str(key))
    wait_for(lambda: works(client(t, True, **files)), PUSH_TIMEOUT, "TLS with the certificate")
    c = client(t, True, **files)
    assert c.set("k", "v") and c.get("k") == "v"
    c.connection_pool.disconnect()
    assert not works(client(t, True, ca=str(ca)))  # no client certificate
    assert not works(client(t, tls=False))  # plain text
    values = resource_values(t, "dfly_client_certificate")
    assert values["name"] == "app" and values["days"] == 30 and values["serial"]
    listed = control.api("GET", f"/v1/instances/{iid}/client-certificates", token=token,
                         check=False).json()["items"]
    assert [(x["id"], x["serial"]) for x in listed] == [(t.output("cert_id"), values["serial"])]
    assert t.plan_exitcode()[0] == 0

    # a certificate removed from the configuration is revoked: the nodes refuse it from the
    # next CRL on
    t.write(tls_tf(tls=True, client_auth="yes"))
    t.apply()
    cert_id = listed[0]["id"]
    one = control.api("GET", f"/v1/instances/{iid}/client-certificates/{cert_id}", token=token,
                      check=False).json()
    assert one["revoked"] is True
    wait_for(lambda: not works(client(t, True, **files)), PUSH_TIMEOUT,
             "the revoked certificate to be refused")

    # TLS off in place: plain clients again
    t.write(tls_tf())
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "must be replaced" not in out, out
    t.apply()
    assert t.output("id") == iid and t.output("uri").startswith("redis://")
    wait_for(lambda: works(client(t, tls=False)), PUSH_TIMEOUT, "plain text again")
    assert t.plan_exitcode()[0] == 0
    t.run("destroy", "-auto-approve")


def test_client_certificate_revoked_elsewhere_is_issued_again(control, tenant, tf):
    _, token = tenant
    t = tf(token)
    t.write(tls_tf(tls=True, cert=True))
    t.apply()
    iid, first = t.output("id"), t.output("cert_id")
    assert resource_values(t, "dfly_client_certificate")["days"] == 365
    r = control.api("DELETE", f"/v1/instances/{iid}/client-certificates/{first}", token=token,
                    check=False)
    assert r.status_code == 204, r.text
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to add" in out, out
    t.apply()
    assert t.output("cert_id") != first
    # a new validity is a new certificate
    t.write(tls_tf(tls=True, cert=True, days=90))
    code, out = t.plan_exitcode()
    assert code == 2 and "must be replaced" in out, out
    t.run("destroy", "-auto-approve")


def test_tls_validation(control, tenant, tf):
    _, token = tenant
    t = tf(token)
    t.write(tls_tf(client_auth="yes"))
    p = t.run("plan", check=False)
    assert p.returncode == 1 and "tls_client_auth" in p.stderr, p.stderr
    t.write(tls_tf(tls=True, client_auth="always"))
    p = t.run("plan", check=False)
    assert p.returncode == 1 and "tls_client_auth" in p.stderr, p.stderr
    t.write(tls_tf(tls=True) + """
        resource "dfly_client_certificate" "bad" {
          instance_id = dfly_instance.main.id
          name        = "no spaces"
          days        = 1000
        }
        """)
    p = t.run("plan", check=False)
    assert p.returncode == 1 and "name" in p.stderr and "days" in p.stderr, p.stderr


def test_example_tls_and_users(control, tenant, tf, tmp_path):
    """terraform/examples/tls-and-users: the user and its client certificate reach the data."""
    _, token = tenant
    t = tf(token)
    src = os.path.join(os.path.dirname(__file__), "..", "..", "terraform", "examples",
                       "tls-and-users", "main.tf")
    shutil.copy(src, t.dir / "main.tf")
    t.apply()
    assert t.output("uri").startswith("rediss://")
    files = {}
    for name, output in (("ca", "ca"), ("cert", "certificate"), ("key", "private_key")):
        files[name] = str(tmp_path / f"{name}.pem")
        (tmp_path / f"{name}.pem").write_text(t.output(output))

    def app():
        return redis.Redis(host=t.output("host"), port=int(t.output("port")), username="app",
                           password=t.output("app_password"), ssl=True,
                           ssl_ca_certs=files["ca"], ssl_certfile=files["cert"],
                           ssl_keyfile=files["key"], socket_timeout=REDIS_TIMEOUT,
                           decode_responses=True)

    def can_write():
        c = app()
        try:
            return c.set("cache:1", "v")
        except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError,
                *CONNECT_ERRORS):
            return False
        finally:
            c.connection_pool.disconnect()

    wait_for(can_write, PUSH_TIMEOUT, "the app user over TLS")
    c = app()
    assert c.get("cache:1") == "v"
    with pytest.raises(redis.exceptions.NoPermissionError):
        c.get("other:1")  # outside ~cache:*
    c.connection_pool.disconnect()
    assert t.plan_exitcode()[0] == 0
    t.run("destroy", "-auto-approve")
