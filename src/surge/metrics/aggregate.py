"""Coordinator-side aggregation: merge worker snapshots into per-interval and cumulative stats.

``RunStats`` is the one place that turns histograms and counters into :class:`EndpointStats`.
The console, the threshold evaluator, the history writer and the final summary all read it.

Snapshots are merged by their interval index, not by arrival time: :meth:`RunStats.close` takes
every snapshot of one interval at once (as :class:`surge.metrics.intervals.IntervalBook` hands
them over), builds that interval's window and adds it to the cumulative totals. A snapshot
that arrives after its interval was closed goes to :meth:`RunStats.add_late`: counted in the
totals (nothing is ever dropped), not in any window.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..model.kinds import FailureKind
from ..model.summary import PERCENTILES, CustomMetricStats, EndpointStats, FailureGroup, Latency
from .custom import TREND_SCALE
from .hdr import Histogram
from .recorder import CAP_WARNING, MAX_SERIES, OTHER, TASK
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
    messages_sent: int = 0
    messages_received: int = 0

    def add(self, s: SeriesSnapshot) -> None:
        """Merge one worker's interval of this series (sparse wire histograms)."""
        self._merge(Histogram.from_wire(s.latency) if s.latency is not None else None,
                    Histogram.from_wire(s.service) if s.service is not None else None, s, owned=True)

    def merge(self, other: "SeriesTotals") -> None:
        self._merge(other.latency, other.service, other)

    @classmethod
    def merged(cls, parts: Iterable["SeriesTotals"]) -> "SeriesTotals":
        """The union of many series in one pass (an interval's all-requests total)."""
        parts = list(parts)
        services = [p.service for p in parts if p.service is not None]
        out = cls(Histogram.merged(p.latency for p in parts),
                  Histogram.merged(services) if services else None)
        for p in parts:
            out._count(p)
        return out

    def _merge(self, latency: Histogram | None, service: Histogram | None, counts, owned: bool = False) -> None:
        """``owned``: the histograms were decoded for this merge alone, so they may be taken as they are."""
        if latency is not None and latency.count:
            if self.latency.count:
                self.latency.merge(latency)
            else:
                self.latency = latency if owned else latency.copy()
        if service is not None:
            if self.service is None:
                self.service = service if owned else service.copy()
            else:
                self.service.merge(service)
        self._count(counts)

    def _count(self, counts) -> None:
        self.requests += counts.requests
        self.failures += counts.failures
        self.cancelled += counts.cancelled
        self.bytes_received += counts.bytes_received
        self.bytes_sent += counts.bytes_sent
        self.messages_sent += counts.messages_sent
        self.messages_received += counts.messages_received

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
            messages_sent=self.messages_sent, messages_received=self.messages_received,
        )


_PERCENTS = [p for _, p in PERCENTILES]
_NO_LATENCY = Latency()


def latency_of(h: Histogram, scale: float = 1000.0) -> Latency:
    """Latency in ms from a µs histogram (``scale`` divides raw values).

    Runs for every series with traffic, twice (window and cumulative), every interval: built
    positionally (min, mean, the percentiles, max: Latency's field order) to keep it cheap."""
    if not h.count:
        return _NO_LATENCY
    ps = h.percentiles_us(_PERCENTS)
    return Latency(h.min_us / scale, h.mean_us / scale, *(ps[p] / scale for p in _PERCENTS), h.max_us / scale)


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
        self._add(Histogram.from_wire(m.hist) if m.hist is not None else None, m)

    def merge(self, other: "MetricTotals") -> None:
        self._add(other.hist, other)

    def _add(self, hist: Histogram | None, counts) -> None:
        if hist is not None:
            self.hist = self.hist or Histogram()
            self.hist.merge(hist)
        self.count += counts.count
        self.hits += counts.hits
        self.total += counts.total

    def stats(self, seconds: float) -> CustomMetricStats:
        if self.kind == "trend" and self.hist is not None:
            lat = latency_of(self.hist, scale=TREND_SCALE)
            values = {k: v for k, v in vars(lat).items()}
        elif self.kind == "rate":
            values = {"rate": self.hits / self.count if self.count else 0.0}
        else:
            values = {"count": self.total, "rate": self.total / seconds if seconds > 0 else 0.0}
        return CustomMetricStats(self.name, self.kind, self.count, values, self.unit)


@dataclass
class IntervalWindow:
    """One closed interval: its all-requests total, each series with traffic in it, and the
    custom metrics that had values in it."""

    total: SeriesTotals
    series: dict[Key, SeriesTotals]
    metrics: dict[str, MetricTotals] = field(default_factory=dict)


