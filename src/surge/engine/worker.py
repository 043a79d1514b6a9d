"""A worker: the unit of load generation. Runs one executor over its share of the plan and emits
one :class:`Snapshot` per interval on the coordinator's timebase.

The same class runs inside the coordinator (in-process, for tests and one-process runs), in a
child process, or later in a Ray actor: only the launcher around it differs.

The interval loop must never die silently: a snapshot that cannot be built (seen: a lazy import
failing with ``OSError: Too many open files`` while 25,000 users held every descriptor) is
reported as a warning and its figures go into the next one; everything the snapshot path
needs is imported and exercised before the load starts.
"""
from __future__ import annotations

import asyncio
import gc
import math
import time
from collections.abc import Callable
from typing import Any

import psutil

from ..metrics import hdr
from ..metrics.recorder import Recorder
from ..metrics.snapshot import Snapshot
from ..model.kinds import WorkloadKind
from ..model.plan import TestPlan
from .clients.http import ClientContext
from .executors.closed import ClosedExecutor
from .executors.open import OpenExecutor
from .runtime import WorkerContext
from .scenario import Scenario, load_scenario, run_redactor

_perf = time.perf_counter
_MB = 1024 * 1024
#: a snapshot covers a full interval when its span is at least this share of interval_s
_FULL_SPAN = 0.9
#: how often the loop's lag is probed (a 50 ms sleep that wakes late)
LAG_PROBE_S = 0.05
#: a worker whose loop is still held this long past the end of its plan (and graceful stop),
#: or past a stop it could not read, is escalated (guard.py)
ANSWER_S = 3.0


