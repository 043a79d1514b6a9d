"""What a finished run shows beyond its thresholds: the analysis the teams' guides do by hand. Pure.

Each detector looks at the run's points and levels (:mod:`surge.analysis.timeline`) and its
summary, and returns at most one :class:`~surge.model.summary.Finding`. Each stays quiet on a
healthy steady run: what it reports must stand out of the noise of a loopback run on a busy
machine, so every rule has a relative bar and an absolute floor.

* ``breaking_point`` (warning): on a run whose level rose (stress, ramp), the first level
  whose error rate exceeded :data:`BREAK_ERROR_RATE` or whose latency broke a latency
  threshold of the run; a ``--until-break`` run's breaking point is reported as it was found.
* ``plateau`` (warning): successful RPS stopped rising while the level kept rising — the first
  level that reached :data:`PLATEAU_NEAR` of the highest, when the level later rose by
  :data:`PLATEAU_RISE` more without the RPS following; "then drop" when a later level fell
  below :data:`DROP_BELOW` of it.
* ``latency_drift`` (warning): p95 rising steadily through a hold of at least
  :data:`STEADY_MIN_POINTS` intervals: a Theil–Sen slope whose rise over the hold is at least
  :data:`DRIFT_MIN_RISE` of the hold's starting p95 and :data:`DRIFT_MIN_MS`, with most pairs of
  intervals agreeing (:data:`STEADY_AGREEMENT`, and Kendall's tau :data:`STEADY_Z` standard
  errors from no trend: :func:`steady_trend`).
* ``error_growth`` (warning; critical past 5%): the error rate climbing through a hold the same
  way, ending at 1% or more and at least twice where it began.
* ``latency_spikes`` (info; warning from 3): intervals of a hold whose p99 is at least
  :data:`SPIKE_FACTOR` times the hold's median p99 and :data:`SPIKE_MIN_MS` above it.
* ``generator_saturated`` (warning), ``dropped_iterations`` (warning from 1% of arrivals, info
  below): figures that may be doubtful, and why.
* ``memory_leak`` (critical for a leak, warning for growth in the warning band): the target
  monitor's verdict.

Scaling every time of a run by the same factor changes no verdict (rates are per second and
slopes per minute; the bars are shares and absolute values of what was measured).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from ..metrics.trend import pairs, theil_sen
from ..model.errors import ConfigError
from ..model.kinds import WorkloadKind
from ..model.plan import ThresholdSpec
from ..model.summary import Finding, RunSummary
from ..thresholds.parse import LATENCY_STATS, parse_expression, percentile_label, percentile_of
from .timeline import Level, Point, holds, levels, rising

BREAK_ERROR_RATE = 0.01
PLATEAU_NEAR = 0.9
PLATEAU_RISE = 1.25
DROP_BELOW = 0.8
MIN_LEVEL_REQUESTS = 20
STEADY_MIN_POINTS = 10
STEADY_SETTLE_SHARE = 0.1
STEADY_AGREEMENT = 0.65
#: ... and Kendall's tau that far (in standard errors under no trend) from 0: noise over a short
#: stage agrees by chance (13 intervals of ±30% noise passed 0.65 one time in a few hundred)
STEADY_Z = 3.5
DRIFT_MIN_RISE = 0.2
DRIFT_MIN_MS = 2.0
ERROR_GROWTH_FLOOR = 0.01
SPIKE_FACTOR = 3.0
SPIKE_MIN_MS = 20.0
SPIKE_MIN_REQUESTS = 5


def find(points: Sequence[Point], summary: RunSummary) -> tuple[Finding, ...]:
    """Every finding of the run, in the order of the module docstring."""
    found = levels(points)
    unit = "rate" if summary.workload == WorkloadKind.OPEN else "users"
    limits = latency_limits(summary)
    detectors = (
        breaking_point(found, summary, limits, unit),
        plateau(found, unit, saturated=summary.generator.saturated),
        latency_drift(points, unit),
        error_growth(points, unit),
        latency_spikes(points),
        generator_saturated(summary),
        dropped_iterations(summary),
        memory_leak(summary),
    )
    return tuple(f for f in detectors if f is not None)


def latency_limits(summary: RunSummary) -> tuple[ThresholdSpec, ...]:
    """The run's latency thresholds on all requests (``*``) that set a ceiling (``<``, ``<=``):
    what a level can break besides the error rate."""
    out = []
    for result in summary.thresholds:
        if result.target != "*":
            continue
        try:
            spec = parse_expression(result.target, result.expression)
        except ConfigError:
            continue
        if spec.op in ("<", "<=") and (spec.stat in LATENCY_STATS or percentile_of(spec.stat) is not None):
            out.append(spec)
    return tuple(out)


def level_stat(stat: str) -> str:
    """A threshold's stat as the timeline keys it (``p95``, ``p99.9``, ``mean``)."""
    p = percentile_of(stat)
    return percentile_label(p) if p is not None else stat


