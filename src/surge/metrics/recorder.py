"""Worker-side recording: the hot path appends integers; the interval flush bins them.

A request costs one dict lookup (its series) and a list append or two; histograms are built
once per interval from the buffered values (see :meth:`Histogram.record_many`).
"""
from __future__ import annotations

from collections import Counter

from .hdr import Histogram
from .snapshot import SeriesSnapshot

MAX_SERIES = 1000
OTHER = "(other)"
CAP_WARNING = (f"more than {MAX_SERIES} distinct endpoint names; further ones are grouped under "
               f"{OTHER!r}: pass name= to group URLs that carry ids")


class Series:
    """One (method, name)'s counters for the current interval. Mutated directly by the client."""

    __slots__ = ("method", "name", "latencies_us", "service_us", "requests", "failures", "cancelled",
                 "bytes_received", "bytes_sent", "errors")

    def __init__(self, method: str, name: str) -> None:
        self.method = method
        self.name = name
        self.latencies_us: list[int] = []
        self.service_us: list[int] = []
        self.requests = 0
        self.failures = 0
        self.cancelled = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.errors: Counter[tuple[str, str]] = Counter()

    def fail(self, kind: str, message: str) -> None:
        self.failures += 1
        self.errors[(kind, message)] += 1

    def flush(self) -> SeriesSnapshot | None:
        if not (self.requests or self.cancelled or self.failures):
            return None
        snap = SeriesSnapshot(
            self.method, self.name,
            latency=_encode(self.latencies_us), service=_encode(self.service_us),
            requests=self.requests, failures=self.failures, cancelled=self.cancelled,
            bytes_received=self.bytes_received, bytes_sent=self.bytes_sent,
            errors=[[k, m, c] for (k, m), c in self.errors.items()],
        )
        self.latencies_us, self.service_us = [], []
        self.requests = self.failures = self.cancelled = self.bytes_received = self.bytes_sent = 0
        self.errors = Counter()
        return snap


def _encode(values: list[int]) -> str | None:
    if not values:
        return None
    h = Histogram()
    h.record_many(values)
    return h.encode()


class Recorder:
    """All series of one worker. ``series()`` caps distinct names at :data:`MAX_SERIES`."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], Series] = {}
        self.task_errors: Counter[tuple[str, str]] = Counter()
        self.warnings: list[str] = []
        self._warned_cap = False

    def series(self, method: str, name: str) -> Series:
        key = (method, name)
        s = self._series.get(key)
        if s is None:
            if len(self._series) >= MAX_SERIES:
                if not self._warned_cap:
                    self._warned_cap = True
                    self.warnings.append(CAP_WARNING)
                key = (method, OTHER)
                s = self._series.get(key)
                if s is not None:
                    return s
            s = self._series[key] = Series(*key)
        return s

    def task_error(self, task: str, message: str) -> None:
        self.task_errors[(task, message)] += 1

    def flush(self) -> tuple[list[SeriesSnapshot], list[list], list[str]]:
        snaps = [s for s in (series.flush() for series in self._series.values()) if s is not None]
        errors = [[t, m, c] for (t, m), c in self.task_errors.items()]
        self.task_errors = Counter()
        warnings, self.warnings = self.warnings, []
        return snaps, errors, warnings
