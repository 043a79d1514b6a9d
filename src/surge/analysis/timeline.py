"""A run's intervals as points, and the levels the load was held at. Pure.

The findings (:mod:`surge.analysis.findings`) and ``surge capacity`` look at a run the way the
teams' guides do by hand: one line per load level ("at 200 users: 1,840 req/s, p95 120 ms,
0.1% errors"), and within a steady level, how the figures move over time.

Glossary
    point    one interval of the run, all requests together: when it ended, the planned level
             then, how many requests and failures it counted, its RPS and its latency stats
    level    the planned load, in users (closed workload) or iterations/s (open)
    hold     consecutive points at one level, at least :data:`HOLD_MIN_POINTS` of them (a stress
             step, a load profile's plateau, a soak); its first :data:`SETTLE_SHARE` settles
             (users starting, connections opening) and is left out of its figures
    ramp     the points between holds, where the level changes every interval or two; cut into
             slices of at least :data:`HOLD_MIN_POINTS` points, at most :data:`RAMP_SLICES` per ramp
    Level    a hold or a ramp slice, summed up: RPS is its requests over its span and the error
             rate its failures over its requests (both exact); mean is weighted by requests
             (exact), max the largest (exact); a percentile is the request-weighted median of
             its intervals' percentiles (an interval's value is exact; the level's is close to
             the level's own percentile when the intervals are alike, which they are in a hold)

The points come from the run as it goes (:class:`~surge.analysis.observer.FindingsObserver`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

#: a run of at least this many intervals at one level is a hold
HOLD_MIN_POINTS = 3
#: the share of a hold that settles and is not summed up (at least one point once it has three)
SETTLE_SHARE = 0.25
#: a ramp is cut into at most this many slices
RAMP_SLICES = 10
_SAME = 1e-6
L = TypeVar("L", bound=Any)


@dataclass(frozen=True)
class Point:
    t_s: float  # elapsed time at the interval's end
    span_s: float  # the time its counts were taken over
    level: float  # the plan's level then: users or iterations/s
    users: int  # VUs alive
    stage: int
    requests: int
    failures: int
    rps: float
    #: latency stats in ms by threshold stat name (mean, max, p50, p95, p99, p99.9...); empty
    #: when the interval timed nothing
    latency: Mapping[str, float] = field(default_factory=dict)

    @property
    def error_rate(self) -> float | None:
        return self.failures / self.requests if self.requests else None


@dataclass(frozen=True)
class Level:
    level: float
    from_s: float  # the start of the first interval summed up
    to_s: float
    points: tuple[Point, ...]  # the intervals summed up (a hold's settling ones left out)
    hold: bool
    stage: int

    @property
    def span_s(self) -> float:
        return self.to_s - self.from_s

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.points)

    @property
    def failures(self) -> int:
        return sum(p.failures for p in self.points)

    @property
    def rps(self) -> float:
        return self.requests / self.span_s if self.span_s > 0 else 0.0

    @property
    def ok_rps(self) -> float:
        """Successful requests per second (what the target really served: a server that turns
        requests away answers them fast, so its failures alone can raise the RPS)."""
        return (self.requests - self.failures) / self.span_s if self.span_s > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0

    @property
    def users(self) -> int:
        return max((p.users for p in self.points), default=0)

    def value(self, stat: str) -> float | None:
        """``rps``, ``error_rate``, ``requests``, ``failures`` or a latency stat (None: nothing timed)."""
        if stat == "rps":
            return self.rps
        if stat == "error_rate":
            return self.error_rate if self.requests else None
        if stat in ("requests", "failures"):
            return float(getattr(self, stat))
        timed = [(p.latency[stat], p.requests) for p in self.points if stat in p.latency and p.requests]
        if not timed:
            return None
        if stat == "max":
            return max(v for v, _ in timed)
        if stat == "min":
            return min(v for v, _ in timed)
        if stat == "mean":
            return sum(v * w for v, w in timed) / sum(w for _, w in timed)
        return weighted_median(timed)


def weighted_median(values: Sequence[tuple[float, float]]) -> float:
    """The median of ``(value, weight)`` pairs (the lower one when the halves balance exactly)."""
    ordered = sorted(values)
    half = sum(w for _, w in ordered) / 2.0
    seen = 0.0
    for value, weight in ordered:
        seen += weight
        if seen >= half:
            return value
    return ordered[-1][0]


def levels(points: Sequence[Point]) -> tuple[Level, ...]:
    """The holds and ramp slices of a run, in time order (see the module docstring)."""
    out: list[Level] = []
    ramp: list[Point] = []
    for group in _runs(points):
        if len(group) >= HOLD_MIN_POINTS:
            out += _slices(ramp)
            ramp = []
            out.append(_hold(group))
        else:
            ramp += group
    return tuple(out + _slices(ramp))


def holds(points: Sequence[Point]) -> tuple[Level, ...]:
    return tuple(level for level in levels(points) if level.hold)


def rising(found: Sequence[L]) -> tuple[L, ...]:
    """The levels up to the first that reached the run's highest level, those lower than an
    earlier one left out (a spike's drop, a ramp-down): the climb a stress or ramp run makes.
    Anything with a ``level`` will do (a :class:`Level`, summary.json's levels)."""
    out: list[L] = []
    if not found:
        return ()
    top = max(level.level for level in found)
    for level in found:
        if out and level.level <= out[-1].level + _SAME:
            continue
        out.append(level)
        if level.level >= top - _SAME:
            break
    return tuple(out)


def _runs(points: Sequence[Point]) -> list[list[Point]]:
    groups: list[list[Point]] = []
    for p in points:
        if groups and abs(groups[-1][-1].level - p.level) <= _SAME * max(1.0, abs(p.level)):
            groups[-1].append(p)
        else:
            groups.append([p])
    return groups


def _hold(group: list[Point]) -> Level:
    settle = max(1, math.floor(SETTLE_SHARE * len(group)))
    kept = group[settle:]
    return Level(group[0].level, _start(kept[0]), kept[-1].t_s, tuple(kept), True, kept[0].stage)


def _slices(ramp: list[Point]) -> list[Level]:
    if not ramp:
        return []
    size = max(HOLD_MIN_POINTS, math.ceil(len(ramp) / RAMP_SLICES))
    out = []
    for i in range(0, len(ramp), size):
        part = ramp[i:i + size]
        level = sum(p.level for p in part) / len(part)
        out.append(Level(level, _start(part[0]), part[-1].t_s, tuple(part), False, part[0].stage))
    return out


def _start(p: Point) -> float:
    return max(0.0, p.t_s - p.span_s)
