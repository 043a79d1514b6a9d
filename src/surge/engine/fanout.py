"""The run's outputs (``surge.outputs.base``): one fan-out, where a failing output is contained.

Each output gets every event; one that raises is disabled with a single warning (sent to the
others as a :class:`Notice` and kept for the summary) and the run goes on without it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..model.events import Event, Notice
from ..model.summary import Judgement, RunResult


def _name(output: Any) -> str:
    return type(output).__name__


class Fanout:
    def __init__(self, outputs: Iterable[Any]) -> None:
        self._outputs = list(outputs)
        self.warnings: list[str] = []
        self.judge_failed: str | None = None  # a judge that raised: its thresholds went unjudged

    def bind(self, control: Any) -> None:
        for out in self._having("bind"):
            self._call(out, "bind", control)

    def emit(self, event: Event) -> None:
        for out in list(self._outputs):
            self._call(out, "handle", event)

    def judge(self, stats: Any, elapsed_s: float, *, final: bool) -> Judgement:
        """Every judge's results and sections together; the first abort (and step) wins."""
        results, abort, step, sections = [], None, None, {}
        for out in self._having("judge"):
            try:
                j = out.judge(stats, elapsed_s, final=final)
            except Exception as exc:
                self.judge_failed = f"{_name(out)}: {type(exc).__name__}: {exc}"
                self._disable(out, "judge", exc)
                continue
            results += j.results
            abort = abort or j.abort
            step = step or j.step
            sections.update(j.sections)
        return Judgement(tuple(results), abort, step, sections)

    @property
    def judging(self) -> bool:
        return bool(self._having("judge"))

    def annotate(self, summary: Any) -> dict:
        """Every annotator's sections together (see ``surge.outputs.base.Annotates``)."""
        sections: dict = {}
        for out in self._having("annotate"):
            try:
                sections.update(out.annotate(summary))
            except Exception as exc:
                self._disable(out, "annotate", exc)
        return sections

    def finish(self, result: RunResult) -> None:
        for out in list(self._outputs):
            self._call(out, "finish", result)

    def revise(self, result: RunResult) -> None:
        """After ``finish``: teardown changed the result (see ``surge.outputs.base.Revises``)."""
        for out in self._having("revise"):
            self._call(out, "revise", result)

    def _having(self, method: str) -> list[Any]:
        return [out for out in self._outputs if callable(getattr(out, method, None))]

    def _call(self, out: Any, method: str, *args: Any) -> None:
        try:
            getattr(out, method)(*args)
        except Exception as exc:
            self._disable(out, method, exc)

    def _disable(self, out: Any, method: str, exc: Exception) -> None:
        if out not in self._outputs:
            return
        self._outputs.remove(out)
        message = (f"output {_name(out)} raised in {method}() ({type(exc).__name__}: {exc}) "
                   "and was disabled; the run goes on without it")
        self.warnings.append(message)
        self.emit(Notice(message, level="error"))
