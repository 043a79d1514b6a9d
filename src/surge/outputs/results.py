"""The results folder: the one place that decides where output bytes go.

Renderers in this package turn values into text; :class:`ResultsWriter` puts that text on
disk so that a run killed at any moment leaves usable files behind:

* ``stats_history.csv`` is streamed: its header is written when the run starts and every
  interval's rows are written as they arrive, so a SIGKILL loses at most the current interval;
* every other file is written to a temporary name and moved into place with ``os.replace``,
  so a reader (or a kill) never sees half a file;
* ``summary.json`` is written last, so its presence means the writer finished; its
  ``warnings`` name any file it could not write.

A file system error once the run is going (a full disk) never stops the load: the history
is cut back to its last whole row and stops there, a final file that cannot be written is left
out (a previous version stays whole) while the others are still tried, and each loss is said
once, to the run's other outputs as a :class:`~surge.model.events.Notice` (through the
control the run hands to ``bind()``) and in summary.json's ``warnings``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from ..model.events import IntervalStats, Notice
from ..model.summary import HistoryRow, RunResult, RunSummary
from .base import RunControl
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
    rest (also after an interrupt; calling ``write()`` again rewrites). ``discard()`` removes
    what ``open()`` created when no load ran.

    ``history_warning`` says why and when the history stopped, if it did; ``not_written`` maps
    each final file the last ``write()`` left out to the reason.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.history_warning: str | None = None
        self.not_written: dict[str, str] = {}
        self._control: RunControl | None = None
        self._created: list[Path] = []  # folders open() made, deepest first
        self._history: IO[bytes] | None = None
        self._history_started = False
        self._history_bytes = 0  # the length of the whole rows on disk
        self._history_lost: str | None = None  # why the history stopped

    def open(self) -> None:
        """Create the folder and start stats_history.csv with its header.

        Raises ``OSError`` if the folder cannot be written, leaving nothing it created behind."""
        if not self._created:
            self._created = _missing_folders(self.out_dir)
        try:
            self._start()
        except OSError:
            self.discard()
            raise

    def discard(self) -> None:
        """Close, then remove the folder and the parents that ``open()`` created (no load ran).

        A parent is removed only while empty: another run may have put its folder there."""
        self.close()
        created, self._created = self._created, []
        self._history_started = False
        if created:  # created[0] is out_dir itself
            shutil.rmtree(created[0], ignore_errors=True)
        for parent in created[1:]:
            with contextlib.suppress(OSError):
                parent.rmdir()

    def write_history(self, rows: list[HistoryRow]) -> None:
        """Append one interval's rows, so a kill loses nothing already written.

        If they cannot be written the file is cut back to its last whole row, one warning says
        so, and the history stops there; the run goes on."""
        if not rows or self._history_lost is not None:
            return
        try:
            if not self._history_started:
                self._start()
            elif self._history is None:  # after finish(): append rather than lose the header
                self._history = self._open_history("ab")
            self._append_history(render_history_rows(rows).encode("utf-8"))
        except OSError as exc:
            self._history_lost = _reason(exc)
            self.close()
            self.history_warning = (f"{self.out_dir / STATS_HISTORY_CSV} could not be written "
                                    f"({self._history_lost}) at {rows[-1].elapsed_s:.0f}s; the run goes on, "
                                    "the history is incomplete")
            self._notify(self.history_warning, "warning")

    # -- the output protocol --------------------------------------------------------------
    def bind(self, control: RunControl) -> None:
        """The run's handle: warnings go to the other outputs through ``control.emit``."""
        self._control = control

    def handle(self, event: object) -> None:
        """stats_history.csv rows for each closed interval: one per endpoint with traffic, then Aggregated."""
        if isinstance(event, IntervalStats):
            self.write_history(history_rows(event))

    def finish(self, result: RunResult) -> None:
        self.write(result.summary, result.histograms)

    def revise(self, result: RunResult) -> None:
        """Teardown changed the status or added a warning: write the files again."""
        self.write(result.summary, result.histograms)

    # -- writing --------------------------------------------------------------------------
    def write(self, summary: RunSummary, histograms: dict[str, str]) -> list[Path]:
        """Write every results file (summary.json last), close the history; return the paths written.

        A file that cannot be written is left out and the others are still written; summary.json's
        warnings name what is missing and one warning lists it all."""
        try:
            self._start()
        except OSError as exc:  # the folder is gone and cannot be made again
            self._history_lost = self._history_lost or _reason(exc)
        self.close()
        failed = self._write_each({
            STATS_CSV: render_stats_csv(summary),
            FAILURES_CSV: render_failures_csv(summary),
            JUNIT_XML: render_junit(summary),
            HISTOGRAMS_JSON: render_histograms(histograms),
        })
        notes = (self.history_warning,) if self.history_warning else ()
        notes += (self._missing(failed),) if failed else ()
        final = dataclasses.replace(summary, warnings=summary.warnings + notes)
        failed.update(self._write_each({SUMMARY_JSON: render_summary_json(final)}))
        self.not_written = failed
        if failed or self._history_lost is not None:
            self._notify(self._missing(failed), "error")
        return [self.out_dir / name for name in RESULT_FILES
                if name not in failed and (self.out_dir / name).is_file()]

    def close(self) -> None:
        """Close the history file (finish() does this; call it when abandoning a run)."""
        if self._history is not None:
            with contextlib.suppress(OSError):  # nothing is buffered: there is nothing to lose
                self._history.close()
            self._history = None

    def __enter__(self) -> "ResultsWriter":
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if not self._history_started:
            self._history = self._open_history("wb")
            self._append_history(history_header().encode("utf-8"))
            self._history_started = True

    def _open_history(self, mode: str) -> IO[bytes]:
        # unbuffered bytes: each interval reaches the file at once, and a failed write is undone
        # here rather than left in a buffer for close() to fail on again; the csv module's "\r\n"
        # is kept exactly, as Locust's files have it
        f = open(self.out_dir / STATS_HISTORY_CSV, mode, buffering=0)
        self._history_bytes = f.seek(0, os.SEEK_END)
        return f

    def _append_history(self, data: bytes) -> None:
        """All of ``data``, or the file cut back to its last whole row and the error raised."""
        assert self._history is not None
        view = memoryview(data)
        try:
            while view:
                view = view[self._history.write(view):]
        except OSError:
            with contextlib.suppress(OSError):
                self._history.truncate(self._history_bytes)
            raise
        self._history_bytes += len(data)

    def _write_each(self, contents: dict[str, str]) -> dict[str, str]:
        """Write each file atomically; the ones that failed, with the reason."""
        failed = {}
        for name, text in contents.items():
            try:
                write_atomic(self.out_dir / name, text)
            except OSError as exc:
                failed[name] = _reason(exc)
        return failed

    def _missing(self, failed: dict[str, str]) -> str:
        """One line: the files not written (grouped by reason), and the history if it is incomplete."""
        by_reason: dict[str, list[str]] = {}
        for name, why in failed.items():
            by_reason.setdefault(why, []).append(name)
        parts = [f"{', '.join(names)} ({why})" for why, names in by_reason.items()]
        if self._history_lost is not None:
            parts.append(f"{STATS_HISTORY_CSV} is incomplete ({self._history_lost})")
        return f"results not written in full to {self.out_dir}: " + "; ".join(parts)

    def _notify(self, message: str, level: str) -> None:
        if self._control is not None:
            self._control.emit(Notice(message, level=level))


def history_rows(event: IntervalStats) -> list[HistoryRow]:
    now = event.timestamp or time.time()
    rows = [HistoryRow(now, event.elapsed_s, event.users, event.stage, w, c) for w, c in event.endpoints]
    rows.append(HistoryRow(now, event.elapsed_s, event.users, event.stage, event.window, event.cumulative))
    return rows


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, line ends untouched) to ``path`` via a temp file and ``os.replace``.

    On failure the temp file is removed and ``path`` keeps its previous content (or stays absent)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # gone after the replace; never mask the real error
            tmp.unlink()


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    return missing


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
