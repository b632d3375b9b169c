"""TLS on dfly-server's listeners (--tls): redis-py, redis-cli, openssl s_client, pymemcache
and HTTPS /metrics; client certificates (required, optional, wrong CA, expired); a plain-text
client on a TLS port; certificate reload by CONFIG SET and SIGHUP under live connections.

Certificates are made for each module run with the openssl CLI: two CAs, server and client
certificates of the first, an expired client certificate and a server certificate of the
second CA (for the reload)."""

import signal
import socket
import ssl
import subprocess
import time

import pytest
import redis
import requests
from pymemcache.client.base import Client as McClient

from conftest import (
    CLI_TIMEOUT,
    HOST,
    REDIS_CLI,
    START_TIMEOUT,
    Client,
    DflyServer,
    ServerStartError,
    _finish,
    free_port,
    owns_listener,
)

THREADS = 2
KEYS = 40  # spread over both shards
BIG_VALUE = 3 * 1024 * 1024  # larger than one encrypted chunk
OPENSSL_TIMEOUT = 10.0
CERT_DAYS = "30"


# --- certificates ---------------------------------------------------------------------------


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_ca(d, name):
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", CERT_DAYS,
        "-subj", f"/CN=dfly test {name}", cwd=d,
    )  # fmt: skip


def _make_cert(d, name, ca, days=CERT_DAYS, server=False):
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d,
    )  # fmt: skip
    ext = d / f"{name}.ext"
    ext.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n" if server else "extendedKeyUsage=clientAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.crt", "-days", str(days), "-extfile", ext.name,
        cwd=d,
    )  # fmt: skip


class Certs:
    def __init__(self, d):
        self.dir = d

    def crt(self, name):
        return str(self.dir / f"{name}.crt")

    def key(self, name):
        return str(self.dir / f"{name}.key")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    _make_ca(d, "ca")
    _make_ca(d, "ca2")
    _make_cert(d, "server", "ca", server=True)
    _make_cert(d, "client", "ca")
    _make_cert(d, "expired", "ca", days=-1)
    _make_cert(d, "stranger", "ca2")  # a client certificate from another CA
    _make_cert(d, "server2", "ca2", server=True)
    return Certs(d)


# --- servers --------------------------------------------------------------------------------


class TlsServer(DflyServer):
    """A dfly-server with --tls; readiness is checked over TLS."""

    def __init__(self, binary, workdir, certs, args=(), threads=THREADS, ca="ca"):
        base = [
            "--tls", "yes",
            "--tls_cert_file", certs.crt("server"),
            "--tls_key_file", certs.key("server"),
            "--tls_ca_cert_file", certs.crt("ca"),
        ]  # fmt: skip
        super().__init__(binary, workdir, args=[*base, *args], threads=threads)
        self.certs = certs
        self.ca = ca  # the CA of its certificate, for readiness checks and clients

    def tls_client(self, cert="client", ca=None, port=None, **kw):
        ca = ca or self.ca
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("socket_connect_timeout", 10)
        extra = {}
        if cert:
            extra = {"ssl_certfile": self.certs.crt(cert), "ssl_keyfile": self.certs.key(cert)}
        c = Client(
            host=HOST,
            port=port or self.port,
            ssl=True,
            ssl_ca_certs=self.certs.crt(ca),
            decode_responses=True,
            **extra,
            **kw,
        )
        self._clients.append(c)
        return c

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise ServerStartError(f"exited with code {code}\n" + self.describe())
            c = self.tls_client(socket_timeout=1, socket_connect_timeout=0.5)
            try:
                if c.ping() and owns_listener(self.proc.pid, self.port):
                    return
            except (redis.exceptions.RedisError, OSError) as e:
                last = e
            finally:
                c.close()
                self._clients.remove(c)
            time.sleep(0.05)
        raise ServerStartError(f"no TLS PING answer (last error: {last!r})\n" + self.describe())


@pytest.fixture
def tls_factory(request, dfly_binary, tmp_path, certs):
    servers = []

    def start(*args, threads=THREADS, ca="ca"):
        workdir = tmp_path / f"dfly{len(servers)}"
        s = TlsServer(dfly_binary, workdir, certs, args=args, threads=threads, ca=ca)
        servers.append(s)
        return s.start()

    yield start
    _finish(request, servers)


@pytest.fixture
def tls_server(tls_factory):
    return tls_factory()


def refused(c):
    """True when the server refuses the TLS client (handshake or first read fails)."""
    try:
        c.ping()
    except (redis.exceptions.ConnectionError, ssl.SSLError, OSError):
        return True
    return False


# --- clients ----------------------------------------------------------------------------------


