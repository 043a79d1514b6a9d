"""`surge bench`'s arithmetic: scaling efficiency and where throughput stopped scaling. Pure.

Glossary (the figures of one step of the concurrency sweep, :class:`StepFigures`):

* ``rps`` — requests that ended (answered, failed or timed out) per second of the step, as
  ``surge run`` counts them;
* ``good_rps`` — the same for the requests that did not fail: ``rps × (requests − errors) /
  requests``. A target that answers 500s fast under load is not serving more; scaling is judged
  on this;
* **efficiency** of a step at concurrency ``c``: ``rps_c / (c × rps_1)``, its throughput
  against ``c`` times the throughput of one request at a time (``rps_1``: the sweep's
  concurrency-1 step, else the sequential phase, which is concurrency 1 too). 1.0 is perfect
  scaling; None when there is no ``rps_1`` above zero;
* a step **scaled** when its ``good_rps`` gained at least the smaller of :data:`MAX_NEEDED`
  (25%) and :data:`MIN_SHARE` (half) of what perfect scaling from the step before would add:
  ``good_i >= good_(i-1) × (1 + min(0.25, 0.5 × (c_i / c_(i-1) − 1)))`` — from 10 to 11 it must
  gain 5%, from 4 to 8 or from 1 to 10 at least 25%. Half, not "any gain": a real client needs
  somewhat more than N connections to keep N server workers busy (each connection idles for its
  round trip), so the step just past the knee still gains 10-20%; at most 25%, so a coarse
  sweep (the default 1, 10, 25, 50) still counts 1 -> 10 as scaling when the throughput
  quadrupled; a fall always counts as not scaling;
* **stopped scaling at** ``c_(i-1)``: with the steps in rising concurrency, the first step ``i``
  that did not scale; the answer is the concurrency of the step before, the last one that still
  paid off (the knee lies between the two). A step before which nothing succeeded (``good_rps``
  0) is no reference: the search goes on. None when every step scaled (the target may take
  more), with fewer than two steps, or when no step had a successful request.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: the share of perfect scaling's gain over the previous step that a step must reach to have scaled
MIN_SHARE = 0.5
#: ... but never more than this gain (a coarse sweep's big jumps in concurrency)
MAX_NEEDED = 0.25


@dataclass(frozen=True)
class StepFigures:
    concurrency: int
    requests: int
    errors: int
    rps: float

    @property
    def good_rps(self) -> float:
        if self.requests <= 0:
            return 0.0
        return self.rps * (self.requests - self.errors) / self.requests


def base_rps(steps: Sequence[StepFigures], sequential_rps: float | None) -> float | None:
    """``rps_1``: the concurrency-1 step's rps if the sweep has one, else the sequential phase's."""
    for step in steps:
        if step.concurrency == 1:
            return step.rps
    return sequential_rps


def efficiency(step: StepFigures, rps_1: float | None) -> float | None:
    """``rps_c / (c × rps_1)``; None without an ``rps_1`` above zero."""
    if not rps_1 or rps_1 <= 0 or step.concurrency <= 0:
        return None
    return step.rps / (step.concurrency * rps_1)


def needed_gain(before: StepFigures, step: StepFigures, min_share: float = MIN_SHARE) -> float:
    """The relative gain of ``step`` over ``before`` that counts as scaling (0.25 from 4 to 8)."""
    return min(MAX_NEEDED, min_share * (step.concurrency / before.concurrency - 1.0))


def stopped_scaling_at(steps: Sequence[StepFigures], min_share: float = MIN_SHARE) -> int | None:
    """The concurrency after which throughput stopped scaling (see the module's glossary)."""
    knee = _knee(steps, min_share)
    return None if knee is None else knee[0].concurrency


def _knee(steps: Sequence[StepFigures], min_share: float) -> tuple[StepFigures, StepFigures] | None:
    ordered = sorted(steps, key=lambda s: s.concurrency)
    for before, step in zip(ordered, ordered[1:]):
        if step.concurrency <= before.concurrency or before.good_rps <= 0:
            continue
        if step.good_rps < before.good_rps * (1.0 + needed_gain(before, step, min_share)):
            return before, step
    return None


def scaling_verdict(steps: Sequence[StepFigures], min_share: float = MIN_SHARE) -> str:
    """One plain sentence on where throughput stopped scaling, with the figures."""
    ordered = sorted(steps, key=lambda s: s.concurrency)
    if not ordered:
        return "no step ran"
    if not any(s.good_rps > 0 for s in ordered):
        return "no step had a successful request: nothing to say about scaling"
    if len(ordered) < 2:
        return f"one step only (concurrency {ordered[0].concurrency}): give --concurrency a list to see scaling"
    knee = _knee(ordered, min_share)
    if knee is None:
        last = ordered[-1]
        return (f"throughput still scaled at the last step (concurrency {last.concurrency}, "
                f"{last.good_rps:,.0f} req/s): the target may take more concurrency")
    before, step = knee
    gain = step.good_rps / before.good_rps - 1.0
    return (f"throughput stopped scaling at concurrency {before.concurrency} ({before.good_rps:,.0f} req/s): "
            f"concurrency {step.concurrency} gained {gain:+.0%}, less than the "
            f"{needed_gain(before, step, min_share):+.0%} that counts as scaling "
            f"(perfect scaling would add {step.concurrency / before.concurrency - 1.0:+.0%})")
