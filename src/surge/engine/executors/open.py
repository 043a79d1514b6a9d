"""Open workload: iterations arrive on schedule, whatever the target is doing.

Each iteration takes an idle VU of its class (creating one, up to this worker's share of
``max_users``); when none can be had, the iteration is dropped and counted. The first request
of an iteration is timed from its scheduled arrival, so a stalled target shows up as latency
instead of silently lowering the offered load (coordinated omission).
"""
from __future__ import annotations

import asyncio
import time

from ...model.schedule import owned_arrivals, owned_count, weighted_cycle
from ..runtime import VirtualUser, VUState, WorkerContext
from .base import drain_tasks

_perf = time.perf_counter
_perf_ns = time.perf_counter_ns
_LATE_BATCH_S = 0.0005  # arrivals due within this much are started without sleeping


class OpenExecutor:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        workload = ctx.plan.workload
        self._stages = workload.stages
        self._cap = owned_count(workload.max_users, ctx.worker_id, ctx.workers)
        classes = ctx.scenario.user_classes
        self._classes = classes
        self._cycle = weighted_cycle([c.weight for c in classes])
        self._idle: list[list[VirtualUser]] = [[] for _ in classes]
        self._vus: list[VirtualUser] = []
        self._tasks: set[asyncio.Task] = set()
        self._dropped = 0
        self._iterations = 0
        # perf_counter_ns at the plan's time 0, to turn due times into intended send times
        self._t0_ns = _perf_ns() - int((_perf() - ctx.t0) * 1e9)

    async def run(self) -> None:
        ctx = self.ctx
        stop = ctx.stop
        for k, due in owned_arrivals(self._stages, ctx.worker_id, ctx.workers):
            if stop.is_set():
                return
            delay = due - ctx.elapsed()
            if delay > _LATE_BATCH_S:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return
                except asyncio.TimeoutError:
                    pass
            self._arrive(k, self._t0_ns + int(due * 1e9))

    def _arrive(self, k: int, intended_ns: int) -> None:
        cls_index = self._cycle[k % len(self._cycle)]
        idle = self._idle[cls_index]
        if idle:
            vu = idle.pop()
        elif len(self._vus) < self._cap:
            vu = VirtualUser(self.ctx, self._classes[cls_index], self.ctx.worker_id + len(self._vus) * self.ctx.workers)
            self._vus.append(vu)
        else:
            self._dropped += 1
            return
        vu.state = VUState.RUNNING
        task = asyncio.ensure_future(self._iteration(vu, cls_index, intended_ns))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _iteration(self, vu: VirtualUser, cls_index: int, intended_ns: int) -> None:
        recorder = self.ctx.recorder
        if not vu.started and not await vu.start(recorder):
            vu.state = VUState.STOPPED  # StopUser in on_start: this VU serves no iterations
            return
        vu.client.intended_ns = intended_ns
        self._iterations += 1
        keep = await vu.iterate(recorder)
        vu.client.intended_ns = 0
        if keep and not vu.stopping:
            vu.state = VUState.IDLE
            self._idle[cls_index].append(vu)
        else:
            vu.state = VUState.STOPPED

    async def drain(self, graceful_s: float) -> None:
        await drain_tasks([], set(self._tasks), graceful_s)
        stops = [asyncio.ensure_future(vu.finish(self.ctx.recorder)) for vu in self._vus
                 if vu.started and vu.state is VUState.IDLE]
        if stops:
            _, pending = await asyncio.wait(stops, timeout=max(graceful_s, 0.1))
            for t in pending:
                t.cancel()
        for vu in self._vus:
            await vu.client.close()

    def users(self) -> int:
        return len(self._vus)

    def dropped(self) -> int:
        return self._dropped

    def iterations(self) -> int:
        return self._iterations
