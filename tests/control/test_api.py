"""dfly-control's REST API: tokens and tenants, isolation, errors, limits, Idempotency-Key,
ETags, pagination, and the OpenAPI document itself. Every answer is checked against
api/openapi.yaml by Control.api."""

import json
import stat
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import ROOT

SMALL = {"memory": "8mb"}


def error_of(r):
    body = r.json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_health_ready_metrics(control):
    assert control.api("GET", "/healthz", token="").json() == {"status": "ok"}
    ready = control.api("GET", "/readyz", token="")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    control.api("GET", "/v1/tenants")
    text = control.api("GET", "/metrics", token="").text
    assert "dfly_control_ready 1" in text
    assert 'dfly_control_http_requests_total{method="GET",route="/v1/tenants",code="200"}' in text
    assert "dfly_control_http_request_duration_seconds_bucket" in text
    assert "dfly_control_reconcile_passes_total" in text
    assert "process_resident_memory_bytes" in text and "process_cpu_seconds_total" in text


def test_openapi_json_is_the_yaml(control):
    served = control.api("GET", "/v1/openapi.json", token="").json()
    with open(ROOT / "api" / "openapi.yaml", encoding="utf-8") as f:
        assert served == yaml.safe_load(f)


def test_operator_token_file_is_private_and_not_logged(control):
    path = control.data_dir / "operator.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = control.token
    assert len(token) >= 64
    assert token not in control.log()
    assert str(path) in control.log()
    assert stat.S_IMODE((control.data_dir / "control.db").stat().st_mode) & 0o077 == 0
    # The same token survives a restart.
    control.restart()
    assert control.token == token
    assert control.api("GET", "/v1/tenants").status_code == 200


def test_operator_token_from_environment(control_factory):
    c = control_factory(start=False)
    secret = "env-operator-token-0123456789abcdef"
    c.env["DFLY_OPERATOR_TOKEN"] = secret
    c.start()
    assert not (c.data_dir / "operator.token").exists()
    assert c.api("GET", "/v1/tenants", token=secret).status_code == 200
    assert secret not in c.log()


def test_tenant_life_cycle(control):
    t = control.create_tenant("acme", max_instances=3, max_memory="1gb")
    assert t["max_memory"] == 1 << 30 and t["usage"] == {"instances": 0, "memory": 0}
    r = control.api("GET", f"/v1/tenants/{t['id']}")
    assert r.status_code == 200 and r.json()["name"] == "acme"
    assert control.api("POST", "/v1/tenants", json={"name": "acme"}).status_code == 409
    r = control.api("PATCH", f"/v1/tenants/{t['id']}", json={"name": "acme2", "max_instances": 5})
    assert r.status_code == 200 and r.json()["name"] == "acme2"
    assert r.json()["max_instances"] == 5 and r.json()["max_memory"] == 1 << 30
    names = [x["name"] for x in control.api("GET", "/v1/tenants").json()["items"]]
    assert "acme2" in names
    assert control.api("DELETE", f"/v1/tenants/{t['id']}").status_code == 204
    assert control.api("GET", f"/v1/tenants/{t['id']}").status_code == 404
    assert control.api("DELETE", f"/v1/tenants/{t['id']}").status_code == 404


def test_token_life_cycle(control):
    t = control.create_tenant()
    made = control.create_token(t["id"])
    secret = made["secret"]
    assert secret.startswith("dfly_") and len(secret) >= 64
    assert made["prefix"] == secret[: len(made["prefix"])]
    listed = control.api("GET", f"/v1/tenants/{t['id']}/tokens").json()["items"]
    assert [x["id"] for x in listed] == [made["id"]]
    assert all("secret" not in x for x in listed)
    assert secret not in control.log()
    # The tenant token reads its tenant, makes and lists its own tokens...
    assert control.api("GET", f"/v1/tenants/{t['id']}", token=secret).status_code == 200
    second = control.create_token(t["id"], token=secret)
    assert len(control.api("GET", f"/v1/tenants/{t['id']}/tokens", token=secret)
               .json()["items"]) == 2
    # ...but not operator collections.
    assert error_of(control.api("GET", "/v1/tenants", token=secret))["code"] == "forbidden"
    assert control.api("POST", "/v1/tenants", token=secret, json={"name": "x"}).status_code == 403
    # Revoked: refused at once; the other token still works.
    r = control.api("DELETE", f"/v1/tenants/{t['id']}/tokens/{made['id']}")
    assert r.status_code == 204
    assert control.api("GET", "/v1/instances", token=secret).status_code == 401
    assert control.api("GET", "/v1/instances", token=second["secret"]).status_code == 200
    listed = control.api("GET", f"/v1/tenants/{t['id']}/tokens").json()["items"]
    assert {x["id"]: x["revoked_at"] is not None for x in listed} == {
        made["id"]: True, second["id"]: False}
    assert control.api("DELETE", f"/v1/tenants/{t['id']}/tokens/tok_nope").status_code == 404
    # Deleting the tenant ends its tokens.
    assert control.api("DELETE", f"/v1/tenants/{t['id']}").status_code == 204
    assert control.api("GET", "/v1/instances", token=second["secret"]).status_code == 401


