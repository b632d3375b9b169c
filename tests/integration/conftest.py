"""Fixtures for dfly's integration tests: real servers, real clients.

Every server runs on a free 127.0.0.1 port in its own temporary directory, is
waited for (bounded) until it answers PING, and is always stopped at teardown
(SIGTERM, then SIGKILL after a grace period). When a test fails, the log of
each server it started is printed with the failure.

At teardown the harness also fails the test if a server did not exit with code
0 on SIGTERM, died by itself, or wrote an AddressSanitizer / UBSan report. A
test that ends a server on purpose calls `server.kill()` or sets
`server.check_exit = False` first.

Fixtures:
    dfly_binary            path of dfly-server ($DFLY_SERVER)
    server                 a dfly-server with --threads 2
    r                      redis-py client of `server` (decode_responses=True)
    server_factory         server_factory(*args, threads=2) -> DflyServer (a restart on an
                           earlier server's workdir returns once its files are loaded)
    redis_server_factory   redis_server_factory(*args) -> RedisServer (Debian's redis-server)
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis

from ports import free_port  # noqa: F401 (tests import it from here)

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds until a started server must answer PING
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
KILL_TIMEOUT = 5.0  # seconds to reap a process after SIGKILL
CLI_TIMEOUT = 10.0  # seconds one redis-cli run may take
CLIENT_TIMEOUT = 10.0  # socket timeout of clients made by .client()
LOAD_WAIT_S = 60.0  # seconds wait_loaded waits for the data a server started with
LOAD_POLL_S = 0.05
PORT_ATTEMPTS = 3  # starts tried when the picked port was taken meanwhile
LOG_TAIL_LINES = 200  # lines of a log printed with a failure
REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "redis-cli"

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",  # UndefinedBehaviorSanitizer
)


class Client(redis.Redis):
    """redis.Redis whose close() really closes: redis-py 4.3's close() only returns the
    connection to the pool, leaving the socket open until garbage collection."""

    def close(self):
        super().close()
        self.connection_pool.disconnect()




def _read(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _tail(text, lines=LOG_TAIL_LINES):
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return f"... ({len(parts) - lines} lines before)\n" + "\n".join(parts[-lines:]) + "\n"


def _excerpt(text, lines=LOG_TAIL_LINES):
    """A sanitizer report from its first line on (where the cause is); else the tail."""
    parts = text.splitlines()
    for i, line in enumerate(parts):
        if any(m in line for m in SANITIZER_MARKERS):
            shown = parts[i : i + lines]
            more = len(parts) - i - len(shown)
            head = f"... ({i} lines before)\n" if i else ""
            tail = f"... ({more} lines after)\n" if more > 0 else ""
            return head + "\n".join(shown) + "\n" + tail
    return _tail(text, lines)


def _flag_value(args, name):
    """Value of --name in args, given as `--name v` or `--name=v`; None if absent."""
    value = None
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(name + "="):
            value = a[len(name) + 1 :]
    return value


def _listening_inodes(port):
    """Socket inodes of the TCP listeners on `port` (any address), from /proc/net."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            listen = f[3] == "0A"
            if listen and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes


def _process_tree(pid):
    """pid and its descendants (a wrapper such as `timeout` may fork the server)."""
    children = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d.name))
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        if p not in tree:
            tree.add(p)
            todo.extend(children.get(p, []))
    return tree


def allocates_with_mimalloc(r):
    """True for the normal build; the sanitizer build allocates with libc (mem_allocator), whose
    freed memory AddressSanitizer keeps in quarantine, so RSS says little there."""
    return r.info("memory")["mem_allocator"].startswith("mimalloc")


def owns_listener(pid, port):
    """True if process `pid` (or a descendant) holds a socket listening on `port`.
    Tells our server apart from another process that took the port meanwhile.
    True where /proc is not there to ask."""
    if not Path("/proc/self/fd").is_dir():
        return True
    inodes = _listening_inodes(port)
    for p in _process_tree(pid):
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[len("socket:[") : -1] in inodes:
                return True
    return False


class ServerStartError(Exception):
    pass


