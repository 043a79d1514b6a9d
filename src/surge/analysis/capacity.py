"""The capacity formula of the teams' guides, fed by a measured run instead of a guess. Pure.

    required instances = ceil(peak × safety / per-instance capacity)

The per-instance capacity is the highest level a stress or ramp run climbed to while the SLA
still held: the levels of its climb (:func:`surge.analysis.timeline.rising`) (``summary.json`` ``levels``, see
:mod:`surge.analysis.timeline`) are judged in order, and the last one before the first that
broke the SLA is what one instance sustains — its users (``--peak-users``) or its measured
RPS (``--peak-rps``). A run that never broke the SLA gives a lower bound (the instance took
at least that much); one that broke it at its first level gives no capacity at all.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..model.errors import ConfigError
from ..model.plan import ThresholdSpec
from ..model.summary import LevelStats
from .findings import level_stat
from .timeline import rising

#: the stats a level has (summary.json ``levels``): what an SLA may judge
LEVEL_STATS = ("rps", "error_rate", "mean", "p50", "p90", "p95", "p99", "max")


@dataclass(frozen=True)
class LevelVerdict:
    level: LevelStats
    broke: tuple[str, ...]  # the SLA expressions it broke, with the value

    @property
    def held(self) -> bool:
        return not self.broke


@dataclass(frozen=True)
class Capacity:
    by: str  # users or rps
    peak: float
    safety: float
    verdicts: tuple[LevelVerdict, ...]  # the climb, judged
    sustained: LevelVerdict | None  # the highest level that held before the first that broke
    never_broke: bool

    @property
    def per_instance(self) -> float | None:
        if self.sustained is None:
            return None
        level = self.sustained.level
        return float(level.rps if self.by == "rps" else level.level)

    @property
    def required_instances(self) -> int | None:
        per = self.per_instance
        if not per:
            return None
        return max(1, math.ceil(self.peak * self.safety / per - 1e-9))


def check_sla(specs: Sequence[ThresholdSpec]) -> None:
    """Refuse what a level cannot judge (exit 2): targets other than all requests, other stats."""
    for spec in specs:
        if spec.target != "*":
            raise ConfigError(f"SLA {spec.target}: {spec.expression}: capacity judges all requests together",
                              "write it without a target, e.g. --sla 'p95<500ms'")
        if level_stat(spec.stat) not in LEVEL_STATS:
            raise ConfigError(f"SLA {spec.expression}: a level has no {spec.stat}",
                              f"use one of {', '.join(LEVEL_STATS)}")


def judge(level: LevelStats, specs: Sequence[ThresholdSpec]) -> LevelVerdict:
    broke = []
    for spec in specs:
        value = value_of(level, level_stat(spec.stat))
        if value is None or not _passes(value, spec.op, spec.value):
            shown = "no value" if value is None else _shown(spec.stat, value)
            broke.append(f"{spec.expression} ({shown})")
    return LevelVerdict(level, tuple(broke))


def plan_capacity(levels: Sequence[LevelStats], specs: Sequence[ThresholdSpec], *, by: str, peak: float,
                  safety: float) -> Capacity:
    climb = rising([level for level in levels if level.requests])
    verdicts = tuple(judge(level, specs) for level in climb)
    sustained = None
    for verdict in verdicts:
        if not verdict.held:
            break
        sustained = verdict
    never_broke = all(v.held for v in verdicts)
    return Capacity(by, peak, safety, verdicts, sustained, never_broke)


def value_of(level: LevelStats, stat: str) -> float | None:
    if stat == "rps":
        return level.rps
    if stat == "error_rate":
        return level.error_rate
    value = level.latency_ms.get(stat)
    return None if value is None else float(value)


def _passes(value: float, op: str, limit: float) -> bool:
    return {"<": value < limit, "<=": value <= limit, ">": value > limit, ">=": value >= limit}[op]


def _shown(stat: str, value: float) -> str:
    if stat == "error_rate":
        return f"{value:.2%}"
    if stat == "rps":
        return f"{value:,.1f}/s"
    return f"{value:,.1f} ms"


def level_from(doc: dict) -> LevelStats:
    """One entry of summary.json's ``levels`` (a malformed one is a ValueError)."""
    try:
        return LevelStats(level=float(doc["level"]), hold=bool(doc["hold"]), stage=int(doc["stage"]),
                          from_s=float(doc["from_s"]), to_s=float(doc["to_s"]), intervals=int(doc["intervals"]),
                          users=int(doc["users"]), requests=int(doc["requests"]), failures=int(doc["failures"]),
                          rps=float(doc["rps"]), error_rate=float(doc["error_rate"]),
                          latency_ms=dict(doc.get("latency_ms") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"a level is malformed ({type(exc).__name__}: {exc})") from None
