"""The terminal view: compact CI lines, the live frame, and the final summary's order and caveats."""
from __future__ import annotations

import dataclasses
import io
import os

import pytest
from rich.console import Console

from surge.cli.console import ConsoleView, auto_mode, format_line
from surge.cli.cells import fmt_ms, fmt_pct, shorten_middle
from surge.cli.summary_table import format_threshold_actual, print_summary, render_summary
from surge.model.events import (
    IntervalStats,
    Notice,
    RunStarted,
    StageChanged,
    ThresholdBreached,
)
from surge.model.summary import (
    CustomMetricStats,
    EndpointStats,
    FailureGroup,
    GeneratorInfo,
    Latency,
    RunResult,
    RunSummary,
    ThresholdResult,
)


def latency(p50: float = 3.1, p95: float = 8.2, p99: float = 12.0) -> Latency:
    return Latency(min=0.4, mean=p50 * 1.2, p50=p50, p66=p50, p75=p50, p80=p95, p90=p95, p95=p95,
                   p98=p99, p99=p99, p999=p99 * 2, p9999=p99 * 3, max=p99 * 4)


def stats(name: str = "Aggregated", method: str = "", requests: int = 1000, failures: int = 1,
          rps: float = 1234.5, lat: Latency | None = None) -> EndpointStats:
    return EndpointStats(method=method, name=name, requests=requests, failures=failures, cancelled=0,
                         rps=rps, failures_per_s=0.0, error_rate=failures / requests if requests else 0.0,
                         latency_ms=lat or latency())


def interval(elapsed_s: float, *, workload: str = "closed", endpoints=(), failing=(), cpu: float = 40.0,
             dropped: int = 0, duration_s: float = 60.0) -> IntervalStats:
    return IntervalStats(elapsed_s=elapsed_s, duration_s=duration_s, stage=0, stages=2, users=50,
                         target=50.0 if workload == "closed" else 200.0, workload=workload,
                         dropped_iterations=dropped, window=stats(), cumulative=stats(),
                         endpoints=tuple(endpoints), cpu_percent=cpu, workers_alive=4,
                         failing_thresholds=tuple(failing))


def started(workload: str = "closed") -> RunStarted:
    return RunStarted(scenario="checkout", profile="load", host="https://api.example.com", workload=workload,
                      duration_s=60.0, processes=4, out_dir="results/x", stages=2)


def console(terminal: bool = False) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=120, force_terminal=terminal, color_system=None), buf


def summary(**overrides) -> RunSummary:
    endpoints = (stats("/v1/facts", "GET", 600, 0), stats("/v1/corrections", "POST", 400, 12))
    values = dict(
        status="failed", scenario="checkout", profile="load", host="https://api.example.com",
        started_at="2024-05-01T12:00:00Z", duration_s=60.0, workload="closed",
        total=stats("Aggregated", "", 1000, 12), endpoints=endpoints,
        failures=(FailureGroup("POST", "/v1/corrections", "status", "HTTP 503", 12),),
        failures_by_kind={"status": 12},
        thresholds=(
            ThresholdResult("GET /v1/facts", "p95<50ms", 8.2, True, stat="p95"),
            ThresholdResult("*", "error_rate<1%", 0.012, False, stat="error_rate"),
            ThresholdResult("GET /v1/fcts", "p95<50ms", None, False, "no request matched 'GET /v1/fcts'", stat="p95"),
        ),
        generator=GeneratorInfo(processes=4, workers_lost=0, cpu_percent_max=55.0, saturated=False),
    )
    values.update(overrides)
    return RunSummary(**values)


# -- lines mode -------------------------------------------------------------------------------


def test_line_shows_the_interval_figures():
    line = format_line(interval(35.0))
    assert line.startswith("[  35s/1m00s] stage 1/2 users 50 | rps 1,234.5 | p50 3.1 p95 8.2 p99 12.0 ms")
    assert "err 0.10%" in line
    assert "dropped" not in line  # closed workloads drop nothing


def test_line_for_open_workload_shows_rate_and_dropped():
    line = format_line(interval(10.0, workload="open", dropped=7))
    assert "rate 200.0/s vus 50" in line and "dropped 7" in line


