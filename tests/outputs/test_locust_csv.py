"""stats.csv, failures.csv, stats_history.csv: Locust's headers exactly, values in the right columns."""
from __future__ import annotations

import csv
import io
from dataclasses import replace

from surge.metrics.aggregate import RunStats
from surge.metrics.hdr import relative_error_bound
from surge.metrics.snapshot import SeriesSnapshot, Snapshot
from surge.outputs.locust_csv import (
    history_header,
    render_failures_csv,
    render_history_rows,
    render_stats_csv,
)

from .conftest import PASSWORD, hist_ms, history_rows, make_summary

# Locust 2.x, locust/stats.py (StatsCSV.requests_csv_columns etc.), csv module's "\r\n" line end.
LOCUST_STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\r\n"
)
LOCUST_FAILURES_HEADER = "Method,Name,Error,Occurrences\r\n"
LOCUST_HISTORY_HEADER = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
    "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
    "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
    "Total Average Content Size\r\n"
)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def close(actual: str, expected: float) -> bool:
    return abs(float(actual) - expected) <= expected * relative_error_bound() + 0.001


def test_stats_header_is_locusts_byte_for_byte(summary):
    text = render_stats_csv(summary)
    assert text.startswith(LOCUST_STATS_HEADER)
    width = LOCUST_STATS_HEADER.count(",") + 1
    assert all(len(r) == width for r in csv.reader(io.StringIO(text, newline="")))


def test_stats_rows_carry_the_right_values(summary):
    rows = rows_of(render_stats_csv(summary))
    assert [(r["Type"], r["Name"]) for r in rows] == [
        ("POST", "/v1/corrections"), ("GET", "/v1/facts"), ("TASK", "Shopper.checkout"),
        ("", "Aggregated")]  # by name, as RunStats
    facts = rows[1]
    assert facts["Request Count"] == "1000"
    assert facts["Failure Count"] == "10"
    assert close(facts["95%"], 95.0)
    assert close(facts["50%"], 50.0)
    assert close(facts["Median Response Time"], 50.0)
    assert close(facts["Average Response Time"], 50.5)
    assert close(facts["Min Response Time"], 1.0)
    assert close(facts["100%"], 100.0)
    assert facts["Max Response Time"] == facts["100%"]
    assert facts["Requests/s"] == "100"  # 1000 requests in 10 s
    assert facts["Failures/s"] == "1"
    assert facts["Average Content Size"] == "100"


def test_aggregated_row_is_last_and_sums_the_endpoints(summary):
    total = rows_of(render_stats_csv(summary))[-1]
    assert total["Name"] == "Aggregated" and total["Type"] == ""
    assert total["Request Count"] == "1205"  # 2 of them the task that raised
    assert total["Failure Count"] == "15"
    assert close(total["Min Response Time"], 1.0)


def test_stats_percentiles_are_na_when_nothing_was_timed(stats):
    stats.close([Snapshot(worker_id=0, interval=1, users=1, series=[
        SeriesSnapshot("GET", "/down", requests=4, failures=4, errors=[["connect", "refused", 4]])])])
    rows = rows_of(render_stats_csv(make_summary(stats)))
    down = next(r for r in rows if r["Name"] == "/down")
    assert down["Request Count"] == "4"
    assert [down[c] for c in ("50%", "95%", "100%")] == ["N/A"] * 3


def test_failures_csv(summary):
    text = render_failures_csv(summary)
    assert text.startswith(LOCUST_FAILURES_HEADER)
    rows = rows_of(text)
    assert {(r["Method"], r["Name"], r["Error"], r["Occurrences"]) for r in rows} >= {
        ("GET", "/v1/facts", "status: HTTP 500 Internal Server Error", "10"),
        ("TASK", "Shopper.checkout", "exception: ZeroDivisionError: division by zero", "2"),
    }
    assert PASSWORD not in text  # the connect error quoted the URL with its password


def test_history_header_is_locusts_byte_for_byte():
    assert history_header() == LOCUST_HISTORY_HEADER


def test_history_window_and_total_columns(history):
    text = render_history_rows(history)
    width = LOCUST_HISTORY_HEADER.count(",") + 1
    assert all(len(r) == width for r in csv.reader(io.StringIO(text, newline="")))
    parsed = rows_of(history_header() + text)
    facts, total = parsed[0], parsed[-1]  # history rows come sorted by (method, name)
    assert facts["Timestamp"] == "1714564810" and facts["User Count"] == "10"
    assert (facts["Type"], facts["Name"]) == ("GET", "/v1/facts")
    assert facts["Requests/s"] == "1000.000000"  # the 1 s window saw all 1000
    assert close(facts["95%"], 95.0)
    assert (total["Type"], total["Name"]) == ("", "Aggregated")
    assert total["Total Request Count"] == "1205" and total["Total Failure Count"] == "15"


def test_history_percentiles_are_na_for_an_empty_window(stats):
    window = stats.close([Snapshot(worker_id=0, interval=1, users=10, series=[
        SeriesSnapshot("POST", "/v1/corrections", latency=hist_ms([7.0]).to_wire(), requests=1)])])
    rows = rows_of(history_header() + render_history_rows(history_rows(stats, window, 2.0, 10, 11.0)))
    # only corrections saw traffic in the second window; facts is absent, the total has it
    assert [r["Name"] for r in rows] == ["/v1/corrections", "Aggregated"]
    assert close(rows[0]["95%"], 7.0)

    empty = RunStats()
    quiet_window = empty.close([Snapshot(worker_id=0, interval=0, users=3)])
    (quiet,) = rows_of(history_header() + render_history_rows(history_rows(empty, quiet_window, 3.0, 3, 1.0)))
    assert quiet["Requests/s"] == "0.000000"
    assert {quiet[c] for c in ("50%", "66%", "99.99%", "100%")} == {"N/A"}
    assert quiet["Total Request Count"] == "0"


def test_awkward_names_and_messages_are_quoted(summary):
    odd = '/q?a=1,b="2"\nnext'
    endpoint = replace(summary.endpoints[0], name=odd)
    failure = replace(summary.failures[0], name=odd, message='bad, "very" bad')
    s = replace(summary, endpoints=(endpoint,), failures=(failure,))
    assert rows_of(render_stats_csv(s))[0]["Name"] == odd
    (row,) = rows_of(render_failures_csv(s))
    assert (row["Name"], row["Error"]) == (odd, f'{failure.kind}: bad, "very" bad')
