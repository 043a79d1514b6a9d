"""``--iterations N``: a run bounded by its count, through the real CLI against the loopback target.

What users rely on: the server sees exactly N requests for a one-request task, whatever the
users and worker processes; the run ends as soon as they are done (not at ``--duration``), and
its duration and rates are taken over the time the load ran.
"""
from __future__ import annotations

import time

import pytest

from test_cli_run import run_surge, summary_of

ONE_REQUEST = """
    from surge import HttpUser, task

    class One(HttpUser):
        @task
        async def one(self):
            await self.client.get("/ok")
"""


@pytest.mark.parametrize(("processes", "users", "iterations"), [(1, 7, 1000), (2, 7, 1001), (2, 1, 3)])
def test_the_server_sees_exactly_n_requests_and_the_run_ends_when_they_are_done(
        tmp_path, target, processes, users, iterations):
    started = time.monotonic()
    proc = run_surge(tmp_path, target.url, "--users", str(users), "--spawn-rate", "1000",
                     "--iterations", str(iterations), "--duration", "30s", "--processes", str(processes),
                     scenario=ONE_REQUEST)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert target.stats()["requests"] == {"GET /ok": iterations}
    summary = summary_of(tmp_path)
    assert summary["total"]["requests"] == iterations and summary["total"]["cancelled"] == 0
    assert summary["iterations"] == {"count": iterations, "limit": iterations}
    assert summary["duration_s"] < 5, summary["duration_s"]  # not the 30 s of --duration
    assert took < 15
    # the rate is over the time the load ran: requests / duration_s (to the summary's rounding)
    assert summary["total"]["rps"] == pytest.approx(iterations / summary["duration_s"], rel=0.02)
    assert summary["warnings"] == []


def test_an_open_run_ends_after_n_arrivals_served(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--rate", "200", "--iterations", "50", "--duration", "30s",
                     "--processes", "2", scenario=ONE_REQUEST)
    assert proc.returncode == 0, proc.stderr
    assert target.stats()["requests"] == {"GET /ok": 50}
    summary = summary_of(tmp_path)
    assert summary["iterations"] == {"count": 50, "limit": 50} and summary["dropped_iterations"] == 0
    assert 0.2 <= summary["duration_s"] < 2, summary["duration_s"]  # 50 arrivals at 200/s: 0.25 s


def test_the_duration_still_caps_the_run_and_says_the_count_was_not_reached(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--users", "2", "--iterations", "100000", "--duration", "1s",
                     scenario=ONE_REQUEST.replace("@task", "wait_time = constant(0.05)\n\n        @task")
                     .replace("import HttpUser", "import HttpUser, constant"))
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path)
    served = target.stats()["requests"]["GET /ok"]
    assert 10 <= served < 100 and summary["iterations"]["count"] == served
    assert 1 <= summary["duration_s"] < 3
    assert [w for w in summary["warnings"] if "iterations" in w] == [
        f"the run ended after {served:,} of its 100,000 iterations (its duration was up)"]
