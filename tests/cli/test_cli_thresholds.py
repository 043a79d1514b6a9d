"""Threshold traps through the real ``surge run``: refused in one line (exit 2) naming where the
threshold came from, and k6's names read as surge's, said once, judged like surge's own."""
from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from test_cli_run import SURGE, clean_env, run_surge

SCENARIO = """
    from surge import HttpUser, constant, task

    class Browser(HttpUser):
        wait_time = constant(0.01)

        @task(9)
        async def ok(self):
            await self.client.get("/ok")

        @task(1)
        async def fail(self):
            await self.client.get("/status/500", name="/broken")
"""


def refused(tmp_path: Path, *args: str) -> str:
    """The one error line of a run refused before any load (no host needed: nothing is sent)."""
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SCENARIO))
    proc = subprocess.run([SURGE, "run", "scenario.py", "--host", "http://127.0.0.1:9", "--live", "off", *args],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=30)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("surge: error: threshold "), proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


@pytest.mark.parametrize("threshold, hint", [
    ("*: error_rate<1", "write 1% for 1 percent, or 0.01"),
    ("*: error_rate<0%", "can never pass; write error_rate<=0%"),
    ("*: rps<0", "can never pass; write rps<=0/s"),
    ("GET /ok: p95<0ms", "can never pass; give a bound above 0"),
    ("*: failures<0", "can never pass; write failures<=0"),
    ("*: requests<0", "can never pass; write requests<=0"),
    ("*: error_rate>100%", "can never pass; write error_rate>=100%"),
    ("iteration_duration: p(95)<100", "surge reads http_req_duration, http_req_failed, http_reqs"),
])
def test_a_trap_on_the_command_line_is_refused_naming_the_flag(tmp_path, threshold, hint):
    line = refused(tmp_path, "--threshold", threshold)
    assert f"threshold '{threshold}' (--threshold): " in line and hint in line, line


def test_a_trap_in_a_thresholds_file_is_refused_naming_the_file(tmp_path):
    (tmp_path / "sla.toml").write_text('[thresholds]\n"*" = ["p95<300ms", "error_rate<0%"]\n')
    line = refused(tmp_path, "--thresholds", "sla.toml")
    assert "threshold '*: error_rate<0%' (" in line and "sla.toml): " in line and "error_rate<=0%" in line, line


def test_a_trap_in_the_config_file_is_refused_naming_it(tmp_path):
    (tmp_path / "surge.toml").write_text('[thresholds]\n"http_req_failed" = "rate<1"\n')
    line = refused(tmp_path)
    assert "threshold 'http_req_failed: rate<1' (" in line and "surge.toml" in line, line
    assert "1 means 100%" in line and "k6's http_req_failed rate is surge's *: error_rate" in line


def test_k6_names_are_read_as_surge_targets_said_once_and_judged(tmp_path, target):
    """A k6 script's thresholds, as written there: read, announced once, and in summary.json in
    surge's words with the right stat (so the actual shows in its unit)."""
    proc = run_surge(tmp_path, target.url, "--users", "2", "--duration", "1s", scenario=SCENARIO,
                     *["--threshold", "http_req_duration: p(95)<1000", "--threshold", "http_reqs: count>10",
                       "--threshold", "http_req_duration{name:/ok}: med<1000",
                       "--threshold", "http_req_failed{name:/broken}: rate<0.01"])
    assert proc.returncode == 1, proc.stderr  # /broken fails every time: its error_rate is 100%
    notices = [line for line in proc.stdout.splitlines() if "(k6's name)" in line]
    assert notices == [
        "threshold 'http_req_duration: p(95)<1000' read as '*: p95<1000ms' (k6's name)",
        "threshold 'http_reqs: count>10' read as '*: requests>10' (k6's name)",
        "threshold 'http_req_duration{name:/ok}: med<1000' read as '/ok: p50<1000ms' (k6's name)",
        "threshold 'http_req_failed{name:/broken}: rate<0.01' read as '/broken: error_rate<1%' (k6's name)",
    ], proc.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    got = [(t["target"], t["expression"], t["passed"]) for t in summary["thresholds"]]
    assert got == [("*", "p95<1000ms", True), ("*", "requests>10", True), ("/ok", "p50<1000ms", True),
                   ("/broken", "error_rate<1%", False)]
    broken = summary["thresholds"][3]
    assert broken["actual"] == 1.0
    assert "error_rate<1%" in proc.stdout and "100" in proc.stdout  # the summary table, in %
