"""The per-interval snapshot a worker hands the coordinator, and its wire encoding.

The same bytes travel over a local pipe or, later, between Ray actors: the protocol is
independent of the transport. JSON keeps it debuggable; histograms inside are the standard
compressed HDR encoding, so a snapshot of a busy endpoint stays a few kB.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

PROTOCOL_VERSION = 1


@dataclass
class SeriesSnapshot:
    """One series' interval: tags (method, name today), encoded histograms and counters."""

    method: str
    name: str
    latency: str | None = None  # encoded HDR of latency in µs (None when nothing was timed)
    service: str | None = None  # open workloads: encoded HDR of service time in µs
    requests: int = 0
    failures: int = 0
    cancelled: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    errors: list[list] = field(default_factory=list)  # [kind, message, count]


@dataclass
class MetricSnapshot:
    """A custom metric's interval. trend: HDR of value*1000; rate: hits/count; counter: total."""

    name: str
    kind: str
    unit: str = ""
    hist: str | None = None
    count: int = 0
    hits: int = 0
    total: float = 0.0


@dataclass
class Snapshot:
    worker_id: int
    interval: int  # index on the coordinator's timebase (interval_s since the run's t0)
    users: int  # VUs alive in this worker at the end of the interval
    series: list[SeriesSnapshot] = field(default_factory=list)
    metrics: list[MetricSnapshot] = field(default_factory=list)
    dropped_iterations: int = 0
    iterations: int = 0
    task_errors: list[list] = field(default_factory=list)  # [task name, message, count]
    cpu_percent: float = 0.0
    final: bool = False
    warnings: list[str] = field(default_factory=list)
    version: int = PROTOCOL_VERSION

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Snapshot":
        data = json.loads(raw)
        if data.get("version") != PROTOCOL_VERSION:
            raise ValueError(f"snapshot protocol {data.get('version')} is not {PROTOCOL_VERSION}")
        data["series"] = [SeriesSnapshot(**s) for s in data["series"]]
        data["metrics"] = [MetricSnapshot(**m) for m in data["metrics"]]
        return cls(**data)
