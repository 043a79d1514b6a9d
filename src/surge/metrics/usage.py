"""The generator watching itself: CPU and memory per process, over full intervals. Pure.

Each sample is one process's CPU (user + system, 100 = one core) over one full interval and
its RSS; partial intervals (the last one, a snapshot right after another) carry no CPU figure,
because CPU over a tiny wall span is noise (a 6 req/s demo once reported 249%). The generator
counts as saturated only when one process stays at or above :data:`SATURATED_PERCENT` for
:data:`SUSTAINED_INTERVALS` consecutive full intervals.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model.summary import ProcessUsage

SATURATED_PERCENT = 90.0
SUSTAINED_INTERVALS = 3


@dataclass
class _Process:
    cpu_sum: float = 0.0
    cpu_max: float = 0.0
    intervals: int = 0
    rss_mb_max: float = 0.0
    hot_run: int = 0  # consecutive full intervals at or above the saturation level
    saturated_at_s: float | None = None


class UsageTracker:
    """Samples keyed by worker id (an int) or ``"coordinator"``."""

    def __init__(self) -> None:
        self._procs: dict[int | str, _Process] = {}

    def sample(self, key: int | str, cpu_percent: float | None, rss_mb: float, elapsed_s: float) -> None:
        p = self._procs.setdefault(key, _Process())
        p.rss_mb_max = max(p.rss_mb_max, rss_mb)
        if cpu_percent is None:
            return
        p.cpu_sum += cpu_percent
        p.cpu_max = max(p.cpu_max, cpu_percent)
        p.intervals += 1
        p.hot_run = p.hot_run + 1 if cpu_percent >= SATURATED_PERCENT else 0
        if p.hot_run >= SUSTAINED_INTERVALS and p.saturated_at_s is None:
            p.saturated_at_s = elapsed_s

    def usage(self, key: int | str, *, lost: str | None = None, shared: bool = False) -> ProcessUsage:
        p = self._procs.get(key, _Process())
        mean = p.cpu_sum / p.intervals if p.intervals else 0.0
        return ProcessUsage(None if key == "coordinator" else int(key), round(mean, 1), round(p.cpu_max, 1),
                            round(p.rss_mb_max, 1), p.intervals, lost, shared)

    def saturated(self) -> dict[int | str, float]:
        """Processes that saturated, with the elapsed time at which it was established."""
        return {k: p.saturated_at_s for k, p in self._procs.items() if p.saturated_at_s is not None}

    def cpu_max(self, keys) -> float:
        return max((self._procs[k].cpu_max for k in keys if k in self._procs), default=0.0)