class ServerProcess:
    """One server process on 127.0.0.1 speaking RESP. Subclasses build argv."""

    name = "server"

    def __init__(self, workdir, args=(), port=None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.args = [str(a) for a in args]
        self.password = _flag_value(self.args, "--requirepass")
        self.port = port
        self._fixed_port = port is not None
        self.proc = None
        self.check_exit = True  # teardown requires exit code 0 after SIGTERM
        self.exited_by_itself = False
        self.killed = False
        self._sigterm_sent = False
        self._group_done = False
        self._clients = []
        self.stderr_path = self.workdir / f"{self.name}.stderr"
        self.logfile = self.workdir / f"{self.name}.log"

    # --- to override -------------------------------------------------------------------
    def argv(self):
        raise NotImplementedError

    def env(self):
        return dict(os.environ)

    # --- life cycle --------------------------------------------------------------------
    def start(self):
        """Starts the process and waits until PING answers; raises ServerStartError."""
        for attempt in range(PORT_ATTEMPTS):
            if not self._fixed_port:
                self.port = free_port()
            self._spawn()
            try:
                self._wait_ready()
                return self
            except ServerStartError:
                exited = self.proc.poll() is not None
                self._terminate()
                self.check_exit = False  # the start error already tells what happened
                text = self.log() + self.stderr()
                port_taken = "in use" in text.lower()
                if exited and port_taken and not self._fixed_port and attempt + 1 < PORT_ATTEMPTS:
                    continue
                raise
        raise AssertionError("unreachable")

    def _spawn(self):
        self.exited_by_itself = False
        self.killed = False
        self._sigterm_sent = False
        self._group_done = False
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                self.argv(),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=self.env(),
                # Own process group: SIGKILL reaches whatever the server (or a wrapper
                # in DFLY_SERVER) started, so nothing outlives the test.
                start_new_session=True,
            )

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} exited with code {self.proc.returncode} during start\n"
                    + self.describe()
                )
            c = Client(
                host=HOST,
                port=self.port,
                password=self.password,
                socket_connect_timeout=0.5,
                socket_timeout=1.0,
            )
            try:
                if c.ping() and owns_listener(self.proc.pid, self.port):
                    return
            except redis.exceptions.AuthenticationError as e:
                # NOAUTH: it answers, but wants a password we were not told (config file).
                if owns_listener(self.proc.pid, self.port):
                    return
                last_error = e
            except (redis.exceptions.RedisError, OSError) as e:
                last_error = e
            finally:
                c.close()
            time.sleep(0.05)
        raise ServerStartError(
            f"{self.name} did not answer PING on {HOST}:{self.port} within {START_TIMEOUT} s"
            f" (last error: {last_error!r})\n" + self.describe()
        )

    def stop(self):
        """SIGTERM, wait up to STOP_TIMEOUT s, then SIGKILL. Returns the exit code
        (negative: killed by that signal). Safe to call more than once."""
        for c in self._clients:
            try:
                c.close()
            except Exception:
                pass
        self._clients.clear()
        if self.proc is None:
            return None
        if not self._sigterm_sent and self.proc.poll() is not None:
            self.exited_by_itself = True
        self._terminate()
        return self.proc.returncode

    def kill(self):
        """Ends the process with SIGKILL; the exit is not checked at teardown."""
        self.check_exit = False
        if self.proc is not None and self.proc.poll() is None:
            self._kill_group()
            self.proc.wait(timeout=KILL_TIMEOUT)
        return self.stop()

    def _kill_group(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _terminate(self):
        if self._group_done:
            return
        if self.proc.poll() is None:
            self._sigterm_sent = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.killed = True
                self._kill_group()
                self.proc.wait(timeout=KILL_TIMEOUT)
        # Leftovers of the group, if any; once, right after the reap, so the id
        # cannot have been reused by an unrelated process.
        self._kill_group()
        self._group_done = True

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def problems(self):
        """What went wrong with this process, as seen after stop()."""
        found = []
        err = self.stderr()
        for marker in SANITIZER_MARKERS:
            if marker in err:
                found.append(f"{self.name} on port {self.port}: sanitizer report ({marker!r})")
                break
        if self.check_exit and self.proc is not None:
            rc = self.proc.returncode
            if self.killed:
                found.append(
                    f"{self.name} on port {self.port}: still running {STOP_TIMEOUT} s after"
                    " SIGTERM; killed"
                )
            elif self.exited_by_itself and rc != 0:
                found.append(f"{self.name} on port {self.port}: died during the test, code {rc}")
            elif rc != 0:
                found.append(f"{self.name} on port {self.port}: exit code {rc} after SIGTERM")
        return found

    # --- clients and logs --------------------------------------------------------------
    def client(self, decode_responses=True, **kw):
        """A redis-py client of this server; closed by stop()."""
        kw.setdefault("socket_timeout", CLIENT_TIMEOUT)
        kw.setdefault("socket_connect_timeout", CLIENT_TIMEOUT)
        c = Client(host=HOST, port=self.port, decode_responses=decode_responses, **kw)
        self._clients.append(c)
        return c

    def cli(self, *args, input=None, check=True, timeout=CLI_TIMEOUT):
        """Runs `redis-cli -h 127.0.0.1 -p PORT args...` and returns its stdout (text).
        With check=True a non-zero exit of redis-cli raises CalledProcessError."""
        res = subprocess.run(
            [REDIS_CLI, "-h", HOST, "-p", str(self.port), *[str(a) for a in args]],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and res.returncode != 0:
            raise subprocess.CalledProcessError(res.returncode, res.args, res.stdout, res.stderr)
        return res.stdout

    def log(self):
        """The server's log file."""
        return _read(self.logfile)

    def stderr(self):
        """What the process wrote to stdout and stderr (sanitizer reports land here)."""
        return _read(self.stderr_path)

    def describe(self):
        parts = [f"--- {self.name} command: {' '.join(self.argv())}"]
        parts.append(f"--- {self.name} log ({self.logfile}):\n" + _tail(self.log()))
        err = self.stderr()
        if err:
            parts.append(f"--- {self.name} stdout/stderr ({self.stderr_path}):\n" + _excerpt(err))
        return "\n".join(parts)


class DflyServer(ServerProcess):
    name = "dfly-server"

    def __init__(self, binary, workdir, args=(), threads=2, port=None):
        super().__init__(workdir, args=args, port=port)
        self.binary = str(binary)
        self.threads = threads

    def argv(self):
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", HOST,
            "--threads", str(self.threads),
            "--dir", str(self.workdir),
            "--logfile", str(self.logfile),
            *self.args,
        ]  # fmt: skip

    def env(self):
        env = dict(os.environ)
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        return env

    def wait_loaded(self, timeout=LOAD_WAIT_S):
        """Until INFO says the snapshot or journal it started with is loaded: the server answers
        PING while it loads, and data commands get -LOADING until then."""
        c = self.client()
        deadline = time.monotonic() + timeout
        while c.info("persistence")["loading"] and time.monotonic() < deadline:
            time.sleep(LOAD_POLL_S)
        assert c.info("persistence")["loading"] == 0, "still loading"
        c.close()


class RedisServer(ServerProcess):
    """Debian's redis-server, without persistence, for comparison tests."""

    name = "redis-server"

    def argv(self):
        return [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--logfile", str(self.logfile),
            *self.args,
        ]  # fmt: skip


# --- pytest wiring -------------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (item.rep_setup, rep_call, rep_teardown),
    so that fixtures can tell at teardown whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _test_failed(request):
    for phase in ("rep_setup", "rep_call"):
        rep = getattr(request.node, phase, None)
        if rep is not None and rep.failed:
            return True
    return False


def _finish(request, servers):
    """Stops every server; prints logs if the test failed; fails on unclean exits."""
    problems = []
    for s in servers:
        try:
            s.stop()
        except Exception as e:  # keep stopping the others
            problems.append(f"{s.name} on port {s.port}: stop failed: {e!r}")
            continue
        problems.extend(s.problems())
    failed = _test_failed(request)
    for s in servers:
        if failed or s.problems():
            print(s.describe())
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def _default_binary():
    env = os.environ.get("DFLY_SERVER")
    if env:
        return Path(env)
    build = os.environ.get("DFLY_BUILD_DIR")
    if build:
        return Path(build) / "dataplane" / "dfly-server"
    return Path(__file__).resolve().parents[2] / "build" / "dataplane" / "dfly-server"


@pytest.fixture(scope="session")
def dfly_binary():
    """Path of the dfly-server under test: $DFLY_SERVER, else $DFLY_BUILD_DIR/dataplane/
    dfly-server, else build/dataplane/dfly-server of this checkout."""
    path = _default_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"dfly-server not found at {path}: build it or set DFLY_SERVER", pytrace=False)
    return str(path)


