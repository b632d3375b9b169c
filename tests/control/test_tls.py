"""TLS certificates (issue 14): the internal CA (GET /v1/ca), TLS instances that redis-py
reaches with the CA bundle (and plain text does not), replication over TLS, the certificate's
metadata matching what the nodes serve, rotation and automatic renewal with long-lived
connections still working, client certificates (client auth "yes": refused without one,
accepted with an issued one, refused again after DELETE through the CRL), switching TLS on
with a PATCH, tenant isolation, the master key, and --tls-auto for the API itself."""

import hashlib
import socket
import ssl

import redis
import requests

from conftest import HOST, wait_for

RUN_TIMEOUT = 90
PUSH_TIMEOUT = 20  # a few reconciler passes
OP_TIMEOUT = 30
CONNECT_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ssl.SSLError,
                  OSError)


# ---- helpers ------------------------------------------------------------------------------------

def ca_file(control, tmp_path, token=None):
    r = control.api("GET", "/v1/ca", token=token)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/x-pem-file")
    assert r.text.startswith("-----BEGIN CERTIFICATE-----")
    path = tmp_path / "ca.pem"
    path.write_text(r.text)
    return str(path)


def create_instance(control, tok, name, **fields):
    r = control.api("POST", "/v1/instances", token=tok,
                    json={"name": name, "memory": "64mb", **fields})
    assert r.status_code == 202, r.text
    iid = r.json()["instance"]["id"]
    password = r.json()["credentials"]["password"]
    inst = control.wait_status(iid, "running", RUN_TIMEOUT, token=tok)
    return iid, password, inst


def master(inst):
    return next(n for n in inst["nodes"] if n["role"] == "master")


def tls_client(node, password, ca, cert=None, key=None):
    return redis.Redis(host=HOST, port=node["port"], password=password, ssl=True,
                       ssl_ca_certs=ca, ssl_certfile=cert, ssl_keyfile=key,
                       decode_responses=True, socket_timeout=5)


def refused(client):
    """True when the client cannot run a command (the handshake or the first read fails)."""
    try:
        client.ping()
        return False
    except CONNECT_ERRORS:
        return True
    finally:
        client.connection_pool.disconnect()


