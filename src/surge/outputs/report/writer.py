"""The run's output that writes report.html once the rest of the results folder is on disk."""
from __future__ import annotations

from pathlib import Path

from ...model.events import Notice
from ...model.summary import RunResult
from ..base import RunControl
from ..results import write_atomic
from .render import REPORT_HTML, render_report


class ReportWriter:
    """Writes ``<out_dir>/report.html`` at ``finish`` and again at ``revise``.

    It must come after the :class:`~surge.outputs.results.ResultsWriter` in the run's outputs,
    since it reads the folder that writer completes. A report that cannot be rendered or written
    never breaks the run: one warning says so and the other files stand."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / REPORT_HTML
        self._control: RunControl | None = None
        self.warning: str | None = None

    def bind(self, control: RunControl) -> None:
        self._control = control

    def handle(self, event: object) -> None:
        """Nothing live: the report is drawn from the finished folder."""

    def finish(self, result: RunResult) -> None:
        self.write()

    def revise(self, result: RunResult) -> None:
        self.write()

    def write(self) -> bool:
        try:
            write_atomic(self.path, render_report(self.out_dir))
        except Exception as exc:  # a report is a convenience: the run and its data files stand
            self.warning = f"{self.path} could not be written ({type(exc).__name__}: {exc})"
            if self._control is not None:
                self._control.emit(Notice(self.warning))
            return False
        return True
