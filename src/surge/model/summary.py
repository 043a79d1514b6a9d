"""What a run produced, as plain records. Outputs and the console turn these into files and text.

Latencies are in milliseconds, rates in requests per second, error rates as fractions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .kinds import FailureKind, RunStatus, WorkloadKind

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
    #: WebSocket / Socket.IO series: messages sent and received on their connections
    messages_sent: int = 0
    messages_received: int = 0


@dataclass(frozen=True)
class FailureGroup:
    method: str
    name: str
    kind: FailureKind
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
    #: the statistic judged (``p95``, ``error_rate``, ``rps``...), so writers format ``actual``
    #: in its unit without parsing the expression again
    stat: str = ""

    @property
    def label(self) -> str:
        return f"{self.target}: {self.expression}"


@dataclass(frozen=True)
class Judgement:
    """What judging the thresholds at one moment found: every result, and the one (if any) that
    stops the run now (``abort_on_fail`` after the grace period, or any breach with --until-break)."""

    results: tuple[ThresholdResult, ...] = ()
    abort: ThresholdResult | None = None
    #: with --until-break: the step whose window was judged (number, level, window; see
    #: ``surge.thresholds.steps``), for the breaking point
    step: dict | None = None
    #: summary sections a judge adds to the final judgement, by key (``baseline``: the
    #: comparison of ``surge run --baseline``); the run puts them in the summary
    sections: dict = field(default_factory=dict)

    @property
    def failing(self) -> tuple[ThresholdResult, ...]:
        """Results that failed on a measured value (a target with no data yet is not "failing" live)."""
        return tuple(r for r in self.results if not r.passed and r.actual is not None)


@dataclass(frozen=True)
class ProcessUsage:
    """CPU and memory of one generator process, measured over full intervals only.

    ``worker_id`` is None for the coordinator. With one in-process worker both are the same
    process, reported once as worker 0 with ``shared=True``.
    """

    worker_id: int | None
    cpu_percent_mean: float = 0.0
    cpu_percent_max: float = 0.0
    rss_mb_max: float = 0.0
    intervals: int = 0  # full intervals the figures cover
    lost: str | None = None  # why the worker was lost, if it was
    shared: bool = False


@dataclass(frozen=True)
class GeneratorInfo:
    processes: int
    workers_lost: int = 0
    cpu_percent_max: float = 0.0  # the busiest worker's busiest full interval
    saturated: bool = False  # a worker at >= 90% of a core for 3 consecutive full intervals
    workers: tuple[ProcessUsage, ...] = ()
    coordinator: ProcessUsage | None = None
    #: intervals whose history row was written before every worker's snapshot came in
    partial_intervals: int = 0
    #: snapshots that arrived after their interval's row was written (counted in the totals only)
    late_snapshots: int = 0
    #: the longest any worker's event loop was held (blocking code in a task), ms
    loop_lag_ms_max: float = 0.0


@dataclass(frozen=True)
class UsersInfo:
    """Virtual users over the run: the most alive at once, how many started, how many could not."""

    peak: int = 0
    started: int = 0
    start_failed: int = 0  # on_start raised
    #: per user class name, the most of its VUs alive at once (the peaks may fall at different times)
    by_class: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CustomMetricStats:
    """A scenario's own metric. ``kind`` is trend (values in the metric's unit), rate or counter."""

    name: str
    kind: str
    count: int
    values: dict[str, float] = field(default_factory=dict)
    unit: str = ""  # a trend's unit (``ms`` by default); rates and counters have none


@dataclass(frozen=True)
class Finding:
    """What the analysis of a run found (``surge.analysis.findings``): ``kind`` (breaking_point,
    plateau, latency_drift, error_growth, latency_spikes, generator_saturated,
    dropped_iterations, memory_leak), ``severity`` (info, warning, critical), one plain sentence
    with the numbers, and the figures behind it (keys per kind: summary.schema.json)."""

    kind: str
    severity: str
    message: str
    evidence: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LevelStats:
    """One level the load was held at (a hold) or passed through (a ramp slice), all requests
    together: see ``surge.analysis.timeline`` for how each figure is made."""

    level: float  # users (closed) or iterations/s (open)
    hold: bool
    stage: int  # 0-based, where it started
    from_s: float
    to_s: float
    intervals: int
    users: int  # the most VUs alive in it
    requests: int
    failures: int
    rps: float
    error_rate: float
    latency_ms: dict = field(default_factory=dict)  # mean, p50, p90, p95, p99, max (None: untimed)


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
    status: RunStatus
    scenario: str
    profile: str | None
    host: str
    started_at: str  # ISO 8601 UTC
    duration_s: float
    workload: WorkloadKind
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
    users: UsersInfo = field(default_factory=UsersInfo)
    #: why the status is what it is, one plain sentence each (empty for a clean pass)
    status_reasons: tuple[str, ...] = ()
    #: what each monitor (``surge.monitors``) saw, by its name: target, host, generator, db, redis
    monitors: dict = field(default_factory=dict)
    #: iterations started (task picks; open: arrivals served) and the --iterations bound, if any
    iterations: int = 0
    iterations_limit: int | None = None
    #: ``surge run --baseline DIR``: the comparison with that run (compare.json's shape)
    baseline: dict | None = None
    #: what the analysis found (``surge.analysis.findings``), and the levels it read the run by
    findings: tuple[Finding, ...] = ()
    levels: tuple[LevelStats, ...] = ()
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RunResult:
    """What a finished run hands its outputs: the summary, the final histograms, the exit code.

    ``histograms`` are encoded cumulative latency histograms keyed ``"METHOD NAME"`` (``"*"``: all).
    """

    summary: RunSummary
    histograms: dict[str, str]
    exit_code: int
    out_dir: str = ""
