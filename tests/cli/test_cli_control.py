"""The generator stays in control: stuck tasks and hooks, signals at every phase, absurd plans.

Every case runs the real ``surge`` in a subprocess against the loopback test target, sends it
real signals, and bounds itself in time; each asserts the exit code, how soon it came, and what
was written.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from surge.outputs.results import RESULT_FILES

from test_cli_run import SURGE, clean_env

SPIN = """
    from surge import HttpUser, task

    class U(HttpUser):
        @task
        async def spin(self):
            await self.client.get("/ok")
            while True:  # never gives the event loop a turn again
                pass
"""

LOCUST_SPIN = """
    from locust import HttpUser, task

    class U(HttpUser):
        @task
        def spin(self):  # a sync task: the user's whole loop runs in one greenlet
            self.client.get("/ok")
            while True:
                pass
"""

SLEEPY = """
    import time
    from surge import HttpUser, task

    class U(HttpUser):
        @task
        async def blocky(self):
            await self.client.get("/ok")
            time.sleep(0.6)  # blocks the event loop
"""

HOOKS = """
    import asyncio, time
    from pathlib import Path
    from surge import HttpUser, between, task

    MODE = {mode!r}

    def setup(host):
        if MODE == "sync-setup":
            time.sleep(3600)

    async def _async_setup(host):
        await asyncio.sleep(3600)

    if MODE == "async-setup":
        setup = _async_setup

    def teardown(host, data):
        Path("teardown.began").write_text("yes")
        if MODE == "sync-teardown":
            time.sleep(3600)
        if MODE == "raising-teardown":
            raise RuntimeError("could not clean up")

    class U(HttpUser):
        wait_time = between(0.02, 0.05)

        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def start(tmp_path: Path, scenario: str, host: str, *args: str) -> subprocess.Popen:
    (tmp_path / "scenario.py").write_text(textwrap.dedent(scenario))
    return subprocess.Popen([SURGE, "run", "scenario.py", "--host", host, "--live", "lines",
                             "--out", str(tmp_path / "out"), *args],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(proc: subprocess.Popen, timeout_s: float) -> tuple[int, str, str, float]:
    began = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_tree(proc.pid)
        out, err = proc.communicate()
        raise AssertionError(f"surge did not end within {timeout_s}s:\n{out[-2000:]}\n{err[-2000:]}")
    return proc.returncode, out, err, time.monotonic() - began


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        for p in parent.children(recursive=True) + [parent]:
            p.kill()
    except psutil.NoSuchProcess:
        pass


def wait_until(predicate, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def summary(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "out" / "summary.json").read_text())


def all_files(tmp_path: Path) -> bool:
    return all((tmp_path / "out" / name).is_file() for name in RESULT_FILES)


# -- a task stuck in CPU code ---------------------------------------------------------------
@pytest.mark.parametrize("processes", ["1", "2"])
def test_sigterm_stops_a_run_whose_task_spins_and_keeps_its_results(tmp_path, target, processes):
    proc = start(tmp_path, SPIN, target.url, "--users", "2", "--duration", "60s", "--graceful-stop", "1s",
                 "--processes", processes)
    wait_until(lambda: target.stats()["requests_total"] >= 1)
    time.sleep(1.5)  # well stuck
    proc.send_signal(signal.SIGTERM)
    code, out, err, took = finish(proc, 30)
    assert code == 143, err
    assert took < 1 + 1 + 3 + 4, took  # graceful stop, a second, the answer deadline, start-up slack
    assert "Traceback" not in err
    assert all_files(tmp_path)
    s = summary(tmp_path)
    assert s["status"] == "interrupted"
    assert s["total"]["requests"] == target.stats()["requests_total"] + sum(
        e["requests"] for e in s["endpoints"] if e["method"] == "TASK")
    stuck = [e for e in s["endpoints"] if e["name"] == "U.spin"]
    assert stuck and stuck[0]["failures"] >= 1  # the interrupted task is a failure under its name
    assert s["generator"]["loop_lag_ms_max"] > 500


def test_a_second_ctrl_c_stops_a_spinning_run_at_once(tmp_path, target):
    proc = start(tmp_path, SPIN, target.url, "--users", "1", "--duration", "60s", "--processes", "1")
    wait_until(lambda: target.stats()["requests_total"] >= 1)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, out, err, _ = finish(proc, 30)
    assert code == 130, err
    assert time.monotonic() - began < 5
    assert summary(tmp_path)["status"] == "interrupted"


@pytest.mark.parametrize("scenario", [SPIN, LOCUST_SPIN], ids=["async", "locust-sync"])
def test_a_spinning_run_ends_by_itself_after_its_plan(tmp_path, target, scenario):
    began = time.monotonic()
    proc = start(tmp_path, scenario, target.url, "--users", "2", "--duration", "2s", "--graceful-stop", "1s",
                 "--processes", "2")
    code, out, err, _ = finish(proc, 40)
    took = time.monotonic() - began
    assert took < 2 + 1 + 3 + 3 + 6, took  # plan, graceful stop, answer deadline, kill deadline, start-up
    assert code == 1, err  # the interrupted tasks are failures; no threshold set
    s = summary(tmp_path)
    assert s["status"] == "failed" and s["total"]["failures"] >= 1
    assert any("event loop was held" in w for w in s["warnings"])


def test_blocking_code_in_a_task_is_measured_and_warned_about(tmp_path, target):
    proc = start(tmp_path, SLEEPY, target.url, "--users", "1", "--duration", "3s", "--processes", "1")
    code, out, err, _ = finish(proc, 30)
    assert code == 0, err
    s = summary(tmp_path)
    assert 500 < s["generator"]["loop_lag_ms_max"] < 1500
    assert any("event loop was held for up to" in w for w in s["warnings"])
    assert "loop held" in out  # live, in the interval lines


def test_killing_the_coordinator_ends_its_workers(tmp_path, target):
    proc = start(tmp_path, SPIN, target.url, "--users", "2", "--duration", "60s", "--processes", "2")
    wait_until(lambda: len(psutil.Process(proc.pid).children()) >= 2 and target.stats()["requests_total"] >= 2)
    workers = [p for p in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    gone, alive = psutil.wait_procs(workers, timeout=5)
    for p in alive:
        p.kill()
    assert not alive, "workers outlived their coordinator"


# -- hooks -------------------------------------------------------------------------------
@pytest.mark.parametrize(("mode", "signum", "code"), [("sync-setup", signal.SIGINT, 130),
                                                      ("async-setup", signal.SIGTERM, 143)])
def test_a_hung_setup_gives_way_to_a_signal(tmp_path, target, mode, signum, code):
    proc = start(tmp_path, HOOKS.format(mode=mode), target.url, "--users", "1", "--duration", "5s")
    time.sleep(2.0)
    proc.send_signal(signum)
    returncode, out, err, took = finish(proc, 10)
    assert returncode == code, err
    assert took < 2, took
    assert "Traceback" not in err
    assert target.stats()["requests_total"] == 0
    assert not (tmp_path / "teardown.began").exists()  # setup never finished: nothing to tear down


def test_sigterm_in_a_hung_teardown_keeps_the_results_written_before_it(tmp_path, target):
    proc = start(tmp_path, HOOKS.format(mode="sync-teardown"), target.url, "--users", "2", "--duration", "2s")
    wait_until(lambda: (tmp_path / "teardown.began").exists(), timeout_s=30)
    assert all_files(tmp_path)  # written before teardown began
    assert summary(tmp_path)["status"] == "passed"
    assert 'id="verdict">passed<' in (tmp_path / "out" / "report.html").read_text()
    proc.send_signal(signal.SIGTERM)
    code, out, err, took = finish(proc, 10)
    assert code == 143, err
    assert took < 2
    s = summary(tmp_path)  # revised
    assert s["status"] == "interrupted"
    assert 'id="verdict">interrupted<' in (tmp_path / "out" / "report.html").read_text()  # revised too
    assert s["status_reasons"] == ["interrupted by SIGTERM during teardown(), after the load"]
    assert s["total"]["requests"] == target.stats()["requests_total"] > 0
    assert "teardown() was abandoned: the run was interrupted while it ran" in s["warnings"]


def test_hook_timeout_bounds_setup_and_teardown(tmp_path, target):
    proc = start(tmp_path, HOOKS.format(mode="sync-setup"), target.url, "--users", "1", "--duration", "2s",
                 "--hook-timeout", "1s")
    code, out, err, took = finish(proc, 10)
    assert code == 3
    assert err.strip() == ("surge: error: setup() did not return within 1s and was abandoned "
                           "(make it faster, or raise --hook-timeout)")
    assert not (tmp_path / "out").exists()

    proc = start(tmp_path, HOOKS.format(mode="sync-teardown"), target.url, "--users", "1", "--duration", "2s",
                 "--hook-timeout", "1s")
    code, out, err, took = finish(proc, 15)
    assert code == 0, err
    warning = "teardown() did not return within 1s and was abandoned (make it faster, or raise --hook-timeout)"
    assert warning in summary(tmp_path)["warnings"]
    assert warning in " ".join(out.split())


def test_a_raising_teardown_is_a_warning_in_the_summary(tmp_path, target):
    proc = start(tmp_path, HOOKS.format(mode="raising-teardown"), target.url, "--users", "1", "--duration", "1s")
    code, out, err, _ = finish(proc, 20)
    assert code == 0, err
    assert any(w.startswith("teardown() raised RuntimeError: could not clean up")
               for w in summary(tmp_path)["warnings"])


# -- signals at every phase ------------------------------------------------------------------
def before_surges_code(err: str) -> bool:
    """A KeyboardInterrupt out of the interpreter's own start-up: Python's Ctrl-C handler is in
    place ~10 ms after exec, surge's from the first lines of surge.cli.main, and between them run
    ``site`` and the console script's ``import re`` (pip writes it; ~10 ms of enum): a SIGINT
    20-30 ms after the start lands there in most tries on this machine. No frame is surge's."""
    frames = re.findall(r'File "([^"]+)"', err)
    return (err.rstrip().endswith("KeyboardInterrupt") and bool(frames)
            and not any("/surge/" in f and not f.endswith("/bin/surge") for f in frames))

@pytest.mark.parametrize("delay_s", [0.0, 0.05, 0.15, 0.3, 0.6])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_at_any_moment_of_start_up_is_one_line_and_its_code(tmp_path, target, delay_s, signum, code):
    proc = start(tmp_path, HOOKS.format(mode="none"), target.url, "--users", "1", "--duration", "3s")
    time.sleep(delay_s)
    proc.send_signal(signum)
    returncode, out, err, _ = finish(proc, 15)
    # before the interpreter set up any handler the signal's default action ends the process:
    # no output at all, and a shell reports 128 + N just the same
    if signum == signal.SIGINT and before_surges_code(err):
        return  # the interpreter's start-up, not surge's: no code of ours had run
    assert returncode in (code, -signum), (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    out_dir = tmp_path / "out"
    if out_dir.exists():  # it got as far as the run: every file, and no header-only history
        assert all_files(tmp_path)
        assert summary(tmp_path)["status"] == "interrupted"
    elif returncode == code:
        assert err.strip() == f"surge: interrupted by {signal.Signals(signum).name}"


# -- plans that cannot be honoured -----------------------------------------------------------
@pytest.mark.parametrize(("args", "says"), [
    (["--rate", "1e12"], "iterations/s; "),
    (["--users", "2000000"], "needs 2,000,000 virtual users"),
    (["--rate", "1000", "--max-users", "5000000"], "--max-users needs 5,000,000 virtual users"),
    (["--interval", "0.001"], "--interval '0.001' is shorter than 100ms"),
    (["--processes", "100000"], "more worker processes than this machine runs well"),
])
def test_plans_that_cannot_be_honoured_are_refused_before_anything_starts(tmp_path, target, args, says):
    began = time.monotonic()
    proc = start(tmp_path, HOOKS.format(mode="none"), target.url, "--duration", "3s", *args)
    code, out, err, _ = finish(proc, 10)
    assert code == 2, err
    assert says in err and err.count("\n") == 1
    assert time.monotonic() - began < 5
    assert target.stats()["requests_total"] == 0
    assert not (tmp_path / "out").exists()


# -- counts only ever grow ----------------------------------------------------------------------
SLOW = """
    from surge import HttpUser, task

    class U(HttpUser):
        @task
        async def slow(self):
            await self.client.get("/delay/700")
"""


def test_cancelled_requests_never_make_the_history_go_backwards(tmp_path, target):
    proc = start(tmp_path, SLOW, target.url, "--users", "20", "--duration", "2s", "--graceful-stop", "0",
                 "--interval", "200ms", "--processes", "2")
    code, out, err, _ = finish(proc, 30)
    assert code == 0, err
    import csv

    with open(tmp_path / "out" / "stats_history.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    assert len(rows) >= 8
    totals = [int(r["Total Request Count"]) for r in rows]
    assert totals == sorted(totals), totals
    assert all(float(r["Requests/s"]) >= 0 for r in rows)
    s = summary(tmp_path)
    assert s["total"]["cancelled"] >= 1  # the load ended with requests in flight
    assert totals[-1] == s["total"]["requests"]
    assert s["total"]["requests"] + s["total"]["cancelled"] == target.stats()["requests_total"]


def test_a_rate_far_beyond_the_generator_ends_on_time_with_every_arrival_accounted(tmp_path, target):
    """1,000,000 arrivals/s for 1 s with 200 users: most are dropped, counted without being
    walked one by one (at 1e12/s that walk held the worker for good), and the run ends on time."""
    began = time.monotonic()
    proc = start(tmp_path, SLOW.replace("/delay/700", "/ok"), target.url, "--rate", "1000000", "--duration", "1s",
                 "--max-users", "200", "--processes", "2", "--no-host-monitor")
    code, out, err, _ = finish(proc, 30)
    assert code == 0, err
    assert time.monotonic() - began < 15
    s = summary(tmp_path)
    total = s["total"]
    assert total["requests"] + total["cancelled"] + s["dropped_iterations"] == 1_000_000
    assert total["requests"] + total["cancelled"] == target.stats()["requests_total"]
    assert s["dropped_iterations"] > 500_000
