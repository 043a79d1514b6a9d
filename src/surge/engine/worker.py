"""A worker: the unit of load generation. Runs one executor over its share of the plan and emits
one :class:`Snapshot` per interval on the coordinator's timebase.

The same class runs inside the coordinator (in-process, for tests and one-process runs), in a
child process, or later in a Ray actor: only the launcher around it differs.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from ..metrics.recorder import Recorder
from ..metrics.snapshot import Snapshot
from ..model.plan import TestPlan
from .clients.http import ClientContext
from .executors.closed import ClosedExecutor
from .executors.open import OpenExecutor
from .runtime import WorkerContext
from .scenario import Scenario, load_scenario

_perf = time.perf_counter


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
        self.recorder = Recorder()
        self._cpu_mark = (time.process_time(), _perf())
        self._dropped_sent = 0
        self._iterations_sent = 0

    def request_stop(self, hard: bool = False) -> None:
        self.stop.set()
        if hard:
            self.kill.set()

    async def run(self, t0_wall: float, emit: Callable[[Snapshot], None]) -> None:
        """Run the plan starting at wall-clock ``t0_wall``; ``emit`` gets every snapshot, the last final."""
        plan = self.plan
        t0 = _perf() + (t0_wall - time.time())
        clients = ClientContext(plan.host, self.recorder, timeout_s=plan.timeout_s,
                                connect_timeout_s=plan.connect_timeout_s, insecure=plan.insecure,
                                follow_redirects=plan.follow_redirects, headers=dict(plan.headers),
                                open_workload=plan.workload.kind == "open")
        ctx = WorkerContext(plan, self.worker_id, self.workers, self.scenario, self.recorder, clients,
                            self.data, t0, self.stop)
        executor = OpenExecutor(ctx) if plan.workload.kind == "open" else ClosedExecutor(ctx)
        if t0 > _perf():
            try:
                await asyncio.wait_for(self.stop.wait(), t0 - _perf())
            except asyncio.TimeoutError:
                pass
        self._cpu_mark = (time.process_time(), _perf())
        flusher = asyncio.ensure_future(self._flush_every_interval(ctx, executor, emit))
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
            flusher.cancel()
            emit(self.snapshot(ctx, executor, final=True))

    async def _flush_every_interval(self, ctx: WorkerContext, executor, emit) -> None:
        interval = self.plan.interval_s
        while True:
            k = math.floor(ctx.elapsed() / interval) + 1
            await asyncio.sleep(max(0.0, ctx.t0 + k * interval - _perf()))
            emit(self.snapshot(ctx, executor))

    def snapshot(self, ctx: WorkerContext, executor, final: bool = False) -> Snapshot:
        series, task_errors, warnings = self.recorder.flush()
        metrics = [m for m in (metric.flush() for metric in self.scenario.metrics) if m is not None]
        interval = max(0, math.floor(ctx.elapsed() / self.plan.interval_s - 1e-6))
        snap = Snapshot(
            worker_id=self.worker_id, interval=interval, users=executor.users(), series=series,
            metrics=metrics, dropped_iterations=executor.dropped() - self._dropped_sent,
            iterations=executor.iterations() - self._iterations_sent,
            task_errors=task_errors, cpu_percent=self._cpu_percent(), final=final, warnings=warnings,
        )
        self._dropped_sent = executor.dropped()
        self._iterations_sent = executor.iterations()
        return snap

    def _cpu_percent(self) -> float:
        cpu, wall = time.process_time(), _perf()
        last_cpu, last_wall = self._cpu_mark
        self._cpu_mark = (cpu, wall)
        return 100.0 * (cpu - last_cpu) / (wall - last_wall) if wall > last_wall else 0.0
