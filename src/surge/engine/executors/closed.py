"""Closed workload: a level of virtual users over time, from stages or a LoadTestShape."""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import math

from ...model.errors import ScenarioError
from ...model.plan import TestPlan
from ...model.schedule import level_at, owned_count
from ..runtime import VirtualUser, WorkerContext, closed_loop, retire
from ..scenario import Scenario, user_mix
from .base import drain_tasks, sleep_or_stop

TICK_S = 0.05
#: users created before the loop gets a turn: a level of 40,000 created at once held the loop
#: (and the stop message) for seconds
NEW_USERS_PER_TURN = 500
#: how far ahead a shape's end is looked for; a shape still ticking then is taken as unbounded
SHAPE_HORIZON_S = 24 * 3600.0


def shape_length_s(shape, horizon_s: float = SHAPE_HORIZON_S) -> float | None:
    """When the shape's ``tick`` first returns None (to 10 ms), or None if not within ``horizon_s``.

    ``tick`` must be a pure function of the time (LoadTestShape's contract), so it can be asked
    ahead of the run: the progress bar and the summary then show the shape's own length.
    """
    def ends(t: float) -> bool:
        try:
            tick = shape.tick(t)
        except Exception as exc:
            raise ScenarioError(f"{type(shape).__name__}.tick({t:g}) raised {type(exc).__name__}: {exc}",
                                TICK_HINT) from exc
        return tick is None or not tick_level(shape, t, tick)

    t = 0.0
    while t <= horizon_s and not ends(t):
        t += 1.0
    if t > horizon_s:
        return None
    low = max(0.0, t - 1.0)
    while low < t and not ends(low):
        low = round(low + 0.01, 2)
    return low


TICK_HINT = "tick(run_time_s) must return (users, spawn_rate), users a number >= 0 and spawn_rate > 0, or None"


def tick_level(shape, t: float, tick) -> tuple[float, float]:
    """A tick's (users, spawn_rate) as numbers; a tick of any other form is a ScenarioError naming it
    (a spawn rate of 0 or less: at once). Locust's third item, the user classes, is not supported."""
    try:
        if isinstance(tick, (str, bytes)) or len(tick) not in (1, 2):
            raise ValueError
        users = tick[0]
        rate = tick[1] if len(tick) > 1 else math.inf
        if isinstance(users, bool) or isinstance(rate, bool):
            raise ValueError
        users, rate = float(users), float(rate)
        if not (math.isfinite(users) and users >= 0) or rate != rate:
            raise ValueError
    except (TypeError, ValueError):
        extra = " (a third item, the user classes, is not supported)" if isinstance(tick, tuple) and len(tick) == 3 else ""
        raise ScenarioError(f"{type(shape).__name__}.tick() returned {tick!r} at {t:g} s{extra}", TICK_HINT) from None
    return users, rate


def settle_shape(plan: TestPlan, scenario: Scenario) -> TestPlan:
    """The plan with a shape's length filled in (capped by --duration when that was given)."""
    workload = plan.workload
    if not getattr(workload, "shape", False):
        return plan
    if scenario.shape is None:
        raise ScenarioError("--shape given but the scenario defines no LoadTestShape subclass",
                            "define a subclass of surge.LoadTestShape with tick(run_time_s)")
    limit = workload.shape_duration_s
    length = shape_length_s(scenario.shape(), limit if limit is not None else SHAPE_HORIZON_S)
    if length is None:
        length = limit
    return plan.replace(workload=dataclasses.replace(workload, shape_duration_s=length))


class ShapeLevel:
    """Turns a LoadTestShape's (users, spawn_rate) ticks into a level that moves at the spawn rate."""

    def __init__(self, shape) -> None:
        self.shape = shape
        self.level = 0.0
        self.last_t = 0.0

    def __call__(self, t: float) -> float | None:
        tick = self.shape.tick(t)
        if tick is None:
            return None
        target, rate = tick_level(self.shape, t, tick)
        step = (t - self.last_t) * rate if rate > 0 else math.inf
        self.last_t = t
        if self.level < target:
            self.level = min(target, self.level + step)
        else:
            self.level = max(target, self.level - step)
        return self.level


class ClosedExecutor:
    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        workload = ctx.plan.workload
        if workload.shape:
            if ctx.scenario.shape is None:
                raise ScenarioError("--shape given but the scenario defines no LoadTestShape subclass")
            self._level = ShapeLevel(ctx.scenario.shape())
            self._end = workload.shape_duration_s or math.inf
        else:
            stages = workload.stages
            self._level = lambda t: level_at(stages, t)
            self._end = workload.duration_s
        self._classes = ctx.scenario.user_classes
        self._mix = user_mix(self._classes)  # which class user j is of (Locust's fixed_count first)
        self._vus: list[VirtualUser] = []  # the users the level asks for, oldest first
        self._retired: list[VirtualUser] = []  # asked to stop, maybe still in their last iteration
        self.level = 0.0

    async def run(self) -> None:
        ctx = self.ctx
        while not ctx.stop.is_set():
            t = ctx.elapsed()
            level = self._level(t) if t < self._end else None
            if level is None:
                break
            self.level = level
            # user j runs once the level exceeds j, so the first user starts at once (a spawn rate
            # of 2/s starts users at 0 s and 0.5 s), and a short ramp still runs its users
            behind = self._adjust(owned_count(int(math.ceil(level - 1e-9)), ctx.worker_id, ctx.workers))
            await sleep_or_stop(ctx, 0 if behind else TICK_S)

    def _adjust(self, want: int) -> bool:
        """Move toward ``want`` users, creating at most NEW_USERS_PER_TURN; True while short of it."""
        ctx = self.ctx
        if self._mix.limit is not None:  # only fixed_count classes: never more users than they add up to
            want = min(want, owned_count(self._mix.limit, ctx.worker_id, ctx.workers))
        create = min(want, len(self._vus) + NEW_USERS_PER_TURN)
        while len(self._vus) < create:
            index = ctx.worker_id + len(self._vus) * ctx.workers
            vu = VirtualUser(ctx, self._classes[self._mix(index)], index)
            vu.task = asyncio.ensure_future(closed_loop(vu, ctx))
            self._vus.append(vu)
        while len(self._vus) > want:
            vu = self._vus.pop()
            retire(vu)
            self._retired.append(vu)
        return len(self._vus) < want

    async def drain(self, graceful_s: float) -> None:
        """Retire every user; a second call (a hard stop after a graceful one) still finds them all."""
        self._retired += self._vus
        self._vus = []
        await drain_tasks(self._retired, [vu.task for vu in self._retired if vu.task is not None], graceful_s)

    def users(self) -> int:
        """Users alive now (retired ones still finishing count until they end)."""
        self._retired = [vu for vu in self._retired if not vu.task.done()]
        return sum(1 for vu in self._vus if not vu.task.done()) + len(self._retired)

    def users_by_class(self) -> dict[str, int]:
        """:meth:`users`, per user class name."""
        alive = [vu for vu in (*self._vus, *self._retired) if not vu.task.done()]
        return dict(collections.Counter(vu.spec.cls.__name__ for vu in alive))

    def dropped(self) -> int:
        return 0

    def iterations(self) -> int:
        """Task picks started so far (each takes one of --iterations, when set)."""
        return self.ctx.iterations.taken
