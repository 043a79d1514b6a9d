"""The verdict of a run: its status, exit code and the reasons for both, from plain facts.

One pure function decides, so every launcher, output and test agrees on what a run means.
Precedence (DESIGN.md, exit codes):

1. interrupted by Ctrl-C (130) or SIGTERM (143): the user stopped it; nothing else is judged;
2. ``error`` (3): the load was not what was planned or did nothing (a worker lost without
   ``--allow-worker-loss``; no user could start; no request was sent);
3. ``failed`` (1): a threshold failed (on the totals, or on a stress step's window: the
   breaking point of ``--until-break``);
4. no thresholds set and requests failed: ``failed`` with ``--exit-code-on-error`` (default 1),
   as Locust does; ``--exit-code-on-error 0`` passes, with the failures named in the reasons;
5. ``passed`` (0).
"""
from __future__ import annotations

import signal
from dataclasses import dataclass

from .errors import ExitCode
from .kinds import RunStatus
from .summary import ThresholdResult


@dataclass(frozen=True)
class RunFacts:
    """What the verdict needs to know about a finished run."""

    interrupted_by: int | None = None  # the signal number, if a signal stopped the run
    workers: int = 1
    lost: tuple[str, ...] = ()  # one line per lost worker: which share, when, why
    allow_worker_loss: bool = False
    http_requests: int = 0  # requests sent through a client, cancelled ones too (not task exceptions)
    requests: int = 0  # everything counted, task exceptions included
    failures: int = 0
    users_started: int = 0
    users_start_failed: int = 0
    thresholds: tuple[ThresholdResult, ...] = ()
    exit_code_on_error: int = int(ExitCode.THRESHOLDS_FAILED)
    #: what the workers noticed that explains a run with no requests (never-awaited calls...)
    hints: tuple[str, ...] = ()
    #: a threshold judge raised: the thresholds went unjudged, so the run cannot pass
    judge_failed: str | None = None
    #: a stress run with --until-break found its breaking point (one sentence saying where)
    broke: str | None = None


def decide(f: RunFacts) -> tuple[RunStatus, int, tuple[str, ...]]:
    """``(status, exit code, reasons)`` for a finished run; see the module docstring."""
    if f.interrupted_by is not None:
        name = "SIGTERM" if f.interrupted_by == signal.SIGTERM else "Ctrl-C"
        code = ExitCode.TERMINATED if f.interrupted_by == signal.SIGTERM else ExitCode.INTERRUPTED
        return RunStatus.INTERRUPTED, int(code), (f"interrupted by {name}",)
    errors = _errors(f)
    if errors:
        return RunStatus.ERROR, int(ExitCode.CANNOT_PROCEED), errors
    notes = _loss_notes(f)
    failed = [t for t in f.thresholds if not t.passed]
    if failed or f.broke:
        counted = (f"{len(failed)} of {len(f.thresholds)} thresholds failed",) if failed else ()
        return RunStatus.FAILED, int(ExitCode.THRESHOLDS_FAILED), (
            *((f.broke,) if f.broke else ()), *counted, *notes)
    if not f.thresholds and f.failures:
        share = f"{f.failures:,} of {f.requests:,} requests failed"
        if f.exit_code_on_error == 0:
            return RunStatus.PASSED, 0, (f"{share} (not judged: --exit-code-on-error 0)", *notes)
        return RunStatus.FAILED, f.exit_code_on_error, (
            f"{share} and no threshold was set (exit {f.exit_code_on_error}; "
            "set thresholds or --exit-code-on-error to judge otherwise)", *notes)
    return RunStatus.PASSED, int(ExitCode.PASSED), notes


def _errors(f: RunFacts) -> tuple[str, ...]:
    out: list[str] = []
    if f.judge_failed:
        out.append(f"the thresholds could not be judged ({f.judge_failed})")
    if f.lost and not f.allow_worker_loss:
        out.append(f"{len(f.lost)} of {f.workers} workers lost, so the load was not what was planned "
                   "(--allow-worker-loss accepts a partial load)")
        out += f.lost
    if f.users_start_failed and not f.users_started:
        out.append(f"no virtual user could start: on_start failed for all {f.users_start_failed:,} "
                   "(see the failures under TASK ...on_start)")
    elif not f.http_requests and not out:
        causes = list(f.hints) or [
            "tasks that call self.client.get(...) without await",
            "on_start raising StopUser, or tasks that raise before any request",
            "a load shape or plan that started no user"]
        out.append("no request was sent; likely causes: " + "; ".join(causes))
    return tuple(out)


def _loss_notes(f: RunFacts) -> tuple[str, ...]:
    if not f.lost:
        return ()
    return (f"{len(f.lost)} of {f.workers} workers lost; judged on a partial load (--allow-worker-loss)",
            *f.lost)
