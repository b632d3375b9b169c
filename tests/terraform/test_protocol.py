"""The provider's side of Terraform's plugin protocol, checked directly (no terraform): the
go-plugin handshake line, the certificate, mutual TLS with ALPN h2, HTTP/2 with SETTINGS first,
gRPC framing, UNIMPLEMENTED for unknown methods, and Shutdown ending the process."""

import base64
import datetime
import os
import socket
import ssl
import struct
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import provider_binary

COOKIE = ("TF_PLUGIN_MAGIC_COOKIE",
          "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")
HANDSHAKE_TIMEOUT = 10
IO_TIMEOUT = 10
EXIT_TIMEOUT = 2  # go-plugin waits this long after Shutdown before it kills the plugin

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY = 0x0, 0x1, 0x4, 0x6, 0x7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def client_certificate():
    """A self-signed ECDSA P-521 certificate like the one Terraform makes."""
    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                  ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA512()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert_pem, key_pem


class Plugin:
    def __init__(self, tmp_path, client_cert_pem=None, versions="5,6"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLUGIN_")}
        env[COOKIE[0]] = COOKIE[1]
        env["PLUGIN_PROTOCOL_VERSIONS"] = versions
        env["PLUGIN_MIN_PORT"], env["PLUGIN_MAX_PORT"] = "10000", "25000"
        env["TMPDIR"] = str(tmp_path)
        if client_cert_pem:
            env["PLUGIN_CLIENT_CERT"] = client_cert_pem.decode()
        self.proc = subprocess.Popen([provider_binary()], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

    def handshake(self):
        line = self.proc.stdout.readline().decode().strip()
        return line.split("|")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=IO_TIMEOUT)
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def plugin_factory(tmp_path):
    made = []

    def make(**kw):
        p = Plugin(tmp_path, **kw)
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def decode_cert(field):
    assert "=" not in field  # go-plugin decodes base64.RawStdEncoding
    return x509.load_der_x509_certificate(base64.b64decode(field + "=" * (-len(field) % 4)))


def test_handshake_line_and_certificate(plugin_factory):
    cert_pem, _ = client_certificate()
    p = plugin_factory(client_cert_pem=cert_pem)
    fields = p.handshake()
    assert fields[:3] == ["1", "6", "unix"] and fields[4] == "grpc", fields
    assert os.path.exists(fields[3])
    cert = decode_cert(fields[5])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.public_key().curve.name in ("secp256r1", "secp521r1")


def test_refuses_protocol_versions_it_does_not_speak(plugin_factory):
    p = plugin_factory(versions="5")
    assert p.proc.wait(timeout=IO_TIMEOUT) == 1
    assert p.proc.stdout.read() == b""
    assert b"version 6" in p.proc.stderr.read()


# --- a minimal HTTP/2 client (literal HPACK headers, no Huffman) -------------------------

def frame(ftype, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def read_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("connection closed")
        out += chunk
    return out


def read_frame(sock):
    hdr = read_exact(sock, 9)
    length = int.from_bytes(hdr[:3], "big")
    ftype, flags = hdr[3], hdr[4]
    stream = int.from_bytes(hdr[5:9], "big") & 0x7FFFFFFF
    return ftype, flags, stream, read_exact(sock, length)


def literal_headers(headers):
    out = b""
    for name, value in headers:
        n, v = name.encode(), value.encode()
        assert len(n) < 127 and len(v) < 127
        out += b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v
    return out


def grpc_call(sock, stream, method, message=b""):
    """Sends a unary call; returns (data, trailers_seen) once the stream ends."""
    headers = literal_headers([(":method", "POST"), (":scheme", "https"),
                               (":path", method), (":authority", "localhost"),
                               ("content-type", "application/grpc"), ("te", "trailers")])
    sock.sendall(frame(HEADERS, END_HEADERS, stream, headers) +
                 frame(DATA, END_STREAM, stream,
                       b"\x00" + struct.pack(">I", len(message)) + message))
    data, header_frames = b"", 0
    while True:
        ftype, flags, sid, payload = read_frame(sock)
        if ftype == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        if sid != stream:
            continue
        if ftype == DATA:
            data += payload
        if ftype == HEADERS:
            header_frames += 1
        if flags & END_STREAM:
            return data, header_frames


def tls_connect(path, server_cert_field, client_cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=base64.b64decode(server_cert_field + "=" *
                                                      (-len(server_cert_field) % 4)))
    ctx.set_alpn_protocols(["h2"])
    if client_cert:
        cert_pem, key_pem = client_cert
        d = os.path.dirname(path)
        with open(os.path.join(d, "c.pem"), "wb") as f:
            f.write(cert_pem)
        with open(os.path.join(d, "k.pem"), "wb") as f:
            f.write(key_pem)
        ctx.load_cert_chain(os.path.join(d, "c.pem"), os.path.join(d, "k.pem"))
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(IO_TIMEOUT)
    raw.connect(path)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def test_mtls_h2_grpc_and_shutdown(plugin_factory):
    client = client_certificate()
    p = plugin_factory(client_cert_pem=client[0])
    fields = p.handshake()
    sock = tls_connect(fields[3], fields[5], client)
    assert sock.selected_alpn_protocol() == "h2"

    # the server speaks first: its SETTINGS
    ftype, flags, stream, _ = read_frame(sock)
    assert (ftype, flags, stream) == (SETTINGS, 0, 0)
    sock.sendall(H2_PREFACE + frame(SETTINGS, 0, 0) + frame(SETTINGS, ACK, 0))

    data, header_frames = grpc_call(sock, 1, "/tfplugin6.Provider/GetProviderSchema")
    assert header_frames == 2  # response headers, then trailers
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == len(data) - 5
    for name in (b"dfly_instance", b"dfly_instances", b"dfly_tenant", b"dfly_token"):
        assert name in data

    # a method the provider does not have: a trailers-only answer, no message
    data, header_frames = grpc_call(sock, 3, "/plugin.GRPCStdio/StreamStdio")
    assert data == b"" and header_frames == 1

    # go-plugin's Shutdown: answered, then the process ends by itself and cleans up
    data, _ = grpc_call(sock, 5, "/plugin.GRPCController/Shutdown")
    assert data == b"\x00\x00\x00\x00\x00"
    assert p.proc.wait(timeout=EXIT_TIMEOUT) == 0
    assert not os.path.exists(fields[3])
    sock.close()


def test_tls_requires_the_terraform_client_certificate(plugin_factory):
    p = plugin_factory(client_cert_pem=client_certificate()[0])
    fields = p.handshake()
    stranger = client_certificate()  # a certificate Terraform did not name
    with pytest.raises((ssl.SSLError, EOFError, ConnectionError)):
        sock = tls_connect(fields[3], fields[5], stranger)
        read_frame(sock)  # TLS 1.3 reports the rejection at the first read
        read_frame(sock)
    assert p.proc.wait(timeout=IO_TIMEOUT) == 1
