"""What a consumer of a run owes, and the optional abilities it may have.

Every consumer of a run — the terminal view, the results folder, the threshold judge, later
the report, the dashboard, Prometheus — is an :class:`Output` subscribed to one run instance:

* ``handle(event)`` is called on the coordinator's event loop for every event of the run, in
  order (:mod:`surge.model.events`). It must return quickly and never block: buffer, write a
  line, update a view; anything slow belongs in the output's own thread or task.
* ``finish(result)`` is called once after the load, with the :class:`~surge.model.summary.RunResult`
  (summary, final encoded histograms, exit code, results folder), in the order the outputs
  were given: the results folder first, the terminal summary last. It may do I/O. It comes
  *before* the scenario's ``teardown()``, so a teardown that hangs or is killed cannot cost the
  run its results.

An output that raises is disabled with one warning and the run goes on; the others still get
every event and ``finish``. (A judge that raises fails the run: its thresholds went unjudged.)

Optional abilities are separate small protocols, which the run detects by their method:

* :class:`Judge`: judges the thresholds on the cumulative stats each interval and at the end,
  and says when the run must stop (the abort policy lives in :mod:`surge.thresholds`);
* :class:`Revises`: told when teardown changed the result after ``finish`` (teardown raised or
  timed out: a warning more; a signal during it: status interrupted, exit 130/143), to
  rewrite what carries the status;
* :class:`Annotates`: adds sections to the summary once the run has built it (the findings
  of ``surge.analysis.observer``), before any output's ``finish``; one that raises is
  disabled with a warning and the summary goes without its sections;
* :class:`Controls`: gets a :class:`RunControl` to stop the run itself (a dashboard's stop
  button, a custom abort rule) or to tell the other outputs something (the results folder
  saying a file could not be written, while the run goes on).

The engine does not import this module: the run takes any object with these methods.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..metrics.aggregate import RunStats
from ..model.events import Event
from ..model.summary import Judgement, RunResult, RunSummary


@runtime_checkable
class Output(Protocol):
    def handle(self, event: Event) -> None:
        """One event of the run, in order. Must not block."""

    def finish(self, result: RunResult) -> None:
        """The run is over: summary, histograms, exit code. Called once."""


@runtime_checkable
class Judge(Protocol):
    def judge(self, stats: RunStats, elapsed_s: float, *, final: bool) -> Judgement:
        """Results on the cumulative ``stats``; ``abort`` set when the run must stop now (never when ``final``)."""


@runtime_checkable
class Revises(Protocol):
    def revise(self, result: RunResult) -> None:
        """After ``finish``: the same run's result, revised by what happened in teardown."""


@runtime_checkable
class Annotates(Protocol):
    def annotate(self, summary: RunSummary) -> dict:
        """Summary sections by key (``findings``, ``levels``), from the built summary and the
        events this output saw."""


class RunControl(Protocol):
    def stop(self, reason: str) -> None:
        """End the load gracefully; ``reason`` appears in the summary as ``aborted_by``."""

    def emit(self, event: Event) -> None:
        """Send ``event`` to every output, this one included (a :class:`~surge.model.events.Notice`
        tells the user of something that went wrong in an output without disabling it)."""


@runtime_checkable
class Controls(Protocol):
    def bind(self, control: RunControl) -> None:
        """Called once before the run starts, with the handle that can stop it."""
