"""``surge run --list`` and ``--dry-run`` through the real CLI: what they print, exit 0, and that
nothing starts: no request reaches the target, no results folder appears."""
from __future__ import annotations

import subprocess
import textwrap

from test_cli_run import SURGE, clean_env

SCENARIO = """
    from surge import HttpUser, between, constant, tag, task

    class Reader(HttpUser):
        weight = 3
        wait_time = between(0.5, 1.5)

        @task(5)
        @tag("read")
        async def facts(self):
            await self.client.get("/ok")

        @task(1)
        @tag("read", "slow")
        async def history(self):
            await self.client.get("/ok")

    class Writer(HttpUser):
        wait_time = constant(0)

        @task
        @tag("write")
        async def correct(self):
            await self.client.post("/ok")
"""


def surge(tmp_path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SCENARIO))
    return subprocess.run([SURGE, "run", *args], cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=30)


def test_list_prints_classes_tasks_weights_and_tags_without_a_host(tmp_path):
    proc = surge(tmp_path, "scenario.py", "--list")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "scenario.py: 2 user classes, 3 tasks",
        "  Reader  weight 3 (75%)  wait_time between(0.5, 1.5)",
        "    facts    weight 5 (83%)  tags: read",
        "    history  weight 1 (17%)  tags: read, slow",
        "  Writer  weight 1 (25%)  wait_time constant(0)",
        "    correct  weight 1 (100%)  tags: write",
        "tags in use: read, slow, write",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.py"]
    selected = surge(tmp_path, "scenario.py", "--list", "--exclude-tags", "read")  # the selection a run makes
    assert selected.stdout.splitlines()[0] == "scenario.py: 1 user class, 1 task"


def test_dry_run_prints_the_settled_plan_and_starts_nothing(tmp_path, target):
    (tmp_path / "surge.toml").write_text('[thresholds]\n"*" = "error_rate < 1%"\n')
    (tmp_path / "sla.toml").write_text('[thresholds]\n"GET /ok" = "p99 < 1s"\n')
    host = target.url.replace("http://", "http://alice:s3cret@")
    proc = surge(tmp_path, "scenario.py", "--dry-run", "--host", host, "--profile", "load", "--users", "10",
                 "--duration", "2m", "--processes", "3", "--iterations", "1000", "--thresholds", "sla.toml",
                 "--threshold", "*: p95<50ms")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:13] == [
        f"scenario: {tmp_path / 'scenario.py'}",
        f"host: {target.url.replace('http://', 'http://alice:***@')}",
        "workload: closed, profile load, 3 worker processes",
        "stages (after scaling; 2m in all):",
        "   1       0s .. 12s      0 -> 5 users",
        "   2      12s .. 48s      5 -> 10 users",
        "   3      48s .. 1m48s    hold 10 users",
        "   4    1m48s .. 2m       10 -> 0 users",
        "users at the peak: 10 (Reader 8, Writer 2)",
        "  worker 0: 4 (Reader 3, Writer 1)",
        "  worker 1: 3 (Reader 3, Writer 0)",
        "  worker 2: 3 (Reader 2, Writer 1)",
        "iterations: 1,000 (per worker: 334, 333, 333); the run ends at them, or after 2m",
    ]
    assert lines[13:18] == [
        "think time: Reader between(0.5, 1.5), Writer constant(0)",
        "thresholds:",
        f"  *: error_rate < 1%  ({tmp_path / 'surge.toml'})",
        f"  GET /ok: p99 < 1s  (--thresholds {tmp_path / 'sla.toml'})",
        "  *: p95<50ms  (--threshold)",
    ]
    assert lines[18].startswith("results: results/scenario-load-") and lines[18].endswith(
        "(not created: --dry-run starts nothing)")
    assert len(lines) == 19 and "s3cret" not in proc.stdout + proc.stderr
    assert target.stats()["requests_total"] == 0 and target.stats()["connections"]["accepted"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.py", "sla.toml", "surge.toml"]


def test_dry_run_of_an_open_workload_shows_the_rate_per_worker(tmp_path):
    proc = surge(tmp_path, "scenario.py", "--dry-run", "--host", "http://127.0.0.1:9", "--rate", "50",
                 "--duration", "30s", "--processes", "2", "--out", "runs/x")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2:] == [
        "workload: open, no profile, 2 worker processes",
        "stages (after scaling; 30s in all):",
        "   1       0s .. 0s       jump to 50/s",
        "   2       0s .. 30s      hold 50/s",
        "arrivals at the peak: 50/s (Reader 75%, Writer 25%), served by at most 500 users",
        "  worker 0: 25/s, at most 250 users",
        "  worker 1: 25/s, at most 250 users",
        "arrival process: uniform (evenly spaced)",
        "thresholds: none",
        f"results: {tmp_path / 'runs' / 'x'} (not created: --dry-run starts nothing)",
    ]
    assert not (tmp_path / "runs").exists()


def test_dry_run_reports_the_errors_a_run_would_meet(tmp_path):
    proc = surge(tmp_path, "scenario.py", "--dry-run")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "surge: error: no target host (pass --host http://127.0.0.1:8000 or set `host` on the user class)"]
    both = surge(tmp_path, "scenario.py", "--dry-run", "--list")
    assert both.returncode == 2 and "--list and --dry-run: choose one" in both.stderr
