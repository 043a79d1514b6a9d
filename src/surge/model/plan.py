"""The frozen test plan: everything a run needs, settled once by ``surge.config``.

Workloads are data; their schedules are pure functions in :mod:`surge.model.schedule`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .kinds import Arrival, LiveMode, WorkloadKind


@dataclass(frozen=True)
class Stage:
    """Move linearly from the previous stage's target (0 at the start) to ``target`` over ``duration_s``.

    ``target`` is a number of users (closed) or iterations per second (open). A zero duration jumps.
    """

    duration_s: float
    target: float


class _Staged:
    stages: tuple[Stage, ...]

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for s in self.stages)

    @property
    def stage_count(self) -> int:
        """How many stages the live view counts: those that take time, a steady run's spawn
        folded into its hold (:func:`surge.model.schedule.stage_numbers`); at least one."""
        from .schedule import stage_total  # schedule builds on this module

        return stage_total(self.stages)

    @property
    def peak(self) -> float:
        return max((s.target for s in self.stages), default=0.0)


@dataclass(frozen=True)
class ClosedWorkload(_Staged):
    """Virtual users looping over tasks.

    ``shape=True``: the scenario's LoadTestShape drives the level and ``stages`` is empty; the
    run lasts until the shape's ``tick`` returns None, or ``shape_duration_s`` if that comes
    first. Settling the config leaves it None unless ``--duration`` was given; the engine fills
    in the shape's own length (:func:`surge.engine.executors.closed.settle_shape`).
    """

    stages: tuple[Stage, ...]
    shape: bool = False
    shape_duration_s: float | None = None
    kind: WorkloadKind = WorkloadKind.CLOSED

    @property
    def duration_s(self) -> float:
        if self.shape:
            return self.shape_duration_s or 0.0
        return super().duration_s


@dataclass(frozen=True)
class OpenWorkload(_Staged):
    """Iterations arriving at a scheduled rate (per second), served by at most ``max_users`` VUs.

    ``arrival``: evenly spaced (default) or a Poisson process at that rate, drawn from ``seed``
    (None: a fresh stream each run); see :mod:`surge.model.arrivals`.
    """

    stages: tuple[Stage, ...]
    max_users: int
    arrival: Arrival = Arrival.UNIFORM
    seed: int | None = None
    kind: WorkloadKind = WorkloadKind.OPEN


Workload = ClosedWorkload | OpenWorkload


@dataclass(frozen=True)
class ThresholdSpec:
    """One parsed threshold: ``STAT OP VALUE`` on a target.

    ``target`` is ``*``, ``METHOD NAME``, ``NAME`` or a custom metric's name. ``value`` is normalised:
    milliseconds for latency stats, a fraction for rates (error_rate, custom rate), per second for rps.
    """

    target: str
    stat: str
    op: str
    value: float
    expression: str
    abort_on_fail: bool = False
    #: where it was set (``--threshold``, a file's path): shown by --dry-run, not compared
    source: str = dataclasses.field(default="", compare=False)
    #: ``TARGET: EXPRESSION`` as the user wrote it, when it was read as something else (a k6 name)
    written: str = ""

    @property
    def label(self) -> str:
        return f"{self.target}: {self.expression}"


@dataclass(frozen=True)
class TestPlan:
    scenario_path: str
    host: str
    workload: Workload
    scenario_name: str = "scenario"
    profile: str | None = None
    processes: int = 1
    tags: tuple[str, ...] = ()
    exclude_tags: tuple[str, ...] = ()
    user_classes: tuple[str, ...] = ()  # empty: every class in the scenario
    timeout_s: float = 30.0
    connect_timeout_s: float = 10.0
    graceful_stop_s: float = 5.0
    interval_s: float = 1.0
    thresholds: tuple[ThresholdSpec, ...] = ()
    abort_grace_s: float = 0.0
    health_path: str | None = None
    health_timeout_s: float = 30.0
    out_dir: str | None = None
    #: ``--baseline DIR``: a results folder this run is compared with at the end (regressions fail it)
    baseline_dir: str | None = None
    insecure: bool = False
    follow_redirects: bool = False
    #: send ``Accept-Encoding: gzip, deflate`` unless the scenario sets its own (--no-compression: not)
    compression: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    until_break: int | None = None
    #: with until_break: how long each step settles before it is judged (None: its first 25%)
    step_settle_s: float | None = None
    live: LiveMode = LiveMode.AUTO
    debug: bool = False
    #: a lost worker leaves the verdict as it is (with a warning) instead of failing the run (exit 3)
    allow_worker_loss: bool = False
    #: exit code when requests failed and no threshold was set (Locust's --exit-code-on-error)
    exit_code_on_error: int = 1
    hook_timeout_s: float = 60.0  # setup() / teardown() are given this long, then abandoned
    #: monitors (surge.monitors): the target by pid, by the port it listens on, or a command
    #: surge starts; PostgreSQL and Redis URLs; the host monitor (on by default); the interval
    monitor_pid: int | None = None
    monitor_port: int | None = None
    monitor_cmd: str | None = None
    db_url: str | None = None
    redis_url: str | None = None
    host_monitor: bool = True
    monitor_interval_s: float = 1.0
    #: --iterations: the run ends once this many task picks (closed) or arrivals served (open)
    #: have started across all workers (split as users are), or at the plan's end if that is first
    iterations: int | None = None
    #: --think-time: every user class's wait_time for this run, in seconds (None: the classes' own)
    think_time_s: float | None = None

    __test__ = False  # not a pytest class

    @property
    def duration_s(self) -> float:
        return self.workload.duration_s

    def replace(self, **changes) -> "TestPlan":
        return dataclasses.replace(self, **changes)
