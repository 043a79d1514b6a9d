"""Judge parsed thresholds against a run's cumulative stats. Pure: no clock, no I/O.

The same function serves the live check every interval (for ``abort_on_fail``) and the final
verdict. Targets resolve as DESIGN.md says:

    ``*``            every request, merged into one histogram (``RunStats.total``)
    ``METHOD NAME``  that series (the method compares case-insensitively)
    ``NAME``         every method with that name, merged
    a metric name    a custom metric (trend, rate, counter), unless the stat is request-only

A target that matches nothing fails with a message naming the closest known targets: a typo
in a threshold must never pass silently.
"""
from __future__ import annotations

import dataclasses
import difflib
import operator
from collections.abc import Callable, Iterable, Sequence

from ..metrics.aggregate import MetricTotals, RunStats, SeriesTotals
from ..metrics.custom import TREND_SCALE
from ..metrics.hdr import Histogram
from ..model.plan import ThresholdSpec
from ..model.summary import ThresholdResult
from .parse import MONITORS, is_monitor_stat, percentile_of

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
#: stats that only make sense for requests; a metric of the same name never claims them
REQUEST_STATS = ("rps", "error_rate", "requests", "failures")
_METRIC_STATS = {
    "trend": "min, mean, max, pN, count",
    "rate": "rate, count",
    "counter": "count, rate",
}
#: a trend's values are in its own unit; time units are brought to ms like the spec's value
_TREND_TO_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}
_KNOWN_SHOWN = 5


class _NoValue(Exception):
    """The target matched, but the stat has no value for it (message says why)."""


def evaluate(specs: Iterable[ThresholdSpec], stats: RunStats, elapsed_s: float) -> list[ThresholdResult]:
    """One result per spec, on cumulative values; ``actual`` is in the spec's normalised unit."""
    merged: dict[str, SeriesTotals | None] = {}
    return [_evaluate_one(spec, stats, elapsed_s, merged) for spec in specs]


def failing(results: Iterable[ThresholdResult]) -> list[ThresholdResult]:
    return [r for r in results if not r.passed]


def should_abort(
    results: Sequence[ThresholdResult], elapsed_s: float, abort_grace_s: float, *, until_break: bool = False
) -> ThresholdResult | None:
    """The result that stops the run now, else None: the one abort policy of a run.

    With ``until_break`` (a stress run stepping up until something breaks) the first failing
    result stops it, whatever the grace period; otherwise the first failing ``abort_on_fail``
    result once ``abort_grace_s`` has passed. A target that matched nothing *yet* never aborts
    (a rare endpoint may still come up); the final verdict fails it instead.
    """
    if elapsed_s < abort_grace_s and not until_break:
        return None
    for r in results:
        if (r.abort_on_fail or until_break) and not r.passed and r.actual is not None:
            return r
    return None


def _evaluate_one(
    spec: ThresholdSpec, stats: RunStats, elapsed_s: float, merged: dict[str, SeriesTotals | None]
) -> ThresholdResult:
    if spec.target in MONITORS and is_monitor_stat(spec.stat):
        return _monitor_result(spec, stats.monitors.get(spec.target))
    metric = stats.metrics.get(spec.target)
    try:
        if metric is not None and spec.stat not in REQUEST_STATS:
            actual = _metric_value(metric, spec.stat, elapsed_s)
        else:
            if spec.target not in merged:
                merged[spec.target] = _match(spec.target, stats)
            totals = merged[spec.target]
            if totals is None:
                return _result(spec, None, _unmatched(spec.target, stats))
            if spec.stat == "count":  # k6's word, on a NAME that turned out to be requests
                spec = dataclasses.replace(spec, stat="requests")
            actual = _series_value(totals, spec.stat, elapsed_s)
    except _NoValue as exc:
        return _result(spec, None, f"{spec.target!r}: {exc}")
    return _result(spec, actual)


def _result(spec: ThresholdSpec, actual: float | None, message: str = "") -> ThresholdResult:
    passed = actual is not None and _COMPARE[spec.op](actual, spec.value)
    return ThresholdResult(spec.target, spec.expression, actual, passed, message, spec.abort_on_fail, spec.stat)


