"""Baseline comparison: two runs' figures and per-interval history -> regressions, pure.

Glossary:

* **series**: one endpoint (``"GET /v1/facts"``) or ``"*"``, all requests together.
* **metric**: p50, p95, p99 (ms), rps, error_rate. Latency and error rate are worse when
  higher, rps when lower (in a closed workload rps follows latency and think time, so a drop
  there usually echoes a latency regression; in an open workload it means load was lost).
* **relative**: ``(current - baseline) / baseline``; None when the baseline is 0.
* **shift**: the difference of the two runs' per-interval means of the metric. The whole-run
  figures are what a reader sees (and what the tolerance applies to), but a whole-run p99 of a
  short run is close to its maximum, moved by one spike; the shift is what the noise is
  measured against, so one slow interval cannot make a regression on its own.
* **noise**: how far the shift may go by chance, from the two runs' per-interval history:
  ``K * sqrt(sd_b**2 / n_b + sd_c**2 / n_c)``, the combined standard error of the per-interval
  values of the metric (n intervals, sd their standard deviation) times ``K`` (3). Intervals
  are not independent, and an interval's p99 is not the run's, so this is a yardstick of the
  run-to-run spread rather than an exact test; K = 3 keeps unchanged runs quiet. Short
  histories estimate the spread poorly, so K is widened by ``1 + 2.5 / (n_b + n_c - 2)`` (about
  Student's t at the same confidence: x1.3 for 5 intervals each, x1.07 for 20 each).
  With fewer than 2 intervals in either run the noise is unknown (None) and only the
  tolerance applies.
* **regression**: a change for the worse whose relative size (whole-run figures) exceeds the
  tolerance *and* whose shift, for the worse too, exceeds the noise (a Welch-style test on the
  interval values); for a latency, the change must also be at least ``min_latency_change_ms``
  (default 1 ms). The interval spread is within one run; between two runs the generator's own
  scheduling jitter (an event loop on a busy CI machine) can move a sub-millisecond loopback
  latency by 40% with both runs steady, which no within-run noise estimate sees. A baseline of 0 (no errors) counts any worsening as
  beyond the tolerance, so only the noise guards it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: metric -> True when a higher value is worse.
METRICS: dict[str, bool] = {"p50": True, "p95": True, "p99": True, "rps": False, "error_rate": True}
LATENCIES = ("p50", "p95", "p99")
NOISE_K = 3.0
TRIM_ABOVE = 4  # with more intervals than this, the first and last (partial, ramping) are left out
DEFAULT_TOLERANCE = 0.10
DEFAULT_MIN_LATENCY_CHANGE_MS = 1.0
OVERALL = "*"


@dataclass(frozen=True)
class Series:
    """One series of one run: its whole-run figures and its per-interval values, by metric."""

    figures: Mapping[str, float]
    intervals: Mapping[str, Sequence[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunData:
    """What ``compare`` needs of a run: its series keyed ``"METHOD NAME"`` (``"*"``: overall)."""

    label: str
    series: Mapping[str, Series]


@dataclass(frozen=True)
class Row:
    series: str
    metric: str
    baseline: float
    current: float
    delta: float
    relative: float | None
    shift: float | None
    noise: float | None
    worse: bool
    regression: bool


@dataclass(frozen=True)
class Comparison:
    baseline: str
    current: str
    tolerance: float
    min_latency_change_ms: float
    rows: tuple[Row, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]

    @property
    def regressions(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.regression)

    @property
    def regressed(self) -> bool:
        return any(r.regression for r in self.rows)


def series_from(figures: Mapping[str, float], intervals: Sequence[Mapping[str, float]]) -> Series:
    """A :class:`Series` from whole-run figures and one mapping of metric values per interval
    (a metric an interval lacks, such as the p95 of an interval that timed nothing, is left out).
    The first and last intervals (the ramp, a partial end) are dropped when there are enough."""
    if len(intervals) > TRIM_ABOVE:
        intervals = intervals[1:-1]
    return Series(figures=dict(figures),
                  intervals={m: [float(i[m]) for i in intervals if m in i] for m in METRICS})


def compare(baseline: RunData, current: RunData, tolerance: float = DEFAULT_TOLERANCE, k: float = NOISE_K,
            min_latency_change_ms: float = DEFAULT_MIN_LATENCY_CHANGE_MS) -> Comparison:
    """Compare every series present in both runs; regressions first, then by series and metric."""
    common = [key for key in current.series if key in baseline.series]
    rows = [row for key in sorted(common, key=_series_order)
            for row in compare_series(key, baseline.series[key], current.series[key], tolerance, k,
                                      min_latency_change_ms)]
    rows.sort(key=lambda r: not r.regression)  # stable: order within each group kept
    return Comparison(
        baseline=baseline.label, current=current.label, tolerance=tolerance,
        min_latency_change_ms=min_latency_change_ms, rows=tuple(rows),
        added=tuple(sorted(set(current.series) - set(baseline.series))),
        removed=tuple(sorted(set(baseline.series) - set(current.series))),
    )


def compare_series(key: str, base: Series, cur: Series, tolerance: float, k: float = NOISE_K,
                   min_latency_change_ms: float = DEFAULT_MIN_LATENCY_CHANGE_MS) -> list[Row]:
    rows = []
    for metric, higher_is_worse in METRICS.items():
        if metric not in base.figures or metric not in cur.figures:
            continue  # e.g. a latency of a series that timed nothing
        b, c = float(base.figures[metric]), float(cur.figures[metric])
        delta = c - b
        relative = delta / b if b else (0.0 if not delta else None)
        worse = delta > 0 if higher_is_worse else delta < 0
        b_intervals, c_intervals = base.intervals.get(metric, ()), cur.intervals.get(metric, ())
        noise = noise_of(b_intervals, c_intervals, k)
        shift = None if noise is None else _mean(c_intervals) - _mean(b_intervals)
        beyond_tolerance = worse and (relative is None or abs(relative) > tolerance)
        if metric in LATENCIES:
            beyond_tolerance = beyond_tolerance and abs(delta) >= min_latency_change_ms
        beyond_noise = shift is None or ((shift > 0) == (delta > 0) and abs(shift) > noise)
        rows.append(Row(key, metric, b, c, delta, relative, shift, noise, worse, beyond_tolerance and beyond_noise))
    return rows


def noise_of(base: Sequence[float], cur: Sequence[float], k: float = NOISE_K) -> float | None:
    """``k`` times the combined standard error of two samples of per-interval values."""
    if len(base) < 2 or len(cur) < 2:
        return None
    widen = 1 + 2.5 / (len(base) + len(cur) - 2)
    return k * widen * math.sqrt(_variance(base) / len(base) + _variance(cur) / len(cur))


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def _variance(values: Sequence[float]) -> float:
    mean = _mean(values)
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def _series_order(key: str) -> tuple[bool, str]:
    return key != OVERALL, key