def peer_cert(port, ca):
    """The certificate a node serves: (der, decoded dict), verified for 127.0.0.1 (its SAN)."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection((HOST, port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname=HOST) as ss:
            return ss.getpeercert(binary_form=True), ss.getpeercert()


def served_serial(port, ca):
    return peer_cert(port, ca)[1]["serialNumber"].lower().lstrip("0")


def certificate(control, iid, tok):
    r = control.api("GET", f"/v1/instances/{iid}/certificate", token=tok)
    assert r.status_code == 200, r.text
    return r.json()


def wait_operation(control, op_id, tok):
    def done():
        op = control.api("GET", f"/v1/operations/{op_id}", token=tok).json()
        return op if op["status"] in ("succeeded", "failed") else False
    op = wait_for(done, OP_TIMEOUT, f"operation {op_id}", interval=0.2)
    assert op["status"] == "succeeded", op
    return op


def event_types(control, iid, tok):
    r = control.api("GET", f"/v1/instances/{iid}/events", token=tok, params={"limit": 100})
    return [e["type"] for e in r.json()["items"]]


# ---- tests --------------------------------------------------------------------------------------

def test_tls_instance_replication_metadata_rotation(control, tenant, tmp_path,
                                                     replication_available):
    tid, tok = tenant
    ca = ca_file(control, tmp_path, token=tok)
    replicas = 1 if replication_available else 0
    iid, password, inst = create_instance(control, tok, "tls", tls=True,
                                          replicas_per_shard=replicas)
    assert inst["tls"] is True and inst["tls_client_auth"] == "no"
    assert inst["uri"].startswith("rediss://default@")
    m = master(inst)

    c = tls_client(m, password, ca)
    assert c.set("k", "v") and c.get("k") == "v"
    plain = redis.Redis(host=HOST, port=m["port"], password=password, socket_timeout=3)
    assert refused(plain)

    # The metadata is the certificate the node serves.
    meta = certificate(control, iid, tok)
    der, info = peer_cert(m["port"], ca)
    assert meta["fingerprint_sha256"] == hashlib.sha256(der).hexdigest()
    assert int(meta["serial"], 16) == int(info["serialNumber"], 16)
    assert ("IP Address", HOST) in info["subjectAltName"]
    assert ("DNS", "localhost") in info["subjectAltName"]
    assert "IP:127.0.0.1" in meta["sans"] and "DNS:localhost" in meta["sans"]
    assert meta["issuer"] == f"CN=dfly instance {iid} CA"
    assert meta["not_before"] < meta["renew_after"] < meta["not_after"]

    if replicas:
        replica = next(n for n in inst["nodes"] if n["role"] == "replica")
        c.set("replicated", "yes")
        rc = tls_client(replica, password, ca)
        wait_for(lambda: rc.get("replicated") == "yes", PUSH_TIMEOUT, "the replica's copy")
        rc.connection_pool.disconnect()

    # Rotation: a new certificate is served; the open connection keeps working.
    r = control.api("POST", f"/v1/instances/{iid}/certificate/rotate", token=tok)
    assert r.status_code == 202, r.text
    wait_operation(control, r.json()["operation"]["id"], tok)
    new = certificate(control, iid, tok)
    assert new["serial"] != meta["serial"]
    for node in inst["nodes"]:
        assert int(served_serial(node["port"], ca), 16) == int(new["serial"], 16)
    assert c.get("k") == "v"
    assert "certificate_issued" in event_types(control, iid, tok)
    assert "certificate_rotated" in event_types(control, iid, tok)
    c.connection_pool.disconnect()

    # Another tenant sees none of it.
    other = control.create_tenant()
    otok = control.create_token(other["id"])["secret"]
    for method, path in (("GET", "certificate"), ("POST", "certificate/rotate"),
                         ("GET", "client-certificates")):
        r = control.api(method, f"/v1/instances/{iid}/{path}", token=otok)
        assert r.status_code == 404, (path, r.text)
    r = control.api("POST", f"/v1/instances/{iid}/client-certificates", token=otok,
                    json={"name": "x"})
    assert r.status_code == 404, r.text


def test_patch_to_tls_and_client_certificates(control, tenant, tmp_path):
    tid, tok = tenant
    ca = ca_file(control, tmp_path)
    iid, password, inst = create_instance(control, tok, "plain")
    assert inst["tls"] is False and inst["uri"].startswith("redis://")
    base = f"/v1/instances/{iid}"
    r = control.api("GET", f"{base}/certificate", token=tok)
    assert r.status_code == 404 and "TLS off" in r.json()["error"]["message"], r.text
    r = control.api("POST", f"{base}/certificate/rotate", token=tok)
    assert r.status_code == 409, r.text
    r = control.api("POST", f"{base}/client-certificates", token=tok, json={"name": "app"})
    assert r.status_code == 409, r.text
    r = control.api("PATCH", base, token=tok, json={"tls_client_auth": "always"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "tls_client_auth", r.text
    r = control.api("PATCH", base, token=tok, json={"tls": "yes"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "tls", r.text

    # Switched on by a PATCH (a rolling restart), with client certificates required.
    r = control.api("PATCH", base, token=tok, json={"tls": True, "tls_client_auth": "yes"})
    assert r.status_code == 202, r.text
    version = r.json()["instance"]["spec_version"]

    def applied():
        i = control.instance(iid, token=tok)
        return i if i["status"] == "running" and i["applied_version"] >= version else False
    inst = wait_for(applied, RUN_TIMEOUT, "the TLS change to be applied", interval=0.2)
    assert inst["tls"] is True and inst["tls_client_auth"] == "yes"
    assert inst["uri"].startswith("rediss://")
    m = master(inst)
    assert refused(tls_client(m, password, ca))  # no client certificate

    for bad in ({"name": "bad name"}, {"name": "a" * 65}, {"name": "ok", "days": 0},
                {"name": "ok", "days": 826}, {"days": 3}):
        r = control.api("POST", f"{base}/client-certificates", token=tok, json=bad)
        assert r.status_code == 422, (bad, r.text)

    def issue(name, base=base):
        r = control.api("POST", f"{base}/client-certificates", token=tok,
                        json={"name": name, "days": 30})
        assert r.status_code == 201, r.text
        b = r.json()
        assert b["ca"].strip() == open(ca).read().strip()
        cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        cert.write_text(b["certificate"])
        key.write_text(b["private_key"])
        return b, str(cert), str(key)

    app, app_cert, app_key = issue("app")
    other, other_cert, other_key = issue("other.client")
    c = tls_client(m, password, ca, app_cert, app_key)
    wait_for(lambda: not refused(tls_client(m, password, ca, app_cert, app_key)), PUSH_TIMEOUT,
             "the client certificate to be accepted")
    assert c.set("k", "v")

    # A certificate made for another instance does not open this one: each has its own CA.
    iid2, _, _ = create_instance(control, tok, "other", tls=True)
    _, foreign_cert, foreign_key = issue("foreign", base=f"/v1/instances/{iid2}")
    assert refused(tls_client(m, password, ca, foreign_cert, foreign_key))

    listed = control.api("GET", f"{base}/client-certificates", token=tok).json()["items"]
    assert [x["name"] for x in listed] == ["app", "other.client"]
    assert all("private_key" not in x and "certificate" not in x for x in listed)
    one = control.api("GET", f"{base}/client-certificates/{app['id']}", token=tok).json()
    assert one["serial"] == app["serial"] and one["revoked"] is False

    # Revoked: new connections with it are refused (the CRL reaches the nodes); others not.
    r = control.api("DELETE", f"{base}/client-certificates/{app['id']}", token=tok)
    assert r.status_code == 204, r.text
    wait_for(lambda: refused(tls_client(m, password, ca, app_cert, app_key)), PUSH_TIMEOUT,
             "the revoked certificate to be refused")
    assert not refused(tls_client(m, password, ca, other_cert, other_key))
    one = control.api("GET", f"{base}/client-certificates/{app['id']}", token=tok).json()
    assert one["revoked"] is True
    r = control.api("GET", f"{base}/client-certificates/ccert_nosuch", token=tok)
    assert r.status_code == 404
    c.connection_pool.disconnect()

    # tls_client_auth alone is applied without a restart; tls off again is a rolling restart.
    def patch_applied(body):
        r = control.api("PATCH", base, token=tok, json=body)
        assert r.status_code == 202, r.text
        version = r.json()["instance"]["spec_version"]
        return wait_for(lambda: (lambda i: i if i["status"] == "running"
                                 and i["applied_version"] >= version else False)(
            control.instance(iid, token=tok)), RUN_TIMEOUT, f"{body} to be applied",
            interval=0.2)

    inst = patch_applied({"tls_client_auth": "optional"})
    assert master(inst)["pid"] == m["pid"]
    wait_for(lambda: not refused(tls_client(m, password, ca)), PUSH_TIMEOUT,
             "a client without a certificate to be accepted")
    inst = patch_applied({"tls": False})
    assert inst["tls"] is False and inst["uri"].startswith("redis://")
    m = master(inst)
    plain = redis.Redis(host=HOST, port=m["port"], password=password, socket_timeout=5)
    assert plain.ping()
    plain.connection_pool.disconnect()
    r = control.api("GET", f"{base}/certificate", token=tok)
    assert r.status_code == 404, r.text


def test_automatic_renewal_keeps_connections(control_factory, tmp_path):
    control = control_factory("--cert-lifetime", "8", "--cert-renew-share", "0.5")
    t = control.create_tenant()
    tok = control.create_token(t["id"])["secret"]
    ca = ca_file(control, tmp_path)
    iid, password, inst = create_instance(control, tok, "renew", tls=True)
    m = master(inst)
    c = tls_client(m, password, ca)
    assert c.set("k", "1")
    first = certificate(control, iid, tok)["serial"]

    def renewed():
        now = certificate(control, iid, tok)["serial"]
        return now != first and int(served_serial(m["port"], ca), 16) == int(now, 16)
    wait_for(renewed, PUSH_TIMEOUT, "a renewed certificate to be served", interval=0.3)
    assert "certificate_renewed" in event_types(control, iid, tok)
    assert c.incr("k") == 2  # the long-lived connection is still there
    assert tls_client(m, password, ca).get("k") == "2"
    c.connection_pool.disconnect()


def test_tls_auto_serves_https_verified_by_the_ca(control_factory, tmp_path):
    control = control_factory("--tls-auto", start=False)
    control.url = f"https://{HOST}:{control.port}"
    control.start()
    ca_path = control.data_dir / "ca.crt"
    assert ca_path.exists()
    r = requests.get(f"{control.url}/healthz", verify=str(ca_path), timeout=10)
    assert r.status_code == 200
    ca = ca_file(control, tmp_path)
    r = requests.get(f"https://localhost:{control.port}/readyz", verify=ca, timeout=10)
    assert r.status_code == 200
    assert f"clients trust {ca_path}" in control.log()


def test_master_key(control_factory, tmp_path):
    control = control_factory(start=False)
    control.env["DFLY_MASTER_KEY"] = "the first master key of this test"
    control.start()
    pem = control.api("GET", "/v1/ca").text
    assert not (control.data_dir / "master.key").exists()
    assert control.stop() == 0
    control.start()  # the same key: the same CA
    assert control.api("GET", "/v1/ca").text == pem
    assert control.stop() == 0
    control.env["DFLY_MASTER_KEY"] = "another master key, not the CA's"
    control.start(wait=False)
    assert control.proc.wait(timeout=15) != 0
    assert "wrong master key" in control.log()
    del control.env["DFLY_MASTER_KEY"]  # and no master.key file either
    control.start(wait=False)
    assert control.proc.wait(timeout=15) != 0
    assert "refusing to start" in control.log().splitlines()[-1]
    control.env["DFLY_MASTER_KEY"] = "the first master key of this test"
    control.start()  # the right key again: nothing was lost
    assert control.api("GET", "/v1/ca").text == pem


def test_master_key_file(control_factory):
    control = control_factory()
    key = control.data_dir / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600 and key.stat().st_size == 32
