"""``surge run`` and the headers a target receives: which layer wins, and what crosses to another
origin when ``--follow-redirects`` follows a redirect (tests/support/echo_origins.py records
every request as it arrived)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from support.echo_origins import Origin

SURGE = str(Path(sys.executable).with_name("surge"))


@pytest.fixture
def origin():
    with Origin() as o:
        yield o


def run(tmp_path: Path, scenario: str, host: str, *extra: str) -> subprocess.CompletedProcess:
    """A short closed run of ``scenario``: 1 user, at most 10 iterations' worth of time (~1 s)."""
    (tmp_path / "scenario.py").write_text(textwrap.dedent(scenario))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    args = [SURGE, "run", "scenario.py", "--host", host, "--users", "1", "--duration", "1s",
            "--processes", "1", "--live", "off", "--out", str(tmp_path / "out"), *extra]
    return subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


CLASS_HEADERS = """
    from surge import HttpUser, constant, task

    class Api(HttpUser):
        wait_time = constant(0.1)
        headers = {"authorization": "Bearer from-the-class", "X-Team": "class", "Accept": "text/plain"}

        @task
        async def echo(self):
            await self.client.get("/echo")
"""


def test_the_command_line_header_wins_over_the_class_headers(tmp_path, origin):
    """Regression: a class's ``headers`` silently replaced ``--header`` of the same name."""
    proc = run(tmp_path, CLASS_HEADERS, origin.url, "--header", "Authorization: Bearer from-the-cli",
               "--header", "X-Team: cli")
    assert proc.returncode == 0, proc.stderr
    received = origin.requests_to("/echo")
    assert received
    for request in received:
        assert request.values("Authorization") == ["Bearer from-the-cli"]  # one line, however spelt
        assert request.values("X-Team") == ["cli"]
        assert request.values("Accept") == ["text/plain"]  # what the CLI does not name stays the class's
