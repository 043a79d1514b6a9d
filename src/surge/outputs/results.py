"""The results folder: the one place that decides where output bytes go.

Renderers in this package turn values into text; :class:`ResultsWriter` puts that text on
disk so that a run killed at any moment leaves usable files behind:

* ``stats_history.csv`` is streamed: its header is written when the run starts and every
  interval's rows are flushed as they arrive, so a SIGKILL loses at most the current interval;
* every other file is written to a temporary name and moved into place with ``os.replace``,
  so a reader (or a kill) never sees half a file;
* ``summary.json`` is written last, so its presence means the folder is complete.
"""
from __future__ import annotations

import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from ..model.events import IntervalStats
from ..model.summary import HistoryRow, RunResult, RunSummary
from .histograms import render_histograms
from .junit import render_junit
from .locust_csv import history_header, render_failures_csv, render_history_rows, render_stats_csv
from .summary_json import render_summary_json

RESULTS_ROOT = Path("results")
SUMMARY_JSON = "summary.json"
STATS_CSV = "stats.csv"
STATS_HISTORY_CSV = "stats_history.csv"
FAILURES_CSV = "failures.csv"
JUNIT_XML = "junit.xml"
HISTOGRAMS_JSON = "histograms.json"
#: The files a finished run leaves, in the order :meth:`ResultsWriter.finish` reports them.
RESULT_FILES = (SUMMARY_JSON, STATS_CSV, STATS_HISTORY_CSV, FAILURES_CSV, JUNIT_XML, HISTOGRAMS_JSON)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_out_dir(scenario: str, profile: str | None, started: datetime) -> Path:
    """``results/<scenario>-<profile or 'custom'>-<YYYYmmddTHHMMSSZ>`` (UTC; naive means UTC).

    Characters that are awkward in a folder name (slashes, spaces) become ``_``.
    """
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    stamp = started.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{_safe(scenario)}-{_safe(profile or 'custom')}-{stamp}"
    return RESULTS_ROOT / name


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("_") or "run"


class ResultsWriter:
    """Writes one run's results folder; an output of the run (``surge.outputs.base``).

    ``open()`` before the run (so a folder that cannot be written is a usage error, not a lost
    run), ``handle()`` streams every interval into stats_history.csv, ``finish()`` writes the
    rest (also after an interrupt; calling ``write()`` again rewrites)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self._history: IO[str] | None = None
        self._history_started = False

    def open(self) -> None:
        """Create the folder and start stats_history.csv with its header."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not self._history_started:
            self._history = self._open_history("w")
            self._history.write(history_header())
            self._history.flush()
            self._history_started = True

    def write_history(self, rows: list[HistoryRow]) -> None:
        """Append one interval's rows and flush them, so a kill loses nothing already written."""
        if not rows:
            return
        if not self._history_started:
            self.open()
        elif self._history is None:  # after finish(): append rather than lose the header
            self._history = self._open_history("a")
        assert self._history is not None
        self._history.write(render_history_rows(rows))
        self._history.flush()

    # -- the output protocol --------------------------------------------------------------
    def handle(self, event: object) -> None:
        """stats_history.csv rows for each closed interval: one per endpoint with traffic, then Aggregated."""
        if isinstance(event, IntervalStats):
            self.write_history(history_rows(event))

    def finish(self, result: RunResult) -> None:
        self.write(result.summary, result.histograms)

    # -- writing --------------------------------------------------------------------------
    def write(self, summary: RunSummary, histograms: dict[str, str]) -> list[Path]:
        """Write every results file (summary.json last), close the history; return the paths."""
        self.open()
        self.close()
        contents = {
            STATS_CSV: render_stats_csv(summary),
            FAILURES_CSV: render_failures_csv(summary),
            JUNIT_XML: render_junit(summary),
            HISTOGRAMS_JSON: render_histograms(histograms),
            SUMMARY_JSON: render_summary_json(summary),
        }
        for name, text in contents.items():
            write_atomic(self.out_dir / name, text)
        return [self.out_dir / name for name in RESULT_FILES]

    def close(self) -> None:
        """Close the history file (finish() does this; call it when abandoning a run)."""
        if self._history is not None:
            self._history.close()
            self._history = None

    def __enter__(self) -> "ResultsWriter":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_history(self, mode: str) -> IO[str]:
        # newline="": keep the csv module's "\r\n" exactly, as Locust's files have it
        return open(self.out_dir / STATS_HISTORY_CSV, mode, encoding="utf-8", newline="")


def history_rows(event: IntervalStats) -> list[HistoryRow]:
    now = event.timestamp or time.time()
    rows = [HistoryRow(now, event.elapsed_s, event.users, event.stage, w, c) for w, c in event.endpoints]
    rows.append(HistoryRow(now, event.elapsed_s, event.users, event.stage, event.window, event.cumulative))
    return rows


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, line ends untouched) to ``path`` via a temp file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
