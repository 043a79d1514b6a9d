"""Typed, frozen events a run emits, in order, to its outputs (console, history writer, dashboard...).

The end of a run is not an event: every output's ``finish(result)`` is called once, with the
summary and the final histograms (``surge.outputs.base``). :class:`RequestEvent` is not one of
them either: it is what a scenario's ``on_request`` hook gets, in the worker (engine/hooks.py).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .kinds import WorkloadKind
from .summary import EndpointStats, ThresholdResult


@dataclass(frozen=True)
class RunStarted:
    scenario: str
    profile: str | None
    host: str
    workload: WorkloadKind
    duration_s: float
    processes: int
    out_dir: str
    stages: int
    iterations: int | None = None  # --iterations: the run ends at this many (duration_s is then a cap)


@dataclass(frozen=True)
class IntervalStats:
    """One interval's view, emitted once every worker's snapshot for it is in (or it timed out:
    ``partial``). ``window`` is this interval only; ``cumulative`` is since the start."""

    elapsed_s: float
    duration_s: float
    stage: int  # 0-based
    stages: int
    users: int  # VUs alive across workers
    target: float  # the plan's level now: users (closed) or iterations/s (open)
    workload: WorkloadKind
    dropped_iterations: int
    window: EndpointStats
    cumulative: EndpointStats
    endpoints: tuple[tuple[EndpointStats, EndpointStats], ...]  # (window, cumulative) per series
    cpu_percent: float  # the busiest worker's CPU over this full interval, 100 = one core
    workers_alive: int
    failing_thresholds: tuple[str, ...] = ()
    interval: int = 0  # index on the run's timebase (interval_s since t0)
    partial: bool = False  # written before every live worker's snapshot came in
    timestamp: float = 0.0  # unix time of the interval's end on the run's clock (t0 + elapsed_s)
    loop_lag_ms: float = 0.0  # the longest a worker's event loop was held in this interval
    iterations: int = 0  # iterations started since the start (task picks; open: arrivals served)
    users_by_class: dict[str, int] = field(default_factory=dict)  # VUs alive per user class name


@dataclass(frozen=True)
class StageChanged:
    stage: int
    stages: int
    elapsed_s: float
    target: float


@dataclass(frozen=True)
class ThresholdBreached:
    result: ThresholdResult
    elapsed_s: float
    aborting: bool
    breaking: bool = False  # --until-break: this breach is the breaking point the run looked for


@dataclass(frozen=True)
class Notice:
    """A one-line warning for the user (worker lost, generator saturated, names grouped...)."""

    message: str
    level: str = "warning"


@dataclass(frozen=True)
class MonitorSample:
    """One row of one monitor (``surge.monitors``) on the run's clock: ``timestamp`` unix time,
    ``elapsed_s`` since the run's t0 (the clock of stats_history.csv); ``values`` the monitor's
    columns (a missing one: no value this time)."""

    monitor: str
    timestamp: float
    elapsed_s: float
    values: Mapping[str, float | int | None]
    columns: tuple[str, ...] = ()  # the monitor's columns, in order (a CSV's header)


Event = RunStarted | IntervalStats | StageChanged | ThresholdBreached | Notice | MonitorSample


@dataclass(frozen=True)
class RequestEvent:
    """One request as it was counted, for a scenario's ``on_request(event)`` hook (in the worker).

    ``latency_ms``: as recorded (open workloads: the first request of an iteration from its
    scheduled arrival); None for a request that got no response and did not time out (connect,
    reset, protocol failures are counted, not timed). ``status``: the HTTP status, 0 without a
    response. ``error``: the failure kind known when the response came (``status`` for >= 400,
    ``connect``, ``timeout``, ``reset``, ``protocol``), else None; checks the task makes later
    (``expect``, ``failure()``, a ``catch_response`` verdict) are not in it. Bytes as on the wire.
    (No ``slots``: the worker makes one per request by setting its ``__dict__`` at once, half
    the cost of the generated ``__init__``.)
    """

    method: str
    name: str
    latency_ms: float | None
    status: int
    error: str | None
    bytes_received: int
    bytes_sent: int
