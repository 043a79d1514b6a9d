"""Wiring of one run: settle the plan, load the scenario, choose the outputs, run.

The outputs — the threshold judge, the results folder, report.html (after the folder it reads),
the terminal view — are subscribers of the run (``surge.outputs.base``); the run hands each the
result when the load is over, so the files are written whatever happens once the load has started (thresholds failed, Ctrl-C,
SIGTERM, a worker lost). If no load ran (the preflight or setup failed) the folder this run
created is removed again, with the parents it created (the default ``results/``).
"""
from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from ..analysis.baseline import BaselineJudge
from ..analysis.observer import FindingsObserver
from ..analysis.loader import load_run
from ..config import settle
from ..engine.executors.closed import settle_shape
from ..engine.guard import Escalated, LoopGuard
from ..engine.run import Run
from ..monitors.wiring import watch_for
from ..outputs.monitor_csv import MonitorSeriesWriter
from ..outputs.report import ReportWriter
from ..engine.scenario import Scenario, load_scenario, run_redactor
from ..model.errors import ConfigError, SurgeError
from ..model.plan import TestPlan
from ..model.summary import RunResult
from ..outputs.locust_files import LocustFiles
from ..outputs.results import ResultsWriter, default_out_dir
from ..thresholds import ThresholdJudge
from .compare import print_table, write_comparison
from .console import ConsoleView
from .describe import describe_plan, describe_scenario
from .session import Session


def execute(cli_options: dict, env: dict | None = None, cwd: Path | None = None,
            session: Session | None = None, show: str | None = None, locust_outputs: dict | None = None) -> int:
    """Run one test from CLI options; returns the exit code. Raises SurgeError for the CLI to report.

    ``show="list"`` (``--list``) prints the scenario's classes and tasks, ``show="plan"``
    (``--dry-run``) the settled plan, after the checks a run makes first; neither starts
    anything, contacts the target or creates a folder."""
    plan = settle(cli_options, os.environ if env is None else env, cwd or Path.cwd())
    if session is not None:
        session.debug = session.debug or plan.debug
    try:
        scenario = load_scenario(plan.scenario_path, tags=plan.tags, exclude_tags=plan.exclude_tags,
                                 user_classes=plan.user_classes)
    except SurgeError as exc:  # an import error may quote a token the plan carries
        exc.scrub(run_redactor(plan))
        raise
    locust_outputs = dict(locust_outputs or {})
    if locust_outputs.pop("auto_shape", False) and scenario.shape is not None and _uses_locust(scenario):
        # Locust lets a locustfile's LoadTestShape drive the users when no -u was given
        plan = settle({**cli_options, "shape": True}, os.environ if env is None else env, cwd or Path.cwd())
    try:
        if show is not None:
            return _describe(show, plan, scenario)
        return _execute(plan, scenario, locust_outputs)
    except SurgeError as exc:  # setup() or the preflight failed: the error may quote a secret
        exc.scrub(run_redactor(plan, scenario))
        raise


def _describe(show: str, plan: TestPlan, scenario: Scenario) -> int:
    if show == "list":
        text = describe_scenario(scenario)
    else:
        plan = settle_shape(_with_host(plan, scenario), scenario)
        text = describe_plan(plan, scenario, _out_dir(plan))
    sys.stdout.write(run_redactor(plan, scenario)(text))
    return 0


def _with_host(plan: TestPlan, scenario: Scenario) -> TestPlan:
    if not plan.host:
        if not scenario.default_host:
            raise ConfigError("no target host", "pass --host http://127.0.0.1:8000 or set `host` on the user class")
        plan = plan.replace(host=scenario.default_host)
    return plan


def _out_dir(plan: TestPlan) -> Path:
    if plan.out_dir:
        return Path(plan.out_dir)
    return default_out_dir(plan.scenario_name, plan.profile, datetime.now(timezone.utc))


def _locust_outputs(scenario: Scenario, files: dict) -> list:
    """``--csv PREFIX`` / ``--html FILE`` copies, and Locust's test events for a locustfile."""
    outputs: list = []
    if files:
        outputs.append(LocustFiles(files.get("csv"), files.get("html")))
    if _uses_locust(scenario):
        from ..compat.locust.run_events import LocustEvents

        outputs.append(LocustEvents())
    return outputs


def _uses_locust(scenario: Scenario) -> bool:
    if "surge.compat.locust" not in sys.modules:  # no scenario imported it: not a locustfile
        return False
    from ..compat.locust.run_events import uses_locust

    return uses_locust(scenario)


def _execute(plan: TestPlan, scenario: Scenario, locust_files: dict) -> int:
    plan = _with_host(plan, scenario)
    out_dir = _out_dir(plan)
    baseline = _baseline_judge(plan, out_dir)  # not a results folder: exit 2 before any load
    view = ConsoleView(plan.live, Console(highlight=False))
    writer = ResultsWriter(out_dir)
    try:
        writer.open()  # leaves nothing behind if it fails
    except OSError as exc:  # not a traceback and exit 1 ("thresholds failed"): a usage error
        raise ConfigError(f"--out {str(out_dir)!r} cannot be written: {exc.strerror or exc}",
                          "pass --out with a folder you can write to") from exc
    try:
        watch = watch_for(plan, out_dir)  # the monitors start (or refuse, exit 2) before any load
    except BaseException:
        writer.discard()
        raise
    outputs = [ThresholdJudge.for_plan(plan), *([baseline] if baseline else []), FindingsObserver(plan.interval_s)]
    if watch.sampler is not None:
        outputs.append(MonitorSeriesWriter(out_dir, reports=watch.sampler.reports))
    extra = _locust_outputs(scenario, locust_files)
    run = Run(plan, scenario, outputs=[*outputs, writer, ReportWriter(out_dir), *extra, view], out_dir=str(out_dir),
              monitors=watch.sampler)
    result = None
    try:
        result = _run_with_signals(run)
    finally:
        watch.close()
        if result is None:  # no load ran (preflight or setup failed): leave no half-empty folder behind
            view.close()
            writer.discard()
    if baseline is not None and baseline.comparison is not None:
        print_table(baseline.comparison)
        write_comparison(baseline.comparison, out_dir)
    chosen = [o.exit_code for o in extra if getattr(o, "exit_code", None) is not None]
    return chosen[0] if chosen else result.exit_code  # a Locust listener's process_exit_code


def _baseline_judge(plan: TestPlan, out_dir: Path) -> BaselineJudge | None:
    if plan.baseline_dir is None:
        return None
    return BaselineJudge(load_run(plan.baseline_dir), label=str(out_dir))


def _run_with_signals(run: Run) -> RunResult:
    """Run on uvloop with Ctrl-C / SIGTERM turned into a graceful stop (a second one: a hard stop).

    The signals are caught by the loop guard (``surge.engine.guard``), which hands them to the
    run on the loop and, when code holds the loop past the stop's deadline, interrupts that code.
    """
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    guard = LoopGuard(loop, on_signal=run.interrupt, deadline=lambda: run.deadline,
                      armed=lambda: run.armed, grace_s=run.plan.graceful_stop_s + 1.0).install()
    try:
        task = loop.create_task(run.execute())
        while True:
            try:
                return loop.run_until_complete(task)
            except Escalated:  # raised into a callback of the loop, not into the run: go on
                if task.done():
                    raise
    finally:
        guard.uninstall()
        _cancel_leftovers(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is still pending on the loop (a sweeper, an abandoned hook), so
    nothing prints "Task was destroyed but it is pending" after the summary."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
