"""The run lifecycle in the coordinator: preflight, setup, workers, intervals, verdict, teardown.

The run emits typed events to observers (console, results writer) and asks an injected
``judge`` for threshold results, so it imports neither the thresholds nor the outputs.
"""
from __future__ import annotations

import asyncio
import enum
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..metrics import hdr
from ..metrics.aggregate import RunStats
from ..metrics.snapshot import Snapshot
from ..model.errors import ExitCode, ScenarioError
from ..model.events import IntervalStats, Notice, RunFinished, RunStarted, StageChanged, ThresholdBreached
from ..model.plan import TestPlan
from ..model.redact import redact_url
from ..model.schedule import level_at, stage_index_at
from ..model.summary import GeneratorInfo, RunSummary, ThresholdResult
from .launchers import InProcessLauncher, Launcher, ProcessLauncher
from .preflight import wait_healthy
from .scenario import Scenario

Judge = Callable[[RunStats, float], list[ThresholdResult]]
Observer = Callable[[object], None]
SATURATED_CPU_PERCENT = 90.0
_SETTLE_S = 0.25  # how long after an interval boundary the coordinator waits for snapshots


class RunState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    FINISHED = "finished"

    def transition(self, new: "RunState") -> "RunState":
        allowed = {RunState.PENDING: {RunState.RUNNING, RunState.FINISHED},
                   RunState.RUNNING: {RunState.STOPPING, RunState.FINISHED},
                   RunState.STOPPING: {RunState.FINISHED}, RunState.FINISHED: set()}
        if new is self:
            return self
        if new not in allowed[self]:
            raise RuntimeError(f"run state cannot go from {self.value} to {new.value}")
        return new


@dataclass
class RunResult:
    summary: RunSummary
    histograms: dict[str, str]
    exit_code: int


def default_launcher(plan: TestPlan) -> Launcher:
    return InProcessLauncher() if plan.processes == 1 else ProcessLauncher()


