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


def run(tmp_path: Path, scenario: str, host: str, *extra: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    """A short closed run of ``scenario`` (1 user unless ``extra`` says otherwise) for 1 s."""
    (tmp_path / "scenario.py").write_text(textwrap.dedent(scenario))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    args = [SURGE, "run", "scenario.py", "--host", host, "--users", "1", "--duration", "1s",
            "--processes", "1", "--live", "off", "--out", str(tmp_path / "out"), *extra]
    return subprocess.run(args, cwd=tmp_path, env={**clean, **(env or {})}, capture_output=True, text=True,
                          timeout=60)


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


REDIRECTS = """
    import os
    from urllib.parse import quote

    from surge import HttpUser, constant, task

    ECHO = os.environ["ECHO_URL"]  # the other origin

    class Api(HttpUser):
        wait_time = constant(0.1)
        headers = {"Cookie": "own=scenario", "X-Auth-Token": "class-token"}

        async def on_start(self):
            await self.client.get("/set-cookie?c=" + quote("jar=first; Path=/"))

        @task
        async def away(self):
            await self.client.get("/redirect?to=" + quote(ECHO + "/echo", safe=""), name="away")

        @task
        async def home(self):
            await self.client.get("/redirect?to=/echo", name="home")
"""


def test_follow_redirects_keeps_credentials_and_cookies_with_their_origin(tmp_path, origin):
    """Regression: a followed redirect took Authorization, API-key headers, the scenario's Cookie
    header and the first origin's cookie jar to the other origin (and sent two Cookie lines)."""
    with Origin(hostname="localhost") as echo:
        proc = run(tmp_path, REDIRECTS, origin.url, "--follow-redirects", "--users", "2",
                   "--header", "Authorization: Bearer cli-token", "--header", "X-Api-Key: cli-key",
                   env={"ECHO_URL": echo.url})
        assert proc.returncode == 0, proc.stderr
        away = echo.requests_to("/echo")
    home = origin.requests_to("/echo")
    assert away and home
    for request in away:
        names = {name.lower() for name, _ in request.headers}
        assert not names & {"authorization", "cookie", "x-api-key", "x-auth-token"}, request.headers
    for request in home:
        assert request.values("Authorization") == ["Bearer cli-token"]
        assert request.values("X-Api-Key") == ["cli-key"] and request.values("X-Auth-Token") == ["class-token"]
        assert request.values("Cookie") == ["own=scenario; jar=first"]  # exactly one Cookie line
