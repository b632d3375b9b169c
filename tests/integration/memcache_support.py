"""Helpers for the memcached listener's tests: raw text and binary clients, and Debian's
memcached 1.6 as a reference server.

    from memcache_support import TextConn, BinConn, MemcachedServer

TextConn.call(b"get a\\r\\n") sends a request and returns its whole answer: it sends "mn" after
it and reads up to the "MN" that answers it, so requests that answer nothing (noreply, q) are
framed too. BinConn speaks the binary protocol: request(opcode, key, extras, value, cas,
opaque) and read_response() -> Response. MemcachedServer starts /usr/bin/memcached on a free
127.0.0.1 port and stops it.
"""

import shutil
import socket
import struct
import subprocess
import time
from collections import namedtuple

from conftest import free_port

HOST = "127.0.0.1"
IO_TIMEOUT = 10.0  # seconds a test waits for an answer
MEMCACHED = "/usr/bin/memcached"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0

# Binary protocol (memcached's protocol_binary.h).
REQ_MAGIC = 0x80
RES_MAGIC = 0x81
HEADER = struct.Struct(">BBHBBHIIQ")  # magic opcode keylen extlen datatype vbucket/status
#                                     bodylen opaque cas
OP = dict(
    GET=0x00, SET=0x01, ADD=0x02, REPLACE=0x03, DELETE=0x04, INCREMENT=0x05, DECREMENT=0x06,
    QUIT=0x07, FLUSH=0x08, GETQ=0x09, NOOP=0x0A, VERSION=0x0B, GETK=0x0C, GETKQ=0x0D,
    APPEND=0x0E, PREPEND=0x0F, STAT=0x10, SETQ=0x11, ADDQ=0x12, REPLACEQ=0x13, DELETEQ=0x14,
    INCREMENTQ=0x15, DECREMENTQ=0x16, QUITQ=0x17, FLUSHQ=0x18, APPENDQ=0x19, PREPENDQ=0x1A,
    TOUCH=0x1C, GAT=0x1D, GATQ=0x1E, SASL_LIST_MECHS=0x20, SASL_AUTH=0x21, SASL_STEP=0x22,
    GATK=0x23, GATKQ=0x24,
)
STATUS = dict(
    OK=0x00, KEY_ENOENT=0x01, KEY_EEXISTS=0x02, E2BIG=0x03, EINVAL=0x04, NOT_STORED=0x05,
    DELTA_BADVAL=0x06, AUTH_ERROR=0x20, UNKNOWN_COMMAND=0x81, ENOMEM=0x82,
)

Response = namedtuple("Response", "opcode status opaque cas extras key value")


def connect(port):
    s = socket.create_connection((HOST, port), timeout=IO_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class TextConn:
    """A text-protocol connection that frames every answer with a trailing mn."""

    def __init__(self, port):
        self.sock = connect(port)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, marker):
        while marker not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before {marker!r}; got {self.buf!r}")
            self.buf += chunk
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def call(self, request):
        """The answer to request (bytes), without the framing MN."""
        self.send(request + b"mn\r\n")
        return self.read_until(b"MN\r\n")[: -len(b"MN\r\n")]

    def closed_by_peer(self):
        """True when the server closed the connection (reads EOF within the timeout)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


class BinConn:
    """A binary-protocol connection."""

    def __init__(self, port):
        self.sock = connect(port)
        self.buf = b""

    def close(self):
        self.sock.close()

    @staticmethod
    def packet(opcode, key=b"", extras=b"", value=b"", cas=0, opaque=0):
        if isinstance(opcode, str):
            opcode = OP[opcode]
        body = len(key) + len(extras) + len(value)
        hdr = HEADER.pack(REQ_MAGIC, opcode, len(key), len(extras), 0, 0, body, opaque, cas)
        return hdr + extras + key + value

    def request(self, opcode, key=b"", extras=b"", value=b"", cas=0, opaque=0):
        self.sock.sendall(self.packet(opcode, key, extras, value, cas, opaque))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            self.buf += chunk

    def read_response(self):
        self._need(HEADER.size)
        magic, opcode, keylen, extlen, _, status, bodylen, opaque, cas = HEADER.unpack(
            self.buf[: HEADER.size]
        )
        assert magic == RES_MAGIC, f"bad magic {magic:#x}"
        self._need(HEADER.size + bodylen)
        body = self.buf[HEADER.size : HEADER.size + bodylen]
        self.buf = self.buf[HEADER.size + bodylen :]
        return Response(
            opcode, status, opaque, cas, body[:extlen], body[extlen : extlen + keylen],
            body[extlen + keylen :],
        )

    def call(self, opcode, key=b"", extras=b"", value=b"", cas=0, opaque=0):
        self.request(opcode, key, extras, value, cas, opaque)
        return self.read_response()


def set_extras(flags=0, exptime=0):
    return struct.pack(">II", flags, exptime)


def incr_extras(delta, initial=0, exptime=0):
    return struct.pack(">QQI", delta, initial, exptime)


class MemcachedServer:
    """Debian's memcached on a free port, for differential tests."""

    def __init__(self, *args):
        self.args = [str(a) for a in args]
        self.port = None
        self.proc = None

    @staticmethod
    def available():
        return shutil.which(MEMCACHED) is not None

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [MEMCACHED, "-p", str(self.port), "-U", "0", "-l", HOST, "-u", "nobody", *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"memcached exited with {self.proc.returncode}")
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("memcached did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
