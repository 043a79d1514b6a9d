"""Coordinator-side aggregation: merge worker snapshots into cumulative and per-interval stats.

``RunStats`` is the one place that turns histograms and counters into :class:`EndpointStats`.
The console, the threshold evaluator, the history writer and the final summary all read it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..model.summary import PERCENTILES, CustomMetricStats, EndpointStats, FailureGroup, Latency
from .custom import TREND_SCALE
from .hdr import Histogram
from .recorder import CAP_WARNING, MAX_SERIES, OTHER
from .snapshot import MetricSnapshot, SeriesSnapshot, Snapshot

AGGREGATED = "Aggregated"
Key = tuple[str, str]


@dataclass
class SeriesTotals:
    """A series' histograms and counters over some span (the run, or one interval)."""

    latency: Histogram = field(default_factory=Histogram)
    service: Histogram | None = None
    requests: int = 0
    failures: int = 0
    cancelled: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0

    def add(self, s: SeriesSnapshot) -> None:
        """Merge one worker's interval (encoded histograms)."""
        self._merge(Histogram.decode(s.latency) if s.latency else None,
                    Histogram.decode(s.service) if s.service else None, s)

    def merge(self, other: "SeriesTotals") -> None:
        self._merge(other.latency, other.service, other)

    def _merge(self, latency: Histogram | None, service: Histogram | None, counts) -> None:
        if latency is not None:
            self.latency.merge(latency)
        if service is not None:
            self.service = self.service or Histogram()
            self.service.merge(service)
        self.requests += counts.requests
        self.failures += counts.failures
        self.cancelled += counts.cancelled
        self.bytes_received += counts.bytes_received
        self.bytes_sent += counts.bytes_sent

    def stats(self, method: str, name: str, seconds: float) -> EndpointStats:
        per_s = 1.0 / seconds if seconds > 0 else 0.0
        return EndpointStats(
            method=method, name=name, requests=self.requests, failures=self.failures,
            cancelled=self.cancelled, rps=self.requests * per_s, failures_per_s=self.failures * per_s,
            error_rate=self.failures / self.requests if self.requests else 0.0,
            latency_ms=latency_of(self.latency), bytes_received=self.bytes_received,
            bytes_sent=self.bytes_sent,
            avg_content_length=self.bytes_received / self.requests if self.requests else 0.0,
            service_time_ms=latency_of(self.service) if self.service is not None else None,
        )


def latency_of(h: Histogram, scale: float = 1000.0) -> Latency:
    """Latency in ms from a µs histogram (``scale`` divides raw values)."""
    if not h.count:
        return Latency()
    ps = h.percentiles_us([p for _, p in PERCENTILES])
    values = {key: ps[p] / scale for key, p in PERCENTILES}
    return Latency(min=h.min_us / scale, mean=h.mean_us / scale, max=h.max_us / scale, **values)


@dataclass
class MetricTotals:
    name: str
    kind: str
    unit: str = ""
    hist: Histogram | None = None
    count: int = 0
    hits: int = 0
    total: float = 0.0

    def add(self, m: MetricSnapshot) -> None:
        if m.hist:
            self.hist = self.hist or Histogram()
            self.hist.merge(Histogram.decode(m.hist))
        self.count += m.count
        self.hits += m.hits
        self.total += m.total

    def stats(self, seconds: float) -> CustomMetricStats:
        if self.kind == "trend" and self.hist is not None:
            lat = latency_of(self.hist, scale=TREND_SCALE)
            values = {k: v for k, v in vars(lat).items()}
        elif self.kind == "rate":
            values = {"rate": self.hits / self.count if self.count else 0.0}
        else:
            values = {"count": self.total, "rate": self.total / seconds if seconds > 0 else 0.0}
        return CustomMetricStats(self.name, self.kind, self.count, values)


class RunStats:
    """Everything merged so far. ``add()`` takes snapshots; ``close_interval()`` ends a history window."""

    def __init__(self) -> None:
        self.series: dict[Key, SeriesTotals] = {}
        self.total = SeriesTotals()
        self.window: dict[Key, SeriesTotals] = {}
        self.window_total = SeriesTotals()
        self.metrics: dict[str, MetricTotals] = {}
        self.errors: Counter[tuple[str, str, str, str]] = Counter()
        self.dropped_iterations = 0
        self.iterations = 0
        self.warnings: list[str] = []
        self._named = 0  # series other than (other): each worker caps its own, so the run caps again

    def add(self, snap: Snapshot) -> None:
        for s in snap.series:
            key = self._key(s.method, s.name)
            self.series.setdefault(key, SeriesTotals()).add(s)
            self.window.setdefault(key, SeriesTotals()).add(s)
            self.total.add(s)
            self.window_total.add(s)
            for kind, message, count in s.errors:
                self.errors[(*key, kind, message)] += count
        for task, message, count in snap.task_errors:
            self.errors[("", task, "exception", message)] += count
        for m in snap.metrics:
            self.metrics.setdefault(m.name, MetricTotals(m.name, m.kind, m.unit)).add(m)
        self.dropped_iterations += snap.dropped_iterations
        self.iterations += snap.iterations
        for w in snap.warnings:
            self._warn(w)

    def _key(self, method: str, name: str) -> Key:
        """At most MAX_SERIES names per run: workers that each saw different ids still add up."""
        key = (method, name)
        if key in self.series or name == OTHER:
            return key
        if self._named < MAX_SERIES:
            self._named += 1
            return key
        self._warn(CAP_WARNING)
        return (method, OTHER)

    def _warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def close_interval(self) -> tuple[SeriesTotals, dict[Key, SeriesTotals]]:
        """Hand back this window's totals (overall, per series) and start a new window."""
        total, per_series = self.window_total, self.window
        self.window_total, self.window = SeriesTotals(), {}
        return total, per_series

    # -- views ----------------------------------------------------------------------------
    def endpoint_stats(self, seconds: float) -> list[EndpointStats]:
        return [t.stats(m, n, seconds) for (m, n), t in sorted(self.series.items(), key=lambda kv: (kv[0][1], kv[0][0]))]

    def total_stats(self, seconds: float) -> EndpointStats:
        return self.total.stats("", AGGREGATED, seconds)

    def failure_groups(self) -> list[FailureGroup]:
        return [FailureGroup(m, n, k, msg, c) for (m, n, k, msg), c in self.errors.most_common()]

    def failures_by_kind(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for (_, _, kind, _), count in self.errors.items():
            out[kind] += count
        return dict(out)

    def custom_stats(self, seconds: float) -> list[CustomMetricStats]:
        return [m.stats(seconds) for _, m in sorted(self.metrics.items())]

    def histograms(self) -> dict[str, str]:
        """Encoded cumulative latency histograms, keyed ``"METHOD NAME"`` (and ``"*"`` for all)."""
        out = {f"{m} {n}": t.latency.encode() for (m, n), t in sorted(self.series.items())}
        out["*"] = self.total.latency.encode()
        return out
