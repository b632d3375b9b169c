"""Every route of api/openapi.yaml is answered, and every answer matches its schema (Control.api
checks each one against the document)."""

from conftest import CONTRACT, wait_for

RUN_TIMEOUT = 60


def test_every_route_answers_as_documented(control):
    c = control
    c.api("GET", "/healthz", token="")
    c.api("GET", "/readyz", token="")
    c.api("GET", "/metrics", token="")
    c.api("GET", "/v1/openapi.json", token="")
    t = c.create_tenant("contract")
    c.api("GET", "/v1/tenants")
    c.api("GET", f"/v1/tenants/{t['id']}")
    c.api("PATCH", f"/v1/tenants/{t['id']}", json={"max_instances": 4})
    tok = c.create_token(t["id"])
    c.api("GET", f"/v1/tenants/{t['id']}/tokens")
    r = c.api("POST", "/v1/instances", token=tok["secret"],
              json={"name": "contract", "memory": "16mb", "replicas_per_shard": 1,
                    "persistence": {"snapshot_cron": "0 * * * *", "appendonly": False},
                    "backup_schedule": {"cron": "0 3 * * *", "timezone": "Europe/Berlin"},
                    "backup_retention": {"count": 7, "max_age_hours": 720}})
    iid = r.json()["instance"]["id"]
    c.api("GET", "/v1/instances", token=tok["secret"])
    c.api("GET", f"/v1/operations/{r.json()['operation']['id']}", token=tok["secret"])
    c.wait_status(iid, "running", RUN_TIMEOUT)
    # issue 15: backups, restore, planned failover
    r = c.api("POST", f"/v1/instances/{iid}/backups")
    bid = r.json()["backup"]["id"]
    wait_for(lambda: c.api("GET", f"/v1/backups/{bid}").json()["status"] == "succeeded",
             RUN_TIMEOUT, "the backup")
    c.api("GET", f"/v1/instances/{iid}/backups")
    c.api("GET", f"/v1/backups/{bid}/download")
    for action, body in (("restore", {"backup_id": bid}), ("failover", {})):
        op = c.api("POST", f"/v1/instances/{iid}/{action}", json=body).json()["operation"]
        wait_for(lambda: c.api("GET", f"/v1/operations/{op['id']}").json()["status"]
                 == "succeeded", RUN_TIMEOUT, f"the {action}")
        c.wait_status(iid, "running", RUN_TIMEOUT)
    c.api("DELETE", f"/v1/backups/{bid}")
    # issue 14: ACL users
    users = f"/v1/instances/{iid}/users"
    c.api("POST", users, json={"name": "contract", "rules": "+get ~k:*"})
    c.api("GET", users)
    c.api("GET", f"{users}/contract")
    c.api("PATCH", f"{users}/contract", json={"enabled": False})
    c.api("POST", f"{users}/contract/rotate-password", json={})
    c.api("POST", f"{users}/contract/finish-rotation")
    c.api("DELETE", f"{users}/contract")
    c.api("PATCH", f"/v1/instances/{iid}", json={"replicas_per_shard": 0})
    c.api("POST", f"/v1/instances/{iid}/restart")
    c.api("GET", f"/v1/instances/{iid}/events")
    c.api("GET", f"/v1/instances/{iid}/metrics")  # issue 14: metrics aggregation
    c.api("PUT", f"/v1/instances/{iid}/alerts", json={"memory_share_max": 0.9})
    c.api("GET", f"/v1/instances/{iid}/alerts")
    c.wait_status(iid, "running", RUN_TIMEOUT)
    # issue 14: the internal CA and certificates (tests/control/test_tls.py)
    c.api("GET", "/v1/ca", token=tok["secret"])
    c.api("PATCH", f"/v1/instances/{iid}", json={"tls": True, "tls_client_auth": "optional"})
    wait_for(lambda: c.api("GET", f"/v1/instances/{iid}/certificate").status_code == 200,
             RUN_TIMEOUT, "the instance's certificate")
    op = c.api("POST", f"/v1/instances/{iid}/certificate/rotate").json()["operation"]
    wait_for(lambda: c.api("GET", f"/v1/operations/{op['id']}").json()["status"] == "succeeded",
             RUN_TIMEOUT, "the rotation")
    certs = f"/v1/instances/{iid}/client-certificates"
    cc = c.api("POST", certs, json={"name": "contract"}).json()
    c.api("GET", certs)
    c.api("GET", f"{certs}/{cc['id']}")
    c.api("DELETE", f"{certs}/{cc['id']}")
    c.wait_status(iid, "running", RUN_TIMEOUT)
    c.api("DELETE", f"/v1/instances/{iid}")
    c.wait_status(iid, None, RUN_TIMEOUT)
    c.api("DELETE", f"/v1/tenants/{t['id']}/tokens/{tok['id']}")
    c.api("DELETE", f"/v1/tenants/{t['id']}")
    answered = {(m, tpl) for m, tpl, status in CONTRACT.seen if status.startswith("2")}
    missing = set(CONTRACT.operations()) - answered
    assert not missing, f"routes never answered with success: {sorted(missing)}"


def test_document_is_consistent():
    doc = CONTRACT.doc
    assert doc["openapi"].startswith("3.1")
    for template, item in doc["paths"].items():
        for method in ("get", "post", "patch", "delete"):
            op = item.get(method)
            if not op:
                continue
            assert op.get("operationId"), (method, template)
            assert any(s.startswith("2") for s in op["responses"]), (method, template)
            if template.startswith("/v1/") and template != "/v1/openapi.json":
                assert "401" in op["responses"], (method, template)
                assert "429" in op["responses"], (method, template)