def test_redis_py_ssl_commands_span_shards(tls_server):
    r = tls_server.tls_client()
    for i in range(KEYS):
        r.set(f"tls:{i}", f"v{i}")
    assert r.mget([f"tls:{i}" for i in range(KEYS)]) == [f"v{i}" for i in range(KEYS)]
    p = r.pipeline(transaction=False)
    for i in range(KEYS):
        p.incr(f"tls:n:{i}")
    assert p.execute() == [1] * KEYS
    big = "x" * BIG_VALUE
    r.set("{a}big", big)
    assert r.get("{a}big") == big
    assert r.dbsize() == 2 * KEYS + 1


def test_redis_cli_tls_with_cacert_and_client_cert(tls_server):
    c = tls_server.certs
    base = [REDIS_CLI, "--tls", "--cacert", c.crt("ca"), "--cert", c.crt("client")]
    base += ["--key", c.key("client"), "-h", HOST, "-p", str(tls_server.port)]
    run = lambda *a: subprocess.run(  # noqa: E731
        [*base, *a], capture_output=True, text=True, timeout=CLI_TIMEOUT, check=True
    ).stdout
    assert run("SET", "cli:k", "hello").strip() == "OK"
    assert run("GET", "cli:k").strip() == "hello"


def test_openssl_s_client(tls_server):
    c = tls_server.certs
    p = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"{HOST}:{tls_server.port}", "-CAfile", c.crt("ca"),
         "-cert", c.crt("client"), "-key", c.key("client"), "-quiet", "-verify_return_error"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        p.stdin.write(b"PING\r\nSET s:k v\r\nGET s:k\r\n")
        p.stdin.flush()
        want = b"+PONG\r\n+OK\r\n$1\r\nv\r\n"
        got = b""
        deadline = time.monotonic() + OPENSSL_TIMEOUT
        while len(got) < len(want) and time.monotonic() < deadline:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            got += chunk
        assert got == want
    finally:
        p.kill()
        p.wait(timeout=OPENSSL_TIMEOUT)


def test_pymemcache_over_tls(tls_factory):
    mc_port = free_port()
    s = tls_factory("--memcached_port", mc_port)
    ctx = ssl.create_default_context(cafile=s.certs.crt("ca"))
    ctx.load_cert_chain(s.certs.crt("client"), s.certs.key("client"))
    mc = McClient((HOST, mc_port), tls_context=ctx, connect_timeout=10, timeout=10)
    try:
        for i in range(KEYS):
            assert mc.set(f"mc{i}", f"val{i}".encode())
        assert mc.get_many([f"mc{i}" for i in range(KEYS)]) == {
            f"mc{i}": f"val{i}".encode() for i in range(KEYS)
        }
    finally:
        mc.close()
    assert s.tls_client().get("mc3") == "val3"


def test_metrics_over_https(tls_server):
    c = tls_server.certs
    tls_server.tls_client().set("m", "1")
    resp = requests.get(
        f"https://{HOST}:{tls_server.port}/metrics",
        verify=c.crt("ca"),
        cert=(c.crt("client"), c.key("client")),
        timeout=10,
    )
    assert resp.status_code == 200
    assert "dfly_" in resp.text or "redis_" in resp.text or "# TYPE" in resp.text


def test_admin_port_tls_unless_no_tls_on_admin_port(tls_factory):
    admin = free_port()
    s = tls_factory("--admin_port", admin)
    assert s.tls_client(port=admin).ping()
    assert refused(Client(host=HOST, port=admin, socket_timeout=5))
    admin2 = free_port()
    s2 = tls_factory("--admin_port", admin2, "--no_tls_on_admin_port", "yes")
    plain = Client(host=HOST, port=admin2, socket_timeout=5)
    assert plain.ping()
    plain.close()
    assert refused(Client(host=HOST, port=s2.port, socket_timeout=5))


# --- client certificates --------------------------------------------------------------------


def test_client_certificate_required(tls_server):
    assert refused(tls_server.tls_client(cert=None))
    assert tls_server.tls_client().ping()


def test_client_certificate_optional(tls_factory):
    s = tls_factory("--tls_auth_clients", "optional")
    assert s.tls_client(cert=None).ping()
    assert s.tls_client().ping()
    assert refused(s.tls_client(cert="stranger"))  # sent, so verified


def test_no_client_certificates(tls_factory):
    s = tls_factory("--tls_auth_clients", "no")
    assert s.tls_client(cert=None).ping()


def test_client_certificate_of_another_ca_refused(tls_server):
    assert refused(tls_server.tls_client(cert="stranger"))
    assert tls_server.tls_client().ping()