def broken(level: Level, limits: Sequence[ThresholdSpec]) -> str | None:
    """Why ``level`` broke (one phrase), or None when it held."""
    if level.requests and level.error_rate > BREAK_ERROR_RATE:
        return f"error rate {level.error_rate:.1%} > {BREAK_ERROR_RATE:.0%}"
    for spec in limits:
        value = level.value(level_stat(spec.stat))
        if value is not None and not _holds(value, spec.op, spec.value):
            return f"{spec.stat} {value:,.1f} ms broke the threshold {spec.expression}"
    return None


# -- the load's shape ----------------------------------------------------------------------------
def breaking_point(found: Sequence[Level], summary: RunSummary, limits: Sequence[ThresholdSpec],
                   unit: str) -> Finding | None:
    if summary.breaking_point:
        return _until_break(summary.breaking_point, found, unit)
    climb = [level for level in rising(found) if level.requests >= MIN_LEVEL_REQUESTS]
    for previous, level in zip(climb, climb[1:]):
        reason = broken(level, limits)
        if reason is None:
            continue
        if broken(previous, limits) is not None:
            return None  # it did not hold at a lower level either: no point where it broke
        evidence = {unit: _level(level.level, unit), "rps": round(level.rps, 3), "elapsed_s": round(level.from_s, 3),
                    "reason": reason, "last_good": {unit: _level(previous.level, unit), "rps": round(previous.rps, 3)}}
        return Finding("breaking_point", "warning",
                       f"The target broke at {_said(level.level, unit)} ({reason}) at {level.from_s:.0f}s, "
                       f"{level.rps:,.1f} req/s; it held at {_said(previous.level, unit)} "
                       f"({previous.rps:,.1f} req/s).", evidence)
    return None


def _until_break(bp: dict, found: Sequence[Level], unit: str) -> Finding:
    level = bp.get("step_level", bp.get("users", bp.get("rate", 0)))
    at = float(bp.get("elapsed_s", 0.0))
    during = [lv for lv in found if lv.from_s - 1e-9 <= at <= lv.to_s + 1e-9] or list(found[-1:])
    rps = during[0].rps if during else 0.0
    actual = bp.get("actual")
    reason = f"{bp.get('threshold', 'a threshold')} (actual {actual:,.4g})" if actual is not None else \
        str(bp.get("threshold", "a threshold broke"))
    evidence = {unit: _level(level, unit), "rps": round(rps, 3), "elapsed_s": round(at, 3),
                "reason": reason, "step": bp.get("step")}
    return Finding("breaking_point", "warning",
                   f"The target broke at {_said(level, unit)} at {at:.0f}s: {reason}, {rps:,.1f} req/s.", evidence)


def plateau(found: Sequence[Level], unit: str, *, saturated: bool = False) -> Finding | None:
    """On successful requests per second: the failures of a target that turns requests away
    come back fast and would make a rising RPS out of a target that is full."""
    climb = [level for level in rising(found) if level.requests >= MIN_LEVEL_REQUESTS]
    if len(climb) < 2:
        return None
    peak = max(level.ok_rps for level in climb)
    if peak <= 0:
        return None
    first = next(i for i, level in enumerate(climb) if level.ok_rps >= PLATEAU_NEAR * peak)
    flat = climb[first]
    later = climb[first + 1:]
    if not later or later[-1].level < PLATEAU_RISE * flat.level:
        return None
    plateau_rps = statistics.median(level.ok_rps for level in climb[first:])
    evidence = {"rps": round(plateau_rps, 3), unit: _level(flat.level, unit), "elapsed_s": round(flat.from_s, 3),
                f"{unit}_max": _level(later[-1].level, unit)}
    message = (f"Throughput stopped rising at {plateau_rps:,.1f} successful req/s from {_said(flat.level, unit)} "
               f"({flat.from_s:.0f}s) while the load rose to {_said(later[-1].level, unit)}: capacity reached")
    dropped = [level for level in later if level.ok_rps < DROP_BELOW * plateau_rps]
    if dropped:
        evidence["drop_rps"] = round(dropped[0].ok_rps, 3)
        evidence["drop_elapsed_s"] = round(dropped[0].from_s, 3)
        message += f", then it dropped to {dropped[0].ok_rps:,.1f} req/s at {_said(dropped[0].level, unit)}"
    if saturated:
        message += " (the load generator was saturated: this may be its limit, not the target's)"
    return Finding("plateau", "warning", message + ".", evidence)


