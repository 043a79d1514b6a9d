"""Credentials never reach what ``surge run`` prints or writes: error lines, the terminal, the
results folder. The real console script in a subprocess, against the loopback target."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SURGE = str(Path(sys.executable).with_name("surge"))

OK_SCENARIO = """
    from surge import HttpUser, task

    class Browser(HttpUser):
        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def surge(tmp_path: Path, scenario: str, *args: str, env: dict[str, str] | None = None,
          timeout_s: float = 60) -> subprocess.CompletedProcess:
    (tmp_path / "scenario.py").write_text(textwrap.dedent(scenario))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    return subprocess.run([SURGE, "run", "scenario.py", *args], cwd=tmp_path, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=timeout_s)


BAD_HOST = "http://alice:PASS@127.0.0.1:99999"


@pytest.mark.parametrize("where", ["--host", "SURGE_HOST", "surge.toml"])
def test_an_invalid_host_is_reported_without_its_password(tmp_path, where):
    args, env = [], {}
    if where == "--host":
        args = ["--host", BAD_HOST]
    elif where == "SURGE_HOST":
        env = {"SURGE_HOST": BAD_HOST}
    else:
        (tmp_path / "surge.toml").write_text(f'host = "{BAD_HOST}"\n')
    proc = surge(tmp_path, OK_SCENARIO, *args, env=env)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("surge: error: ") and "invalid port" in line and where.split(".")[0].lower() in line.lower()
    assert "alice:***@127.0.0.1:99999" in line  # the user and the address stay: they help
    assert "PASS" not in proc.stderr + proc.stdout


def test_a_malformed_header_table_is_reported_without_the_token(tmp_path):
    (tmp_path / "surge.toml").write_text('headers = "Bearer TOML-TOKEN-1"\n')
    proc = surge(tmp_path, OK_SCENARIO, "--host", "http://127.0.0.1:1")
    assert proc.returncode == 2, proc.stderr
    assert "headers" in proc.stderr and "TOML-TOKEN-1" not in proc.stderr + proc.stdout


LEAKY = """
    from surge import HttpUser, constant, task

    class Leaky(HttpUser):
        wait_time = constant(0.02)
        headers = {"X-Api-Key": "CLASS-KEY-2"}

        @task
        async def raises(self):
            token = self.client.headers["Authorization"].split()[1]
            raise Exception(f"bad {token}")

        @task
        async def query(self):
            resp = await self.client.get("/status/500?api_key=QUERY-SECRET-3&page=2", name="/status/500")
            assert resp.ok, resp  # the message quotes the request, query string and all

        @task
        async def check(self):
            resp = await self.client.get("/ok", headers={"X-Auth-Token": "REQUEST-SECRET-4"})
            resp.failure(f"rejected with {self.client.headers} and REQUEST-SECRET-4, CLASS-KEY-2")
"""
SECRETS = ("SECRET-CLI-1", "CLASS-KEY-2", "QUERY-SECRET-3", "REQUEST-SECRET-4")


@pytest.mark.parametrize("live", ["lines", "rich"])
def test_secrets_in_failure_messages_reach_no_output(tmp_path, target, live):
    """Regression: a token in a task's exception, a request's ``api_key`` quoted by an assertion
    and header values in a check's message were written verbatim to summary.json, failures.csv
    and the terminal."""
    proc = surge(tmp_path, LEAKY, "--host", target.url, "--users", "2", "--duration", "1s", "--processes", "1",
                 "--live", live, "--out", "out", "--header", "Authorization: Bearer SECRET-CLI-1")
    assert proc.returncode == 1, proc.stderr  # requests failed: the messages were recorded
    written = {path.name: path.read_text() for path in (tmp_path / "out").iterdir()}
    failures = written["failures.csv"]
    assert "exception: Exception: bad ***" in failures
    assert "api_key=***&page=2" in failures  # the rest of the query stays: it helps
    assert "'Authorization': 'Bearer ***'" in failures
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr, secret
        for name, text in written.items():
            assert secret not in text, (secret, name)
    assert "bad ***" in proc.stdout  # the terminal's failure table shows the scrubbed message


SETUP_LEAKS = """
    from surge import HttpUser, task

    def setup(host):
        raise RuntimeError("login refused for key SECRET-CLI-5")

    class Browser(HttpUser):
        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def test_an_error_line_quoting_a_known_secret_is_scrubbed(tmp_path, target):
    proc = surge(tmp_path, SETUP_LEAKS, "--host", target.url, "--duration", "1s", "--processes", "1",
                 "--live", "off", "--out", "out", "--header", "X-Api-Key: SECRET-CLI-5")
    assert proc.returncode == 3, proc.stderr
    assert "setup() raised RuntimeError: login refused for key ***" in proc.stderr
    assert "SECRET-CLI-5" not in proc.stdout + proc.stderr
