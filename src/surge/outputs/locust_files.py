"""Locust's ``--csv PREFIX`` and ``--html FILE``: the results folder's files, also where Locust puts them.

``PREFIX_stats.csv``, ``PREFIX_stats_history.csv`` and ``PREFIX_failures.csv`` are copies of the
folder's Locust-compatible CSVs (same headers, see ``locust_csv.py``); ``PREFIX_exceptions.csv``
lists the failures of kind ``exception`` with Locust's header (surge keeps no tracebacks: the
column says where the exception was counted). ``--html FILE`` is a copy of report.html.

An output of the run placed after the results folder and the report, so both are complete when
``finish`` copies them.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..model.events import Event, Notice
from ..model.redact import redact_summary
from ..model.summary import RunResult
from .locust_csv import _csv

EXCEPTIONS_HEADER: tuple[str, ...] = ("Count", "Message", "Traceback", "Nodes")
_COPIED = ("stats.csv", "stats_history.csv", "failures.csv")


def render_exceptions_csv(summary) -> str:
    summary = redact_summary(summary)
    rows = [(f.count, f.message, f"in task {f.name}", "local") for f in summary.failures if f.kind == "exception"]
    return _csv([EXCEPTIONS_HEADER, *rows])


class LocustFiles:
    def __init__(self, csv_prefix: str | None = None, html_path: str | None = None) -> None:
        self.csv_prefix = csv_prefix
        self.html_path = html_path
        self._control = None

    def bind(self, control) -> None:
        self._control = control

    def handle(self, event: Event) -> None:
        pass

    def finish(self, result: RunResult) -> None:
        folder = Path(result.out_dir)
        if self.csv_prefix:
            prefix = Path(self.csv_prefix)
            prefix.parent.mkdir(parents=True, exist_ok=True)
            for name in _COPIED:
                self._copy(folder / name, Path(f"{prefix}_{name}"))
            Path(f"{prefix}_exceptions.csv").write_text(render_exceptions_csv(result.summary), newline="")
        if self.html_path:
            target = Path(self.html_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._copy(folder / "report.html", target)

    def _copy(self, source: Path, target: Path) -> None:
        if not source.is_file():
            if self._control is not None:
                self._control.emit(Notice(f"{target} not written: {source.name} is missing from the results folder"))
            return
        shutil.copyfile(source, target)