def test_lines_mode_throttles_and_keeps_first_and_last():
    con, buf = console()
    view = ConsoleView("lines", con)
    view.handle(started())
    for second in range(1, 61):
        view.handle(interval(float(second)))
    view.finish(RunResult(summary(), {}, 1, "results/x"))
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("[")]
    assert 10 <= len(lines) <= 14
    assert lines[0].startswith("[   1s/1m00s]")
    assert lines[-1].startswith("[1m00s/1m00s]")


def test_lines_mode_flushes_the_last_interval_on_close():
    con, buf = console()
    view = ConsoleView("lines", con)
    for elapsed in (1.0, 2.0, 3.0):  # run interrupted at 3 s of 60
        view.handle(interval(elapsed))
    view.close()
    view.close()
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("[")]
    assert [ln[:6] for ln in lines] == ["[   1s", "[   3s"]


@pytest.fixture
def pty_console():
    """A console writing to a real terminal (the slave end of a pseudo-terminal)."""
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        yield Console(file=tty, width=80)
    os.close(master)


def test_auto_mode_picks_rich_on_a_terminal_outside_ci_only(pty_console, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert ConsoleView("auto", pty_console).mode == "rich"
    assert auto_mode(pty_console, {"CI": "true"}) == "lines"
    assert auto_mode(pty_console, {"CI": "false"}) == "rich"
    assert ConsoleView("auto", console(terminal=False)[0]).mode == "lines"
    # FORCE_COLOR makes rich call any file a terminal: colour yes, a live frame no
    assert ConsoleView("auto", console(terminal=True)[0]).mode == "lines"
    with pytest.raises(ValueError):
        ConsoleView("fancy", console()[0])


def test_off_mode_prints_no_progress_but_keeps_warnings():
    con, buf = console()
    view = ConsoleView("off", con)
    view.handle(started())
    view.handle(interval(5.0))
    view.handle(Notice("worker 2 lost"))
    view.close()
    assert buf.getvalue().strip() == "⚠ worker 2 lost"


def test_a_long_notice_stays_on_one_line():
    con, buf = console()
    view = ConsoleView("lines", con)
    message = "results not written in full to /a/long/path: " + ", ".join(["summary.json"] * 20)
    view.handle(Notice(message, level="error"))
    assert buf.getvalue() == f"⚠ {message}\n"  # wider than the console, not wrapped


# -- rich mode --------------------------------------------------------------------------------


def endpoint_pairs(names):
    return [(stats(n, "GET", rps=10.0), stats(n, "GET", 100, 2)) for n in names]


def test_live_frame_shows_endpoints_sorted_and_failing_thresholds():
    con, buf = console(terminal=True)
    view = ConsoleView("rich", con)
    view.handle(started())
    view.handle(interval(35.0, endpoints=endpoint_pairs(["/v1/zeta", "/v1/items/[id]"]),
                         failing=["GET /v1/facts: p95<50ms"]))
    con.print(view.renderable())
    view.close()
    out = buf.getvalue()
    assert "checkout" in out and "https://api.example.com" in out
    assert "/v1/items/[id]" in out  # names are text, not markup
    assert out.index("/v1/items/[id]") < out.index("/v1/zeta")
    assert "stage 1/2" in out and "35s / 1m00s" in out
    assert "failing: GET /v1/facts: p95<50ms" in out


def test_live_frame_caps_endpoint_rows():
    con, buf = console(terminal=True)
    view = ConsoleView("rich", con)
    view.handle(interval(5.0, endpoints=endpoint_pairs([f"/e{i:02d}" for i in range(20)])))
    con.print(view.renderable())
    view.close()
    out = buf.getvalue()
    assert "/e14" in out and "/e15" not in out and "… 5 more" in out


def test_live_frame_warns_on_hot_generator_and_shows_dropped_for_open():
    con, buf = console(terminal=True)
    view = ConsoleView("rich", con)
    view.handle(started("open"))
    view.handle(interval(5.0, workload="open", cpu=95.0, dropped=3))
    con.print(view.renderable())
    view.close()
    out = buf.getvalue()
    assert "bottleneck" in out and "dropped 3" in out and "rate 200.0/s" in out


def test_breach_notice_and_stage_print_above_the_live_frame():
    con, buf = console(terminal=True)
    view = ConsoleView("rich", con)
    view.handle(started())
    view.handle(StageChanged(stage=1, stages=2, elapsed_s=60.0, target=100.0))
    view.handle(ThresholdBreached(ThresholdResult("*", "p95<5ms", 8.2, False, abort_on_fail=True, stat="p95"),
                                  elapsed_s=40.0, aborting=True))
    view.handle(Notice("generator saturated"))
    view.close()
    out = buf.getvalue()
    assert "stage 2/2" in out and "target 100 users" in out
    assert "threshold failed at 40s: *: p95<5ms (actual 8.2 ms)" in out and "aborting" in out
    assert "⚠ generator saturated" in out


# -- final summary ----------------------------------------------------------------------------


def printed(s: RunSummary, out_dir: str = "results/checkout-load-20240501T120000Z") -> str:
    con, buf = console()
    print_summary(con, s, out_dir)
    return buf.getvalue()


def test_summary_puts_verdict_and_thresholds_before_endpoints():
    out = printed(summary())
    assert out.index("FAILED") < out.index("Thresholds") < out.index("Endpoints")
    assert "2 of 3 thresholds failed" in out
    assert "1.20%" in out  # error_rate actual as a percentage
    assert "matched nothing" in out and "no request matched" not in out  # a short note in the row...
    assert "Matched nothing: GET /v1/fcts. Known names:" in out  # ...and the known names once below
    table = out[out.index("Endpoints"):]
    assert table.index("/v1/corrections") < table.index("/v1/facts") < table.index("Aggregated")
    assert "HTTP 503" in out
    assert "Results: results/checkout-load-20240501T120000Z" in out


def test_saturation_is_said_once_in_the_warnings():
    assert "saturated" not in printed(summary())
    hot = GeneratorInfo(processes=4, workers_lost=1, cpu_percent_max=98.0, saturated=True)
    warning = "generator saturated: worker 2 used >= 90% of a core for 3 intervals in a row (from 12s)"
    out = printed(summary(generator=hot, warnings=(warning,)))
    assert out.count("saturated") == 1 and "1 worker lost" in out and "max CPU 98%" in out


def test_the_verdict_says_why_the_run_failed_or_errored():
    out = printed(summary(status="error", thresholds=(), status_reasons=(
        "no request was sent; likely causes: task U.go calls self.client without await",)))
    head = out.split("\n\n")[0]
    assert "ERROR" in head and "no request was sent" in head and "U.go" in head
    out = printed(summary(status="failed", thresholds=(), status_reasons=(
        "12 of 1,000 requests failed and no threshold was set (exit 1; ...)",)))
    assert "12 of 1,000 requests failed" in out.split("\n\n")[0]


def test_summary_dropped_iterations_only_for_open_workloads():
    assert "Dropped iterations" not in printed(summary(dropped_iterations=5))
    out = printed(summary(workload="open", dropped_iterations=1234))
    assert "Dropped iterations: 1,234" in out and "--max-users" in out


def test_summary_other_verdicts_metrics_and_warnings():
    out = printed(summary(status="interrupted", thresholds=(), warnings=("names grouped under (other)",),
                          custom_metrics=(CustomMetricStats("cart_size", "trend", 10, {"p95": 4.0}),)))
    assert "INTERRUPTED" in out and "no thresholds set" in out and "Thresholds" not in out
    assert "cart_size" in out and "⚠ names grouped under (other)" in out
    assert len(render_summary(summary(status="passed"), "r")) >= 5


def test_summary_caps_failure_groups():
    groups = tuple(FailureGroup("GET", f"/f{i}", "status", f"HTTP 5{i:02d}", 100 - i) for i in range(13))
    out = printed(summary(failures=groups))
    assert "HTTP 509" in out and "HTTP 510" not in out and "… 3 more failure groups" in out


def test_summary_endpoint_table_fits_narrow_ci_logs():
    con, buf = console()
    con.width = 80
    print_summary(con, summary(), "r")
    out = buf.getvalue()
    assert "GET /v1/facts" in out and "p99.9" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "p99.9" in printed(summary())  # 120 columns: the full table


def test_number_formats():
    assert [fmt_ms(v) for v in (0.423, 3.14, 123.45, 12345.6)] == ["0.42", "3.1", "123.5", "12,346"]
    assert [fmt_pct(v) for v in (0.001, 0.125, 1.0)] == ["0.10%", "12.5%", "100.0%"]


def test_summary_shows_the_busiest_endpoints_when_there_are_many():
    many = tuple(stats(f"/items/{i:03d}", "GET", requests=i + 1, failures=0) for i in range(100))
    out = printed(summary(endpoints=many, thresholds=()))
    shown = [line for line in out.splitlines() if "/items/" in line]
    assert len(shown) == 40 and "/items/060" in out and "/items/059" not in out  # the 40 busiest
    assert "… 60 more endpoints in stats.csv" in out
    assert "Aggregated" in out


def test_a_partial_interval_says_so_in_its_line():
    assert "partial" not in format_line(interval(3.0))
    assert format_line(dataclasses.replace(interval(3.0), partial=True)).endswith(
        "| partial: a worker's snapshot was late")


# -- the live endpoint table: rows that stay, a frame that fits ---------------------------------


def live_frame(view: ConsoleView, width: int = 120) -> str:
    con, buf = console(terminal=True)
    con.width = width
    con.print(view.renderable())
    return buf.getvalue()


def test_live_rows_stay_when_an_endpoint_had_no_traffic_in_the_interval():
    view = ConsoleView("off", console()[0])
    both = endpoint_pairs(["/v1/facts", "/v1/rare"])
    view.handle(interval(1.0, endpoints=both))
    view.handle(interval(2.0, endpoints=both[:1]))  # /v1/rare idle this interval
    rows = [line for line in live_frame(view).splitlines() if line.startswith("GET")]
    assert [row.split()[1] for row in rows] == ["/v1/facts", "/v1/rare"]
    assert rows[1].split()[2:5] == ["100", "2", "0.0"]  # cumulative counts kept, no rps now


LONG = "/v1/subjects/{subject_id}/corrections/{correction_id}/attachments"


def test_live_table_fits_80_columns_shortening_long_names_in_the_middle():
    view = ConsoleView("off", console()[0])
    view.handle(interval(3.0, endpoints=endpoint_pairs(["/v1/corrections/{id}/history", LONG])))
    narrow = live_frame(view, 80)
    assert max(len(line) for line in narrow.splitlines()) <= 80
    assert "GET /v1/corrections/{id}/history " in narrow  # a typical name whole
    [long_row] = [line for line in narrow.splitlines() if "attachments" in line]
    assert long_row.startswith("GET /v1/subjects/") and "…" in long_row
    assert "avg" in narrow and " max" not in narrow  # max steps aside below 100 columns
    wide = live_frame(view, 120)
    assert LONG in wide and "avg" in wide and " max" in wide


def test_an_interval_without_a_timed_request_shows_dashes():
    empty = dataclasses.replace(interval(4.0), window=stats(requests=0, failures=0, rps=0.0, lat=Latency()))
    assert "p50 — p95 — p99 — ms" in format_line(empty)
    view = ConsoleView("off", console()[0])
    view.handle(empty)
    assert "p50 — · p95 — · p99 — ms" in live_frame(view)


def test_a_single_stage_is_not_announced_and_users_show_per_class():
    con, buf = console()
    view = ConsoleView("lines", con)
    view.handle(StageChanged(stage=0, stages=1, elapsed_s=1.0, target=8.0))
    assert buf.getvalue() == ""
    classes = dataclasses.replace(interval(5.0), users=8, users_by_class={"Reader": 6, "Writer": 2})
    assert "stage 1/2 users 8 (Reader 6, Writer 2) |" in format_line(classes)
    view.handle(classes)
    assert "users 8/50 · Reader 6 · Writer 2" not in live_frame(view)
    assert "users 8/50 (Reader 6 · Writer 2)" in live_frame(view)


def test_the_wind_down_frame_keeps_the_planned_level():
    view = ConsoleView("off", console()[0])
    view.handle(dataclasses.replace(interval(60.0), users=0))  # the plan's end: users stopped
    assert "users 0/50 stopped" in live_frame(view)


# -- the summary: units, mean, metrics, users -------------------------------------------------


def test_threshold_actuals_keep_their_unit_whatever_the_spelling():
    def actual(expression: str, stat: str, value: float, target: str = "*", metrics=None) -> str:
        return format_threshold_actual(ThresholdResult(target, expression, value, True, stat=stat), metrics)

    for expression, stat in (("p(95)<50ms", "p95"), ("avg<50", "mean"), ("med<5ms", "p50"),
                             ("p(95)<50ms", "p(95)"), ("avg<50", "avg"), ("med<5ms", "med")):
        assert actual(expression, stat, 8.25) == "8.2 ms", (expression, stat)
    metrics = {m.name: m for m in (CustomMetricStats("hits", "rate", 10, {"rate": 0.97}),
                                   CustomMetricStats("items", "counter", 10, {"count": 30, "rate": 2.5}),
                                   CustomMetricStats("cart", "trend", 10, {"p95": 4.0}, unit="items"),
                                   CustomMetricStats("think", "trend", 10, {"p95": 1500.0}, unit="s"))}
    assert actual("rate>95%", "rate", 0.97, "hits", metrics) == "97.0%"
    assert actual("rate>0.95", "rate", 0.97, "hits", metrics) == "97.0%"  # a rate is a percentage
    assert actual("rate>95%", "rate", 0.97, "hits") == "97.0%"  # live: no metrics at hand
    assert actual("rate>1", "rate", 2.5, "items", metrics) == "2.5/s"
    assert actual("p95<5", "p95", 4.0, "cart", metrics) == "4 items"
    assert actual("p95<2s", "p95", 1500.0, "think", metrics) == "1,500 ms"  # judged in ms


def test_summary_shows_avg_compact_metric_rows_and_users_per_class():
    from surge.model.summary import UsersInfo

    metrics = (CustomMetricStats("checkout_ms", "trend", 10, dict(vars(latency(12.0, 30.0, 45.0))), unit="ms"),
               CustomMetricStats("cache_hits", "rate", 50, {"rate": 0.9}),
               CustomMetricStats("items", "counter", 5, {"count": 42.0, "rate": 0.7}))
    users = UsersInfo(peak=8, started=8, by_class={"Reader": 6, "Writer": 2})
    for width in (80, 120):
        con, buf = console()
        con.width = width
        print_summary(con, summary(custom_metrics=metrics, users=users), "r")
        out = buf.getvalue()
        assert max(len(line) for line in out.splitlines()) <= width
        assert " avg " in out[out.index("Endpoints"):]
        assert "avg 14.4  p50 12.0  p95 30.0  p99 45.0  max 180.0 ms" in out  # one row, in its unit
        assert "rate 90.0%" in out and "total 42  rate 0.7/s" in out
        assert "Users: peak 8 (Reader 6 · Writer 2) · 8 started" in out


def test_shorten_middle_keeps_both_ends():
    assert shorten_middle("/v1/facts", 20) == "/v1/facts"
    assert shorten_middle(LONG, 30) == "/v1/subjects/{…id}/attachments"
    assert shorten_middle(LONG, 1) == "…" and shorten_middle(LONG, 0) == ""


def test_an_iteration_bounded_run_counts_toward_its_iterations():
    stats = dataclasses.replace(interval(2.0), iterations=430)
    line = format_line(stats, iterations=1000)
    assert line.startswith("[2s · 430/1,000 it] stage ")
    assert "/1:00]" not in line and "/0:" not in line.split("]")[0]
    console = Console(width=120, record=True, force_terminal=False)
    view = ConsoleView("lines", console)
    view.handle(RunStarted("s", None, "http://127.0.0.1:1", "closed", 600.0, 2, "out", 1, iterations=1000))
    assert "1,000 iterations (at most 10m00s), 2 processes" in console.export_text()


def test_a_breaking_point_reads_as_a_sentence():
    from surge.cli.summary_table import describe_breaking_point

    bp = {"users": 6, "elapsed_s": 6.0, "threshold": "*: p95<50ms", "actual": 62.8123456, "stat": "p95",
          "step": 3, "step_level": 6.0, "window_from_s": 5.0, "window_to_s": 6.0}
    assert describe_breaking_point(bp) == ("6 users at 6.0s (step 3): p95 62.81, threshold *: p95<50ms, "
                                           "on the step's window 5.0-6.0s")
