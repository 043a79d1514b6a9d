"""The run keeps control of what goes wrong around it: a raising output, a lost worker that is
accepted, a snapshot that cannot be built, a worker whose loop stalls, a shape's own length."""
from __future__ import annotations

import os
import signal
from textwrap import dedent

import pytest

from surge.engine.launchers import ProcessLauncher
from surge.model.events import IntervalStats, Notice, RunStarted
from surge.outputs.base import Controls, Judge, Output
from surge.outputs.results import RESULT_FILES, ResultsWriter
from surge.thresholds import ThresholdJudge

from .test_process_workers import SCENARIO, worker_processes

OK = """
    from surge import HttpUser, constant, task

    class Browser(HttpUser):
        wait_time = constant(0.01)

        @task
        async def ok(self):
            await self.client.get("/ok")
"""


class Explodes:
    """An output that raises on its second interval."""

    def __init__(self) -> None:
        self.seen = 0

    def handle(self, event) -> None:
        if isinstance(event, IntervalStats):
            self.seen += 1
            if self.seen == 2:
                raise RuntimeError("dashboard went away")

    def finish(self, result) -> None:
        raise AssertionError("a disabled output is not finished")


def test_a_raising_output_is_disabled_with_one_warning_and_every_file_is_written(runner, target, tmp_path):
    writer = ResultsWriter(tmp_path / "out")
    writer.open()
    explodes = Explodes()
    outcome = runner.run(OK, target.url, users=2, duration="3s", outputs=(explodes, writer))

    assert explodes.seen == 2  # it got events until it raised, none after
    warnings = [w for w in outcome.summary.warnings if "Explodes" in w]
    assert len(warnings) == 1 and "RuntimeError: dashboard went away" in warnings[0] and "disabled" in warnings[0]
    assert [n.message for n in outcome.of_type(Notice) if "Explodes" in n.message] == warnings
    assert outcome.summary.status == "passed" and outcome.summary.duration_s >= 2.9  # the run went on
    assert all((tmp_path / "out" / name).is_file() for name in RESULT_FILES)
    history = (tmp_path / "out" / "stats_history.csv").read_text().count("Aggregated")
    assert history == len(outcome.of_type(IntervalStats))  # the writer kept getting every interval


def test_the_built_in_outputs_meet_the_protocol(tmp_path):
    from rich.console import Console

    from surge.cli.console import ConsoleView

    judge = ThresholdJudge(())
    for output in (ResultsWriter(tmp_path), ConsoleView("off", Console()), judge):
        assert isinstance(output, Output)
    assert isinstance(judge, Judge) and not isinstance(ResultsWriter(tmp_path), Judge)


class StopAfter:
    """An output with the ability to stop the run (a dashboard's stop button)."""

    def __init__(self, intervals: int) -> None:
        self.intervals, self.control = intervals, None

    def bind(self, control) -> None:
        self.control = control

    def handle(self, event) -> None:
        if isinstance(event, IntervalStats) and event.interval + 1 == self.intervals:
            self.control.stop("stop button")

    def finish(self, result) -> None:
        pass


def test_an_output_that_controls_the_run_can_stop_it(runner, target):
    stopper = StopAfter(2)
    assert isinstance(stopper, Controls)
    outcome = runner.run(OK, target.url, users=2, duration="30s", outputs=(stopper,))
    assert outcome.summary.aborted_by == "stop button"
    assert outcome.summary.duration_s < 5
    assert outcome.summary.total.requests + outcome.summary.total.cancelled == target.stats()["requests"]["GET /ok"]


def test_a_judge_that_raises_fails_the_run(runner, target):
    class BrokenJudge:
        def judge(self, stats, elapsed_s, *, final):
            raise KeyError("threshold engine bug")

        def handle(self, event):
            pass

        def finish(self, result):
            pass

    outcome = runner.run(OK, target.url, users=1, duration="2s", outputs=(BrokenJudge(),))
    assert outcome.summary.status == "error" and outcome.result.exit_code == 3
    assert any("the thresholds could not be judged" in r for r in outcome.summary.status_reasons)


@pytest.mark.slow
def test_a_lost_worker_is_accepted_with_allow_worker_loss(runner, target):
    killed: list[int] = []

    def kill_one_worker(event) -> None:
        if isinstance(event, IntervalStats) and not killed:
            victim = worker_processes()[-1]
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

    outcome = runner.run(SCENARIO, target.url, users=6, spawn_rate=100, duration="3s", processes=2,
                         launcher=ProcessLauncher(), observers=(kill_one_worker,), allow_worker_loss=True,
                         threshold=["*: requests > 0"])
    s = outcome.summary
    assert killed and s.generator.workers_lost == 1
    assert s.status == "passed" and outcome.result.exit_code == 0  # the verdict as usual...
    assert s.status_reasons[0].startswith("1 of 2 workers lost; judged on a partial load")  # ...with a warning
    assert worker_processes() == []


