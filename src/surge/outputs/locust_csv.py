"""Locust-compatible CSVs: stats.csv, failures.csv and stats_history.csv.

Teams already have dashboards and scripts that read Locust's ``--csv`` files, so the headers
here match Locust 2.x byte for byte (``StatsCSV`` / ``StatsCSVFileWriter`` in its stats.py),
including the ``csv`` module's default ``\\r\\n`` line ends and "N/A" for percentiles of a row
that timed nothing. Values differ in one deliberate way: Locust rounds percentiles and the
median to whole ms; ours come from HDR histograms and keep µs (3 decimals), so a loopback
target measured at 0.4 ms does not show up as 0. Both parse as numbers.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from ..model.redact import redact_summary
from ..model.summary import PERCENTILES, EndpointStats, HistoryRow, RunSummary

#: Locust's readable percentile labels: 50%, ..., 99.9%, 99.99%, then 100% (the max).
PERCENTILE_COLUMNS: tuple[str, ...] = (*(f"{p:g}%" for _, p in PERCENTILES), "100%")

STATS_HEADER: tuple[str, ...] = (
    "Type", "Name", "Request Count", "Failure Count", "Median Response Time",
    "Average Response Time", "Min Response Time", "Max Response Time", "Average Content Size",
    "Requests/s", "Failures/s", *PERCENTILE_COLUMNS,
)
FAILURES_HEADER: tuple[str, ...] = ("Method", "Name", "Error", "Occurrences")
HISTORY_HEADER: tuple[str, ...] = (
    "Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s", *PERCENTILE_COLUMNS,
    "Total Request Count", "Total Failure Count", "Total Median Response Time",
    "Total Average Response Time", "Total Min Response Time", "Total Max Response Time",
    "Total Average Content Size",
)
NA = "N/A"


def render_stats_csv(summary: RunSummary) -> str:
    """stats.csv: one row per endpoint (Type = method), then the ``Aggregated`` row, Type empty."""
    rows = [_stats_row(e) for e in summary.endpoints]
    rows.append(_stats_row(summary.total, method=""))
    return _csv([STATS_HEADER, *rows])


def render_failures_csv(summary: RunSummary) -> str:
    """failures.csv: one row per failure group; Error is ``kind: message``."""
    summary = redact_summary(summary)
    rows = [(f.method, f.name, f"{f.kind}: {f.message}", f.count) for f in summary.failures]
    return _csv([FAILURES_HEADER, *rows])


def history_header() -> str:
    """The first line of stats_history.csv (written once when the run starts)."""
    return _csv([HISTORY_HEADER])


def render_history_rows(rows: list[HistoryRow]) -> str:
    """stats_history.csv lines for one or more intervals, to append to the streamed file.

    Window columns (rates, percentiles) come from ``row.window``, the Total ones from
    ``row.cumulative``. Percentiles are "N/A" when the window timed no request, as Locust does.
    """
    return _csv([_history_row(r) for r in rows])


# -- rows ---------------------------------------------------------------------------------
def _stats_row(e: EndpointStats, method: str | None = None) -> list[str | int]:
    lat = e.latency_ms
    return [
        e.method if method is None else method,
        e.name,
        e.requests,
        e.failures,
        _ms(lat.p50),
        _ms(lat.mean),
        _ms(lat.min),
        _ms(lat.max),
        _num(e.avg_content_length, 3),
        _num(e.rps, 6),
        _num(e.failures_per_s, 6),
        *_percentiles(e),
    ]


def _history_row(r: HistoryRow) -> list[str | int]:
    w, c = r.window, r.cumulative
    return [
        int(r.timestamp),
        r.users,
        w.method or "",
        w.name,
        f"{w.rps:f}",  # Locust: f"{current_rps:2f}", i.e. six decimals
        f"{w.failures_per_s:f}",
        *_percentiles(w),
        c.requests,
        c.failures,
        _ms(c.latency_ms.p50),
        _ms(c.latency_ms.mean),
        _ms(c.latency_ms.min),
        _ms(c.latency_ms.max),
        _num(c.avg_content_length, 3),
    ]


def _percentiles(e: EndpointStats) -> list[str]:
    """The 50%..100% cells, or N/A throughout when nothing was timed (no requests, or only
    untimed failures such as refused connections, which leave the latency all zero)."""
    lat = e.latency_ms
    if not e.requests or not lat.max:  # max is 0 only when nothing was timed
        return [NA] * len(PERCENTILE_COLUMNS)
    return [_num(lat.p50, 3), _num(lat.p66, 3), _num(lat.p75, 3), _num(lat.p80, 3), _num(lat.p90, 3),
            _num(lat.p95, 3), _num(lat.p98, 3), _num(lat.p99, 3), _num(lat.p999, 3), _num(lat.p9999, 3),
            _num(lat.max, 3)]  # a row per endpoint per interval: written out, not looked up


# -- formatting ---------------------------------------------------------------------------
def _ms(value: float) -> str:
    return _num(value, 3)


def _num(value: float, digits: int) -> str:
    """Fixed-point with trailing zeros trimmed: 12.500 -> "12.5", 50.000 -> "50"."""
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _csv(rows: Iterable[Iterable[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)  # excel dialect: "\r\n" line ends, quoting as Locust's files
    return buf.getvalue()
