"""Stepped runs (stress ``--until-break``): each step judged on its own window, once it settled.

Judged on the totals since the run began, a stress run breaks at the wrong step both ways: a
latency spike in the first seconds (users starting, connections opening, caches cold) ends it
at a healthy step, and a real break late in the run is diluted by every healthy step before
it, so it is found a step or more too late. So each step is judged on its own window: the
intervals that lie wholly inside the step after its settle time (by default the step's first
:data:`SETTLE_SHARE`, or ``--abort-grace``), added up as they close.

Glossary
    step         a stage of the plan that lasts (the stress profile jumps to a level, then
                 holds it: each hold is a step), numbered from 1
    settle time  the start of a step that is never judged
    window       the step's intervals after its settle time, so far (HDR histograms add)

Pure: the run hands over each closed interval through :class:`~surge.metrics.aggregate.RunStats`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..metrics.aggregate import RunStats, SpanStats
from ..model.plan import Stage

#: the share of each step that settles before it is judged, unless --abort-grace says otherwise
SETTLE_SHARE = 0.25
_EPS = 1e-6


@dataclass(frozen=True)
class Step:
    number: int
    start_s: float
    end_s: float
    level: float  # users (closed) or iterations/s (open)
    settle_s: float

    @property
    def judged_from_s(self) -> float:
        return min(self.start_s + self.settle_s, self.end_s)

    def judges(self, from_s: float, to_s: float) -> bool:
        """Whether the interval ``[from_s, to_s)`` lies wholly in the judged part of the step."""
        return from_s >= self.judged_from_s - _EPS and to_s <= self.end_s + _EPS


def plan_steps(stages: Sequence[Stage], settle_s: float | None = None) -> tuple[Step, ...]:
    """The steps of ``stages``; ``settle_s`` None: the first :data:`SETTLE_SHARE` of each."""
    out: list[Step] = []
    t = 0.0
    for stage in stages:
        if stage.duration_s > 0:
            settle = SETTLE_SHARE * stage.duration_s if settle_s is None else settle_s
            out.append(Step(len(out) + 1, t, t + stage.duration_s, stage.target, settle))
        t += stage.duration_s
    return tuple(out)


def unjudged(steps: Sequence[Step], interval_s: float) -> Step | None:
    """The first step that holds no whole interval after its settle time (it could never break)."""
    for step in steps:
        first = math.ceil(step.judged_from_s / interval_s - _EPS) * interval_s
        if first + interval_s > step.end_s + _EPS:
            return step
    return None


class StepWindows:
    """Adds each closed interval to the window of the step it belongs to (if any)."""

    def __init__(self, steps: Sequence[Step], interval_s: float, unit: str = "users") -> None:
        self.steps = tuple(steps)
        self.interval_s = interval_s
        self.unit = unit  # what a level counts: users, or iterations/s in an open run
        self.step: Step | None = None
        self.span = SpanStats()
        self.from_s = self.to_s = 0.0
        self._seen = 0  # RunStats.windows already taken

    def take(self, stats: RunStats, elapsed_s: float) -> bool:
        """Take the interval that ended at ``elapsed_s``; True when it joined a step's window."""
        if stats.windows == self._seen or stats.last_window is None:
            return False
        self._seen = stats.windows
        from_s = max(elapsed_s - self.interval_s, 0.0)
        step = next((s for s in self.steps if s.judges(from_s, elapsed_s)), None)
        if step is None:
            return False
        if step != self.step:
            self.step, self.span, self.from_s = step, SpanStats(), from_s
        self.span.add(stats.last_window)
        self.to_s = elapsed_s
        return True

    @property
    def span_s(self) -> float:
        return self.to_s - self.from_s

    def describe(self) -> dict:
        """The window judged, for the breaking point (summary.json)."""
        step = self.step
        assert step is not None
        held = self.steps[step.number - 2].level if step.number > 1 else None
        return {"step": step.number, "step_level": step.level, "held_level": held,
                "settle_s": round(step.settle_s, 3), "window_from_s": round(self.from_s, 3),
                "window_to_s": round(self.to_s, 3), "window_requests": self.span.total.requests}
