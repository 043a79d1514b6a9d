"""Wiring of one run: settle the plan, load the scenario, attach observers, run, write, judge.

Results are written whatever happens once the load has started (thresholds failed, Ctrl-C,
SIGTERM, a worker lost): the writer streams history during the run and ``finish()`` runs in a
``finally``.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console

from ..config import settle
from ..engine.run import Run
from ..engine.scenario import load_scenario
from ..model.errors import ConfigError
from ..model.events import IntervalStats
from ..model.summary import HistoryRow
from ..outputs.results import ResultsWriter, default_out_dir
from ..thresholds import evaluate
from .console import ConsoleView
from .summary_table import print_summary


def execute(cli_options: dict, env: dict | None = None, cwd: Path | None = None) -> int:
    """Run one test from CLI options; returns the exit code. Raises SurgeError for the CLI to report."""
    plan = settle(cli_options, os.environ if env is None else env, cwd or Path.cwd())
    scenario = load_scenario(plan.scenario_path, tags=plan.tags, exclude_tags=plan.exclude_tags,
                             user_classes=plan.user_classes)
    if not plan.host:
        if not scenario.default_host:
            raise ConfigError("no target host", "pass --host http://127.0.0.1:8000 or set `host` on the user class")
        plan = plan.replace(host=scenario.default_host)
    out_dir = Path(plan.out_dir) if plan.out_dir else default_out_dir(
        plan.scenario_name, plan.profile, datetime.now(timezone.utc))
    console = Console(highlight=False)
    view = ConsoleView(plan.live, console)
    writer = ResultsWriter(out_dir)
    run = Run(plan, scenario, judge=lambda stats, elapsed: evaluate(plan.thresholds, stats, elapsed),
              observers=[view.handle, _history_to(writer)], out_dir=str(out_dir))
    created = not out_dir.exists()
    try:
        writer.open()
    except OSError as exc:  # not a traceback and exit 1 ("thresholds failed"): a usage error
        raise ConfigError(f"--out {str(out_dir)!r} cannot be written: {exc.strerror or exc}",
                          "pass --out with a folder you can write to") from exc
    result = None
    try:
        result = _run_with_signals(run)
    finally:
        view.close()
        if result is not None:
            writer.finish(result.summary, result.histograms)
        else:  # no load ran (preflight or setup failed): leave no half-empty folder behind
            writer.close()
            if created:
                shutil.rmtree(out_dir, ignore_errors=True)
    print_summary(console, result.summary, str(out_dir))
    return result.exit_code


def _history_to(writer: ResultsWriter):
    def observe(event) -> None:
        if isinstance(event, IntervalStats):
            now = time.time()
            rows = [HistoryRow(now, event.elapsed_s, event.users, event.stage, w, c) for w, c in event.endpoints]
            rows.append(HistoryRow(now, event.elapsed_s, event.users, event.stage, event.window, event.cumulative))
            writer.write_history(rows)

    return observe


def _run_with_signals(run: Run):
    """Run on uvloop with Ctrl-C / SIGTERM turned into a graceful stop (a second Ctrl-C: hard stop)."""
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, run.interrupt, int(signum))
    try:
        return loop.run_until_complete(run.execute())
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
