"""The scenario author's vocabulary: users, tasks, tags, think time, load shapes.

Familiar to Locust users, but async: tasks are ``async def`` methods that ``await`` the client.
"""
from __future__ import annotations

import inspect
import math
import random
import time
from collections.abc import Callable
from typing import Any


class StopUser(Exception):
    """Raise in a task or ``on_start`` to stop this virtual user (it does not count as a failure)."""


# -- tasks and tags -----------------------------------------------------------------------
def task(weight: int | float | Callable = 1):
    """``@task`` or ``@task(weight)`` marks an async method as a task picked by weight."""

    def mark(fn: Callable) -> Callable:
        fn.surge_weight = weight_value  # type: ignore[attr-defined]
        return fn

    if callable(weight):
        weight_value: float = 1
        return mark(weight)
    if weight < 0:
        raise ValueError("a task weight must be >= 0")
    weight_value = weight
    return mark


def tag(*names: str):
    """``@tag("read", "fast")``: select tasks with ``--tags`` / ``--exclude-tags``."""

    def mark(fn: Callable) -> Callable:
        fn.surge_tags = frozenset(getattr(fn, "surge_tags", frozenset()) | set(names))  # type: ignore[attr-defined]
        return fn

    return mark


# -- think time -----------------------------------------------------------------------------
class WaitTime:
    """Seconds to wait after an iteration. ``iteration_s`` is how long the iteration took."""

    def __call__(self, iteration_s: float) -> float:  # pragma: no cover - interface
        raise NotImplementedError


class between(WaitTime):
    def __init__(self, low: float, high: float) -> None:
        if low < 0 or high < low:
            raise ValueError("between(low, high) needs 0 <= low <= high")
        self.low, self.high = low, high

    def __call__(self, iteration_s: float) -> float:
        return random.uniform(self.low, self.high)

    def __repr__(self) -> str:
        return f"between({self.low}, {self.high})"


class constant(WaitTime):
    def __init__(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("constant(seconds) needs seconds >= 0")
        self.seconds = seconds

    def __call__(self, iteration_s: float) -> float:
        return self.seconds

    def __repr__(self) -> str:
        return f"constant({self.seconds})"


class poisson(WaitTime):
    """Exponentially distributed waits with mean ``mean_s``: a user whose tasks take next to no
    time then starts its iterations as a Poisson process at 1/mean_s per second (memoryless
    think time, as a population of independent clients behaves). ``poisson(0)`` never waits."""

    def __init__(self, mean_s: float) -> None:
        if not 0 <= mean_s < float("inf"):
            raise ValueError("poisson(mean_s) needs 0 <= mean_s < inf")
        self.mean_s = mean_s
        self._rate = 1.0 / mean_s if mean_s else 0.0

    def __call__(self, iteration_s: float) -> float:
        return random.expovariate(self._rate) if self._rate else 0.0

    def __repr__(self) -> str:
        return f"poisson({self.mean_s})"


class constant_pacing(WaitTime):
    """Start an iteration every ``seconds`` per user, whatever the iteration took (if it fits)."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("constant_pacing(seconds) needs seconds > 0")
        self.seconds = seconds

    def __call__(self, iteration_s: float) -> float:
        return max(0.0, self.seconds - iteration_s)

    def __repr__(self) -> str:
        return f"constant_pacing({self.seconds})"


# -- users ------------------------------------------------------------------------------------
class TaskSpec:
    __slots__ = ("fn", "name", "weight", "tags")

    def __init__(self, fn: Callable, weight: float, tags: frozenset[str]) -> None:
        self.fn, self.name, self.weight, self.tags = fn, fn.__name__, weight, tags


class User:
    """Base of user classes. Subclass :class:`HttpUser` for HTTP targets."""

    weight: float = 1
    wait_time: WaitTime | Callable[[float], float] = constant(0)
    host: str | None = None
    abstract = True
    #: optional explicit tasks: a list of async functions or a {function: weight} dict
    tasks: list | dict | None = None
    #: the run this user belongs to (set before on_start): ``plan``, ``worker_id``, ``data`` and
    #: ``events``, where ``self.run.events.on_request(fn)`` registers a request hook (engine/hooks.py)
    run: Any = None

    def __init__(self, client: Any = None, data: Any = None, user_id: int = 0) -> None:
        self.client = client
        self.data = data
        self.user_id = user_id

    async def on_start(self) -> None:
        """Runs once when the user starts (login, fetch a token...)."""

    async def on_stop(self) -> None:
        """Runs once when the user stops (logout...)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "abstract" not in cls.__dict__:
            cls.abstract = False

    @classmethod
    def task_specs(cls) -> list[TaskSpec]:
        """Every task of the class, from ``@task`` methods and the ``tasks`` attribute."""
        specs: list[TaskSpec] = []
        seen: set[str] = set()
        for klass in cls.__mro__:
            for attr, fn in vars(klass).items():
                if attr not in seen and callable(fn) and hasattr(fn, "surge_weight"):
                    seen.add(attr)
                    specs.append(TaskSpec(fn, fn.surge_weight, getattr(fn, "surge_tags", frozenset())))
        if isinstance(cls.tasks, dict):
            specs += [TaskSpec(fn, w, getattr(fn, "surge_tags", frozenset())) for fn, w in cls.tasks.items()]
        elif cls.tasks:
            specs += [TaskSpec(fn, getattr(fn, "surge_weight", 1), getattr(fn, "surge_tags", frozenset()))
                      for fn in cls.tasks]
        return specs

    @classmethod
    def problems(cls) -> list[str]:
        """What is wrong with this class as written (checked when the scenario loads)."""
        out = []
        for spec in cls.task_specs():
            if not inspect.iscoroutinefunction(spec.fn):
                out.append(f"task {cls.__name__}.{spec.name} must be 'async def'")
        for hook in ("on_start", "on_stop"):
            if not inspect.iscoroutinefunction(getattr(cls, hook)):
                out.append(f"{cls.__name__}.{hook} must be 'async def'")
        out += count_problems(cls, "weight")
        return out


def count_problems(cls: type, attr: str, whole: bool = False) -> list[str]:
    """``cls.<attr>`` (a weight, Locust's fixed_count) must be a finite number >= 0 (a whole one)."""
    value = getattr(cls, attr)
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value) or value < 0:
        return [f"{cls.__name__}.{attr} must be a {'whole ' if whole else ''}number >= 0, not {value!r}"]
    return []


class HttpUser(User):
    """A user with an HTTP client: ``await self.client.get("/path", name=...)``."""

    abstract = True
    #: headers sent with every request of this class (e.g. {"Accept": "application/json"})
    headers: dict[str, str] = {}


class LoadTestShape:
    """A custom closed-workload shape: ``tick(run_time_s)`` returns ``(users, spawn_rate)`` or None to stop.

    Called about ten times a second in every worker; it must be a pure function of the time.
    """

    def tick(self, run_time_s: float) -> tuple[int, float] | None:  # pragma: no cover - interface
        raise NotImplementedError


def monotonic() -> float:
    return time.perf_counter()
