"""terraform-provider-dfly with the real terraform binary and a real dfly-control: create,
use, plan without diffs, update in place, replacement, import, drift, destroy, data sources,
tenants and tokens, validation, and installation from a filesystem mirror."""

import json
import os
import shutil
import subprocess

import pytest
import redis

from conftest import Control, Terraform, provider_binary, wait_for

MIB = 1024 * 1024
REDIS_TIMEOUT = 10


def instance_tf(name, memory, policy="allkeys-lru", shards=None, labels='{ a = "1", b = "2" }'):
    extra = f"shards = {shards}" if shards else ""
    return f"""
        resource "dfly_instance" "main" {{
          name            = "{name}"
          memory          = "{memory}"
          eviction_policy = "{policy}"
          labels          = {labels}
          {extra}
          timeouts {{
            create = "2m"
          }}
        }}
        output "id"       {{ value = dfly_instance.main.id }}
        output "host"     {{ value = dfly_instance.main.host }}
        output "port"     {{ value = dfly_instance.main.port }}
        output "password" {{
          value     = dfly_instance.main.default_password
          sensitive = true
        }}
        """


def api(control, method, path, token=None, **kw):
    """One API request. The provider's tests check what Terraform did, not the API's contract
    (tests/control does that), so answers are not checked against the OpenAPI document."""
    return control.api(method, path, token=token, check=False, **kw)


def get_instance(control, iid, token):
    r = api(control, "GET", f"/v1/instances/{iid}", token)
    return r.json() if r.status_code == 200 else None


def wait_status(control, iid, status, token, timeout=60):
    """Waits until instance iid shows status (None: until it is 404)."""
    def reached():
        inst = get_instance(control, iid, token)
        return inst is None if status is None else bool(inst and inst["status"] == status)
    wait_for(reached, timeout, f"instance {iid} to be {status}", interval=0.2)


def api_instances(control, token):
    r = api(control, "GET", "/v1/instances", token)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def redis_client(t):
    return redis.Redis(host=t.output("host"), port=int(t.output("port")),
                       password=t.output("password"), socket_timeout=REDIS_TIMEOUT,
                       decode_responses=True)


