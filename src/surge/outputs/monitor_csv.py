"""``monitors/<name>.csv``: every monitor's series, streamed as the samples come.

An output of the run (``surge.outputs.base``): it subscribes to
:class:`~surge.model.events.MonitorSample` events and appends one row per sample to its
monitor's file, header first (``timestamp,elapsed_s`` then the monitor's columns: the clock of
stats_history.csv), unbuffered, so a kill loses at most the current row. A file that cannot be
written (a full disk) is said once and that series stops; the load and the other series go on.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..model.events import MonitorSample, Notice
from ..model.summary import RunResult
from .base import RunControl
from .results import write_atomic

MONITORS_DIR = "monitors"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def render_monitor_rows(columns: tuple[str, ...], samples: list[MonitorSample], *, header: bool) -> str:
    """CSV text of ``samples`` (and the header first, when asked); a missing value is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(("timestamp", "elapsed_s", *columns))
    for s in samples:
        writer.writerow((f"{s.timestamp:.3f}", f"{s.elapsed_s:.3f}",
                         *(_cell(s.values.get(c)) for c in columns)))
    return out.getvalue()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class MonitorSeriesWriter:
    """Streams each monitor's samples to ``<out_dir>/monitors/<name>.csv``."""

    def __init__(self, out_dir: Path, reports: Callable[[], dict[str, Any]] | None = None) -> None:
        """``reports``: the monitors' end-of-load reports by file name (``db_report.json``),
        asked for and written at ``finish``, before teardown."""
        self.out_dir = Path(out_dir)
        self.folder = self.out_dir / MONITORS_DIR
        self._reports = reports
        self._files: dict[str, IO[bytes]] = {}
        self._columns: dict[str, tuple[str, ...]] = {}
        self._lost: set[str] = set()
        self._control: RunControl | None = None
        self.warnings: list[str] = []

    def bind(self, control: RunControl) -> None:
        self._control = control

    def handle(self, event: object) -> None:
        if isinstance(event, MonitorSample) and event.monitor not in self._lost:
            self._append(event)

    def finish(self, result: RunResult) -> None:
        self.close()
        if self._reports is None:
            return
        for name, report in self._reports().items():
            try:
                write_atomic(self.out_dir / name, json.dumps(report, indent=2, default=str) + "\n")
            except OSError as exc:
                self._say(f"{self.out_dir / name} could not be written ({exc.strerror or exc})")
            for warning in report.get("warnings", ()) if isinstance(report, dict) else ():
                self._say(warning)

    def close(self) -> None:
        for f in self._files.values():
            with contextlib.suppress(OSError):
                f.close()
        self._files.clear()

    def path(self, monitor: str) -> Path:
        return self.folder / f"{_UNSAFE.sub('_', monitor) or 'monitor'}.csv"

    def _append(self, sample: MonitorSample) -> None:
        name = sample.monitor
        try:
            f = self._files.get(name)
            header = f is None
            if f is None:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._columns[name] = tuple(sample.columns) or tuple(sample.values)
                f = self._files[name] = open(self.path(name), "wb", buffering=0)
            f.write(render_monitor_rows(self._columns[name], [sample], header=header).encode("utf-8"))
        except OSError as exc:
            self._lost.add(name)
            message = (f"{self.path(name)} could not be written ({exc.strerror or exc}) at "
                       f"{sample.elapsed_s:.0f}s; the run goes on, that series is incomplete")
            self._say(message)

    def _say(self, message: str) -> None:
        self.warnings.append(message)
        if self._control is not None:
            self._control.emit(Notice(message))