class Run:
    def __init__(self, plan: TestPlan, scenario: Scenario, *, launcher: Launcher | None = None,
                 judge: Judge | None = None, observers: list[Observer] | None = None, out_dir: str = "") -> None:
        self.plan = plan
        self.scenario = scenario
        self.launcher = launcher or default_launcher(plan)
        self.judge = judge or (lambda stats, elapsed: [])
        self.observers = list(observers or [])
        self.out_dir = out_dir
        self.stats = RunStats()
        self.state = RunState.PENDING
        self._interrupt: int | None = None  # the signal number that interrupted us
        self._preflight: asyncio.Future | None = None
        self._users: dict[int, int] = {}
        self._cpu: dict[int, float] = {}
        self._cpu_max = 0.0
        self._saturated_intervals = 0
        self._intervals = 0
        self._lost: list[str] = []
        self._aborted_by: str | None = None
        self._breaking_point: dict | None = None
        self._stage = -1
        self._breached: set[str] = set()

    # -- control ----------------------------------------------------------------------------
    def emit(self, event: object) -> None:
        for observer in self.observers:
            observer(event)

    def interrupt(self, signum: int) -> None:
        """First call: stop gracefully. Second: cancel in-flight work (results are still written)."""
        hard = self._interrupt is not None
        self._interrupt = signum
        if self._preflight is not None:  # Ctrl-C must not wait out --health-timeout
            self._preflight.cancel()
        if self.state is RunState.RUNNING or self.state is RunState.STOPPING:
            self.state = self.state.transition(RunState.STOPPING)
            self.launcher.stop(hard=hard)

    def _stop(self) -> None:
        if self.state is RunState.RUNNING:
            self.state = self.state.transition(RunState.STOPPING)
            self.launcher.stop()

    # -- lifecycle ----------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        plan = self.plan
        host = redact_url(plan.host)
        self.emit(RunStarted(plan.scenario_name, plan.profile, host, plan.workload.kind, plan.duration_s,
                             plan.processes, self.out_dir, len(plan.workload.stages)))
        if plan.health_path:
            await self._wait_healthy()
        if self._interrupt is not None:  # interrupted in the preflight: no load, no setup, no teardown
            self.state = self.state.transition(RunState.FINISHED)
            return self._finish(datetime.now(timezone.utc), 1e-9)
        hdr.warm_up()
        started_at = datetime.now(timezone.utc)
        data = await self._call_hook(self.scenario.setup, "setup")
        t0 = time.time()
        try:
            await self.launcher.start(plan, data, self._on_snapshot, self._on_lost)
            if self._interrupt is None:
                t0 = time.time() + 0.1
                self.state = self.state.transition(RunState.RUNNING)
                self.launcher.begin(t0)
                await self._tick_until_done(t0)
        finally:
            duration_s = max(time.time() - t0, 1e-9)
            try:
                await self._call_hook(self.scenario.teardown, "teardown", data)
            except ScenarioError as exc:
                self.emit(Notice(str(exc)))
        self.state = self.state.transition(RunState.FINISHED)
        return self._finish(started_at, duration_s)

    async def _wait_healthy(self) -> None:
        plan = self.plan
        if self._interrupt is not None:  # Ctrl-C arrived before the preflight began
            return
        self._preflight = asyncio.ensure_future(
            wait_healthy(plan.host, plan.health_path, plan.health_timeout_s, insecure=plan.insecure))
        try:
            await self._preflight
        except asyncio.CancelledError:
            if self._interrupt is None:
                raise
        finally:
            self._preflight = None

    async def _tick_until_done(self, t0: float) -> None:
        waiter = asyncio.ensure_future(self.launcher.wait())
        k = 0
        while not waiter.done():
            k += 1
            next_tick = t0 + k * self.plan.interval_s + _SETTLE_S
            await asyncio.wait({waiter}, timeout=max(0.0, next_tick - time.time()))
            self._close_interval(min(time.time() - t0, k * self.plan.interval_s))
        await waiter

    def _on_snapshot(self, snap: Snapshot) -> None:
        self.stats.add(snap)
        self._users[snap.worker_id] = 0 if snap.final else snap.users
        if not snap.final:
            self._cpu[snap.worker_id] = snap.cpu_percent
        for w in snap.warnings:
            self.emit(Notice(w))

    def _on_lost(self, worker_id: int, why: str) -> None:
        self._lost.append(f"worker {worker_id}: {why}")
        self._users[worker_id] = 0
        self.emit(Notice(f"worker {worker_id} lost ({why}); the run goes on without its share"))

    def _close_interval(self, elapsed: float) -> None:
        plan, stats = self.plan, self.stats
        window_total, window = stats.close_interval()
        span = plan.interval_s
        cpu = max(self._cpu.values(), default=0.0)
        self._intervals += 1
        self._cpu_max = max(self._cpu_max, cpu)
        self._saturated_intervals += cpu >= SATURATED_CPU_PERCENT
        stages = plan.workload.stages
        stage = stage_index_at(stages, elapsed) if stages else 0
        if stage != self._stage and stages and not getattr(plan.workload, "shape", False):
            self._stage = stage
            self.emit(StageChanged(stage, len(stages), elapsed, stages[stage].target))
        results = self.judge(stats, elapsed) if plan.thresholds else []
        failing = [r for r in results if not r.passed and r.actual is not None]
        self._react_to(failing, elapsed)
        # only series with traffic in this interval: the percentiles cost ~0.25 ms a series
        endpoints = tuple((w.stats(*key, span), stats.series[key].stats(*key, elapsed))
                          for key, w in sorted(window.items()))
        self.emit(IntervalStats(
            elapsed_s=elapsed, duration_s=plan.duration_s, stage=max(stage, 0), stages=len(stages),
            users=sum(self._users.values()), target=level_at(stages, elapsed) if stages else 0.0,
            workload=plan.workload.kind, dropped_iterations=stats.dropped_iterations,
            window=window_total.stats("", "Aggregated", span), cumulative=stats.total_stats(elapsed),
            endpoints=endpoints, cpu_percent=cpu, workers_alive=plan.processes - len(self._lost),
            failing_thresholds=tuple(r.target + ": " + r.expression for r in failing),
        ))

    def _react_to(self, failing: list[ThresholdResult], elapsed: float) -> None:
        plan = self.plan
        for r in failing:
            label = f"{r.target}: {r.expression}"
            abort = (r.abort_on_fail and elapsed >= plan.abort_grace_s) or plan.until_break is not None
            stops_run = abort and self.state is RunState.RUNNING
            if label not in self._breached or stops_run:  # announce once, and the breach that stops the run
                self._breached.add(label)
                self.emit(ThresholdBreached(r, elapsed, aborting=stops_run))
            if stops_run:
                if plan.until_break is not None:
                    self._breaking_point = {"users": sum(self._users.values()), "elapsed_s": round(elapsed, 3),
                                            "threshold": label, "actual": r.actual}
                else:
                    self._aborted_by = label
                self._stop()

    async def _call_hook(self, hook, name: str, *extra) -> Any:
        if hook is None:
            return None
        params = len(inspect.signature(hook).parameters)
        args = (self.plan.host, *extra)[:params]
        try:
            result = hook(*args)
            if inspect.isawaitable(result):
                result = await result
            return result
        except Exception as exc:
            raise ScenarioError(f"{name}() raised {type(exc).__name__}: {exc}",
                                "run it with --debug for the traceback") from exc

    # -- verdict -----------------------------------------------------------------------------------
    def _finish(self, started_at: datetime, duration_s: float) -> RunResult:
        plan, stats = self.plan, self.stats
        results = self.judge(stats, duration_s) if plan.thresholds else []
        failed = any(not r.passed for r in results)
        if self._interrupt is not None:
            status, code = "interrupted", (ExitCode.TERMINATED if self._interrupt == 15 else ExitCode.INTERRUPTED)
        elif self._lost and len(self._lost) >= plan.processes:
            status, code = "error", ExitCode.CANNOT_PROCEED
        elif failed:
            status, code = "failed", ExitCode.THRESHOLDS_FAILED
        else:
            status, code = "passed", ExitCode.PASSED
        saturated = self._saturated_intervals >= max(1, self._intervals // 5)
        warnings = list(stats.warnings) + self._lost
        if saturated:
            warnings.append(f"generator CPU reached {self._cpu_max:.0f}% of a core: figures may be skewed "
                            "by the load generator itself; add --processes or machines")
        summary = RunSummary(
            status=status, scenario=plan.scenario_name, profile=plan.profile, host=redact_url(plan.host),
            started_at=started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=round(duration_s, 3), workload=plan.workload.kind,
            total=stats.total_stats(duration_s), endpoints=tuple(stats.endpoint_stats(duration_s)),
            failures=tuple(stats.failure_groups()), failures_by_kind=stats.failures_by_kind(),
            thresholds=tuple(results),
            generator=GeneratorInfo(plan.processes, len(self._lost), round(self._cpu_max, 1), saturated),
            dropped_iterations=stats.dropped_iterations if plan.workload.kind == "open" else None,
            custom_metrics=tuple(stats.custom_stats(duration_s)), breaking_point=self._breaking_point,
            warnings=tuple(warnings), aborted_by=self._aborted_by,
        )
        result = RunResult(summary, stats.histograms(), int(code))
        self.emit(RunFinished(summary, self.out_dir, int(code)))
        return result
