"""Fixtures for the HTTP client tests (helpers live in ``helpers.py``)."""
from __future__ import annotations

import socket

import pytest

from support.hostile import HostileServer


@pytest.fixture
def closed_port() -> int:
    """A loopback port that was just free and has no listener (bound, then closed)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="session")
def hostile_server():
    """One hostile server process for the session (tests/support/hostile.py). Prefer ``hostile``."""
    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile(hostile_server) -> HostileServer:
    """The session's hostile server with its counters zeroed."""
    hostile_server.reset()
    return hostile_server
