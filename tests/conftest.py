"""Shared fixtures. ``target``: a real HTTP/1.1 server on loopback (tests/support/target.py)."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # so tests can `import support.…`

from support.target import TargetServer  # noqa: E402


@pytest.fixture(scope="session")
def target_server():
    """One target process for the whole session (starts in ~0.1 s). Prefer ``target``."""
    with TargetServer() as server:
        yield server


@pytest.fixture
def target(target_server):
    """The session's target server with its counters zeroed and its start-up config restored."""
    target_server.configure(defaults=True)
    target_server.reset_stats()
    return target_server