def test_tenant_isolation(control):
    a = control.create_tenant("tenant-a")
    b = control.create_tenant("tenant-b")
    ta = control.create_token(a["id"])["secret"]
    tb = control.create_token(b["id"])["secret"]
    ra = control.api("POST", "/v1/instances", token=ta, json={"name": "cache", **SMALL})
    rb = control.api("POST", "/v1/instances", token=tb, json={"name": "cache", **SMALL})
    assert ra.status_code == 202 and rb.status_code == 202  # names are per tenant
    ia, ib = ra.json()["instance"]["id"], rb.json()["instance"]["id"]
    op_b = rb.json()["operation"]["id"]
    # A sees nothing of B: 404, never 403.
    for method, path, body in [
        ("GET", f"/v1/instances/{ib}", None),
        ("PATCH", f"/v1/instances/{ib}", {"memory": "16mb"}),
        ("DELETE", f"/v1/instances/{ib}", None),
        ("POST", f"/v1/instances/{ib}/restart", None),
        ("GET", f"/v1/instances/{ib}/events", None),
        ("GET", f"/v1/operations/{op_b}", None),
        ("GET", f"/v1/tenants/{b['id']}", None),
        ("GET", f"/v1/tenants/{b['id']}/tokens", None),
        ("POST", f"/v1/tenants/{b['id']}/tokens", None),
    ]:
        r = control.api(method, path, token=ta, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert error_of(r)["code"] == "not_found"
    r = control.api("POST", "/v1/instances", token=ta,
                    json={"name": "x", "tenant_id": b["id"], **SMALL})
    assert r.status_code == 404
    ids = [i["id"] for i in control.api("GET", "/v1/instances", token=ta).json()["items"]]
    assert ids == [ia]
    everything = [i["id"] for i in control.api("GET", "/v1/instances").json()["items"]]
    assert set(everything) == {ia, ib}
    only_b = control.api("GET", "/v1/instances", params={"tenant_id": b["id"]}).json()["items"]
    assert [i["id"] for i in only_b] == [ib]
    # B's instance was not touched.
    assert control.instance(ib)["spec_version"] == 1


def test_authentication_errors(control):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}):
        r = control.api("GET", "/v1/instances", token="", headers=headers)
        assert r.status_code == 401, headers
        assert error_of(r)["code"] == "unauthorized"
        assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("body,field", [
    ({"memory": "8mb"}, "name"),
    ({"name": "x"}, "memory"),
    ({"name": "Bad_Name", **SMALL}, "name"),
    ({"name": "x" * 64, **SMALL}, "name"),
    ({"name": "x", "memory": "lots"}, "memory"),
    ({"name": "x", "memory": -5}, "memory"),
    ({"name": "x", "memory": "2tb"}, "memory"),
    ({"name": "x", "memory": "2mb", "shards": 3}, "memory"),
    ({"name": "x", "shards": 0, **SMALL}, "shards"),
    ({"name": "x", "shards": 65, **SMALL}, "shards"),
    ({"name": "x", "shards": "2", **SMALL}, "shards"),
    ({"name": "x", "replicas_per_shard": 3, **SMALL}, "replicas_per_shard"),
    ({"name": "x", "eviction_policy": "lru", **SMALL}, "eviction_policy"),
    ({"name": "x", "persistence": {"snapshot_cron": "61 * * * *"}, **SMALL},
     "persistence.snapshot_cron"),
    ({"name": "x", "persistence": {"appendonly": "yes"}, **SMALL}, "persistence.appendonly"),
    ({"name": "x", "persistence": {"fsync": 1}, **SMALL}, "persistence.fsync"),
    ({"name": "x", "labels": {"a": 1}, **SMALL}, "labels"),
    ({"name": "x", "labels": {"-a": "b"}, **SMALL}, "labels"),
    ({"name": "x", "colour": "red", **SMALL}, "colour"),
])
def test_instance_validation(control, tenant, body, field):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok, json=body)
    assert r.status_code == 422, r.text
    err = error_of(r)
    assert err["code"] == "validation_failed" and err["field"] == field, err
    assert control.api("GET", "/v1/instances", token=tok).json()["items"] == []


