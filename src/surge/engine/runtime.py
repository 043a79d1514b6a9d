"""Virtual users at run time: task picking, one iteration, the closed-loop life of a user.

Everything a VU needs from its worker travels in :class:`WorkerContext`; executors only decide
when users start and stop (closed) or when iterations start (open).
"""
from __future__ import annotations

import asyncio
import enum
import functools
import math
import random
import time
from bisect import bisect
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from ..metrics.recorder import Recorder
from ..model.plan import TestPlan
from ..model.schedule import owned_iterations
from .clients.errors import CountedFailure, stable_message
from .clients.http import ClientContext, HttpClient
from .guard import Escalated
from .hooks import RunEvents, RunHandle
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


class Iterations:
    """This worker's share of ``--iterations`` (:func:`owned_iterations`), taken one at a time when an
    iteration starts: a closed user's task pick, an open arrival handed to a user. Taken at the
    start, so the workers together never start more than N. The last one taken sets the
    worker's stop: its executor ends and the iterations in flight finish within the graceful
    stop, as at the end of any plan. Without --iterations it only counts."""

    __slots__ = ("left", "taken", "_stop")

    def __init__(self, share: int | None, stop: asyncio.Event) -> None:
        self.left: float = math.inf if share is None else share
        self.taken = 0
        self._stop = stop
        if self.left <= 0:  # more workers than iterations: this one has none
            stop.set()

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        self.taken += 1
        if self.left <= 0:
            self._stop.set()
        return True


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
    iterations: Iterations | None = None  # made from plan.iterations unless given
    #: this worker's hooks (the scenario's on_request unless given) and the ``run`` users see
    events: RunEvents | None = None
    run: RunHandle | None = None

    def __post_init__(self) -> None:
        if self.iterations is None:
            self.iterations = Iterations(owned_iterations(self.plan, self.worker_id, self.workers), self.stop)
        if self.events is None:
            self.events = RunEvents("worker", self.recorder.warn)
            on_request = self.scenario.hooks.get("on_request")
            if on_request is not None:
                self.events.on_request(on_request)
        if self.run is None:
            self.run = RunHandle(self.plan, self.events, self.worker_id, self.workers, self.data)

    def elapsed(self) -> float:
        return _perf() - self.t0


class VirtualUser:
    __slots__ = ("user", "client", "spec", "_cum", "state", "stopping", "task", "index", "started")

    def __init__(self, ctx: WorkerContext, spec: UserClassPlan, index: int) -> None:
        self.spec = spec
        self.index = index
        self.client = ctx.events.client_class()(ctx.clients, headers=getattr(spec.cls, "headers", None))
        self.user = spec.cls(client=self.client, data=ctx.data, user_id=index)
        if getattr(spec.cls, "run", None) is None:  # (a class's own `run`, a task say, is left alone)
            self.user.run = ctx.run
        bind = getattr(self.user, "_surge_bind", None)
        if bind is not None:  # a user that needs its VU (the Locust layer: TaskSet waits and stops, runner.quit)
            bind(self, ctx)
        self._cum = _cumulative(tuple(t.weight for t in spec.tasks))  # shared by the class's users
        self.state = VUState.STARTING
        self.stopping = False
        self.started = False
        self.task: asyncio.Task | None = None

    async def start(self, recorder: Recorder) -> bool:
        """Run on_start once. False when the user asked to stop (StopUser) or on_start raised."""
        self.started = True
        ok = await self._guard(self.user.on_start, "on_start", recorder)
        if ok:
            recorder.users_started += 1
        return ok

    def pick(self):
        """The next task, by weight."""
        tasks, cum = self.spec.tasks, self._cum
        return tasks[bisect(cum, random.random() * cum[-1])] if len(tasks) > 1 else tasks[0]

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
        except (Exception, SystemExit) as exc:
            if not counted(exc):
                recorder.task_error(self._label(name), _describe(exc))
            if name == "on_start":
                recorder.users_start_failed += 1
            return False

    def _label(self, name: str) -> str:
        """``Browser.checkout``: the series name a task's exceptions are counted under."""
        return f"{self.spec.cls.__name__}.{name}"


@functools.lru_cache(maxsize=64)
def _cumulative(weights: tuple) -> tuple:
    return tuple(accumulate(weights))


