"""The per-interval snapshot a worker hands the coordinator, and its wire encoding.

The same bytes travel over a local pipe or, later, between Ray actors: the protocol is
independent of the transport. It is JSON (debuggable, safe to parse from another process), with
each series as a positional list rather than an object and its histograms in the sparse wire
form of :meth:`Histogram.to_wire` (only non-zero buckets), so a snapshot costs in proportion
to the traffic of the interval: a series without traffic is not sent at all.

A snapshot labelled ``interval=k`` says: this worker has sent everything it measured up to the
end of interval k (on the coordinator's timebase). A worker whose loop fell behind sends one
snapshot for the latest interval that ended; the coordinator treats the skipped ones as
delivered (empty) by that worker.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..model.kinds import FailureKind

PROTOCOL_VERSION = 5  # 4: users_by_class; 5: messages per series
_KINDS = frozenset(FailureKind)


@dataclass
class SeriesSnapshot:
    """One series' interval: tags (method, name today), sparse histograms and counters."""

    method: str
    name: str
    latency: Any = None  # Histogram.to_wire() of latency in µs (None when nothing was timed)
    service: Any = None  # open workloads: of the service time in µs
    requests: int = 0
    failures: int = 0
    cancelled: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    errors: list[list] = field(default_factory=list)  # [kind, message, count]
    messages_sent: int = 0  # WebSocket / Socket.IO messages
    messages_received: int = 0

    def to_wire(self) -> list:
        return [self.method, self.name, self.latency, self.service, self.requests, self.failures,
                self.cancelled, self.bytes_received, self.bytes_sent, self.errors,
                self.messages_sent, self.messages_received]

    @classmethod
    def from_wire(cls, item: Any) -> "SeriesSnapshot":
        (method, name, latency, service, requests, failures, cancelled, received, sent, errors,
         msgs_sent, msgs_received) = item
        if not (isinstance(method, str) and isinstance(name, str) and isinstance(errors, list)):
            raise ValueError("series tags must be strings and errors a list")
        for e in errors:
            if not (isinstance(e, list) and len(e) == 3 and e[0] in _KINDS and isinstance(e[1], str)
                    and _is_count(e[2])):
                raise ValueError(f"bad error entry {e!r}")
        counts = (requests, failures, cancelled, received, sent)
        if not all(_is_count(c) for c in (*counts, msgs_sent, msgs_received)):
            raise ValueError(f"series counters must be whole numbers >= 0, got {item[4:]!r}")
        return cls(method, name, latency, service, *counts, errors, msgs_sent, msgs_received)


@dataclass
class MetricSnapshot:
    """A custom metric's interval. trend: sparse histogram of value*1000; rate: hits/count; counter: total."""

    name: str
    kind: str
    unit: str = ""
    hist: Any = None
    count: int = 0
    hits: int = 0
    total: float = 0.0

    def to_wire(self) -> list:
        return [self.name, self.kind, self.unit, self.hist, self.count, self.hits, self.total]

    @classmethod
    def from_wire(cls, item: Any) -> "MetricSnapshot":
        name, kind, unit, hist, count, hits, total = item
        if not (isinstance(name, str) and kind in ("trend", "rate", "counter") and isinstance(unit, str)):
            raise ValueError(f"bad metric tags {item[:3]!r}")
        if not (_is_count(count) and _is_count(hits) and isinstance(total, (int, float))):
            raise ValueError(f"bad metric counters {item[4:]!r}")
        return cls(name, kind, unit, hist, count, hits, float(total))


@dataclass
class Snapshot:
    worker_id: int
    interval: int  # index on the coordinator's timebase (interval_s since the run's t0)
    users: int  # VUs alive in this worker at the end of the interval
    series: list[SeriesSnapshot] = field(default_factory=list)
    metrics: list[MetricSnapshot] = field(default_factory=list)
    dropped_iterations: int = 0
    iterations: int = 0
    users_started: int = 0  # VUs whose on_start completed, since the previous snapshot
    users_start_failed: int = 0  # VUs whose on_start raised, since the previous snapshot
    #: the worker process's CPU (user + system) over this full interval, 100 = one core;
    #: None when the snapshot does not cover exactly one full interval (the last, partial one)
    cpu_percent: float | None = None
    rss_mb: float = 0.0
    final: bool = False
    warnings: list[str] = field(default_factory=list)
    #: the wall time this snapshot's counts were taken over (since the worker's previous one), s;
    #: rates divide by it (0: unknown, the interval is used)
    span_s: float = 0.0
    #: the longest the worker's event loop was held in this span (blocking code in a task), ms
    loop_lag_ms: float = 0.0
    #: VUs alive in this worker at the end of the interval, per user class name (they sum to ``users``)
    users_by_class: dict[str, int] = field(default_factory=dict)
    version: int = PROTOCOL_VERSION

    def to_bytes(self) -> bytes:
        doc = [self.version, self.worker_id, self.interval, self.users,
               [s.to_wire() for s in self.series], [m.to_wire() for m in self.metrics],
               self.dropped_iterations, self.iterations, self.users_started, self.users_start_failed,
               self.cpu_percent, self.rss_mb, self.final, self.warnings, self.span_s, self.loop_lag_ms,
               self.users_by_class]
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Snapshot":
        """Parse a snapshot; anything malformed raises ValueError (it came from another process)."""
        try:
            doc = json.loads(raw)
            if not isinstance(doc, list) or not doc or doc[0] != PROTOCOL_VERSION:
                version = doc[0] if isinstance(doc, list) and doc else None
                raise ValueError(f"snapshot protocol {version!r} is not {PROTOCOL_VERSION}")
            (_, worker_id, interval, users, series, metrics, dropped, iterations, started, start_failed,
             cpu, rss_mb, final, warnings, span_s, lag_ms, by_class) = doc
            ints = (worker_id, interval, users, dropped, iterations, started, start_failed)
            if not all(_is_count(v) for v in ints) or not isinstance(final, bool):
                raise ValueError(f"bad snapshot header {doc[:4]!r}")
            if cpu is not None and not isinstance(cpu, (int, float)):
                raise ValueError(f"bad cpu_percent {cpu!r}")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
                       for v in (rss_mb, span_s, lag_ms)):
                raise ValueError(f"bad rss_mb, span_s or loop_lag_ms {(rss_mb, span_s, lag_ms)!r}")
            if not (isinstance(warnings, list) and all(isinstance(w, str) for w in warnings)):
                raise ValueError("warnings must be a list of strings")
            if not (isinstance(by_class, dict) and all(_is_count(n) for n in by_class.values())):
                raise ValueError(f"users_by_class must map class names to counts, got {by_class!r}")
            return cls(worker_id, interval, users, [SeriesSnapshot.from_wire(s) for s in series],
                       [MetricSnapshot.from_wire(m) for m in metrics], dropped, iterations, started,
                       start_failed, None if cpu is None else float(cpu), float(rss_mb), final, warnings,
                       float(span_s), float(lag_ms), by_class)
        except ValueError:
            raise
        except (TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:  # wrong shapes
            raise ValueError(f"malformed snapshot: {type(exc).__name__}: {exc}") from None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
