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


def surge_in(cwd, *args: str):
    import subprocess

    return subprocess.run([SURGE, "run", *args], cwd=cwd, env=clean_env(), capture_output=True, text=True,
                          timeout=60)


def test_the_scenario_may_come_from_the_config_file_relative_to_it(tmp_path, target):
    perf = tmp_path / "perf"
    (perf / "scenarios").mkdir(parents=True)
    (perf / "scenarios" / "one.py").write_text(textwrap.dedent(ONE_REQUEST))
    (perf / "surge.toml").write_text(f'scenario = "scenarios/one.py"\nhost = "{target.url}"\nlive = "off"\n')
    proc = surge_in(tmp_path, "--config", "perf/surge.toml", "--iterations", "5", "--processes", "1",
                    "--out", "out")
    assert proc.returncode == 0, proc.stderr
    assert target.stats()["requests"] == {"GET /ok": 5}
    assert summary_of(tmp_path)["scenario"] == "one"
    proc = surge_in(perf, "--iterations", "3", "--processes", "1", "--out", "out")  # ./surge.toml found
    assert proc.returncode == 0, proc.stderr
    assert target.stats()["requests"] == {"GET /ok": 8}


def test_no_scenario_anywhere_is_one_line_and_exit_2(tmp_path):
    proc = surge_in(tmp_path, "--users", "1")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        'surge: error: no scenario given (pass one: surge run path/to/scenario.py, or set scenario = "..." '
        'in surge.toml)']
    assert list(tmp_path.iterdir()) == []


def test_an_out_in_k6_form_or_a_url_is_refused(tmp_path, target):
    (tmp_path / "scenario.py").write_text(textwrap.dedent(ONE_REQUEST))
    for out, says in [("json=results.json", "is k6's NAME=VALUE form"), ("http://127.0.0.1:8086/k6", "is a URL")]:
        proc = surge_in(tmp_path, "scenario.py", "--host", target.url, "--out", out)
        assert proc.returncode == 2
        [line] = proc.stderr.splitlines()
        assert line.startswith(f"surge: error: --out {out!r} {says}: --out takes a results folder"), line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.py"]
    assert target.stats()["requests_total"] == 0
