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


ONE_REQUEST = SLOW_THINKER.replace("constant(10)", "constant(0.05)")


def test_vus_is_users(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--vus", "3", "--spawn-rate", "100", "--duration", "1s",
                     scenario=ONE_REQUEST)
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path)
    assert summary["users"]["peak"] == summary["users"]["started"] == 3
    assert summary["total"]["requests"] == target.stats()["requests"]["GET /ok"]


def test_repeated_stage_flags_make_the_closed_stages(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--stage", "300ms:4", "--stage", "1s:4", "--stage", "0s:0",
                     "--iterations", "100000", scenario=ONE_REQUEST)  # iterations: the stages must end it
    assert proc.returncode == 0, proc.stderr
    summary = summary_of(tmp_path)
    assert summary["users"]["started"] == 4
    assert 1.3 <= summary["duration_s"] < 3, summary["duration_s"]
    assert summary["total"]["requests"] == target.stats()["requests"]["GET /ok"] > 40


def test_a_stage_not_in_k6_form_is_a_usage_error(tmp_path, target):
    proc = run_surge(tmp_path, target.url, "--stage", "30s", scenario=ONE_REQUEST)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "surge: error: --stage '30s' is not DURATION:TARGET (use e.g. --stage 30s:50 to reach 50 users in 30 s, "
        "or 30s:50/s for 50 iterations/s)"]