def test_without_cookie_prints_a_message_and_exits_1():
    env = {k: v for k, v in os.environ.items() if k != "TF_PLUGIN_MAGIC_COOKIE"}
    p = subprocess.run([provider_binary()], env=env, capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert "plugin" in p.stderr and "Terraform" in p.stderr
    assert p.stdout == ""


def test_lifecycle_create_update_replace_drift_destroy(control, tenant, tf):
    tenant_id, token = tenant
    t = tf(token)
    t.write(instance_tf("cache", "64mb"))
    t.apply()

    # a running instance that clients can use, with the password from the state
    first_id = t.output("id")
    inst = get_instance(control, first_id, token)
    assert inst["status"] == "running"
    assert inst["memory"] == 64 * MIB and inst["eviction_policy"] == "allkeys-lru"
    assert inst["labels"] == {"a": "1", "b": "2"}
    c = redis_client(t)
    assert c.set("tf-key", "v1") and c.get("tf-key") == "v1"
    c.close()

    # nothing to do: "64mb" against 67108864 bytes, labels in any order
    code, out = t.plan_exitcode()
    assert code == 0, out

    # memory and eviction policy change in place
    t.write(instance_tf("cache", "128mb", policy="allkeys-lfu",
                        labels='{ b = "2", a = "1" }'))
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "must be replaced" not in out, out
    t.apply()
    assert t.output("id") == first_id
    inst = get_instance(control, first_id, token)
    assert inst["memory"] == 128 * MIB and inst["eviction_policy"] == "allkeys-lfu"
    assert t.plan_exitcode()[0] == 0

    # a change made outside Terraform: refresh records it, the next apply undoes it
    r = api(control, "PATCH", f"/v1/instances/{first_id}", token,
            json={"eviction_policy": "noeviction"})
    assert r.status_code == 202, r.text
    wait_for(lambda: get_instance(control, first_id, token)["status"] == "running", 60,
             "the outside change")
    t.run("apply", "-refresh-only", "-auto-approve")
    state = json.loads(t.run("show", "-json").stdout)
    assert state["values"]["root_module"]["resources"][0]["values"]["eviction_policy"] == \
        "noeviction"
    code, out = t.plan_exitcode()
    assert code == 2 and '"noeviction" -> "allkeys-lfu"' in out, out
    t.apply()
    assert get_instance(control, first_id, token)["eviction_policy"] == "allkeys-lfu"

    # the shard count changes in place: an online resize of the same instance
    # (tests/control/test_resize.py checks that every key survives one)
    t.write(instance_tf("cache", "128mb", policy="allkeys-lfu", shards=2))
    code, out = t.plan_exitcode()
    assert code == 2 and "0 to add, 1 to change, 0 to destroy" in out, out
    t.apply()
    assert t.output("id") == first_id
    inst = get_instance(control, first_id, token)
    assert inst["shards"] == 2 and inst["status"] == "running"
    assert t.plan_exitcode()[0] == 0

    # drift: deleted behind Terraform's back, it is planned again and re-created
    r = api(control, "DELETE", f"/v1/instances/{first_id}", token)
    assert r.status_code == 202, r.text
    wait_status(control, first_id, None, token)
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to add" in out, out
    t.apply()
    second_id = t.output("id")
    assert second_id != first_id
    assert get_instance(control, second_id, token)["status"] == "running"
    assert t.plan_exitcode()[0] == 0

    # destroy removes everything
    t.run("destroy", "-auto-approve")
    wait_for(lambda: not api_instances(control, token), 30, "instances to be gone")


@pytest.mark.slow_node_start(2)
def test_instances_are_created_in_parallel(control, tenant, tf):
    """Terraform applies independent resources at once; the provider must not serialise them:
    every instance is asked for before the first one is running. Each node takes 2 s more to
    start, so a provider that waits for one instance before it asks for the next cannot pass,
    and a loaded machine does not make a parallel one fail."""
    tenant_id, token = tenant
    t = tf(token)
    t.write("".join(f"""
        resource "dfly_instance" "p{i}" {{
          name   = "par-{i}"
          memory = "16mb"
        }}
        """ for i in range(3)))
    t.apply()
    insts = api_instances(control, token)
    assert len(insts) == 3 and all(i["status"] == "running" for i in insts)
    first_running = min(
        e["time"]
        for i in insts
        for e in api(control, "GET", f"/v1/instances/{i['id']}/events", token,
                     params={"limit": 100}).json()["items"]
        if e["type"] == "status" and e["to_status"] == "running")
    assert max(i["created_at"] for i in insts) < first_running, insts
    t.run("destroy", "-auto-approve")
    wait_for(lambda: not api_instances(control, token), 30, "instances to be gone")


def test_import_then_plan_is_empty(control, tenant, tf):
    tenant_id, token = tenant
    r = api(control, "POST", "/v1/instances", token,
             json={"name": "imported", "memory": "32mb", "eviction_policy": "noeviction",
                          "labels": {"team": "x"}})
    assert r.status_code == 202, r.text
    iid = r.json()["instance"]["id"]
    wait_status(control, iid, "running", token)
    t = tf(token)
    t.write("""
        resource "dfly_instance" "imp" {
          name            = "imported"
          memory          = "32mb"
          eviction_policy = "noeviction"
          labels          = { team = "x" }
        }
        """)
    t.run("import", "dfly_instance.imp", iid)
    code, out = t.plan_exitcode()
    assert code == 0, out
    state = json.loads(t.run("show", "-json").stdout)
    res = state["values"]["root_module"]["resources"][0]["values"]
    assert res["id"] == iid and res["memory_bytes"] == 32 * MIB and res["shards"] == 1
    t.run("destroy", "-auto-approve")
    wait_status(control, iid, None, token)


def test_data_sources(control, tenant, tf):
    tenant_id, token = tenant
    ids = {}
    for name, env in (("ds-a", "prod"), ("ds-b", "dev")):
        r = api(control, "POST", "/v1/instances", token,
                 json={"name": name, "memory": "16mb", "labels": {"env": env}})
        assert r.status_code == 202, r.text
        ids[name] = r.json()["instance"]["id"]
    t = tf(token)
    t.write("""
        data "dfly_instance" "by_name" { name = "ds-a" }
        data "dfly_instances" "prod" { labels = { env = "prod" } }
        data "dfly_instances" "all" {}
        output "by_name_id"    { value = data.dfly_instance.by_name.id }
        output "by_name_bytes" { value = data.dfly_instance.by_name.memory_bytes }
        output "prod_ids"      { value = jsonencode(data.dfly_instances.prod.ids) }
        output "all_count"     { value = length(data.dfly_instances.all.instances) }
        """)
    t.apply()
    assert t.output("by_name_id") == ids["ds-a"]
    assert int(t.output("by_name_bytes")) == 16 * MIB
    assert json.loads(t.output("prod_ids")) == [ids["ds-a"]]
    assert t.output("all_count") == "2"


def test_tenant_and_token_as_operator(control, tf):
    t = tf(control.token)
    t.write("""
        resource "dfly_tenant" "team" {
          name          = "team-a"
          max_instances = 3
          max_memory    = "2gb"
        }
        resource "dfly_token" "ci" {
          tenant_id = dfly_tenant.team.id
          name      = "ci"
        }
        output "tenant_id" { value = dfly_tenant.team.id }
        output "token_id"  { value = dfly_token.ci.id }
        output "secret" {
          value     = dfly_token.ci.secret
          sensitive = true
        }
        """)
    t.apply()
    tid = t.output("tenant_id")
    ten = api(control, "GET", f"/v1/tenants/{tid}").json()
    assert ten["name"] == "team-a" and ten["max_instances"] == 3
    assert ten["max_memory"] == 2 * 1024 * MIB
    # the token works for its tenant
    secret = t.output("secret")
    assert api(control, "GET", f"/v1/tenants/{tid}", secret).status_code == 200
    assert t.plan_exitcode()[0] == 0

    # a quota changes in place; the token is imported by tenant/token id
    t.write("""
        resource "dfly_tenant" "team" {
          name          = "team-a"
          max_instances = 5
          max_memory    = "2gb"
        }
        resource "dfly_token" "ci" {
          tenant_id = dfly_tenant.team.id
          name      = "ci"
        }
        output "tenant_id" { value = dfly_tenant.team.id }
        """)
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "must be replaced" not in out, out
    t.apply()
    assert api(control, "GET", f"/v1/tenants/{tid}").json()["max_instances"] == 5
    tok_id = json.loads(t.run("show", "-json").stdout)["values"]["root_module"]["resources"][1]["values"]["id"]
    t.run("state", "rm", "dfly_token.ci")
    t.run("import", "dfly_token.ci", f"{tid}/{tok_id}")
    assert t.plan_exitcode()[0] == 0

    t.run("destroy", "-auto-approve")
    assert api(control, "GET", f"/v1/tenants/{tid}").status_code == 404
    assert api(control, "GET", f"/v1/tenants/{tid}/tokens").status_code == 404


def test_validation_names_the_attribute(control, tenant, tf):
    t = tf(tenant[1])
    t.write("""
        resource "dfly_instance" "bad" {
          name   = "Bad_Name"
          memory = "lots"
          shards = 99
        }
        """)
    p = t.run("plan", check=False)
    assert p.returncode == 1
    err = p.stderr
    assert "Invalid name" in err and "Invalid memory" in err and "Value out of range" in err, err
    # Terraform points at the attribute's line in the configuration
    assert 'shards = 99' in err and 'memory = "lots"' in err, err


def test_api_errors_name_the_attribute(control, tenant, tf):
    """An error of the API (here a cron expression only the service checks) is shown at the
    attribute it is about, and nothing is left in the state."""
    t = tf(tenant[1])
    t.write("""
        resource "dfly_instance" "bad" {
          name          = "cron-check"
          memory        = "16mb"
          snapshot_cron = "not a cron"
        }
        """)
    p = t.run("apply", "-auto-approve", check=False)
    assert p.returncode == 1
    assert "Cannot create the instance" in p.stderr, p.stderr
    flat = " ".join(p.stderr.split())  # terraform wraps long lines
    assert 'snapshot_cron = "not a cron"' in flat and "HTTP 422" in flat, p.stderr
    assert t.run("state", "list").stdout.strip() == ""
    assert api_instances(control, tenant[1]) == []


def backups_supported(control):
    return "backup_schedule" in api(control, "GET", "/v1/openapi.json").text


def test_backup_schedule_and_retention_change_in_place(control, tenant, tf):
    tenant_id, token = tenant
    assert backups_supported(control)
    zone = "Europe/Berlin" if os.path.exists("/usr/share/zoneinfo/Europe/Berlin") else "UTC"
    t = tf(token)

    def write(blocks):
        t.write(f"""
            resource "dfly_instance" "b" {{
              name   = "backed-up"
              memory = "16mb"
              {blocks}
            }}
            """)

    write("""
        backup_schedule {
          every_hours = 6
        }
        backup_retention {
          count = 3
        }
        """)
    t.apply()
    iid = json.loads(t.run("show", "-json").stdout)["values"]["root_module"]["resources"][0]["values"]["id"]
    inst = get_instance(control, iid, token)
    assert inst["backup_schedule"] == {"every_hours": 6}
    assert inst["backup_retention"] == {"count": 3}
    assert t.plan_exitcode()[0] == 0

    write(f"""
        backup_schedule {{
          cron     = "0 3 * * *"
          timezone = "{zone}"
        }}
        """)
    code, out = t.plan_exitcode()
    assert code == 2 and "1 to change" in out and "must be replaced" not in out, out
    t.apply()
    inst = get_instance(control, iid, token)
    assert inst["id"] == iid
    assert inst["backup_schedule"] == {"cron": "0 3 * * *", "timezone": zone}
    assert inst["backup_retention"] is None
    assert t.plan_exitcode()[0] == 0

    write("""
        backup_schedule {
          cron        = "0 3 * * *"
          every_hours = 2
        }
        """)
    p = t.run("plan", check=False)
    assert p.returncode == 1 and "exactly one of cron and every_hours" in p.stderr, p.stderr
    write("")
    t.run("destroy", "-auto-approve")
    wait_status(control, iid, None, token)


def test_backup_then_restore_into_a_new_instance(control, tenant, tf):
    tenant_id, token = tenant
    assert backups_supported(control)
    t = tf(token)
    source = """
        resource "dfly_instance" "src" {
          name   = "src"
          memory = "16mb"
        }
        output "host"     { value = dfly_instance.src.host }
        output "port"     { value = dfly_instance.src.port }
        output "password" {
          value     = dfly_instance.src.default_password
          sensitive = true
        }
        """
    t.write(source)
    t.apply()
    c = redis_client(t)
    for i in range(20):
        c.set(f"k{i}", f"v{i}")
    c.close()

    t.write(source + """
        resource "dfly_backup" "nightly" {
          instance_id = dfly_instance.src.id
        }
        resource "dfly_instance" "copy" {
          name         = "copy"
          memory       = "16mb"
          restore_from = dfly_backup.nightly.id
        }
        data "dfly_backups" "src" {
          instance_id = dfly_instance.src.id
          status      = "succeeded"
          depends_on  = [dfly_backup.nightly]
        }
        output "backup_status" { value = dfly_backup.nightly.status }
        output "backup_id"     { value = dfly_backup.nightly.id }
        output "listed"        { value = data.dfly_backups.src.ids }
        output "listed_trigger" { value = data.dfly_backups.src.backups[0].trigger }
        output "copy_host"     { value = dfly_instance.copy.host }
        output "copy_port"     { value = dfly_instance.copy.port }
        output "copy_password" {
          value     = dfly_instance.copy.default_password
          sensitive = true
        }
        """)
    t.apply()
    assert t.output("backup_status") == "succeeded"
    # the data source lists it (and nothing else: the instance has one backup)
    listed = json.loads(t.run("output", "-json", "listed").stdout)
    assert listed == [t.output("backup_id")]
    assert t.output("listed_trigger") == "manual"
    c = redis.Redis(host=t.output("copy_host"), port=int(t.output("copy_port")),
                    password=t.output("copy_password"), socket_timeout=REDIS_TIMEOUT,
                    decode_responses=True)
    assert [c.get(f"k{i}") for i in range(20)] == [f"v{i}" for i in range(20)]
    c.close()
    assert t.plan_exitcode()[0] == 0

    # import of a backup by id, then no difference
    state = json.loads(t.run("show", "-json").stdout)["values"]["root_module"]["resources"]
    bid = [r for r in state if r["type"] == "dfly_backup"][0]["values"]["id"]
    t.run("state", "rm", "dfly_backup.nightly")
    t.run("import", "dfly_backup.nightly", bid)
    assert t.plan_exitcode()[0] == 0

    t.run("destroy", "-auto-approve")
    wait_for(lambda: not api_instances(control, token), 30, "instances to be gone")
    assert api(control, "GET", f"/v1/backups/{bid}", token).status_code == 404


def test_https_endpoint_with_ca_file(tmp_path):
    """An https dfly-control: verified with ca_file, refused without, accepted with insecure."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    c = Control(os.environ["DFLY_CONTROL"], os.environ["DFLY_SERVER"], tmp_path / "control",
                ["--tls-cert-file", cert, "--tls-key-file", key])
    c.url = c.url.replace("http://", "https://")
    try:
        c.start()
        t = Terraform(tmp_path / "tf", c.url, c.token)

        def run(provider_args):
            t.write(f"""
                provider "dfly" {{
                  {provider_args}
                }}
                data "dfly_instances" "all" {{}}
                output "count" {{ value = length(data.dfly_instances.all.ids) }}
                """)
            return t.run("apply", "-auto-approve", check=False)

        p = run(f'ca_file = "{cert}"')
        assert p.returncode == 0, p.stderr
        assert t.output("count") == "0"
        p = run("")
        assert p.returncode == 1 and "Cannot read instances" in p.stderr, p.stderr
        p = run("insecure = true")
        assert p.returncode == 0, p.stderr
        assert not t.sanitizer_reports()
    finally:
        code, reports = c.cleanup()
        assert not reports and code in (None, 0), c.log_tail()


def test_init_from_filesystem_mirror(tmp_path):
    """`cmake --install --component terraform` lays the provider out as a filesystem mirror
    that `terraform init` installs from, with no network."""
    build = os.environ.get("DFLY_BUILD_DIR")
    assert build, "DFLY_BUILD_DIR must name the build directory"
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", build, "--component", "terraform", "--prefix",
                    str(prefix)], check=True, capture_output=True, timeout=60)
    mirror = prefix / "share" / "terraform" / "plugins"
    found = list(mirror.glob("registry.terraform.io/dfly/dfly/*/linux_amd64/terraform-provider-dfly_v*"))
    assert len(found) == 1, list(mirror.rglob("*"))
    version = found[0].parent.parent.name
    work = tmp_path / "work"
    work.mkdir()
    rc = tmp_path / "terraform.rc"
    rc.write_text(f"""
        provider_installation {{
          filesystem_mirror {{
            path    = "{mirror}"
            include = ["registry.terraform.io/dfly/*"]
          }}
        }}
        """)
    (work / "main.tf").write_text(f"""
        terraform {{
          required_providers {{
            dfly = {{
              source  = "dfly/dfly"
              version = "{version}"
            }}
          }}
        }}
        provider "dfly" {{
          endpoint = "http://127.0.0.1:1"
        }}
        """)
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(rc), CHECKPOINT_DISABLE="1",
               TF_IN_AUTOMATION="1")
    p = subprocess.run(["terraform", "init", "-no-color"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"Installed dfly/dfly v{version}" in p.stdout, p.stdout
    assert (work / ".terraform.lock.hcl").exists()
    p = subprocess.run(["terraform", "validate", "-no-color"], cwd=work, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def copy_example(name, t):
    src = os.path.join(os.path.dirname(__file__), "..", "..", "terraform", "examples", name,
                       "main.tf")
    shutil.copy(src, t.dir / "main.tf")


def test_example_basic_instance(control, tenant, tf):
    tenant_id, token = tenant
    t = tf(token)
    copy_example("basic-instance", t)
    t.apply()
    host, port = t.output("endpoint").rsplit(":", 1)
    c = redis.Redis(host=host, port=int(port), password=t.output("password"),
                    socket_timeout=REDIS_TIMEOUT)
    assert c.ping()
    c.close()
    assert t.plan_exitcode()[0] == 0
    t.run("destroy", "-auto-approve")
    wait_for(lambda: not api_instances(control, token), 30, "instances to be gone")


def test_example_tenant_and_token(control, tf):
    """A provider configured with a token that exists only after apply (unknown at plan)."""
    t = tf(control.token)
    copy_example("tenant-and-token", t)
    t.apply()
    secret = t.output("team_token")
    mine = api_instances(control, secret)
    assert [i["name"] for i in mine] == ["sessions"]
    assert json.loads(t.run("output", "-json", "team_instances").stdout) == [mine[0]["id"]]
    assert t.plan_exitcode()[0] == 0
    t.run("destroy", "-auto-approve")
    tenants = api(control, "GET", "/v1/tenants").json()["items"]
    assert "team-a" not in [x["name"] for x in tenants]
