"""The core must not lose workers or pass silently: each defect found on the first landing, as a
user met it, through the real ``surge`` command with real worker processes where it needs them.

Every run here is short and bounded; the target is the loopback test server.
"""
from __future__ import annotations

import csv
import io
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SURGE = str(Path(sys.executable).with_name("surge"))


def surge(tmp_path: Path, source: str, host: str, *args: str, timeout_s: float = 90) -> subprocess.CompletedProcess:
    (tmp_path / "scenario.py").write_text(textwrap.dedent(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_")}
    argv = [SURGE, "run", "scenario.py", "--host", host, "--live", "lines", "--out", str(tmp_path / "out"), *args]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout_s)


def summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# -- 1. workers are not lost to their own snapshots ------------------------------------------------
THOUSAND_NAMES = """
    from surge import HttpUser, constant, task

    class Walker(HttpUser):
        wait_time = constant(0.002)
        step = 0

        @task
        async def walk(self):
            # user j of 4 walks names j, j+4, j+8, ...: every one of the 1,000 names gets traffic
            name = (self.user_id + 4 * self.step) % 1000
            self.step += 1
            await self.client.get(f"/ok/{name}")
"""


@pytest.mark.slow
def test_a_thousand_endpoint_names_across_two_processes(tmp_path, target):
    proc = surge(tmp_path, THOUSAND_NAMES, target.url, "--users", "4", "--spawn-rate", "100",
                 "--duration", "4s", "--processes", "2")
    no_traceback(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    s = summary(tmp_path)
    assert s["status"] == "passed" and s["generator"]["workers_lost"] == 0
    served = target.stats()["requests"]
    assert len(served) == 1000
    reported = {e["name"]: e["requests"] + e["cancelled"] for e in s["endpoints"]}
    assert reported == {path.split(" ", 1)[1]: n for path, n in served.items()}  # every name, every request
    assert s["total"]["requests"] + s["total"]["cancelled"] == sum(served.values())
    # the coordinator holds 1,000 cumulative histograms in proportion to their buckets
    assert s["generator"]["coordinator"]["rss_mb_max"] < 300
    with open(tmp_path / "out" / "stats_history.csv", newline="") as f:
        names = {row["Name"] for row in csv.DictReader(f)}
    assert len(names - {"Aggregated"}) == 1000  # the per-endpoint history rows came through too


# -- 2. no silent passes ----------------------------------------------------------------------------
RAISING_WORKER = """
    from surge import HttpUser, task

    class Broken(HttpUser):
        def __init__(self, *args, **kwargs):
            raise TypeError("cannot build this user")

        @task
        async def ok(self):
            await self.client.get("/ok")
"""


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_worker_that_raises_is_lost_with_its_error_under_every_launcher(tmp_path, target, processes):
    proc = surge(tmp_path, RAISING_WORKER, target.url, "--users", "2", "--duration", "2s",
                 "--processes", processes)
    no_traceback(proc)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    s = summary(tmp_path)
    assert s["status"] == "error" and s["generator"]["workers_lost"] == int(processes)
    lost = [r for r in s["status_reasons"] if r.startswith("worker ")]
    assert lost and all("TypeError: cannot build this user (at scenario.py:" in r for r in lost), s["status_reasons"]
    shown = " ".join(proc.stdout.split())  # the terminal view wraps long lines
    assert "ERROR" in shown and "TypeError: cannot build this user" in shown


def test_a_shape_whose_tick_raises_is_refused_before_any_load(tmp_path, target):
    proc = surge(tmp_path, """
        from surge import HttpUser, LoadTestShape, task

        class U(HttpUser):
            @task
            async def ok(self):
                await self.client.get("/ok")

        class Broken(LoadTestShape):
            def tick(self, run_time_s):
                if run_time_s > 5:
                    return None + 1
                return (2, 10)
    """, target.url, "--shape", "--processes", "2")
    no_traceback(proc)
    assert proc.returncode == 3
    assert proc.stderr.strip().startswith("surge: error: Broken.tick(6) raised TypeError")
    assert target.stats()["requests_total"] == 0


def test_a_task_that_never_awaits_the_client_is_named_and_the_run_errors(tmp_path, target):
    proc = surge(tmp_path, """
        from surge import HttpUser, constant, task

        class Forgetful(HttpUser):
            wait_time = constant(0.01)

            @task
            async def forgot(self):
                self.client.get("/ok")   # no await: nothing is sent
    """, target.url, "--users", "2", "--duration", "2s", "--processes", "2")
    no_traceback(proc)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    s = summary(tmp_path)
    assert s["status"] == "error" and s["total"]["requests"] == 0
    (reason,) = s["status_reasons"]
    assert reason.startswith("no request was sent") and "Forgetful.forgot" in reason and "without await" in reason
    live = " ".join(proc.stdout.split("ERROR")[0].split())  # said while the run went, before the summary
    assert "⚠ task Forgetful.forgot calls self.client without await" in live
    assert target.stats()["requests_total"] == 0


@pytest.mark.parametrize(("extra", "code", "status"), [
    ((), 1, "failed"), (("--exit-code-on-error", "0"), 0, "passed"), (("--exit-code-on-error", "7"), 7, "failed")])
def test_without_thresholds_failed_requests_fail_the_run(tmp_path, target, extra, code, status):
    proc = surge(tmp_path, """
        from surge import HttpUser, constant, task

        class Picky(HttpUser):
            wait_time = constant(0.01)

            @task(9)
            async def rejected(self):
                await self.client.post("/status/422")

            @task(1)
            async def fine(self):
                await self.client.get("/ok")
    """, target.url, "--users", "2", "--duration", "1s", "--processes", "1", *extra)
    assert proc.returncode == code, proc.stdout + proc.stderr
    s = summary(tmp_path)
    assert s["status"] == status
    failed = s["total"]["failures"]
    assert failed == target.stats()["responses"]["422"] > 0
    assert any(f"{failed:,} of {s['total']['requests']:,} requests failed" in r for r in s["status_reasons"])
    verdict = " ".join(proc.stdout.split("Endpoints")[0].split())
    assert status.upper() in verdict and "requests failed" in verdict


def test_a_refusing_target_fails_a_run_without_thresholds(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on: every connect is refused
        sock.bind(("127.0.0.1", 0))
        refused_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    proc = surge(tmp_path, """
        from surge import HttpUser, constant, task

        class U(HttpUser):
            wait_time = constant(0.05)

            @task
            async def ok(self):
                await self.client.get("/ok")
    """, refused_url, "--users", "1", "--duration", "1s", "--processes", "1")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    s = summary(tmp_path)
    assert s["status"] == "failed" and s["failures_by_kind"]["connect"] == s["total"]["failures"] > 0


def test_task_exceptions_are_failures_in_the_totals_and_thresholds(tmp_path, target):
    proc = surge(tmp_path, """
        from surge import HttpUser, constant, task

        class AfterTheRequest(HttpUser):
            wait_time = constant(0.01)

            @task
            async def parse(self):
                resp = await self.client.get("/ok")
                resp.json()   # "ok" is not JSON: every iteration raises after its request
    """, target.url, "--users", "2", "--duration", "1s", "--processes", "2", "--threshold", "*: error_rate<1%")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    s = summary(tmp_path)
    by_name = {(e["method"], e["name"]): e for e in s["endpoints"]}
    task = by_name[("TASK", "AfterTheRequest.parse")]
    ok = by_name[("GET", "/ok")]
    assert task["requests"] == task["failures"] == s["failures_by_kind"]["exception"] > 0
    assert ok["failures"] == 0 and ok["requests"] + ok["cancelled"] == target.stats()["requests"]["GET /ok"]
    assert s["total"]["failures"] == task["failures"]
    assert s["total"]["error_rate"] > 0.4  # every iteration failed: half of what was counted
    (threshold,) = s["thresholds"]
    assert threshold["passed"] is False
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "stats.csv").read_text())))
    assert ("TASK", "AfterTheRequest.parse") in {(r["Type"], r["Name"]) for r in rows}


