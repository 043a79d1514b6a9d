"""Virtual users at run time: task picking, one iteration, the closed-loop life of a user.

Everything a VU needs from its worker travels in :class:`WorkerContext`; executors only decide
when users start and stop (closed) or when iterations start (open).
"""
from __future__ import annotations

import asyncio
import enum
import random
import time
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ..metrics.recorder import Recorder
from ..model.plan import TestPlan
from .clients.http import ClientContext, HttpClient
from .scenario import Scenario, UserClassPlan
from .user import StopUser, constant

_perf = time.perf_counter
_YIELD_EVERY = 64


class VUState(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"  # inside an iteration (or on_start/on_stop)
    WAITING = "waiting"  # think time: safe to cancel
    IDLE = "idle"  # open workloads: waiting for an iteration
    STOPPED = "stopped"


@dataclass
class WorkerContext:
    plan: TestPlan
    worker_id: int
    workers: int
    scenario: Scenario
    recorder: Recorder
    clients: ClientContext
    data: Any
    t0: float  # perf_counter() seconds at which the plan's time 0 is
    stop: asyncio.Event

    def elapsed(self) -> float:
        return _perf() - self.t0


class VirtualUser:
    __slots__ = ("user", "client", "spec", "_cum", "_total", "state", "stopping", "task", "index", "started")

    def __init__(self, ctx: WorkerContext, spec: UserClassPlan, index: int) -> None:
        self.spec = spec
        self.index = index
        self.client = HttpClient(ctx.clients, headers=getattr(spec.cls, "headers", None))
        self.user = spec.cls(client=self.client, data=ctx.data, user_id=index)
        self._cum = list(accumulate(t.weight for t in spec.tasks))
        self._total = self._cum[-1]
        self.state = VUState.STARTING
        self.stopping = False
        self.started = False
        self.task: asyncio.Task | None = None

    async def start(self, recorder: Recorder) -> bool:
        """Run on_start once. False when the user asked to stop (StopUser) or on_start raised."""
        self.started = True
        return await self._guard(self.user.on_start, "on_start", recorder)

    async def iterate(self, recorder: Recorder) -> bool:
        """Run one weighted task pick. False when the task raised StopUser."""
        spec = self.spec.tasks[bisect(self._cum, random.random() * self._total)] if len(self._cum) > 1 \
            else self.spec.tasks[0]
        try:
            await spec.fn(self.user)
        except StopUser:
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the task's own code raised: counted under its name, the VU goes on
            recorder.task_error(spec.name, f"{type(exc).__name__}: {exc}")
        return True

    async def finish(self, recorder: Recorder) -> None:
        if self.started and self.state is not VUState.STOPPED:
            self.state = VUState.RUNNING
            await self._guard(self.user.on_stop, "on_stop", recorder)
        self.state = VUState.STOPPED
        await self.client.close()

    async def _guard(self, hook, name: str, recorder: Recorder) -> bool:
        try:
            await hook()
            return True
        except StopUser:
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            recorder.task_error(name, f"{type(exc).__name__}: {exc}")
            return False


async def closed_loop(vu: VirtualUser, ctx: WorkerContext) -> None:
    """A closed-workload user's life: on_start, then iterate and think until told to stop."""
    recorder = ctx.recorder
    wait_time = vu.spec.cls.wait_time or constant(0)
    no_wait = isinstance(wait_time, constant) and wait_time.seconds == 0  # skip the clock reads
    try:
        vu.state = VUState.RUNNING
        if not await vu.start(recorder):
            return
        iterations = 0
        while not vu.stopping:
            began = 0.0 if no_wait else _perf()
            if not await vu.iterate(recorder):
                break
            pause = 0.0 if no_wait else wait_time(_perf() - began)
            if vu.stopping:
                break
            if pause > 0:
                vu.state = VUState.WAITING
                try:
                    await asyncio.sleep(pause)
                except asyncio.CancelledError:
                    if not vu.stopping:
                        raise
                    break  # retired while thinking: no request was in flight
                vu.state = VUState.RUNNING
            else:
                iterations += 1
                if iterations % _YIELD_EVERY == 0:
                    # a task that never awaits I/O must not starve the loop; a request already yields
                    await asyncio.sleep(0)
    finally:
        if vu.state is not VUState.STOPPED:
            try:
                await vu.finish(recorder)
            except asyncio.CancelledError:
                vu.state = VUState.STOPPED
                raise


def retire(vu: VirtualUser) -> None:
    """Ask a user to stop after its current iteration; a thinking user stops at once."""
    vu.stopping = True
    if vu.state is VUState.WAITING and vu.task is not None:
        vu.task.cancel()