# -- requests ----------------------------------------------------------------------------
def _match(target: str, stats: RunStats) -> SeriesTotals | None:
    """The merged totals of every series the target names, or None when it names none."""
    if target == "*":
        return stats.total if stats.series else None
    method, _, name = target.partition(" ")
    keys = [
        key for key in stats.series
        if key[1] == target or (key[0].upper() == method.upper() and key[1] == name)
    ]
    if not keys:
        return None
    if len(keys) == 1:
        return stats.series[keys[0]]
    out = SeriesTotals()
    for key in keys:
        out.merge(stats.series[key])
    return out


def _series_value(t: SeriesTotals, stat: str, elapsed_s: float) -> float:
    if stat == "rps":
        return t.requests / elapsed_s if elapsed_s > 0 else 0.0
    if stat == "error_rate":
        return t.failures / t.requests if t.requests else 0.0
    if stat == "requests":
        return float(t.requests)
    if stat == "failures":
        return float(t.failures)
    if stat == "rate":
        raise _NoValue("'rate' applies to custom metrics; for requests use rps (per second) or error_rate")
    if not t.latency.count:
        raise _NoValue("no request was timed (every one failed before a response)")
    return _hist_value(t.latency, stat, 1000.0)


def _hist_value(h: Histogram, stat: str, divisor: float) -> float:
    """min/mean/max/pN of a histogram, raw values divided by ``divisor``."""
    if stat == "min":
        return h.min_us / divisor
    if stat == "max":
        return h.max_us / divisor
    if stat == "mean":
        return h.mean_us / divisor
    p = percentile_of(stat)
    if p is None:  # parse() never yields this; kept for specs built by hand
        raise _NoValue(f"unknown statistic {stat!r}")
    return h.percentile_us(p) / divisor


# -- monitors ---------------------------------------------------------------------------------
_MONITOR_HINTS = {
    "target": "pass --monitor-pid, --monitor-port or --monitor-cmd",
    "host": "the host monitor runs unless --no-host-monitor is given",
    "db": "pass --db postgresql://...",
    "redis": "pass --redis redis://...",
}


def _monitor_result(spec: ThresholdSpec, section: dict | None) -> ThresholdResult:
    """A field of a monitor's summary section; a monitor that did not run, a field it does not
    have or has no value for yet fails (a typo must not pass)."""
    if section is None:
        return _result(spec, None, f"no {spec.target} monitor ran; {_MONITOR_HINTS[spec.target]}")
    if spec.stat not in section:
        fields = sorted(k for k, v in section.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        close = difflib.get_close_matches(spec.stat, fields, n=_KNOWN_SHOWN, cutoff=0.5)
        shown = close or fields[:_KNOWN_SHOWN]
        return _result(spec, None, f"the {spec.target} monitor has no {spec.stat!r}; known: {', '.join(shown)}")
    value = section[spec.stat]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return _result(spec, None, f"the {spec.target} monitor has no value for {spec.stat} (yet)")
    return _result(spec, float(value))


# -- custom metrics -------------------------------------------------------------------------
def _metric_value(m: MetricTotals, stat: str, elapsed_s: float) -> float:
    if m.kind == "trend" and stat == "count":
        return float(m.count)
    if m.kind == "trend" and (stat in ("min", "mean", "max") or percentile_of(stat) is not None):
        if m.hist is None or not m.hist.count:
            raise _NoValue("the trend has no values yet")
        return _hist_value(m.hist, stat, TREND_SCALE / _TREND_TO_MS.get(m.unit, 1.0))
    if m.kind == "rate" and stat in ("rate", "count"):
        return (m.hits / m.count if m.count else 0.0) if stat == "rate" else float(m.count)
    if m.kind == "counter" and stat in ("rate", "count"):
        return (m.total / elapsed_s if elapsed_s > 0 else 0.0) if stat == "rate" else m.total
    known = _METRIC_STATS.get(m.kind, "?")
    raise _NoValue(f"'{stat}' does not apply to {m.kind} metric {m.name!r}; use one of {known}")


# -- the unmatched ----------------------------------------------------------------------------
def _unmatched(target: str, stats: RunStats) -> str:
    known = sorted({f"{m} {n}".strip() for m, n in stats.series} | set(stats.metrics))
    if not known:
        return f"no requests matched {target!r}; no requests were recorded"
    close = difflib.get_close_matches(target, known, n=_KNOWN_SHOWN, cutoff=0.5)
    shown = close + [k for k in known if k not in close][: _KNOWN_SHOWN - len(close)]
    more = f" (+{len(known) - len(shown)} more)" if len(known) > len(shown) else ""
    return f"no requests matched {target!r}; known: {', '.join(shown)}{more}"