def test_a_snapshot_that_cannot_be_built_is_reported_and_the_interval_loop_goes_on(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, Trend, constant, task

        class Flaky(Trend):
            calls = 0

            def flush(self):
                Flaky.calls += 1
                if Flaky.calls == 1:
                    raise OSError(24, "Too many open files")
                return super().flush()

        server_ms = Flaky("server_ms")

        class Browser(HttpUser):
            wait_time = constant(0.01)

            @task
            async def ok(self):
                await self.client.get("/ok")
                server_ms.add(1.0)
    """, target.url, users=2, duration="3s")
    s = outcome.summary
    assert any("Too many open files" in w for w in s.warnings), s.warnings
    windows = [e.window.requests for e in outcome.of_type(IntervalStats) if not e.partial]
    assert len(windows) >= 3 and all(n > 0 for n in windows[:3]), windows  # live stats never went blind
    assert s.total.requests + s.total.cancelled == target.stats()["requests"]["GET /ok"]  # nothing lost
    assert s.custom_metrics[0].count > 0


@pytest.mark.slow
def test_a_worker_whose_loop_stalls_gives_partial_intervals_and_exact_totals(runner, target):
    outcome = runner.run("""
        import time
        from surge import HttpUser, constant, task

        class Sometimes(HttpUser):
            wait_time = constant(0.02)
            stalled = False

            @task
            async def ok(self):
                await self.client.get("/ok")
                if self.user_id == 1 and not Sometimes.stalled:  # user 1 lives in worker 1
                    Sometimes.stalled = True
                    time.sleep(4)   # CPU-bound code: this worker's loop sends nothing for 4 s
    """, target.url, users=2, spawn_rate=100, duration="6s", processes=2, launcher=ProcessLauncher())
    s = outcome.summary
    assert s.generator.workers_lost == 0
    assert s.generator.partial_intervals >= 1  # closed before the stalled worker's snapshot came in
    partial = [e for e in outcome.of_type(IntervalStats) if e.partial]
    assert partial and all(e.interval < 5 for e in partial)
    assert any("written before every worker's snapshot came in" in w for w in s.warnings)
    assert s.total.requests + s.total.cancelled == target.stats()["requests"]["GET /ok"]  # nothing dropped
    intervals = [e.interval for e in outcome.of_type(IntervalStats)]
    assert intervals == sorted(set(intervals))  # each interval written once, in order


def test_a_shape_runs_for_its_own_length_and_the_progress_says_so(runner, target):
    outcome = runner.run(dedent(OK) + dedent("""
        from surge import LoadTestShape

        class Short(LoadTestShape):
            def tick(self, run_time_s):
                return (2, 10) if run_time_s < 2.5 else None
    """), target.url, shape=True)
    (started,) = outcome.of_type(RunStarted)
    assert started.duration_s == pytest.approx(2.5)  # not the 1 min default of --duration
    assert all(e.duration_s == pytest.approx(2.5) for e in outcome.of_type(IntervalStats))
    assert 2.4 < outcome.summary.duration_s < 3.5
    assert [e.target for e in outcome.of_type(IntervalStats)][:2] == [2, 2]


def test_duration_caps_a_shape_that_runs_longer(runner, target):
    outcome = runner.run(dedent(OK) + dedent("""
        from surge import LoadTestShape

        class Forever(LoadTestShape):
            def tick(self, run_time_s):
                return (1, 10)
    """), target.url, shape=True, duration="1500ms")
    (started,) = outcome.of_type(RunStarted)
    assert started.duration_s == 1.5
    assert 1.4 < outcome.summary.duration_s < 2.5


def test_ctrl_c_while_worker_processes_start_stops_them_before_any_load(runner, target):
    import asyncio
    import time

    def interrupt_soon(run) -> None:  # worker processes take ~0.5 s to spawn and import
        asyncio.get_running_loop().call_later(0.2, run.interrupt, signal.SIGINT)

    started = time.monotonic()
    outcome = runner.run(OK, target.url, users=4, duration="30s", processes=2, launcher=ProcessLauncher(),
                         before=interrupt_soon)
    assert outcome.summary.status == "interrupted" and outcome.result.exit_code == 130
    assert target.stats()["requests_total"] == 0
    assert time.monotonic() - started < 10
    assert worker_processes() == []  # stopped and reaped, not left waiting for a begin
