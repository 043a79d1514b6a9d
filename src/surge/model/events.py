"""Typed, frozen events a run emits. Observers (console, dashboard, history writer) subscribe to a run."""
from __future__ import annotations

from dataclasses import dataclass

from .summary import EndpointStats, RunSummary, ThresholdResult


@dataclass(frozen=True)
class RunStarted:
    scenario: str
    profile: str | None
    host: str
    workload: str  # closed | open
    duration_s: float
    processes: int
    out_dir: str
    stages: int


@dataclass(frozen=True)
class IntervalStats:
    """One interval's live view. ``window`` is this interval only; ``cumulative`` is since the start."""

    elapsed_s: float
    duration_s: float
    stage: int  # 0-based
    stages: int
    users: int  # VUs alive across workers
    target: float  # the plan's level now: users (closed) or iterations/s (open)
    workload: str
    dropped_iterations: int
    window: EndpointStats
    cumulative: EndpointStats
    endpoints: tuple[tuple[EndpointStats, EndpointStats], ...]  # (window, cumulative) per series
    cpu_percent: float  # the busiest worker's CPU, 100 = one core saturated
    workers_alive: int
    failing_thresholds: tuple[str, ...] = ()


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


@dataclass(frozen=True)
class Notice:
    """A one-line warning for the user (worker lost, generator saturated, names grouped...)."""

    message: str
    level: str = "warning"


@dataclass(frozen=True)
class RunFinished:
    summary: RunSummary
    out_dir: str
    exit_code: int


Event = RunStarted | IntervalStats | StageChanged | ThresholdBreached | Notice | RunFinished
