"""The findings of a run as an output of it (``surge.outputs.base``, ability ``Annotates``).

It keeps one :class:`~surge.analysis.timeline.Point` per interval (all requests together:
about 0.9 kB each, measured with tracemalloc, so a 2-hour soak at 1 s holds about 7 MB) and, once the run built its
summary, adds the ``levels`` and ``findings`` sections to it. The analysis itself is pure
(:mod:`surge.analysis.findings`); a fault in it costs the findings, never the run.
"""
from __future__ import annotations

from ..model.events import IntervalStats
from ..model.summary import PERCENTILES, EndpointStats, LevelStats, RunSummary
from ..thresholds.parse import percentile_label
from .findings import find
from .timeline import Level, Point, levels

#: the latency stats each point keeps, by threshold stat name
STATS = (("mean", "mean"), ("max", "max"), *((percentile_label(p), key) for key, p in PERCENTILES))
LEVEL_LATENCY = ("mean", "p50", "p90", "p95", "p99", "max")


class FindingsObserver:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.points: list[Point] = []
        self._level: float | None = None  # the plan's level when the interval began

    def handle(self, event) -> None:
        if isinstance(event, IntervalStats):
            self.points.append(point_of(event, self.interval_s, self._level))
            self._level = float(event.target)

    def annotate(self, summary: RunSummary) -> dict:
        return {"findings": find(self.points, summary), "levels": tuple(level_stats(lv) for lv in levels(self.points))}

    def finish(self, result) -> None:
        """Nothing to write: the findings are in the summary."""


def point_of(event: IntervalStats, interval_s: float, level: float | None = None) -> Point:
    """``level``: the plan's level when the interval began (an interval that ends as a step
    begins belongs to the step before), else the level at its end. ``span_s``: the time the
    counts were taken over (requests / rps: a worker that fell behind sends one snapshot for
    several intervals), else one interval."""
    w = event.window
    span = w.requests / w.rps if w.rps > 0 and w.requests else interval_s
    level = float(event.target) if level is None else level
    return Point(t_s=event.elapsed_s, span_s=span, level=level, users=event.users,
                 stage=event.stage, requests=w.requests, failures=w.failures, rps=w.rps, latency=latency_of(w))


def latency_of(w: EndpointStats) -> dict[str, float]:
    if not w.requests or not w.latency_ms.max:  # nothing timed
        return {}
    return {name: getattr(w.latency_ms, key) for name, key in STATS}


def level_stats(level: Level) -> LevelStats:
    return LevelStats(level=level.level, hold=level.hold, stage=level.stage, from_s=level.from_s, to_s=level.to_s,
                      intervals=len(level.points), users=level.users, requests=level.requests,
                      failures=level.failures, rps=level.rps, error_rate=level.error_rate,
                      latency_ms={stat: level.value(stat) for stat in LEVEL_LATENCY})
