"""Loopback ports for the processes tests and benchmarks start, and the idle connections of the DoS probes."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_by_server(sock: socket.socket) -> bool:
    """The SCP closed this idle connection (an A-ABORT then EOF, or EOF); False while it is open."""
    try:
        sock.recv(16, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    return True


@contextmanager
def idle_sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    """TCP connections that never send an A-ASSOCIATE-RQ (the kernel completes them; the SCP accepts them)."""
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    try:
        yield socks
    finally:
        for sock in socks:
            sock.close()