def test_request_errors(control, tenant):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok, data="{not json",
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_json"
    r = control.api("POST", "/v1/instances", token=tok, data="[1]")
    assert r.status_code == 400 and error_of(r)["code"] == "invalid_json"
    r = control.api("POST", "/v1/instances", token=tok, data='{"name": "a", "name": "b"}')
    assert r.status_code == 400
    assert control.api("GET", "/v1/instances", token=tok,
                       params={"limit": 0}).status_code == 400
    assert control.api("GET", "/v1/instances", token=tok,
                       params={"cursor": "!!"}).status_code == 400
    assert control.api("GET", "/v1/instances", token=tok,
                       params={"status": "sleepy"}).status_code == 400
    assert control.api("GET", "/v1/instances/ins_nope", token=tok).status_code == 404
    assert control.api("GET", "/v1/operations/op_nope", token=tok).status_code == 404
    # Outside the contract: unknown routes and methods get the same error shape.
    r = control.api("GET", "/v1/nothing", token=tok, check=False)
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = control.api("PUT", "/v1/instances", token=tok, check=False)
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_body_size_limit(control_factory):
    c = control_factory("--max-body-bytes", "1kb")
    r = c.api("POST", "/v1/tenants", json={"name": "x", "pad": "y" * 4096})
    assert r.status_code == 413 and error_of(r)["code"] == "payload_too_large"
    assert c.api("POST", "/v1/tenants", json={"name": "fits"}).status_code == 201


def test_rate_limit_per_token(control_factory):
    c = control_factory("--rate-limit", "1", "--rate-burst", "3")
    t = c.create_tenant()  # uses the operator token's burst
    other = c.create_token(t["id"])["secret"]
    codes = [c.api("GET", "/v1/tenants").status_code for _ in range(4)]
    assert codes[-1] == 429, codes
    r = c.api("GET", "/v1/tenants")
    assert r.status_code == 429 and error_of(r)["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1
    # Another token has its own bucket.
    assert c.api("GET", "/v1/instances", token=other).status_code == 200
    time.sleep(int(r.headers["Retry-After"]))
    assert c.api("GET", "/v1/tenants").status_code == 200


def test_idempotency_key(control, tenant):
    _, tok = tenant
    body = {"name": "idem", **SMALL}
    key = {"Idempotency-Key": "create-idem-1"}
    first = control.api("POST", "/v1/instances", token=tok, json=body, headers=key)
    again = control.api("POST", "/v1/instances", token=tok, json=body, headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()  # the same instance, operation and password
    items = control.api("GET", "/v1/instances", token=tok).json()["items"]
    assert len(items) == 1
    r = control.api("POST", "/v1/instances", token=tok, json={**body, "name": "other"},
                    headers=key)
    assert r.status_code == 422 and error_of(r)["code"] == "idempotency_key_reused"
    # Without a key, the same request is a new one (and the name is taken).
    assert control.api("POST", "/v1/instances", token=tok, json=body).status_code == 409
    # Keys are per tenant: another tenant's same key is its own.
    t2 = control.create_tenant()
    tok2 = control.create_token(t2["id"])["secret"]
    r = control.api("POST", "/v1/instances", token=tok2, json=body, headers=key)
    assert r.status_code == 202 and r.json()["instance"]["id"] != first.json()["instance"]["id"]
    # The first response was kept encrypted: the password is not in the database in clear.
    password = first.json()["credentials"]["password"]
    db = Path(control.data_dir / "control.db").read_bytes()
    wal = control.data_dir / "control.db-wal"
    assert password.encode() not in db + (wal.read_bytes() if wal.exists() else b"")


def test_if_match_and_etag(control, tenant):
    _, tok = tenant
    r = control.api("POST", "/v1/instances", token=tok, json={"name": "etag", **SMALL})
    iid = r.json()["instance"]["id"]
    etag = r.headers["ETag"]
    assert etag == r.json()["instance"]["etag"] == '"v1"'
    get = control.api("GET", f"/v1/instances/{iid}", token=tok)
    assert get.headers["ETag"] == etag
    # A change while it is still being created is accepted (no "try later").
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"memory": "16mb"},
                    headers={"If-Match": etag})
    assert r.status_code == 202, r.text
    new_etag = r.headers["ETag"]
    assert new_etag != etag and r.json()["operation"]["kind"] == "update"
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"memory": "32mb"},
                    headers={"If-Match": etag})
    assert r.status_code == 412 and error_of(r)["code"] == "precondition_failed"
    assert r.headers["ETag"] == new_etag
    assert control.instance(iid, token=tok)["memory"] == 16 << 20
    r = control.api("DELETE", f"/v1/instances/{iid}", token=tok, headers={"If-Match": etag})
    assert r.status_code == 412
    # Changes that cannot be made are refused, naming the field.
    for body, field in [({"shards": 65}, "shards"), ({"name": "renamed"}, "name"),
                        ({"memory": "lots"}, "memory"), ({"tenant_id": "x"}, "tenant_id")]:
        r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json=body)
        assert r.status_code == 422 and error_of(r)["field"] == field, body


