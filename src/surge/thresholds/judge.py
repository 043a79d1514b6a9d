"""The thresholds as an output of the run (``surge.outputs.base``): a subscriber that can judge.

Each interval the run asks it to judge the cumulative stats; it answers with every result and,
through :func:`should_abort` (the one abort policy), the result that stops the run, if any.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..metrics.aggregate import RunStats
from ..model.events import Notice
from ..model.plan import ThresholdSpec
from ..model.summary import Judgement, RunResult
from .evaluate import evaluate, should_abort


class ThresholdJudge:
    def __init__(self, specs: Sequence[ThresholdSpec], *, abort_grace_s: float = 0.0,
                 until_break: bool = False) -> None:
        self.specs = tuple(specs)
        self.abort_grace_s = abort_grace_s
        self.until_break = until_break

    @classmethod
    def for_plan(cls, plan) -> "ThresholdJudge":
        return cls(plan.thresholds, abort_grace_s=plan.abort_grace_s, until_break=plan.until_break is not None)

    def judge(self, stats: RunStats, elapsed_s: float, *, final: bool) -> Judgement:
        results = tuple(evaluate(self.specs, stats, elapsed_s))
        abort = None if final else should_abort(results, elapsed_s, self.abort_grace_s,
                                                until_break=self.until_break)
        return Judgement(results, abort)

    def bind(self, control) -> None:
        """Say once, before the load, how thresholds written with k6's names were read."""
        for spec in self.specs:
            if spec.written:
                control.emit(Notice(f"threshold {spec.written!r} read as {spec.label!r} (k6's name)", level="info"))

    def handle(self, event) -> None:
        """Thresholds judge on demand; events need nothing from them."""

    def finish(self, result: RunResult) -> None:
        """Nothing to write: the results are in the summary."""
