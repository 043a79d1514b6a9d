"""The run lifecycle in the coordinator: preflight, setup, workers, intervals, verdict, teardown.

The run emits typed events to its outputs (``surge.outputs.base``: console, results folder,
threshold judge...) through one fan-out, asks the ones that can judge for threshold results,
and hands every output the :class:`RunResult` at the end. It imports neither the thresholds
nor the outputs: the CLI (or a test) chooses them.

Intervals are closed by their index: once every live worker's snapshot for interval k is in,
the interval's window is merged, judged and emitted; an interval still incomplete
:data:`PATIENCE_INTERVALS` after it ended is closed as partial, and snapshots arriving later
count in the totals only (both counted in the summary).
"""
from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
import resource
import threading
import time
from datetime import datetime, timezone
from typing import Any

from ..metrics import hdr
from ..metrics.aggregate import AGGREGATED, IntervalWindow, RunStats
from ..metrics.intervals import IntervalBook
from ..metrics.snapshot import Snapshot
from ..metrics.usage import UsageTracker
from ..model.errors import ScenarioError
from ..model.events import IntervalStats, Notice, RunStarted, StageChanged, ThresholdBreached
from ..model.kinds import WorkloadKind
from ..model.plan import TestPlan
from ..model.redact import redact_summary, redact_url
from ..model.schedule import level_at, stage_index_at, stage_numbers
from ..model.summary import GeneratorInfo, Judgement, RunResult, RunSummary, ThresholdResult, UsersInfo
from ..model.verdict import RunFacts, decide
from .executors.closed import ShapeLevel, settle_shape
from .fanout import Fanout
from .guard import Escalated
from .hooks import RunEvents, RunHandle
from .launchers import InProcessLauncher, Launcher, ProcessLauncher
from .preflight import wait_healthy
from .scenario import Scenario, run_redactor
from .worker import ANSWER_S, plan_length_s

#: an interval still missing a worker's snapshot this many intervals after it ended is closed partial
PATIENCE_INTERVALS = 2.0
MIN_PATIENCE_S = 1.0
#: a worker loop held this long is reported (blocking code in a task skews every figure)
LAG_WARN_MS = 250.0


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


def default_launcher(plan: TestPlan) -> Launcher:
    return InProcessLauncher() if plan.processes == 1 else ProcessLauncher()


