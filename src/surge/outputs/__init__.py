"""Outputs: files a run leaves for CI, tooling and people.

Each renderer takes values (a :class:`~surge.model.summary.RunSummary`, history rows, encoded
histograms) and returns text; :class:`ResultsWriter` alone decides where the bytes go.
"""
from .histograms import load_histograms, render_histograms
from .junit import render_junit
from .locust_csv import history_header, render_failures_csv, render_history_rows, render_stats_csv
from .results import RESULT_FILES, ResultsWriter, default_out_dir
from .summary_json import render_summary_json

__all__ = [
    "RESULT_FILES",
    "ResultsWriter",
    "default_out_dir",
    "history_header",
    "load_histograms",
    "render_failures_csv",
    "render_histograms",
    "render_history_rows",
    "render_junit",
    "render_stats_csv",
    "render_summary_json",
]
