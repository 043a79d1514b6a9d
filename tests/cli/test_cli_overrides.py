"""Quick overrides on the command line, as Locust and k6 users type them: ``--think-time``,
``--vus``, ``--stage DURATION:TARGET``, the scenario from the config file, and an ``--out`` in
k6's form refused. Through the real CLI; the target counts what it served."""
from __future__ import annotations

import textwrap

from test_cli_run import SURGE, clean_env, run_surge, summary_of

SLOW_THINKER = """
    from surge import HttpUser, constant, task

    class Thinker(HttpUser):
        wait_time = constant(10)  # a run that honoured it would send one request per user

        @task
        async def one(self):
            await self.client.get("/ok")
"""


def test_think_time_0_overrides_every_class_wait_time(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--users", "2", "--iterations", "200", "--duration", "20s",
                     "--think-time", "0", scenario=SLOW_THINKER)
    assert proc.returncode == 0, proc.stderr
    assert target.stats()["requests"] == {"GET /ok": 200}
    assert summary_of(tmp_path)["duration_s"] < 5


def test_think_time_paces_each_user(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--users", "1", "--duration", "1s", "--think-time", "100ms",
                     scenario=SLOW_THINKER)
    assert proc.returncode == 0, proc.stderr
    assert 8 <= target.stats()["requests"]["GET /ok"] <= 11  # one every ~100 ms, not one in 10 s


def test_think_time_with_an_open_workload_is_a_usage_error(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--rate", "10", "--think-time", "1s", scenario=SLOW_THINKER)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "surge: error: --think-time only paces closed workloads; in an open one the arrival rate sets the pace"]
    assert target.stats()["requests_total"] == 0 and not (tmp_path / "out").exists()