@pytest.fixture
def server_factory(request, dfly_binary, tmp_path):
    """server_factory(*args, threads=2, port=None, workdir=None, wait_loaded=None) starts a
    dfly-server with extra args, in workdir (default: a new directory; pass an earlier server's
    workdir to restart on its files); every server started is stopped at teardown. A server
    answers PING while it loads its files, and data commands get -LOADING: a restart (workdir
    given) returns once the load is over, unless wait_loaded=False."""
    servers = []

    def start(*args, threads=2, port=None, workdir=None, wait_loaded=None):
        restart = workdir is not None
        workdir = workdir or tmp_path / f"dfly{len(servers)}"
        s = DflyServer(dfly_binary, workdir, args=args, threads=threads, port=port)
        servers.append(s)
        s.start()
        if restart if wait_loaded is None else wait_loaded:
            s.wait_loaded()
        return s

    yield start
    _finish(request, servers)


@pytest.fixture
def server(server_factory):
    """A dfly-server with --threads 2 on a free port."""
    return server_factory(threads=2)


@pytest.fixture
def r(server):
    """redis-py client of `server`, decode_responses=True."""
    return server.client(decode_responses=True)


@pytest.fixture
def redis_server_factory(request, tmp_path):
    """redis_server_factory(*args) starts Debian's redis-server (no persistence) to compare
    dfly's behaviour with; stopped at teardown."""
    servers = []

    def start(*args, port=None):
        s = RedisServer(tmp_path / f"redis{len(servers)}", args=args, port=port)
        servers.append(s)
        return s.start()

    yield start
    _finish(request, servers)
