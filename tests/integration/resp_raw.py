"""A raw-socket RESP2/RESP3 client for tests that must see the exact bytes: protocol errors,
RESP3 reply types (Debian's redis-py 4.3 speaks only RESP2), MONITOR's stream.

    c = RawConn(server.port)
    c.send(b"HELLO 3\\r\\n")
    reply = c.read_reply()      # parsed, typed values (see below)
    c.expect_closed()           # the server closed the connection

Parsed types keep what RESP3 tells apart:
    simple string  -> Simple("OK")      error -> Error("ERR ...")
    integer        -> int               double -> float
    bulk           -> bytes             null (_, $-1, *-1) -> None
    boolean        -> True / False      big number -> BigNum("123...")
    array          -> list              set -> Set([...]) (a list subclass)
    map            -> Map([(k, v)...])  (a list of pairs, order kept)
    push           -> Push([...])       verbatim -> Verbatim(fmt, bytes)
    attribute      -> Attribute(pairs) is returned before the value it annotates
"""

import re
import socket
import time

HOST = "127.0.0.1"
READ_TIMEOUT = 10.0  # seconds a reply may take
CLOSE_TIMEOUT = 5.0  # seconds the server may take to close a connection
MAX_CONNECT_TRIES = 64  # connections opened to find one on each worker thread


class Simple(str):
    pass


class Error(str):
    pass


class BigNum(str):
    pass


class Set(list):
    pass


class Push(list):
    pass


class Map(list):
    """A RESP3 map as a list of (key, value) pairs."""

    def as_dict(self):
        return {k: v for k, v in self}


class Attribute(Map):
    pass


class Verbatim:
    def __init__(self, fmt, data):
        self.fmt = fmt
        self.data = data

    def __repr__(self):
        return f"Verbatim({self.fmt!r}, {self.data!r})"


class ProtocolViolation(Exception):
    pass


class RawConn:
    def __init__(self, port, host=HOST, timeout=READ_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, *args):
        """Sends one command as a multibulk request and returns its parsed reply."""
        self.send(encode(*args))
        return self.read_reply()

    # --- reading -------------------------------------------------------------------------
    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionResetError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2 :]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, tail, self.buf = self.buf[:n], self.buf[n : n + 2], self.buf[n + 2 :]
        if tail != b"\r\n":
            raise ProtocolViolation(f"bulk not followed by CRLF: {tail!r}")
        return data

    def read_reply(self):
        line = self._line()
        if not line:
            raise ProtocolViolation("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return Simple(rest.decode(errors="backslashreplace"))
        if t == b"-":
            return Error(rest.decode(errors="backslashreplace"))
        if t == b":":
            return int(rest)
        if t == b",":
            return float(rest.replace(b"inf", b"Infinity").decode())
        if t == b"(":
            return BigNum(rest.decode())
        if t == b"#":
            if rest not in (b"t", b"f"):
                raise ProtocolViolation(f"bad boolean {line!r}")
            return rest == b"t"
        if t == b"_":
            if rest:
                raise ProtocolViolation(f"bad null {line!r}")
            return None
        if t in (b"$", b"="):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n)
            if t == b"=":
                return Verbatim(data[:3].decode(), data[4:])
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read_reply() for _ in range(n)]
            return {b"*": list, b"~": Set, b">": Push}[t](items)
        if t in (b"%", b"|"):
            n = int(rest)
            pairs = [(self.read_reply(), self.read_reply()) for _ in range(n)]
            return Map(pairs) if t == b"%" else Attribute(pairs)
        raise ProtocolViolation(f"unknown reply type {line!r}")

    def read_raw(self, n):
        """Exactly n bytes of the stream, unparsed."""
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_line(self):
        return self._line()

    def expect_closed(self, timeout=CLOSE_TIMEOUT):
        """Waits until the server closes the connection; returns what came before the close."""
        deadline = time.monotonic() + timeout
        got = self.buf
        self.buf = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                break
            except ConnectionResetError:
                return got
            if not chunk:
                return got
            got += chunk
        raise AssertionError(f"connection still open after {timeout} s; received {got[:200]!r}")

    def nothing_within(self, seconds):
        """True when no byte arrives within `seconds` (the connection stays open)."""
        if self.buf:
            return False
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(READ_TIMEOUT)
        self.buf += chunk
        return False


def encode(*args):
    """A multibulk request of the arguments (str, bytes or int)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def info_text(reply):
    """CLIENT INFO/LIST text: a bulk string in RESP2, a verbatim string in RESP3."""
    return (reply.data if hasattr(reply, "data") else reply).decode()


def thread_of(conn):
    info = info_text(conn.command("CLIENT", "INFO"))
    return int(re.search(r"\bthread=(\d+)", info).group(1))


def conns_per_thread(port, threads=2):
    """One RawConn on each worker thread (the kernel spreads connections over the listeners)."""
    found, spare = {}, []
    for _ in range(MAX_CONNECT_TRIES):
        c = RawConn(port)
        t = thread_of(c)
        if t in found:
            spare.append(c)
        else:
            found[t] = c
        if len(found) == threads:
            break
    for c in spare:
        c.close()
    assert len(found) == threads, "connections did not spread over the worker threads"
    return found