def test_a_run_where_no_user_could_start_is_an_error(tmp_path, target):
    proc = surge(tmp_path, """
        from surge import HttpUser, task

        class NoLogin(HttpUser):
            async def on_start(self):
                await self.client.post("/status/401")
                raise RuntimeError("login refused")

            @task
            async def ok(self):
                await self.client.get("/ok")
    """, target.url, "--users", "3", "--duration", "1s", "--processes", "1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    s = summary(tmp_path)
    assert s["status"] == "error"
    peak = s["users"]["peak"]
    assert s["users"] == {"peak": peak, "started": 0, "start_failed": 3, "by_class": {"NoLogin": peak}}
    assert any("no virtual user could start" in r for r in s["status_reasons"])
    assert target.stats()["requests"].get("GET /ok", 0) == 0


@pytest.mark.parametrize("processes", ["1", "2"])
def test_sys_exit_in_a_task_is_a_task_exception_and_the_run_goes_on(tmp_path, target, processes):
    proc = surge(tmp_path, """
        import sys
        from surge import HttpUser, constant, task

        class Quitter(HttpUser):
            wait_time = constant(0.05)

            @task
            async def bail(self):
                await self.client.get("/ok")
                sys.exit(0)
    """, target.url, "--users", "2", "--duration", "2s", "--processes", processes)
    no_traceback(proc)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # the task failed; no threshold was set
    s = summary(tmp_path)
    assert s["duration_s"] >= 1.9 and s["generator"]["workers_lost"] == 0
    task = next(e for e in s["endpoints"] if e["method"] == "TASK")
    assert task["name"] == "Quitter.bail" and task["failures"] >= 10


# -- 3. honest generator CPU ------------------------------------------------------------------------
@pytest.mark.slow
def test_an_idle_two_process_run_reports_low_cpu_and_no_saturation(tmp_path, target):
    proc = surge(tmp_path, """
        from surge import HttpUser, constant, task

        class Idle(HttpUser):
            wait_time = constant(0.5)

            @task
            async def ok(self):
                await self.client.get("/ok")
    """, target.url, "--users", "2", "--duration", "4s", "--processes", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    gen = summary(tmp_path)["generator"]
    assert gen["saturated"] is False and gen["cpu_percent_max"] < 20, gen
    assert [w["intervals"] >= 3 for w in gen["workers"]] == [True, True], gen
    assert all(w["cpu_percent_max"] < 20 and 0 < w["rss_mb_max"] < 500 for w in gen["workers"]), gen
    assert gen["coordinator"]["cpu_percent_max"] < 20, gen
    assert "saturated" not in proc.stdout
