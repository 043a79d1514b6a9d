"""The thresholds as an output of the run (``surge.outputs.base``): a subscriber that can judge.

Each interval the run asks it to judge; it answers with every result and, through
:func:`should_abort` (the one abort policy), the result that stops the run, if any. It judges
the cumulative stats, except live in a stress run with ``--until-break``: there each step is
judged on its own window once it settled (:mod:`surge.thresholds.steps`), and a breach is the
breaking point. The final verdict is always on the cumulative stats.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..metrics.aggregate import RunStats
from ..model.events import Notice
from ..model.plan import ThresholdSpec
from ..model.summary import Judgement, RunResult
from .evaluate import evaluate, should_abort
from .steps import StepWindows, plan_steps


class ThresholdJudge:
    def __init__(self, specs: Sequence[ThresholdSpec], *, abort_grace_s: float = 0.0,
                 until_break: bool = False, steps: StepWindows | None = None) -> None:
        self.specs = tuple(specs)
        self.abort_grace_s = abort_grace_s
        self.until_break = until_break
        self.steps = steps

    @classmethod
    def for_plan(cls, plan) -> "ThresholdJudge":
        until_break = plan.until_break is not None
        unit = "iterations/s" if plan.workload.kind == "open" else "users"
        steps = (StepWindows(plan_steps(plan.workload.stages, plan.step_settle_s), plan.interval_s, unit)
                 if until_break else None)
        return cls(plan.thresholds, abort_grace_s=plan.abort_grace_s, until_break=until_break, steps=steps)

    def judge(self, stats: RunStats, elapsed_s: float, *, final: bool) -> Judgement:
        if self.steps is not None and not final:
            return self._judge_step(stats, elapsed_s)
        results = tuple(evaluate(self.specs, stats, elapsed_s))
        abort = None if final else should_abort(results, elapsed_s, self.abort_grace_s,
                                                until_break=self.until_break)
        return Judgement(results, abort)

    def _judge_step(self, stats: RunStats, elapsed_s: float) -> Judgement:
        """The running step's window, when the interval just closed joined one (else nothing yet)."""
        steps = self.steps
        if not steps.take(stats, elapsed_s):
            return Judgement()
        step = steps.step
        note = (f"on step {step.number}'s window ({step.level:g} {steps.unit}, "
                f"{steps.from_s:.1f}-{steps.to_s:.1f}s)")
        results = tuple(dataclasses.replace(r, message=f"{r.message}; {note}" if r.message else note)
                        for r in evaluate(self.specs, steps.span, steps.span_s))
        abort = should_abort(results, elapsed_s, 0.0, until_break=True)
        return Judgement(results, abort, step=steps.describe())

    def bind(self, control) -> None:
        """Say once, before the load, how thresholds written with k6's names were read."""
        for spec in self.specs:
            if spec.written:
                control.emit(Notice(f"threshold {spec.written!r} read as {spec.label!r} (k6's name)", level="info"))

    def handle(self, event) -> None:
        """Thresholds judge on demand; events need nothing from them."""

    def finish(self, result: RunResult) -> None:
        """Nothing to write: the results are in the summary."""
