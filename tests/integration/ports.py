"""Free ports for the servers tests start (shared by tests/integration and tests/control)."""

import socket

HOST = "127.0.0.1"
FREE_PORT_TRIES = 1000
_ports_given = set()


def free_port():
    """A port that was free a moment ago (bind to 0, read it, close), and not one this process
    handed out before: a port picked for a server that has yet to bind it is free too."""
    for _ in range(FREE_PORT_TRIES):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port
    raise RuntimeError("no free port that was not handed out before")
