"""A small in-memory S3-compatible server for tests: path-style PUT, GET, DELETE of objects and
ListObjectsV2, every request checked against AWS Signature Version 4 (a request signed with
another secret, or not signed, gets 403 SignatureDoesNotMatch). Runs in a thread on a free
127.0.0.1 port.

    with S3Fake(key_id, secret) as s3:   # s3.url, s3.objects {"bucket/key": bytes}
        ...
"""

import hashlib
import hmac
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _canonical_query(raw):
    pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
    enc = [(urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
           for k, v in pairs]
    return "&".join(f"{k}={v}" for k, v in sorted(enc))


def expected_signature(secret, method, raw_path, raw_query, headers, signed, scope, amzdate,
                       payload_hash):
    """The SigV4 signature of a request as S3 computes it (the path as sent: S3 does not
    normalize or encode it twice)."""
    canon_headers = "".join(f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed)
    canonical = "\n".join([method, raw_path, _canonical_query(raw_query), canon_headers,
                           ";".join(signed), payload_hash])
    to_sign = "\n".join([ALGORITHM, amzdate, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, term = scope.split("/")
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, term)
    return hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()


class S3Fake:
    def __init__(self, key_id, secret):
        self.key_id, self.secret = key_id, secret
        self.objects = {}
        self.requests = []  # (method, path, status)
        self.lock = threading.RLock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _reply(self, status, body=b"", ctype="application/xml"):
                with fake.lock:
                    fake.requests.append((self.command, self.path, status))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status, code):
                self._reply(status, f"<Error><Code>{code}</Code></Error>".encode())

            def _authorized(self, body):
                auth = self.headers.get("Authorization", "")
                if not auth.startswith(ALGORITHM + " "):
                    return False
                parts = dict(p.strip().split("=", 1) for p in auth[len(ALGORITHM):].split(","))
                key_id, scope = parts["Credential"].split("/", 1)
                signed = parts["SignedHeaders"].split(";")
                payload = self.headers.get("x-amz-content-sha256", "")
                if key_id != fake.key_id or payload != hashlib.sha256(body).hexdigest():
                    return False
                headers = {k.lower(): v for k, v in self.headers.items()}
                raw_path, _, raw_query = self.path.partition("?")
                want = expected_signature(fake.secret, self.command, raw_path, raw_query,
                                          headers, signed, scope,
                                          self.headers.get("x-amz-date", ""), payload)
                return hmac.compare_digest(want, parts["Signature"])

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if not self._authorized(body):
                    return self._error(403, "SignatureDoesNotMatch")
                raw_path, _, raw_query = self.path.partition("?")
                path = urllib.parse.unquote(raw_path).lstrip("/")
                bucket, _, key = path.partition("/")
                q = dict(urllib.parse.parse_qsl(raw_query))
                with fake.lock:
                    if self.command == "PUT" and key:
                        fake.objects[f"{bucket}/{key}"] = body
                        return self._reply(200)
                    if self.command == "GET" and key:
                        data = fake.objects.get(f"{bucket}/{key}")
                        if data is None:
                            return self._error(404, "NoSuchKey")
                        return self._reply(200, data, "application/octet-stream")
                    if self.command == "DELETE" and key:
                        fake.objects.pop(f"{bucket}/{key}", None)
                        return self._reply(204)
                    if self.command == "GET" and q.get("list-type") == "2":
                        prefix = f"{bucket}/{q.get('prefix', '')}"
                        keys = sorted(k[len(bucket) + 1:] for k in fake.objects
                                      if k.startswith(prefix))
                        xml = "<ListBucketResult>" + "".join(
                            f"<Contents><Key>{escape(k)}</Key></Contents>" for k in keys
                        ) + "</ListBucketResult>"
                        return self._reply(200, xml.encode())
                return self._error(400, "InvalidRequest")

            do_GET = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