def _describe(exc: BaseException) -> str:
    """The failure message of a task's exception; memory addresses blanked (failures group by message)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: sys.exit({exc.code!r}) in a task ends that iteration, not the run"
    return stable_message(f"{type(exc).__name__}: {exc}")


def think_time(vu: VirtualUser, think, iteration_s: float, recorder: Recorder) -> float | None:
    """The user's wait after an iteration, in seconds (negative: none). None when its wait_time
    raised or gave no number (NaN, a string...): counted under ``Class.wait_time``, and the user
    ends (every later iteration would fail the same way)."""
    try:
        pause = float(think(iteration_s))
        if pause != pause:
            raise ValueError("it returned NaN")
        return pause
    except Exception as exc:
        recorder.task_error(vu._label("wait_time"), f"wait_time must return seconds: {_describe(exc)}")
        return None


def task_raised(vu: VirtualUser, name: str, exc: BaseException, recorder: Recorder) -> bool:
    """A task's exception, as the user loops treat it (not a cancellation, which they re-raise):
    True when the user ends (``StopUser``; :class:`Escalated`, counted), else counted as a failure
    under the task's name unless a client counted it already. Any other ``BaseException`` goes on up."""
    if isinstance(exc, StopUser):
        return True
    if isinstance(exc, Escalated):  # it held the loop past a stop's deadline: this user ends
        recorder.task_error(vu._label(name), str(exc))
        return True
    if not isinstance(exc, (Exception, SystemExit)):
        raise exc
    if not counted(exc):  # the task's own code raised: a failure under its name
        recorder.task_error(vu._label(name), _describe(exc))
    return False


def counted(exc: BaseException) -> bool:
    """Whether a task's exception is a failure a client counted already (a WebSocket drop)."""
    return isinstance(exc, CountedFailure) and exc.counted


def _check_unawaited(client: HttpClient, label: str, recorder: Recorder) -> None:
    """The task created requests it did not await. Confirm on the next loop pass (a request
    handed to ``asyncio.create_task`` starts by then) and warn once per task."""
    created = client.created

    def confirm() -> None:
        if client.started < created:
            recorder.warn(f"task {label} calls self.client without await: those requests are never sent; "
                          f"write `await self.client.get(...)`")
            client.started = client.created

    asyncio.get_running_loop().call_soon(confirm)


async def closed_loop(vu: VirtualUser, ctx: WorkerContext) -> None:
    """A closed-workload user's life: on_start, then iterate and think until told to stop.

    The iteration is written out here rather than called (a coroutine level less on every
    request: ~0.2 µs and ~270 bytes per waiting user); ``OpenExecutor._serve`` writes out the
    same steps, and a change to one belongs in the other (and in a user's own ``_surge_iterate``,
    which the Locust layer's sync users bring: ``compat/locust/_loop.py``)."""
    recorder = ctx.recorder
    budget = ctx.iterations
    override = ctx.plan.think_time_s  # --think-time
    # an instance's own wait_time (the Locust layer binds one per user) wins over the class's
    think = constant(override) if override is not None else (
        vars(vu.user).get("wait_time") or vu.spec.cls.wait_time or constant(0))
    if isinstance(think, constant) and think.seconds == 0:
        think = None  # no think time: skip the clock reads
    single = vu.spec.tasks[0] if len(vu.spec.tasks) == 1 else None
    try:
        vu.state = VUState.RUNNING
        if not await vu.start(recorder):
            return
        own = getattr(vu.user, "_surge_iterate", None)
        if own is not None:  # a user that runs these same steps itself (the Locust layer, in one greenlet)
            await own(vu, ctx, think)
            return
        iterations = 0
        while not vu.stopping and budget.take():
            began = 0.0 if think is None else _perf()
            spec = single or vu.pick()
            try:
                await spec.fn(vu.user)
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # counted, or the user ends
                if task_raised(vu, spec.name, exc, recorder):
                    break
            if vu.client.created != vu.client.started:
                _check_unawaited(vu.client, vu._label(spec.name), recorder)
            pause = 0.0 if think is None else think_time(vu, think, _perf() - began, recorder)
            if pause is None or vu.stopping:
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