# -- steady levels -------------------------------------------------------------------------------
def _steady(points: Sequence[Point]) -> list[tuple[int, list[Point]]]:
    """Each hold long enough to show a trend, without its first tenth: (stage, points)."""
    out = []
    for hold in holds(points):
        if len(hold.points) < STEADY_MIN_POINTS:
            continue
        skip = math.ceil(STEADY_SETTLE_SHARE * len(hold.points))
        out.append((hold.stage, list(hold.points[skip:])))
    return out


def latency_drift(points: Sequence[Point], unit: str) -> Finding | None:
    def drifts():
        for stage, steady in _steady(points):
            timed = [p for p in steady if "p95" in p.latency and p.requests]
            if len(timed) < STEADY_MIN_POINTS:
                continue
            xs, ys = [p.t_s for p in timed], [p.latency["p95"] for p in timed]
            slope = theil_sen(xs, ys)
            if slope is None or slope <= 0:
                continue
            rise = slope * (xs[-1] - xs[0])
            start = statistics.median(ys[: max(1, len(ys) // 4)])
            if rise >= max(DRIFT_MIN_RISE * start, DRIFT_MIN_MS) and steady_trend(ys):
                yield slope, stage, timed, start, rise

    best = max(drifts(), key=lambda d: d[0], default=None)  # the steepest stage
    if best is None:
        return None
    slope, stage, timed, start, rise = best
    per_min = slope * 60.0
    evidence = {"slope_ms_per_min": round(per_min, 3), "stage": stage + 1, "from_s": round(timed[0].t_s, 3),
                "to_s": round(timed[-1].t_s, 3), "p95_start_ms": round(start, 3), "p95_rise_ms": round(rise, 3),
                unit: _level(timed[0].level, unit)}
    return Finding("latency_drift", "warning",
                   f"p95 rose steadily by {per_min:,.1f} ms/min through stage {stage + 1} at "
                   f"{_said(timed[0].level, unit)} ({timed[0].t_s:.0f}-{timed[-1].t_s:.0f}s, {start:,.1f} ms "
                   f"to about {start + rise:,.1f} ms): a leak or a queue building up.", evidence)


def error_growth(points: Sequence[Point], unit: str) -> Finding | None:
    def growths():
        for stage, steady in _steady(points):
            counted = [p for p in steady if p.requests]
            if len(counted) < STEADY_MIN_POINTS:
                continue
            quarter = max(1, len(counted) // 4)
            begin, end = _rate(counted[:quarter]), _rate(counted[-quarter:])
            if end < ERROR_GROWTH_FLOOR or end < 2 * begin:
                continue
            xs, ys = [p.t_s for p in counted], [100.0 * (p.error_rate or 0.0) for p in counted]
            slope = theil_sen(xs, ys)
            if slope is not None and slope > 0 and steady_trend(ys):
                yield slope, stage, counted, begin, end

    best = max(growths(), key=lambda g: g[0], default=None)  # the steepest stage
    if best is None:
        return None
    slope, stage, counted, begin, end = best
    per_min = slope * 60.0
    evidence = {"slope_pct_per_min": round(per_min, 4), "stage": stage + 1, "from_s": round(counted[0].t_s, 3),
                "to_s": round(counted[-1].t_s, 3), "error_rate_start": round(begin, 6),
                "error_rate_end": round(end, 6), unit: _level(counted[0].level, unit)}
    return Finding("error_growth", "critical" if end > 0.05 else "warning",
                   f"The error rate climbed from {begin:.2%} to {end:.2%} ({per_min:,.2f} points/min) while the "
                   f"load held at {_said(counted[0].level, unit)} (stage {stage + 1}).", evidence)


def latency_spikes(points: Sequence[Point]) -> Finding | None:
    spikes: list[tuple[float, float, float]] = []
    for hold in holds(points):
        timed = [p for p in hold.points if "p99" in p.latency and p.requests >= SPIKE_MIN_REQUESTS]
        if len(timed) < 5:
            continue
        median = statistics.median(p.latency["p99"] for p in timed)
        spikes += [(p.t_s, p.latency["p99"], median) for p in timed
                   if p.latency["p99"] >= SPIKE_FACTOR * median and p.latency["p99"] - median >= SPIKE_MIN_MS]
    if not spikes:
        return None
    worst = max(spikes, key=lambda s: s[1])
    at = [round(t, 3) for t, _, _ in spikes]
    evidence = {"count": len(spikes), "at_s": at, "worst_p99_ms": round(worst[1], 3),
                "median_p99_ms": round(worst[2], 3)}
    when = ", ".join(f"{t:.0f}s" for t in at[:10]) + (" ..." if len(at) > 10 else "")
    return Finding("latency_spikes", "warning" if len(spikes) >= 3 else "info",
                   f"{len(spikes)} interval(s) had p99 far above the usual (worst {worst[1]:,.1f} ms against a "
                   f"median of {worst[2]:,.1f} ms), at {when}: GC pauses or pool exhaustion?", evidence)


# -- doubtful figures, monitors ------------------------------------------------------------------
def generator_saturated(summary: RunSummary) -> Finding | None:
    g = summary.generator
    if not g.saturated:
        return None
    return Finding("generator_saturated", "warning",
                   f"The load generator was saturated (a worker at {g.cpu_percent_max:.0f}% of a core for 3 "
                   f"or more intervals, {g.processes} process(es)): latency and RPS may include its own delay; "
                   "run with more --processes or on a bigger machine.",
                   {"cpu_percent_max": round(g.cpu_percent_max, 1), "processes": g.processes,
                    "loop_lag_ms_max": round(g.loop_lag_ms_max, 1)})


def dropped_iterations(summary: RunSummary) -> Finding | None:
    dropped = summary.dropped_iterations or 0
    if dropped <= 0:
        return None
    arrivals = summary.iterations + dropped
    share = dropped / arrivals if arrivals else 1.0
    return Finding("dropped_iterations", "warning" if share >= 0.01 else "info",
                   f"{dropped:,} iterations ({share:.2%} of arrivals) were dropped: no virtual user was free "
                   "within --max-users, so the load was lighter than planned and their latency is not in the "
                   "figures; raise --max-users or lower the rate.",
                   {"count": dropped, "share": round(share, 6), "arrivals": arrivals})


def memory_leak(summary: RunSummary) -> Finding | None:
    target = summary.monitors.get("target") if isinstance(summary.monitors, dict) else None
    if not isinstance(target, dict) or target.get("verdict") not in ("leak", "warning"):
        return None
    growth = target.get("rss_growth_mb_per_min")
    leak = target["verdict"] == "leak"
    return Finding("memory_leak", "critical" if leak else "warning",
                   f"The target's memory grew by {growth:,.1f} MB/min after its warm-up "
                   f"({'a leak' if leak else 'in the warning band'}: RSS {target.get('rss_mb_start')} -> "
                   f"{target.get('rss_mb_final')} MB).",
                   {"rss_growth_mb_per_min": growth, "verdict": target["verdict"],
                    "rss_mb_start": target.get("rss_mb_start"), "rss_mb_final": target.get("rss_mb_final")})


# -- helpers -------------------------------------------------------------------------------------
def steady_trend(ys: Sequence[float]) -> bool:
    """A rise most pairs agree on (:data:`STEADY_AGREEMENT`) that noise would hardly give:
    Kendall's tau (``2 × agreement − 1``) at least :data:`STEADY_Z` standard errors above 0,
    its standard error under no trend being ``sqrt(2(2n + 5) / (9n(n − 1)))``."""
    n = len(ys)
    if n < 3:
        return False
    share = agreement(ys)
    tau = 2.0 * share - 1.0
    return share >= STEADY_AGREEMENT and tau >= STEADY_Z * math.sqrt(2.0 * (2 * n + 5) / (9.0 * n * (n - 1)))


def agreement(ys: Sequence[float]) -> float:
    """The share of pairs of points (later minus earlier) that rise, among those that differ:
    1 for a steady climb, about 0.5 for noise (the pairs of :func:`surge.metrics.trend.pairs`)."""
    up = down = 0
    for i, j in pairs(len(ys)):
        a, b = (ys[i], ys[j]) if i < j else (ys[j], ys[i])
        if b > a:
            up += 1
        elif b < a:
            down += 1
    return up / (up + down) if up + down else 0.0


def _rate(points: Sequence[Point]) -> float:
    requests = sum(p.requests for p in points)
    return sum(p.failures for p in points) / requests if requests else 0.0


def _holds(value: float, op: str, limit: float) -> bool:
    return value < limit if op == "<" else value <= limit


def _level(level: float, unit: str) -> float | int:
    return int(round(level)) if unit == "users" else round(level, 3)


def _said(level: float, unit: str) -> str:
    return f"{round(level):,} users" if unit == "users" else f"{level:,.1f} iterations/s"
