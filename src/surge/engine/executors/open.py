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
        self._inbox: dict[VirtualUser, asyncio.Future] = {}  # idle users waiting for an iteration
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
            vu.state = VUState.RUNNING
            self._inbox.pop(vu).set_result(intended_ns)  # hand the iteration to the waiting user
        elif len(self._vus) < self._cap:
            vu = VirtualUser(self.ctx, self._classes[cls_index], self.ctx.worker_id + len(self._vus) * self.ctx.workers)
            self._vus.append(vu)
            vu.state = VUState.RUNNING
            vu.task = asyncio.ensure_future(self._serve(vu, cls_index, intended_ns))
            self._tasks.add(vu.task)
            vu.task.add_done_callback(self._tasks.discard)
        else:
            self._dropped += 1

    async def _serve(self, vu: VirtualUser, cls_index: int, intended_ns: int | None) -> None:
        """One virtual user's life: on_start, then one iteration per arrival handed to it.

        A long-lived coroutine per user that waits on a future between iterations costs a
        fraction of a new task per iteration (the hot path at thousands of arrivals per second).
        """
        recorder = self.ctx.recorder
        loop = asyncio.get_running_loop()
        try:
            if not await vu.start(recorder):
                return  # StopUser (or an error) in on_start: this user serves no iterations
            while intended_ns is not None and not vu.stopping:
                vu.client.intended_ns = intended_ns
                self._iterations += 1
                keep = await vu.iterate(recorder)
                vu.client.intended_ns = 0
                if not keep or vu.stopping:
                    break
                inbox = self._inbox[vu] = loop.create_future()
                vu.state = VUState.IDLE
                self._idle[cls_index].append(vu)
                intended_ns = await inbox  # None: the run is over
        finally:
            if self._inbox.pop(vu, None) is not None:
                self._idle[cls_index].remove(vu)
            try:
                await vu.finish(recorder)
            except asyncio.CancelledError:
                vu.state = VUState.STOPPED
                raise

    async def drain(self, graceful_s: float) -> None:
        """No more arrivals: idle users stop (on_stop), busy ones finish their iteration or are cancelled."""
        for vu in self._vus:
            vu.stopping = True
        for inbox in list(self._inbox.values()):
            if not inbox.done():
                inbox.set_result(None)
        await drain_tasks([], set(self._tasks), graceful_s)

    def users(self) -> int:
        return len(self._vus)

    def dropped(self) -> int:
        return self._dropped

    def iterations(self) -> int:
        return self._iterations