class Worker:
    def __init__(self, plan: TestPlan, worker_id: int, workers: int, data: Any = None,
                 scenario: Scenario | None = None) -> None:
        self.plan = plan
        self.worker_id = worker_id
        self.workers = workers
        self.data = data
        self.scenario = scenario or load_scenario(plan.scenario_path, tags=plan.tags,
                                                  exclude_tags=plan.exclude_tags, user_classes=plan.user_classes)
        self.stop = asyncio.Event()
        self.kill = asyncio.Event()
        self.recorder = Recorder(run_redactor(plan, self.scenario))
        self._process = psutil.Process()
        self._mark = (time.process_time(), _perf())  # CPU and wall time at the last full boundary
        self._dropped_sent = 0
        self._iterations_sent = 0
        self._started_sent = 0
        self._failed_sent = 0
        self._last_snapshot = _perf()
        self.lag_max_s = 0.0  # the longest the loop was held since the last snapshot
        #: perf_counter time past which a held loop is escalated (see guard.py); set by run()
        self.deadline: float | None = None
        self._warm_up()

    def request_stop(self, hard: bool = False) -> None:
        self.stop.set()
        if hard:
            self.kill.set()

    async def run(self, t0_wall: float, emit: Callable[[Snapshot], None]) -> None:
        """Run the plan starting at wall-clock ``t0_wall``; ``emit`` gets every snapshot, the last final.

        ``emit`` must not block. The final snapshot is emitted also when the executor raises
        (the exception then propagates: the launcher reports the worker lost with it).
        """
        plan = self.plan
        t0 = _perf() + (t0_wall - time.time())
        clients = ClientContext(plan.host, self.recorder, timeout_s=plan.timeout_s,
                                connect_timeout_s=plan.connect_timeout_s, insecure=plan.insecure,
                                follow_redirects=plan.follow_redirects, headers=dict(plan.headers),
                                open_workload=plan.workload.kind is WorkloadKind.OPEN,
                                compression=plan.compression)
        ctx = WorkerContext(plan, self.worker_id, self.workers, self.scenario, self.recorder, clients,
                            self.data, t0, self.stop)
        executor = OpenExecutor(ctx) if plan.workload.kind is WorkloadKind.OPEN else ClosedExecutor(ctx)
        if t0 > _perf():
            try:
                await asyncio.wait_for(self.stop.wait(), t0 - _perf())
            except asyncio.TimeoutError:
                pass
        self._mark = (time.process_time(), _perf())
        self._last_snapshot = _perf()
        length = plan_length_s(plan)
        if length is not None:
            self.deadline = t0 + length + plan.graceful_stop_s + ANSWER_S
        flusher = asyncio.ensure_future(self._flush_every_interval(ctx, executor, emit))
        lag = asyncio.ensure_future(self._sample_lag())
        _gc_for_load(True)
        try:
            await executor.run()
            graceful = 0.0 if self.kill.is_set() else plan.graceful_stop_s
            drain = asyncio.ensure_future(executor.drain(graceful))
            kill = asyncio.ensure_future(self.kill.wait())
            await asyncio.wait({drain, kill}, return_when=asyncio.FIRST_COMPLETED)
            if not drain.done():
                drain.cancel()
                await executor.drain(0.0)
            kill.cancel()
        finally:
            _gc_for_load(False)
            flusher.cancel()
            lag.cancel()
            await clients.close()
            ctx.events.report(f" in worker {self.worker_id}")  # how often a hook raised: with the last snapshot
            interval = max(0, math.floor(ctx.elapsed() / plan.interval_s))
            emit(self._snapshot(executor, interval, full=False, final=True))

    async def _flush_every_interval(self, ctx: WorkerContext, executor, emit) -> None:
        """One snapshot per interval boundary, labelled with the interval that just ended.

        The loop tracks its own index (waking a little early must not emit twice), and after
        a stall it labels its one snapshot with the latest interval that ended.
        """
        interval_s = self.plan.interval_s
        k = 0
        while True:
            boundary = ctx.t0 + (k + 1) * interval_s
            while (now := _perf()) < boundary:
                await asyncio.sleep(boundary - now)
            k = max(k, math.floor((now - ctx.t0) / interval_s) - 1)
            emit(self._snapshot(executor, k, full=True))
            k += 1

    async def _sample_lag(self) -> None:
        """How late the loop wakes from a short sleep: the time code held it (blocking in a task)."""
        while True:
            before = _perf()
            await asyncio.sleep(LAG_PROBE_S)
            held = _perf() - before - LAG_PROBE_S
            if held > self.lag_max_s:
                self.lag_max_s = held

    def _snapshot(self, executor, interval: int, *, full: bool, final: bool = False) -> Snapshot:
        try:
            return self.snapshot(executor, interval, full=full, final=final)
        except Exception as exc:  # never lose the interval loop; the figures stay for the next one
            self.recorder.warn(f"worker {self.worker_id}: the snapshot of interval {interval} failed "
                               f"({type(exc).__name__}: {exc}); its figures go into the next one")
            return Snapshot(self.worker_id, interval, executor.users(), final=final)

    def snapshot(self, executor, interval: int, *, full: bool, final: bool = False) -> Snapshot:
        rec = self.recorder
        metrics = []
        for metric in self.scenario.metrics:  # each on its own: one failing must not take the interval
            try:
                flushed = metric.flush()
            except Exception as exc:
                rec.warn(f"custom metric {metric.name!r} could not be sent ({type(exc).__name__}: {exc})")
                continue
            if flushed is not None:
                metrics.append(flushed)
        series, warnings = rec.flush()  # last: it takes the warnings above along
        cpu_percent = self._cpu_percent(full)
        now = _perf()
        span, self._last_snapshot = now - self._last_snapshot, now
        lag_ms, self.lag_max_s = self.lag_max_s * 1000.0, 0.0
        snap = Snapshot(
            worker_id=self.worker_id, interval=interval, users=executor.users(), series=series,
            metrics=metrics, dropped_iterations=executor.dropped() - self._dropped_sent,
            iterations=executor.iterations() - self._iterations_sent,
            users_started=rec.users_started - self._started_sent,
            users_start_failed=rec.users_start_failed - self._failed_sent,
            cpu_percent=cpu_percent, rss_mb=self._rss_mb(), final=final, warnings=warnings,
            span_s=max(span, 0.0), loop_lag_ms=max(lag_ms, 0.0), users_by_class=executor.users_by_class(),
        )
        self._dropped_sent, self._iterations_sent = executor.dropped(), executor.iterations()
        self._started_sent, self._failed_sent = rec.users_started, rec.users_start_failed
        return snap

    def _cpu_percent(self, full: bool) -> float | None:
        """This process's CPU (user + system) since the last full boundary, over full intervals only."""
        cpu, wall = time.process_time(), _perf()
        last_cpu, last_wall = self._mark
        if not full:
            return None
        self._mark = (cpu, wall)
        span = wall - last_wall
        if span < _FULL_SPAN * self.plan.interval_s:
            return None
        return 100.0 * (cpu - last_cpu) / span

    def _rss_mb(self) -> float:
        try:
            return self._process.memory_info().rss / _MB
        except (psutil.Error, OSError):
            return 0.0

    def _warm_up(self) -> None:
        """Import and run everything the snapshot path uses once, before any descriptor is taken."""
        hdr.warm_up()
        self._rss_mb()
        Snapshot(self.worker_id, 0, 0).to_bytes()


def plan_length_s(plan: TestPlan) -> float | None:
    """How long the plan's load lasts; None for a shape that ticks on with no --duration."""
    workload = plan.workload
    if getattr(workload, "shape", False):
        return workload.shape_duration_s
    return workload.duration_s


#: generation-0 threshold while load runs (CPython's default is 700)
GC_THRESHOLD_0 = 20_000
_gc_saved: list = []  # the settings before the first worker of this process began


def _gc_for_load(begin: bool) -> None:
    """Collect less often while load runs, and never again the objects made before it.

    Every request allocates a coroutine, a future and a response; with CPython's default
    thresholds the collector ran ~2,300 times in 8 s of an open run at 30,000 arrivals/s and
    took 15-18% of the CPU, though it found no garbage cycles (the objects are freed by
    reference counting). ``gc.freeze()`` moves everything that exists at the start (modules, the
    scenario) out of the collector's way. Restored when the last worker of the process ends.
    """
    if begin:
        if not _gc_saved:
            gc.collect()
            gc.freeze()
            _gc_saved.append(gc.get_threshold())
            gc.set_threshold(GC_THRESHOLD_0, 20, 20)
        _gc_saved.append(None)  # one mark per running worker
    elif len(_gc_saved) > 1:
        _gc_saved.pop()
        if len(_gc_saved) == 1:
            gc.set_threshold(GC_THRESHOLD_0, 20, 20)
            gc.unfreeze()