def test_quotas(control):
    t = control.create_tenant(max_instances=1, max_memory="24mb")
    tok = control.create_token(t["id"])["secret"]
    r = control.api("POST", "/v1/instances", token=tok, json={"name": "big", "memory": "32mb"})
    assert r.status_code == 422 and error_of(r)["code"] == "quota_exceeded"
    r = control.api("POST", "/v1/instances", token=tok, json={"name": "one", "memory": "16mb"})
    assert r.status_code == 202
    iid = r.json()["instance"]["id"]
    r = control.api("POST", "/v1/instances", token=tok, json={"name": "two", **SMALL})
    assert r.status_code == 422 and error_of(r)["field"] == "max_instances"
    r = control.api("PATCH", f"/v1/instances/{iid}", token=tok, json={"memory": "32mb"})
    assert r.status_code == 422 and error_of(r)["code"] == "quota_exceeded"
    usage = control.api("GET", f"/v1/tenants/{t['id']}").json()["usage"]
    assert usage == {"instances": 1, "memory": 16 << 20}
    r = control.api("DELETE", f"/v1/tenants/{t['id']}")
    assert r.status_code == 409 and error_of(r)["code"] == "conflict"


def test_pagination_and_filters(control):
    made = [control.create_tenant(f"page-{i}")["id"] for i in range(5)]
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = control.api("GET", "/v1/tenants", params=params).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    # Pages in creation order (ties within a millisecond by id), none twice, none missed.
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    t = control.create_tenant()
    tok = control.create_token(t["id"])["secret"]
    for i, env in enumerate(["prod", "dev", "prod"]):
        r = control.api("POST", "/v1/instances", token=tok,
                        json={"name": f"l{i}", "labels": {"env": env, "team": "x"}, **SMALL})
        assert r.status_code == 202
    prod = control.api("GET", "/v1/instances", token=tok,
                       params={"label": ["env=prod", "team=x"]}).json()["items"]
    assert sorted(i["name"] for i in prod) == ["l0", "l2"]
    assert control.api("GET", "/v1/instances", token=tok,
                       params={"label": "env=none"}).json()["items"] == []
    creating = control.api("GET", "/v1/instances", token=tok,
                           params={"status": "failed"}).json()["items"]
    assert creating == []


def test_tls(control_factory, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    c = control_factory("--tls-cert-file", cert, "--tls-key-file", key, start=False)
    c.url = c.url.replace("http://", "https://")
    c.start()
    r = requests.get(c.url + "/healthz", verify=str(cert), timeout=10)
    assert r.status_code == 200
    with pytest.raises(requests.RequestException):
        requests.get(c.url.replace("https://", "http://") + "/healthz", timeout=2)


def test_bad_flags_stop_the_start(control_factory):
    c = control_factory("--port-range", "10-5", start=False)
    import subprocess
    p = subprocess.run(c.argv(), capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "--port-range" in p.stderr


def test_config_file_environment_and_json_log(control_factory, tmp_path):
    conf = tmp_path / "control.conf"
    conf.write_text("# dfly-control\nlog_format json\nmax-body-bytes 1kb\nrate_limit 1\n")
    c = control_factory(str(conf), start=False)
    c.env["DFLY_CONTROL_RATE_LIMIT"] = "0"  # the environment beats the file
    c.start()
    assert c.api("POST", "/v1/tenants", json={"name": "x", "pad": "y" * 2048}).status_code == 413
    codes = {c.api("GET", "/v1/tenants").status_code for _ in range(10)}
    assert codes == {200}
    records = [json.loads(line) for line in c.log().splitlines() if line.startswith("{")]
    assert records and any("REST API on" in str(r) for r in records)
