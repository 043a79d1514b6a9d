"""report.html: one self-contained page per run, for people (``surge.outputs.report``).

:func:`render_report` turns a results folder into the page's text (its data read from the
folder's files only, so ``surge report DIR`` rebuilds what the run wrote); :class:`ReportWriter`
is the run's output that writes it after the results folder is complete.
"""
from .render import REPORT_HTML, render_report
from .writer import ReportWriter

__all__ = ["REPORT_HTML", "ReportWriter", "render_report"]