def test_expired_client_certificate_refused(tls_server):
    assert refused(tls_server.tls_client(cert="expired"))
    assert tls_server.tls_client().ping()


def test_client_refuses_server_of_unknown_ca(tls_server):
    assert refused(tls_server.tls_client(ca="ca2"))


def test_plain_client_on_tls_port_is_closed(tls_server):
    good = tls_server.tls_client()
    good.set("before", "1")
    with socket.create_connection((HOST, tls_server.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        data = b""
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        assert b"PONG" not in data  # closed (maybe after a TLS alert), never answered
    assert refused(Client(host=HOST, port=tls_server.port, socket_timeout=5))
    assert good.get("before") == "1"
    assert tls_server.tls_client().ping()


def test_protocol_versions(tls_factory):
    s = tls_factory("--tls_protocols", "TLSv1.3")
    ctx = ssl.create_default_context(cafile=s.certs.crt("ca"))
    ctx.load_cert_chain(s.certs.crt("client"), s.certs.key("client"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection((HOST, s.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
                tls.sendall(b"PING\r\n")
                assert tls.recv(16) != b"+PONG\r\n"
    assert s.tls_client().ping()


def test_tls_needs_ca_when_clients_authenticate(dfly_binary, tmp_path, certs):
    args = [
        str(dfly_binary), "--port", str(free_port()), "--bind", HOST, "--dir", str(tmp_path),
        "--tls", "yes", "--tls_cert_file", certs.crt("server"), "--tls_key_file",
        certs.key("server"),
    ]  # fmt: skip
    res = subprocess.run(args, capture_output=True, text=True, timeout=START_TIMEOUT)
    assert res.returncode != 0
    assert "tls-ca-cert-file or tls-ca-cert-dir must be specified" in res.stdout + res.stderr


# --- reload -----------------------------------------------------------------------------------


def test_config_set_reload_keeps_live_connections(tls_server):
    c = tls_server.certs
    old = tls_server.tls_client()
    old.set("live", "1")
    admin = tls_server.tls_client()
    # The pair must match: one CONFIG SET with both files.
    admin.execute_command(
        "CONFIG", "SET", "tls-cert-file", c.crt("server2"), "tls-key-file", c.key("server2")
    )
    assert admin.config_get("tls-cert-file") == {"tls-cert-file": c.crt("server2")}
    # Old connections keep working; new ones see the new certificate.
    assert old.get("live") == "1"
    assert refused(tls_server.tls_client(ca="ca"))
    fresh = tls_server.tls_client(ca="ca2")
    assert fresh.get("live") == "1"
    assert old.incr("n") == 1 and fresh.incr("n") == 2


def test_config_set_bad_file_keeps_old_context(tls_server, tmp_path):
    r = tls_server.tls_client()
    bad = tmp_path / "garbage.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        r.config_set("tls-cert-file", str(bad))
    assert r.config_get("tls-cert-file") == {"tls-cert-file": tls_server.certs.crt("server")}
    assert tls_server.tls_client().ping()
    assert r.ping()


def test_sighup_reloads_files(tls_factory, tmp_path, certs):
    live = tmp_path / "live"
    live.mkdir()
    (live / "server.crt").write_bytes(open(certs.crt("server"), "rb").read())
    (live / "server.key").write_bytes(open(certs.key("server"), "rb").read())
    s = tls_factory("--tls_cert_file", live / "server.crt", "--tls_key_file", live / "server.key")
    old = s.tls_client()
    old.set("k", "v")
    (live / "server.crt").write_bytes(open(certs.crt("server2"), "rb").read())
    (live / "server.key").write_bytes(open(certs.key("server2"), "rb").read())
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "certificates reloaded" not in s.log():
        time.sleep(0.05)
    assert "certificates reloaded" in s.log()
    assert s.tls_client(ca="ca2").get("k") == "v"
    assert refused(s.tls_client(ca="ca"))
    assert old.get("k") == "v"


# --- replication --------------------------------------------------------------------------------

SYNC_TIMEOUT = 60.0
REPL_KEYS = 20000  # a full sync of some size: many TLS records through the snapshot writer


def _wait(pred, what, timeout=SYNC_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _caught_up(master, replica):
    m, r = master.info("replication"), replica.info("replication")
    return r.get("master_link_status") == "up" and r["slave_repl_offset"] == m["master_repl_offset"]


def test_replication_over_tls(tls_factory):
    master = tls_factory()
    replica = tls_factory("--tls_replication", "yes")
    m, r = master.tls_client(), replica.tls_client()
    m.execute_command("DEBUG", "POPULATE", REPL_KEYS, "key", 100)
    m.set("{a}x", "y" * 300_000)
    assert r.execute_command("REPLICAOF", HOST, master.port) == "OK"
    _wait(lambda: _caught_up(m, r), "the full sync over TLS")
    assert r.dbsize() == REPL_KEYS + 1
    assert r.get("{a}x") == "y" * 300_000
    # The stream after the snapshot goes over the same TLS connection.
    for i in range(KEYS):
        m.set(f"after:{i}", i)
    _wait(lambda: _caught_up(m, r), "the stream over TLS")
    assert r.mget([f"after:{i}" for i in range(KEYS)]) == [str(i) for i in range(KEYS)]
    assert m.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")


def test_replica_refuses_master_of_unknown_ca(tls_factory, certs):
    master = tls_factory(
        "--tls_cert_file", certs.crt("server2"), "--tls_key_file", certs.key("server2"), ca="ca2"
    )  # fmt: skip
    replica = tls_factory("--tls_replication", "yes")
    r = replica.tls_client()
    assert r.execute_command("REPLICAOF", HOST, master.port) == "OK"
    _wait(lambda: "TLS handshake with the master failed" in replica.log(), "the refusal", 10)
    assert r.info("replication")["master_link_status"] == "down"


def test_config_set_auth_clients_applies_to_new_connections(tls_server):
    r = tls_server.tls_client()
    assert refused(tls_server.tls_client(cert=None))
    r.config_set("tls-auth-clients", "optional")
    assert tls_server.tls_client(cert=None).ping()
    choices = "must be one of the following: no, yes, optional"
    with pytest.raises(redis.ResponseError, match=choices):
        r.config_set("tls-auth-clients", "maybe")
    assert r.config_get("tls-auth-clients") == {"tls-auth-clients": "optional"}


def test_encrypted_key_with_passphrase(tls_factory, certs, tmp_path):
    enc = tmp_path / "server-enc.key"
    _openssl(
        "pkey", "-in", certs.key("server"), "-aes256", "-passout", "pass:s3cret", "-out", str(enc),
        cwd=tmp_path,
    )  # fmt: skip
    s = tls_factory("--tls_key_file", enc, "--tls_key_file_pass", "s3cret")
    assert s.tls_client().ping()
    assert "s3cret" not in s.log()
    bad = [
        str(s.binary), "--port", str(free_port()), "--bind", HOST, "--dir", str(tmp_path),
        "--tls", "yes", "--tls_cert_file", certs.crt("server"), "--tls_key_file", str(enc),
        "--tls_key_file_pass", "wrong", "--tls_ca_cert_file", certs.crt("ca"),
    ]  # fmt: skip
    res = subprocess.run(bad, capture_output=True, text=True, timeout=START_TIMEOUT)
    assert res.returncode != 0
    assert "cannot load tls-key-file" in res.stdout + res.stderr


# --- revocation (--tls_crl_file) ------------------------------------------------------------


def _make_crl(d, certs, name, revoke=()):
    """A CRL of "ca" (PEM file in d) naming the given certificates of certs; none: empty."""
    index = d / f"{name}.index"
    index.write_text("")
    cnf = d / f"{name}.cnf"
    cnf.write_text(
        f"[ca]\ndefault_ca = testca\n[testca]\ndatabase = {index}\ndefault_md = sha256\n"
        f"default_crl_days = {CERT_DAYS}\n"
    )
    signer = ["-keyfile", certs.key("ca"), "-cert", certs.crt("ca")]
    for cert in revoke:
        _openssl("ca", "-config", cnf.name, "-revoke", certs.crt(cert), *signer, cwd=d)
    _openssl("ca", "-config", cnf.name, "-gencrl", *signer, "-out", f"{name}.pem", cwd=d)
    return str(d / f"{name}.pem")


def test_crl_file_refuses_revoked_client_certificates(tls_factory, certs, tmp_path):
    empty = _make_crl(tmp_path, certs, "empty")  # a CA without revocations: an empty CRL
    s = tls_factory("--tls_crl_file", empty)
    assert s.tls_client().ping()
    admin = s.tls_client()
    revoked = _make_crl(tmp_path, certs, "revoked", revoke=["client"])
    admin.config_set("tls-crl-file", revoked)
    assert admin.config_get("tls-crl-file") == {"tls-crl-file": revoked}
    assert refused(s.tls_client())  # new connections check the new CRL
    assert admin.ping()  # open ones stay
    bad = tmp_path / "bad.pem"
    bad.write_text("not a CRL\n")
    with pytest.raises(redis.ResponseError, match="Unable to update TLS configuration"):
        admin.config_set("tls-crl-file", str(bad))
    assert refused(s.tls_client())  # the previous context stays in force
    admin.config_set("tls-crl-file", empty)
    assert s.tls_client().ping()
