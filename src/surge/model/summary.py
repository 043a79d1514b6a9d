"""What a run produced, as plain records. Outputs and the console turn these into files and text.

Latencies are in milliseconds, rates in requests per second, error rates as fractions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

SCHEMA_VERSION = 1

#: The percentiles every output reports, as (key, percentile). Keys follow summary.json.
PERCENTILES: tuple[tuple[str, float], ...] = (
    ("p50", 50.0),
    ("p66", 66.0),
    ("p75", 75.0),
    ("p80", 80.0),
    ("p90", 90.0),
    ("p95", 95.0),
    ("p98", 98.0),
    ("p99", 99.0),
    ("p999", 99.9),
    ("p9999", 99.99),
)


@dataclass(frozen=True)
class Latency:
    """Latency statistics in ms. All zero when nothing was timed."""

    min: float = 0.0
    mean: float = 0.0
    p50: float = 0.0
    p66: float = 0.0
    p75: float = 0.0
    p80: float = 0.0
    p90: float = 0.0
    p95: float = 0.0
    p98: float = 0.0
    p99: float = 0.0
    p999: float = 0.0
    p9999: float = 0.0
    max: float = 0.0


@dataclass(frozen=True)
class EndpointStats:
    """One (method, name) series, or the aggregate (``method=""``, ``name="Aggregated"``)."""

    method: str
    name: str
    requests: int  # responses received plus timeouts (everything timed or failed, not cancelled)
    failures: int
    cancelled: int
    rps: float
    failures_per_s: float
    error_rate: float
    latency_ms: Latency
    bytes_received: int = 0
    bytes_sent: int = 0
    avg_content_length: float = 0.0
    #: open workloads: latency from the actual send (without queueing behind a stalled target)
    service_time_ms: Latency | None = None


@dataclass(frozen=True)
class FailureGroup:
    method: str
    name: str
    kind: str  # connect | timeout | reset | protocol | status | check | exception
    message: str
    count: int


@dataclass(frozen=True)
class ThresholdResult:
    target: str
    expression: str
    actual: float | None  # None when the target matched nothing
    passed: bool
    message: str = ""
    abort_on_fail: bool = False


@dataclass(frozen=True)
class GeneratorInfo:
    processes: int
    workers_lost: int = 0
    cpu_percent_max: float = 0.0
    saturated: bool = False


@dataclass(frozen=True)
class CustomMetricStats:
    """A scenario's own metric. ``kind`` is trend (values in the metric's unit), rate or counter."""

    name: str
    kind: str
    count: int
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class HistoryRow:
    """One interval of the run, as stats_history.csv wants it: window rates and percentiles, cumulative totals."""

    timestamp: float  # unix seconds at the end of the interval
    elapsed_s: float
    users: int
    stage: int
    window: EndpointStats  # this interval's (or recent window's) figures
    cumulative: EndpointStats  # totals since the start


@dataclass(frozen=True)
class RunSummary:
    status: str  # passed | failed | interrupted | error
    scenario: str
    profile: str | None
    host: str
    started_at: str  # ISO 8601 UTC
    duration_s: float
    workload: str  # closed | open
    total: EndpointStats
    endpoints: tuple[EndpointStats, ...]
    failures: tuple[FailureGroup, ...]
    failures_by_kind: dict[str, int]
    thresholds: tuple[ThresholdResult, ...]
    generator: GeneratorInfo
    dropped_iterations: int | None = None
    custom_metrics: tuple[CustomMetricStats, ...] = ()
    breaking_point: dict | None = None
    warnings: tuple[str, ...] = ()
    aborted_by: str | None = None  # label of the threshold that aborted the run
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return asdict(self)