class Run:
    """One run of a plan. ``outputs``: objects with ``handle(event)`` and ``finish(result)``,
    optionally ``judge(...)`` and ``bind(control)`` (see ``surge.outputs.base``)."""

    def __init__(self, plan: TestPlan, scenario: Scenario, *, launcher: Launcher | None = None,
                 outputs: tuple | list = (), out_dir: str = "", monitors: Any = None) -> None:
        self.plan = settle_shape(plan, scenario)
        self.scenario = scenario
        self.launcher = launcher or default_launcher(self.plan)
        self.out_dir = out_dir
        #: the monitors' sampler (``surge.monitors.base.Sampler``, started by the caller), or None:
        #: it samples from the load's t0 to its end, its rows go out as events
        self.monitors = monitors
        self._monitors_stop: asyncio.Event | None = None
        self._monitors_task: asyncio.Future | None = None
        self.stats = RunStats()
        self.state = RunState.PENDING
        #: what the coordinator shows or writes is scrubbed of the run's secrets (workers scrub
        #: their failure messages already; a notice or the summary may quote a setup error)
        self._redact = run_redactor(self.plan, scenario)
        self._outputs = Fanout(outputs)
        self._book = IntervalBook(range(self.plan.processes))
        self._usage = UsageTracker()
        self._in_process = isinstance(self.launcher, InProcessLauncher)
        self._shape = ShapeLevel(scenario.shape()) if getattr(self.plan.workload, "shape", False) else None
        self._interrupt: int | None = None  # the signal number that interrupted us
        self._preflight: asyncio.Future | None = None
        self._t0 = 0.0
        self._users: dict[int, int] = {}
        self._users_peak = 0
        self._users_by_class: dict[int, dict[str, int]] = {}  # each worker's last count, per class
        #: every user class of the run, also one that got no VU (2 classes, 1 user)
        self._class_peaks: dict[str, int] = {c.cls.__name__: 0 for c in scenario.user_classes}
        self._lost: dict[int, str] = {}
        self._aborted_by: str | None = None
        self._breaking_point: dict | None = None
        self._stage = -1
        self._stage_numbers = stage_numbers(self.plan.workload.stages)
        self._breached: set[str] = set()
        self._notified = 0  # how many of stats.warnings went out as notices
        self._cpu_mark = (time.process_time(), time.monotonic())
        self._hook: str | None = None  # the hook running now
        self._hook_warnings: list[str] = []
        self._interrupted: asyncio.Event | None = None
        #: perf_counter time past which workers that have not ended are escalated, then killed
        self.deadline: float | None = None
        self._lag_max = 0.0
        self._facts_cache: RunFacts | None = None
        self._hook_warnings_at_finish = 0
        #: the scenario's on_test_start / on_test_stop (engine/hooks.py), run here, in the coordinator
        self.events = RunEvents("coordinator", self._hook_warning)
        for name, add in (("on_test_start", self.events.on_test_start), ("on_test_stop", self.events.on_test_stop)):
            if name in scenario.hooks:
                add(scenario.hooks[name])

    # -- control ----------------------------------------------------------------------------
    def interrupt(self, signum: int) -> None:
        """First call: stop gracefully. Second: cancel in-flight work (results are still written).

        Either way the workers get a deadline (the graceful stop plus :data:`ANSWER_S`, or
        ANSWER_S after a hard stop): one that has not ended by then is escalated and then
        killed, so a run always ends (see :meth:`_escalate_when_due`)."""
        hard = self._interrupt is not None
        self._interrupt = signum
        if self._interrupted is not None:
            self._interrupted.set()  # a hook being waited for is abandoned
        if self._preflight is not None:  # Ctrl-C must not wait out --health-timeout
            self._preflight.cancel()
        if self.state is RunState.RUNNING or self.state is RunState.STOPPING:
            self.state = self.state.transition(RunState.STOPPING)
            self.launcher.stop(hard=hard)
            self._move_deadline(1.0 if hard else self.plan.graceful_stop_s + 1.0)

    @property
    def armed(self) -> bool:
        """Whether code holding the loop may be interrupted now (guard.py): while the load or a
        hook runs, never during surge's own bookkeeping (merging, judging, writing)."""
        return self._hook is not None or self.state is RunState.RUNNING or self.state is RunState.STOPPING

    def _move_deadline(self, seconds: float) -> None:
        at = time.perf_counter() + seconds
        self.deadline = at if self.deadline is None else min(self.deadline, at)

    def stop(self, reason: str) -> None:
        """End the load gracefully (an output asked: abort-on-fail, a stop button); ``reason`` is kept."""
        if self.state is RunState.RUNNING:
            self._aborted_by = reason
            self._stop_load()

    def _stop_load(self) -> None:
        if self.state is RunState.RUNNING:
            self.state = self.state.transition(RunState.STOPPING)
            self.launcher.stop()
            self._move_deadline(self.plan.graceful_stop_s + ANSWER_S)

    def emit(self, event: object) -> None:
        if isinstance(event, Notice):
            event = dataclasses.replace(event, message=self._redact(event.message))
        self._outputs.emit(event)

    # -- lifecycle ----------------------------------------------------------------------------
    async def execute(self) -> RunResult:
        plan = self.plan
        self._outputs.bind(self)
        self.emit(RunStarted(plan.scenario_name, plan.profile, redact_url(plan.host), plan.workload.kind,
                             plan.duration_s, plan.processes, self.out_dir, plan.workload.stage_count,
                             plan.iterations))
        if plan.health_path:
            await self._wait_healthy()
        if self._interrupt is not None:  # interrupted in the preflight: no load, no setup, no teardown
            self.state = self.state.transition(RunState.FINISHED)
            return self._finish(datetime.now(timezone.utc), 1e-9)
        hdr.warm_up()
        started_at = datetime.now(timezone.utc)
        data = await self._call_hook(self.scenario.setup, "setup")
        if self._interrupt is not None:  # interrupted in setup(): no load, and no teardown of it
            self.state = self.state.transition(RunState.FINISHED)
            return self._finish(started_at, 1e-9)
        t0 = time.time()
        result: RunResult | None = None
        handle = RunHandle(plan, self.events, None, plan.processes, data)
        try:
            await self._run_hooks("test_start", handle)
            await self.launcher.start(plan, data, self._on_snapshot, self._on_lost)
            if self._interrupt is None:
                t0 = self._t0 = time.time() + 0.1
                self._cpu_mark = (time.process_time(), t0)
                self.state = self.state.transition(RunState.RUNNING)
                length = plan_length_s(plan)
                if length is not None:  # the run ends by itself, whatever its workers do
                    self._move_deadline(0.1 + length + plan.graceful_stop_s + ANSWER_S)
                self.launcher.begin(t0)
                self._start_monitors(t0)
                await self._tick_until_done()
                await self._stop_monitors()
            else:  # interrupted while the workers came up: they stop before any load
                self.launcher.stop(hard=True)
                await self.launcher.wait()
            self.state = self.state.transition(RunState.FINISHED)
            ran_s = max(time.time() - t0, 1e-9) if self._t0 else 1e-9  # 0: interrupted before the load
            result = self._finish(started_at, ran_s)  # every file, before teardown
            await self._run_hooks("test_stop", handle, result.summary)
        finally:
            if self._monitors_task is not None and not self._monitors_task.done():
                self._monitors_task.cancel()
            try:
                await self._call_hook(self.scenario.teardown, "teardown", data)
            except ScenarioError as exc:
                self._hook_warnings.append(str(exc))
                self.emit(Notice(str(exc)))
        return self._revised(result)

    def _start_monitors(self, t0_wall: float) -> None:
        if self.monitors is None:
            return
        self.monitors.bind(self.emit, lambda message: self.emit(Notice(message)))
        self._monitors_stop = asyncio.Event()
        self._monitors_task = asyncio.ensure_future(self.monitors.run(t0_wall, self._monitors_stop))

    async def _stop_monitors(self) -> None:
        """The load is over: one last sample of every monitor, then no more."""
        if self._monitors_task is None:
            return
        self._monitors_stop.set()
        try:
            await asyncio.wait_for(self._monitors_task, timeout=max(2.0, 2 * self.monitors.interval_s))
        except asyncio.TimeoutError:
            self._monitors_task.cancel()
        except Exception as exc:  # the sampler's own bug: the run keeps its results
            self.emit(Notice(f"monitors stopped early: {type(exc).__name__}: {exc}"))

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

    async def _tick_until_done(self) -> None:
        """Wait for the workers; close intervals that stay incomplete past their patience."""
        interval_s = self.plan.interval_s
        patience_s = max(MIN_PATIENCE_S, PATIENCE_INTERVALS * interval_s)
        waiter = asyncio.ensure_future(self.launcher.wait())
        escalator = asyncio.ensure_future(self._escalate_when_due(waiter))

        def due() -> float:  # when the next interval to close is overdue (snapshots move it on)
            return self._t0 + (self._book.next + 1) * interval_s + patience_s

        while not waiter.done():
            await asyncio.wait({waiter}, timeout=max(0.01, due() - time.time()))
            if not waiter.done() and time.time() >= due() and not self._book.done:
                self._close_interval(*self._book.pop())  # overdue: partial
                self._close_ready()
        await waiter
        escalator.cancel()
        for worker_id in range(self.plan.processes):
            self._book.retire(worker_id)
        while not self._book.done:
            self._close_interval(*self._book.pop())

    async def _escalate_when_due(self, waiter: asyncio.Future) -> None:
        """Past the deadline, workers that have not ended get a hard stop and the code holding
        their loop interrupted (guard.py); those still running :data:`ANSWER_S` later are
        killed. What they sent so far stays in the results. (The deadline: the plan's end plus
        the graceful stop and ANSWER_S; after a signal, the graceful stop and a second, or a
        second after a second signal.)"""
        escalated = False
        while not waiter.done():
            if self.deadline is None or time.perf_counter() < self.deadline:
                await asyncio.sleep(0.1)
                continue
            if not escalated:  # a hard stop, and the code holding a worker's loop interrupted
                escalated = True
                if self.state is RunState.RUNNING:
                    self.state = self.state.transition(RunState.STOPPING)
                self.launcher.stop(hard=True)
                self.launcher.escalate()
                self.deadline = time.perf_counter() + ANSWER_S
            else:
                self.launcher.kill(f"killed: it did not stop within {ANSWER_S:.0f}s of a hard stop "
                                   "(code in a task holding its event loop?)")
                return

    def _on_snapshot(self, snap: Snapshot) -> None:
        if not self._book.add(snap):
            self.stats.add_late(snap)
            self._notify()
        self._close_ready()

    def _notify(self) -> None:
        """Forward the workers' new warnings (never-awaited calls, names capped...) as notices."""
        for message in self.stats.warnings[self._notified:]:
            self.emit(Notice(message))
        self._notified = len(self.stats.warnings)

    def _close_ready(self) -> None:
        while self._book.ready():
            self._close_interval(*self._book.pop())

    def _on_lost(self, worker_id: int, why: str) -> None:
        if worker_id in self._lost:
            return
        n = self.plan.processes
        elapsed = max(0.0, time.time() - self._t0) if self._t0 else 0.0
        unit = "arrival rate" if self.plan.workload.kind is WorkloadKind.OPEN else "users"
        share = "all" if n == 1 else f"1/{n}"
        self._lost[worker_id] = f"worker {worker_id} lost at {elapsed:.1f}s ({share} of the planned {unit}): {why}"
        self._users[worker_id] = 0
        self._users_by_class[worker_id] = {}
        self._book.retire(worker_id)
        self.emit(Notice(self._lost[worker_id] + "; the run goes on without its share", level="error"))
        self._close_ready()

    # -- one interval ---------------------------------------------------------------------------
    def _close_interval(self, k: int, snaps: list[Snapshot], partial: bool) -> None:
        plan = self.plan
        window = self.stats.close(snaps)
        self._notify()
        end = self._t0 + (k + 1) * plan.interval_s
        elapsed = max(0.0, min(end, time.time()) - self._t0)
        cpu = self._sample_usage(snaps, elapsed)
        lag = max((snap.loop_lag_ms for snap in snaps), default=0.0)
        self._lag_max = max(self._lag_max, lag)
        for snap in snaps:
            self._users[snap.worker_id] = 0 if snap.final else snap.users
            self._users_by_class[snap.worker_id] = {} if snap.final else snap.users_by_class
        users = sum(self._users.values())
        self._users_peak = max(self._users_peak, users)
        by_class = self._merge_users_by_class()
        stage, target = self._stage_and_target(elapsed)
        judgement = self._judge(elapsed)
        span = max((snap.span_s for snap in snaps), default=0.0) or plan.interval_s
        self.emit(self._interval_stats(k, window, elapsed, users, stage, target, cpu, judgement, partial,
                                       span, lag, by_class))

    def _merge_users_by_class(self) -> dict[str, int]:
        """The VUs alive per user class across workers (each worker's last count), and their peaks."""
        merged = dict.fromkeys(self._class_peaks, 0)
        for counts in self._users_by_class.values():
            for name, n in counts.items():
                merged[name] = merged.get(name, 0) + n
        for name, n in merged.items():
            self._class_peaks[name] = max(self._class_peaks.get(name, 0), n)
        return dict(sorted(merged.items()))

    def _sample_usage(self, snaps: list[Snapshot], elapsed: float) -> float:
        """Record each worker's (and the coordinator's) CPU over this full interval; the busiest worker's."""
        cpus = []
        for snap in snaps:
            self._usage.sample(snap.worker_id, snap.cpu_percent, snap.rss_mb, elapsed)
            if snap.cpu_percent is not None:
                cpus.append(snap.cpu_percent)
        if not self._in_process and self.state is RunState.RUNNING:  # the wind-down is no full interval
            cpu_s, wall = time.process_time(), time.time()
            last_cpu, last_wall = self._cpu_mark
            if wall - last_wall >= 0.9 * self.plan.interval_s:
                self._cpu_mark = (cpu_s, wall)
                self._usage.sample("coordinator", 100.0 * (cpu_s - last_cpu) / (wall - last_wall),
                                   _rss_mb(), elapsed)
        return max(cpus, default=0.0)

    def _stage_and_target(self, elapsed: float) -> tuple[int, float]:
        workload = self.plan.workload
        if self._shape is not None:
            tick = self._shape(elapsed)
            return 0, self._shape.level if tick is None else tick  # past its end: where it ended
        stages = workload.stages
        if not stages:
            return 0, 0.0
        index = stage_index_at(stages, elapsed)
        stage = self._stage_numbers[index]
        if stage != self._stage:
            self._stage = stage
            self.emit(StageChanged(stage, workload.stage_count, elapsed, stages[index].target))
        # once the plan is over (the wind-down), the level it ended at, not 0: "users 0/0" says nothing
        return stage, level_at(stages, elapsed) if elapsed < workload.duration_s else stages[-1].target

    def _judge(self, elapsed: float) -> Judgement:
        if not self._outputs.judging:
            return Judgement()
        if self.monitors is not None:  # monitor values are threshold targets (db: connections_max<80)
            self.stats.monitors = self.monitors.sections()
        judgement = self._outputs.judge(self.stats, elapsed, final=False)
        stops = judgement.abort is not None and self.state is RunState.RUNNING
        for r in judgement.failing:
            if r.label not in self._breached or (stops and r is judgement.abort):
                self._breached.add(r.label)  # announced once, and again as the breach that stops the run
                ends = stops and r is judgement.abort
                breaking = ends and self.plan.until_break is not None
                self.emit(ThresholdBreached(r, elapsed, aborting=ends and not breaking, breaking=breaking))
        if stops:
            abort = judgement.abort
            if self.plan.until_break is not None:  # the breaking point is the result, not an abort
                self._breaking_point = {"users": sum(self._users.values()), "elapsed_s": round(elapsed, 3),
                                        "threshold": abort.label, "actual": abort.actual,
                                        "stat": abort.stat, **(judgement.step or {})}
                self._stop_load()
            else:
                self.stop(abort.label)
        return judgement

    def _interval_stats(self, k: int, window: IntervalWindow, elapsed: float, users: int, stage: int,
                        target: float, cpu: float, judgement: Judgement, partial: bool, span: float,
                        lag_ms: float, by_class: dict[str, int]) -> IntervalStats:
        """``span``: the time the interval's counts were taken over (a worker that fell behind
        sends one snapshot for several intervals): rates divide by it."""
        plan, stats = self.plan, self.stats
        endpoints = tuple((w.stats(*key, span), stats.series[key].stats(*key, elapsed))
                          for key, w in sorted(window.series.items()))
        return IntervalStats(
            elapsed_s=elapsed, duration_s=plan.duration_s, stage=max(stage, 0),
            stages=plan.workload.stage_count, users=users, target=target, workload=plan.workload.kind,
            dropped_iterations=stats.dropped_iterations, window=window.total.stats("", AGGREGATED, span),
            cumulative=stats.total_stats(elapsed), endpoints=endpoints, cpu_percent=cpu,
            workers_alive=plan.processes - len(self._lost),
            failing_thresholds=tuple(r.label for r in judgement.failing), interval=k, partial=partial,
            timestamp=self._t0 + elapsed, loop_lag_ms=lag_ms, iterations=stats.iterations,
            users_by_class=by_class,
        )

    async def _call_hook(self, hook, name: str, *extra) -> Any:
        """Call ``setup(host)`` / ``teardown(host, data)`` and wait for it, at most --hook-timeout.

        A synchronous hook runs in a thread of its own, so the loop stays free: Ctrl-C and
        SIGTERM are answered at once, the hook is abandoned (its daemon thread dies with the
        process) and the run goes on to write its results. An ``async`` hook runs on the loop
        and is cancelled; one that blocks the loop is interrupted by the guard on the second
        signal. Its error, its timeout: a :class:`ScenarioError`; an interrupt: None returned
        (``self._interrupt`` says so).
        """
        if hook is None:
            return None
        self._interrupted = asyncio.Event()  # a signal from now on abandons this hook
        params = len(inspect.signature(hook).parameters)
        args = (self.plan.host, *extra)[:params]
        timeout_s = self.plan.hook_timeout_s
        self._hook = name
        try:
            work = (asyncio.ensure_future(hook(*args)) if inspect.iscoroutinefunction(hook)
                    else _in_thread(hook, args, name))
            result = await self._wait_hook(work, name, timeout_s)
            if inspect.isawaitable(result):  # a plain function that returned a coroutine
                result = await self._wait_hook(asyncio.ensure_future(result), name, timeout_s)
            return result
        except _HookTimeout:
            raise
        except Escalated:  # it held the loop and a second signal came: interrupted
            return None
        except (Exception, SystemExit) as exc:
            raise ScenarioError(f"{name}() raised {type(exc).__name__}: {exc}",
                                "run it with --debug for the traceback") from exc
        finally:
            self._hook = None

    async def _run_hooks(self, event: str, *args: Any) -> None:
        """The scenario's ``on_<event>`` hooks, on the loop (the guard interrupts one that holds
        it), each error a warning; together given --hook-timeout, then abandoned."""
        if not getattr(self.events, event):
            return
        name = f"on_{event}"
        self._interrupted = asyncio.Event()
        self._hook = name
        try:
            await self._wait_hook(asyncio.ensure_future(self.events.call(event, *args)), name,
                                  self.plan.hook_timeout_s)
        except ScenarioError as exc:  # it did not return in time
            self._hook_warning(str(exc))
        except Escalated:
            self._hook_warning(f"{name}() held the event loop past a stop and was interrupted")
        finally:
            self._hook = None

    def _hook_warning(self, message: str) -> None:
        self._hook_warnings.append(message)
        self.emit(Notice(message))

    async def _wait_hook(self, work: asyncio.Future, name: str, timeout_s: float) -> Any:
        assert self._interrupted is not None
        interrupted = asyncio.ensure_future(self._interrupted.wait())
        try:
            await asyncio.wait({work, interrupted}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            interrupted.cancel()
        if work.done():
            return work.result()
        work.cancel()
        if self._interrupted.is_set():
            self._hook_warnings.append(f"{name}() was abandoned: the run was interrupted while it ran")
            return None
        raise _HookTimeout(f"{name}() did not return within {timeout_s:g}s and was abandoned",
                           "make it faster, or raise --hook-timeout")

    # -- verdict -----------------------------------------------------------------------------------
    def _finish(self, started_at: datetime, duration_s: float) -> RunResult:
        plan, stats = self.plan, self.stats
        if self.monitors is not None:
            stats.monitors = self.monitors.sections()
        judgement = self._outputs.judge(stats, duration_s, final=True) if self._outputs.judging else Judgement()
        results = judgement.results
        self._facts_cache = self._facts(results)
        self._hook_warnings_at_finish = len(self._hook_warnings)
        status, code, reasons = decide(self._facts_cache)
        summary = RunSummary(
            status=status, scenario=plan.scenario_name, profile=plan.profile, host=redact_url(plan.host),
            started_at=started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            duration_s=round(duration_s, 3), workload=plan.workload.kind,
            total=stats.total_stats(duration_s), endpoints=tuple(stats.endpoint_stats(duration_s)),
            failures=tuple(stats.failure_groups()), failures_by_kind=stats.failures_by_kind(),
            thresholds=tuple(results), generator=self._generator_info(),
            dropped_iterations=stats.dropped_iterations if plan.workload.kind is WorkloadKind.OPEN else None,
            custom_metrics=tuple(stats.custom_stats(duration_s)), breaking_point=self._breaking_point,
            warnings=tuple(self._warnings() + self._hook_warnings), aborted_by=self._aborted_by,
            users=UsersInfo(self._users_peak, stats.users_started, stats.users_start_failed,
                            dict(sorted(self._class_peaks.items()))),
            status_reasons=reasons, iterations=stats.iterations, iterations_limit=plan.iterations,
            monitors=stats.monitors if self.monitors is not None else {},
            baseline=judgement.sections.get("baseline"),
        )
        disabled = len(self._outputs.warnings)
        sections = self._outputs.annotate(summary)  # the findings, from the summary and the intervals
        summary = dataclasses.replace(summary, findings=tuple(sections.get("findings", ())),
                                      levels=tuple(sections.get("levels", ())),
                                      warnings=summary.warnings + tuple(self._outputs.warnings[disabled:]))
        result = RunResult(redact_summary(summary, self._redact), stats.histograms(), code, self.out_dir)
        self._outputs.finish(result)
        return result

    def _revised(self, result: RunResult | None) -> RunResult:
        """The result written before teardown, revised when teardown changed it (it raised or
        timed out: a warning; a signal during it: interrupted, exit 130/143), and the outputs
        that can are told so (``revise``)."""
        assert result is not None
        late = self._hook_warnings[self._hook_warnings_at_finish:]
        interrupted_late = self._interrupt is not None and self._facts_cache.interrupted_by is None
        if not late and not interrupted_late:
            return result
        status, code, reasons = decide(dataclasses.replace(self._facts_cache, interrupted_by=self._interrupt))
        if interrupted_late:
            reasons = tuple(f"{r} during teardown(), after the load" for r in reasons)
        summary = dataclasses.replace(result.summary, status=status, status_reasons=reasons,
                                      warnings=result.summary.warnings + tuple(late))
        revised = dataclasses.replace(result, summary=redact_summary(summary, self._redact), exit_code=code)
        self._outputs.revise(revised)
        return revised

    def _facts(self, results: tuple[ThresholdResult, ...]) -> RunFacts:
        plan, stats = self.plan, self.stats
        hints = tuple(w for w in stats.warnings if "without await" in w)
        return RunFacts(
            interrupted_by=self._interrupt, workers=plan.processes, lost=tuple(self._lost.values()),
            allow_worker_loss=plan.allow_worker_loss, http_requests=stats.http_requests,
            requests=stats.total.requests, failures=stats.total.failures,
            users_started=stats.users_started, users_start_failed=stats.users_start_failed,
            thresholds=results, exit_code_on_error=plan.exit_code_on_error, hints=hints,
            judge_failed=self._outputs.judge_failed, broke=_broke(self._breaking_point),
        )

    def _generator_info(self) -> GeneratorInfo:
        n = self.plan.processes
        workers = tuple(self._usage.usage(i, lost=self._lost.get(i), shared=self._in_process) for i in range(n))
        coordinator = None if self._in_process else self._usage.usage("coordinator")
        saturated = self._usage.saturated()
        return GeneratorInfo(
            processes=n, workers_lost=len(self._lost), cpu_percent_max=self._usage.cpu_max(range(n)),
            saturated=any(k != "coordinator" for k in saturated), workers=workers, coordinator=coordinator,
            partial_intervals=self._book.partial, late_snapshots=self._book.late,
            loop_lag_ms_max=self._lag_max,
        )

    def _warnings(self) -> list[str]:
        out = list(self.stats.warnings) + self._outputs.warnings
        if self.monitors is not None:
            out += self.monitors.warnings()
        for key, at_s in sorted(self._usage.saturated().items(), key=lambda kv: kv[1]):
            who = "the coordinator" if key == "coordinator" else f"worker {key}"
            what = ("live figures may lag" if key == "coordinator"
                    else "latency and throughput may be skewed by the load generator itself; "
                         "add --processes or machines")
            out.append(f"generator saturated: {who} used >= 90% of a core for 3 intervals in a row "
                       f"(from {at_s:.0f}s): {what}")
        if self._lag_max >= LAG_WARN_MS:
            out.append(f"a worker's event loop was held for up to {self._lag_max:,.0f} ms: code in a task blocks "
                       "(time.sleep, a CPU loop, synchronous I/O), and every latency and rate figure is skewed "
                       "by it; use await asyncio.sleep() and async clients")
        limit = self.plan.iterations
        if limit is not None and self.stats.iterations < limit:
            why = ("interrupted" if self._interrupt else "a threshold stopped it"
                   if self._aborted_by or self._breaking_point else "its duration was up")
            out.append(f"the run ended after {self.stats.iterations:,} of its {limit:,} iterations ({why})")
        if self._book.partial or self._book.late:
            out.append(f"{self._book.partial} interval(s) were written before every worker's snapshot came in "
                       f"({self._book.late} late snapshot(s) counted in the totals only)")
        return out


class _HookTimeout(ScenarioError):
    pass


def _in_thread(fn, args: tuple, name: str) -> asyncio.Future:
    """Run ``fn(*args)`` in a daemon thread; its result (or error) in an asyncio future. A
    thread that never returns is abandoned: being a daemon, it does not keep the process up."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not fut.done():
            (fut.set_result if ok else fut.set_exception)(value)

    def target() -> None:
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed over to the awaiting side as it is
            ok, value = False, exc
        else:
            ok = True
        try:
            loop.call_soon_threadsafe(settle, ok, value)
        except RuntimeError:  # the loop is gone: nobody waits any more
            pass

    threading.Thread(target=target, name=f"surge-{name}", daemon=True).start()
    return fut


def _broke(point: dict | None) -> str | None:
    """The breaking point in one sentence, for the verdict's reasons."""
    if point is None:
        return None
    where = f" on step {point['step']}'s window" if "step" in point else ""
    return (f"breaking point at {point['users']:,} users: {point['threshold']} failed{where} "
            f"(actual {point['actual']:,.4g}) at {point['elapsed_s']:g}s")


def _rss_mb() -> float:
    """This process's peak RSS so far (Linux reports ru_maxrss in kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
