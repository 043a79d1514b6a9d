"""Monitors in ``surge run``, through the real CLI: the target surge starts, the host, PostgreSQL
and Redis on this machine, thresholds on their values, and what happens when they fail."""
from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from importlib import resources

import jsonschema
import psutil
import pytest

from test_cli_run import SURGE, clean_env

LEAKY = str(Path(__file__).resolve().parents[1] / "support" / "leaky.py")
SCENARIO = """
    from surge import HttpUser, task

    class U(HttpUser):
        @task
        async def root(self):
            await self.client.get("{path}")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def surge(tmp_path: Path, *args: str, path: str = "/ok", timeout_s: float = 60) -> subprocess.CompletedProcess:
    (tmp_path / "scenario.py").write_text(textwrap.dedent(SCENARIO).format(path=path))
    return subprocess.run([SURGE, "run", "scenario.py", "--live", "off", "--out", str(tmp_path / "out"), *args],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=timeout_s)


def summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def leaky_cmd(port: int, *extra: str) -> str:
    return f"{sys.executable} {LEAKY} --port {port} --no-stdin --exit-after 30 {' '.join(extra)}"


def test_a_started_leaking_target_is_watched_judged_and_stopped(tmp_path):
    port = free_port()
    proc = surge(tmp_path, "--host", f"http://127.0.0.1:{port}", "--rate", "100", "--duration", "4s",
                 "--monitor-cmd", leaky_cmd(port, "--leak-bytes", "100000"), "--health", "/count",
                 "--monitor-interval", "250ms", "--processes", "1",
                 "--threshold", "target: rss_growth_mb_per_min<5", "--threshold", "host: cpu_percent_max<=100",
                 path="/")
    assert proc.returncode == 1, proc.stderr  # the leak fails its threshold
    s = summary(tmp_path)
    target = s["monitors"]["target"]
    truth = 100_000 * s["total"]["rps"] * 60 / 1e6  # MB/min
    assert target["verdict"] == "leak"
    assert target["rss_growth_mb_per_min"] == pytest.approx(truth, rel=0.25)
    [leak, host] = s["thresholds"]
    assert (leak["passed"], host["passed"]) == (False, True)
    series = rows(tmp_path / "out" / "monitors" / "target.csv")
    assert len(series) >= 12 and float(series[-1]["rss_mb"]) > float(series[0]["rss_mb"]) + 20
    assert (tmp_path / "out" / "monitors" / "host.csv").is_file()
    assert (tmp_path / "out" / "target.log").is_file()
    assert not psutil.pid_exists(target["pid"]) or psutil.Process(target["pid"]).status() == "zombie"
    assert "Target: RSS" in proc.stdout and "leak" in proc.stdout
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text())
    jsonschema.validate(s, schema)  # the monitors' sections are a contract


def test_a_target_that_exits_mid_run_is_recorded_and_the_run_goes_on(tmp_path, target):
    port = free_port()
    proc = surge(tmp_path, "--host", target.url, "--users", "1", "--duration", "3s", "--processes", "1",
                 "--monitor-cmd", f"{sys.executable} {LEAKY} --port {port} --no-stdin --exit-after 1.2",
                 "--monitor-interval", "200ms")
    assert proc.returncode == 0, proc.stderr
    s = summary(tmp_path)
    assert s["monitors"]["target"]["exited_at_s"] == pytest.approx(1.2, abs=0.6)
    assert any("monitor target" in w for w in s["warnings"])
    assert s["total"]["requests"] > 0


@pytest.mark.parametrize(("args", "says"), [
    (["--monitor-pid", "999999"], "999999"),
    (["--monitor-port", "1"], "nobody listens on port 1"),
    (["--db", "postgresql://postgres@127.0.0.1:1/postgres"], "127.0.0.1:1"),
    (["--redis", "redis://127.0.0.1:1/0"], "127.0.0.1:1"),
    (["--db", "mysql://127.0.0.1/x"], "is not a postgresql:// URL"),
    (["--monitor-pid", "1", "--monitor-port", "80"], "name the target process one way"),
])
def test_a_source_that_cannot_be_watched_stops_the_run_before_any_load(tmp_path, target, args, says):
    proc = surge(tmp_path, "--host", target.url, "--users", "1", "--duration", "2s", *args)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert target.stats()["requests_total"] == 0
    assert not (tmp_path / "out").exists()


def test_postgres_and_redis_are_watched_and_their_passwords_never_shown(tmp_path, target):
    proc = surge(tmp_path, "--host", target.url, "--users", "2", "--duration", "2s", "--processes", "1",
                 "--db", "postgresql://postgres:SECRET-PW-1@127.0.0.1/postgres",
                 "--redis", "redis://:SECRET-PW-2@127.0.0.1:6379/0", "--monitor-interval", "500ms",
                 "--threshold", "db: connections_used_pct_max<90", "--threshold", "redis: blocked_clients_max<1")
    if "WRONGPASS" in proc.stderr or "AUTH" in proc.stderr:
        pytest.skip("this Redis refuses a password")
    assert proc.returncode == 0, proc.stderr
    s = summary(tmp_path)
    assert s["monitors"]["db"]["samples"] >= 4 and s["monitors"]["redis"]["samples"] >= 4
    assert all(t["passed"] for t in s["thresholds"])
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "SECRET-PW" not in text, path
    assert "SECRET-PW" not in proc.stdout + proc.stderr
    assert (tmp_path / "out" / "db_report.json").is_file()


from support.databases import database, postgres  # noqa: E402,F401 (fixtures)

DEMO_SCENARIO = str(Path(__file__).resolve().parents[2] / "src" / "surge" / "demo" / "corrections.py")


def test_the_demo_api_on_postgresql_under_load_moves_the_database_series(tmp_path, database):
    port = free_port()
    cmd = f"{sys.executable} -m surge.demo --port {port} --db {database.url}"
    proc = subprocess.run(
        [SURGE, "run", DEMO_SCENARIO, "--host", f"http://127.0.0.1:{port}", "--users", "10", "--duration", "4s",
         "--processes", "1", "--live", "off", "--out", str(tmp_path / "out"), "--monitor-cmd", cmd,
         "--health", "/health", "--db", database.url, "--monitor-interval", "500ms",
         "--exit-code-on-error", "0"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=90)
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    s = summary(tmp_path)
    db = s["monitors"]["db"]
    assert db["connections_db_max"] >= 1  # the API's pool, seen in pg_stat_activity
    assert db["commits_per_s"] > 1
    series = rows(tmp_path / "out" / "monitors" / "db.csv")
    assert int(series[-1]["xact_commit"]) > int(series[0]["xact_commit"])
    assert s["monitors"]["target"]["samples"] >= 6
    report = json.loads((tmp_path / "out" / "db_report.json").read_text())
    assert "warnings" in report


def test_the_host_and_the_generator_are_watched_by_default_and_not_with_no_host_monitor(tmp_path, target):
    proc = surge(tmp_path, "--host", target.url, "--users", "2", "--duration", "2s", "--processes", "2",
                 "--monitor-interval", "250ms")
    assert proc.returncode == 0, proc.stderr
    monitors = summary(tmp_path)["monitors"]
    assert sorted(monitors) == ["generator", "host"]
    workers = monitors["generator"]["workers"]
    assert len(workers) == 2 and all(w["rss_mb_max"] > 10 for w in workers)  # two real worker processes
    assert monitors["host"]["cpu_percent_max"] is not None
    series = rows(tmp_path / "out" / "monitors" / "generator.csv")
    assert {"worker0_cpu_percent", "worker1_rss_mb", "coordinator_cpu_percent"} <= set(series[0])

    other = tmp_path / "other"
    other.mkdir()
    proc = surge(other, "--host", target.url, "--users", "1", "--duration", "1s", "--no-host-monitor")
    assert proc.returncode == 0, proc.stderr
    assert summary(other)["monitors"] == {}
    assert not (other / "out" / "monitors").exists()