class SpanStats:
    """Closed intervals added up: the stats of a span of the run (a stress step's window).

    It reads like :class:`RunStats` where the threshold evaluator looks (``series``, ``total``,
    ``metrics``), so a span is judged exactly as the whole run is. HDR histograms add losslessly.
    """

    def __init__(self) -> None:
        self.series: dict[Key, SeriesTotals] = {}
        self.total = SeriesTotals()
        self.metrics: dict[str, MetricTotals] = {}
        self.intervals = 0

    def add(self, window: IntervalWindow) -> None:
        for key, part in window.series.items():
            self.series.setdefault(key, SeriesTotals()).merge(part)
        self.total.merge(window.total)
        for name, m in window.metrics.items():
            self.metrics.setdefault(name, MetricTotals(m.name, m.kind, m.unit)).merge(m)
        self.intervals += 1


class RunStats:
    """Everything merged so far: cumulative per series and overall, plus the run-wide counters."""

    def __init__(self) -> None:
        self.series: dict[Key, SeriesTotals] = {}
        self.total = SeriesTotals()
        self.metrics: dict[str, MetricTotals] = {}
        self.errors: Counter[tuple[str, str, str, str]] = Counter()
        self.dropped_iterations = 0
        self.iterations = 0
        self.users_started = 0
        self.users_start_failed = 0
        self.warnings: list[str] = []
        #: the window :meth:`close` made last, and how many it made (a judge adds up its own spans)
        self.last_window: IntervalWindow | None = None
        self.windows = 0
        #: what the run's monitors saw so far, by monitor name (their summary sections): the
        #: values a threshold on a monitor (``db: connections_used_pct_max<80``) is judged on
        self.monitors: dict[str, dict] = {}
        self._named = 0  # series other than (other): each worker caps its own, so the run caps again

    # -- merging ------------------------------------------------------------------------------
    def close(self, snaps: Iterable[Snapshot]) -> IntervalWindow:
        """Merge every snapshot of one interval; return the interval's window."""
        window: dict[Key, SeriesTotals] = {}
        metrics: dict[str, MetricTotals] = {}
        for snap in snaps:
            for s in self._absorb(snap, metrics):
                key = self._key(s.method, s.name)
                part = window.get(key)
                if part is None:
                    part = window[key] = SeriesTotals()
                part.add(s)
        for key, part in window.items():
            self._cumulative(key).merge(part)
        total = SeriesTotals.merged(window.values())
        self.total.merge(total)
        self.last_window = IntervalWindow(total, window, metrics)
        self.windows += 1
        return self.last_window

    def add_late(self, snap: Snapshot) -> None:
        """A snapshot whose interval was already closed: into the totals, not into any window."""
        for s in self._absorb(snap):
            part = SeriesTotals()
            part.add(s)
            self._cumulative(self._key(s.method, s.name)).merge(part)
            self.total.merge(part)

    def _absorb(self, snap: Snapshot, window: dict[str, MetricTotals] | None = None) -> list[SeriesSnapshot]:
        """Take a snapshot's run-wide counters, failures and custom metrics (into ``window`` too,
        when given); hand back its series to merge."""
        for s in snap.series:
            key = self._key(s.method, s.name)
            for kind, message, count in s.errors:
                self.errors[(*key, kind, message)] += count
        for m in snap.metrics:
            part = MetricTotals(m.name, m.kind, m.unit)
            part.add(m)
            self.metrics.setdefault(m.name, MetricTotals(m.name, m.kind, m.unit)).merge(part)
            if window is not None:
                window.setdefault(m.name, MetricTotals(m.name, m.kind, m.unit)).merge(part)
        self.dropped_iterations += snap.dropped_iterations
        self.iterations += snap.iterations
        self.users_started += snap.users_started
        self.users_start_failed += snap.users_start_failed
        for w in snap.warnings:
            self.warn(w)
        return snap.series

    def _cumulative(self, key: Key) -> SeriesTotals:
        totals = self.series.get(key)
        if totals is None:
            totals = self.series[key] = SeriesTotals()
        return totals

    def _key(self, method: str, name: str) -> Key:
        """At most MAX_SERIES names per run: workers that each saw different ids still add up."""
        key = (method, name)
        if key in self.series or name == OTHER:
            return key
        if self._named < MAX_SERIES:
            self._named += 1
            self.series[key] = SeriesTotals()
            return key
        self.warn(CAP_WARNING)
        return (method, OTHER)

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # -- views ----------------------------------------------------------------------------
    @property
    def http_requests(self) -> int:
        """Requests sent through a client (answered, failed or cancelled at the end): everything
        but the TASK series of task exceptions."""
        tasks = sum(t.requests for (m, _), t in self.series.items() if m == TASK)
        return self.total.requests + self.total.cancelled - tasks

    def endpoint_stats(self, seconds: float) -> list[EndpointStats]:
        return [t.stats(m, n, seconds) for (m, n), t in sorted(self.series.items(), key=lambda kv: (kv[0][1], kv[0][0]))]

    def total_stats(self, seconds: float) -> EndpointStats:
        return self.total.stats("", AGGREGATED, seconds)

    def failure_groups(self) -> list[FailureGroup]:
        return [FailureGroup(m, n, FailureKind(k), msg, c) for (m, n, k, msg), c in self.errors.most_common()]

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
