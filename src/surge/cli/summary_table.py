"""The final summary of a run as rich renderables: verdict first, then what explains it.

Order matters: a reader (or a CI log skimmer) sees PASSED/FAILED and the thresholds before the
detail. Every user-supplied string (endpoint names, failure messages, threshold expressions) goes
into :class:`rich.text.Text`, never through console markup, so ``/items/[id]`` prints as written.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from rich import box
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from surge.model.durations import format_duration
from surge.model.summary import (
    CustomMetricStats,
    EndpointStats,
    FailureGroup,
    Latency,
    RunSummary,
    ThresholdResult,
)

from .cells import NO_VALUE, Name, endpoint_label, fmt_count, fmt_ms, fmt_pct, fmt_rps
from .monitor_lines import summary_lines

__all__ = ["EndpointsTable", "format_threshold_actual", "print_revised", "print_summary", "render_summary"]

MAX_FAILURE_GROUPS = 10

_VERDICT_STYLES = {
    "passed": "bold white on green",
    "failed": "bold white on red",
    "interrupted": "bold black on yellow",
    "error": "bold white on red",
}
_BOX = box.SIMPLE_HEAD  # light rules: more room for figures, and it reads well in CI logs
#: latency stats by their canonical name; the spellings the thresholds accept too (p(95), avg, med)
_LATENCY_STAT = re.compile(r"^(min|mean|avg|med|max|p\s*\(?\s*\d+(\.\d+)?\s*\)?)$")
_TIME_UNITS = ("ms", "s", "us", "µs")  # a trend in one of these: thresholds judge it in ms


def _titled_table(title: str, tight: bool = False) -> Table:
    """``tight``: only the box's one space between columns (an 80-column log needs every one)."""
    return Table(title=title, title_justify="left", title_style="bold", box=_BOX, collapse_padding=True,
                 show_edge=False, **({"padding": 0} if tight else {}))


def _latency_cells(latency: Latency, keys: Iterable[str]) -> list[str]:
    """Latency columns, or dashes when nothing was timed (all requests failed before a response)."""
    if latency.max == 0:
        return [NO_VALUE for _ in keys]
    return [fmt_ms(getattr(latency, key)) for key in keys]


# -- verdict and thresholds ------------------------------------------------------------------


def _verdict(summary: RunSummary) -> list[RenderableType]:
    """The status badge with the thresholds' tally, then why the run ended as it did."""
    status = summary.status.lower()
    text = Text.assemble((f" {status.upper()} ", _VERDICT_STYLES.get(status, "bold reverse")), "  ")
    failed = sum(1 for t in summary.thresholds if not t.passed)
    if summary.thresholds:
        text.append(f"{failed} of {len(summary.thresholds)} thresholds failed" if failed else
                    f"all {len(summary.thresholds)} thresholds passed")
    else:
        text.append("no thresholds set", style="dim")
    if summary.aborted_by:
        text.append(" · aborted early by ", style="red")
        text.append(summary.aborted_by, style="bold red")
    if summary.breaking_point:
        text.append(" · breaking point found", style="bold magenta")
    style = "" if status == "passed" else "bold red" if status in ("failed", "error") else "yellow"
    reasons = [r for r in summary.status_reasons if not r.endswith("thresholds failed")]
    return [text, *(Text(f"  {r}", style=style) for r in reasons)]


def _context(summary: RunSummary) -> Text:
    parts = [summary.scenario, f"profile {summary.profile}" if summary.profile else None,
             summary.host, f"{summary.workload} workload", format_duration(summary.duration_s),
             f"started {summary.started_at}"]
    return Text(" · ".join(p for p in parts if p), style="dim")


_REQUEST_STATS = ("rps", "error_rate", "requests", "failures")  # never a custom metric's (thresholds)


def format_threshold_actual(result: ThresholdResult, metrics: Mapping[str, CustomMetricStats] | None = None) -> str:
    """The actual value in the unit its statistic has (ms, %, /s, a count, a trend's own unit),
    whatever the expression's spelling (``p(95)``, ``avg``, ``med``). ``metrics`` (by name) tell
    a custom metric's kind and unit; without them a rate written with ``%`` is still a percentage."""
    actual, stat = result.actual, result.stat.lower()
    if actual is None:
        return NO_VALUE
    metric = (metrics or {}).get(result.target)
    if metric is not None and stat not in _REQUEST_STATS:
        return _metric_actual(actual, stat, metric)
    if stat == "error_rate" or (stat == "rate" and "%" in result.expression):
        return fmt_pct(actual)
    if stat == "rps" or (stat == "rate" and "/s" in result.expression):
        return f"{fmt_rps(actual)}/s"
    if stat in ("requests", "failures", "count"):
        return fmt_count(actual)
    if _LATENCY_STAT.match(stat):
        return f"{fmt_ms(actual)} ms"
    return f"{actual:,.4g}"


def _metric_actual(actual: float, stat: str, metric: CustomMetricStats) -> str:
    if stat == "rate":
        return fmt_pct(actual) if metric.kind == "rate" else f"{actual:,.4g}/s"
    if stat == "count":
        return f"{actual:,.6g}"  # a counter's total may hold fractions
    if metric.unit in _TIME_UNITS:  # the evaluator brings time units to ms
        return f"{fmt_ms(actual)} ms"
    return f"{actual:,.4g} {metric.unit}".rstrip()


_UNMATCHED = re.compile(r"^no requests? matched")
UNMATCHED_NOTE = "matched nothing"
MAX_KNOWN_SHOWN = 8


def _unmatched(result: ThresholdResult) -> bool:
    """The threshold's target named no request and no metric (a typo must not pass: it failed)."""
    return result.actual is None and bool(_UNMATCHED.match(result.message))


def _thresholds(summary: RunSummary) -> list[RenderableType]:
    """The thresholds table; targets that matched nothing get a short note in their row, and
    the names that do exist are listed once below (the closest to those targets first)."""
    results = summary.thresholds
    metrics = {m.name: m for m in summary.custom_metrics}
    table = _titled_table("Thresholds")
    table.add_column("target")
    table.add_column("expression")
    table.add_column("actual", justify="right", no_wrap=True)
    table.add_column("", justify="center")
    with_notes = any(r.message for r in results)
    if with_notes:
        table.add_column("note", overflow="fold")
    for r in results:
        mark = Text("✓", style="bold green") if r.passed else Text("✗", style="bold red")
        row = [Text(r.target), Text(r.expression), Text(format_threshold_actual(r, metrics)), mark]
        if with_notes:
            row.append(Text(UNMATCHED_NOTE if _unmatched(r) else r.message, style="yellow" if r.message else ""))
        table.add_row(*row, style=None if r.passed else "red")
    missing = list(dict.fromkeys(r.target for r in results if _unmatched(r)))
    return [table, *(_known_names(summary, missing) if missing else [])]


_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "dim"}


def _findings(summary: RunSummary) -> list[RenderableType]:
    """What the analysis found (``surge.analysis.findings``), one line each, worst first."""
    order = {"critical": 0, "warning": 1, "info": 2}
    found = sorted(summary.findings, key=lambda f: order.get(f.severity, 3))
    if not found:
        return []
    lines: list[RenderableType] = [Text("Findings", style="bold")]
    for f in found:
        lines.append(Text.assemble((f"{f.severity:<8} ", _SEVERITY_STYLE.get(f.severity, "")),
                                   (f"{f.kind}: ", "bold"), f.message))
    return lines


def _known_names(summary: RunSummary, missing: list[str]) -> list[RenderableType]:
    """One note for every target that matched nothing, and the names that exist (closest first),
    laid out in columns so no name is broken across lines."""
    known = sorted({endpoint_label(e) for e in summary.endpoints} | {m.name for m in summary.custom_metrics})
    note = Text(f"{UNMATCHED_NOTE.capitalize()}: ", style="yellow")
    note.append(", ".join(missing), style="bold yellow")
    if not known:
        note.append(" (no request was recorded)", style="yellow")
        return [note]
    close = [name for target in missing for name in difflib.get_close_matches(target, known, n=3, cutoff=0.5)]
    shown = list(dict.fromkeys(close + known))[:MAX_KNOWN_SHOWN]
    more = f" (+{len(known) - len(shown)} more in stats.csv)" if len(known) > len(shown) else ""
    note.append(f". Known names{more}:", style="yellow")
    return [note, Columns([Name(name, style="dim") for name in shown], padding=(0, 3))]


# -- endpoints, failures, custom metrics -----------------------------------------------------

_ENDPOINT_LATENCIES = ("mean", "p50", "p95", "p99", "p999", "max")
_FIGURES = ("requests", "failures", "error %", "rps", "avg", "p50", "p95", "p99", "p99.9", "max")
_NARROW_FIGURES = ("requests", "error %", "rps", "avg", "p50", "p95", "p99")
NARROW_BELOW = 100  # columns; an 80-column CI log gets the narrow table
MAX_SUMMARY_ENDPOINTS = 40


def _endpoint_cells(stats: EndpointStats) -> dict[str, RenderableType]:
    latencies = _latency_cells(stats.latency_ms, _ENDPOINT_LATENCIES)
    return {
        "requests": fmt_count(stats.requests), "failures": fmt_count(stats.failures),
        "error %": fmt_pct(stats.error_rate), "rps": fmt_rps(stats.rps),
        **dict(zip(("avg", "p50", "p95", "p99", "p99.9", "max"), latencies)),
    }


class EndpointsTable:
    """The per-endpoint table, Aggregated last, fitted to the width it is printed at.

    Below :data:`NARROW_BELOW` columns the method joins the name, the columns close up, and the
    failures count, p99.9 and max step aside (error % and the files keep them), so a name of ~33
    characters shows whole at 80 columns with typical figures; a longer one is
    shortened in the middle, never wrapped (:class:`Name`). Beyond
    :data:`MAX_SUMMARY_ENDPOINTS` rows only the busiest are shown (a thousand rows help no reader
    and took ~4 s to render); every endpoint is in stats.csv and summary.json.
    """

    def __init__(self, endpoints: Iterable[EndpointStats], total: EndpointStats) -> None:
        endpoints = list(endpoints)
        self.hidden = max(0, len(endpoints) - MAX_SUMMARY_ENDPOINTS)
        if self.hidden:
            endpoints = sorted(endpoints, key=lambda e: (-e.requests, -e.failures))[:MAX_SUMMARY_ENDPOINTS]
        self.endpoints = sorted(endpoints, key=lambda e: (e.name, e.method))
        self.total = total

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(narrow=options.max_width < NARROW_BELOW)

    def table(self, narrow: bool = False) -> Table:
        figures = _NARROW_FIGURES if narrow else _FIGURES
        table = _titled_table("Endpoints (latency in ms)", tight=narrow)
        if not narrow:
            table.add_column("method", no_wrap=True)
        table.add_column("name")  # Name cells shorten, never wrap
        for header in figures:
            table.add_column(header, justify="right", no_wrap=True)
        for i, stats in enumerate(self.endpoints):
            table.add_row(*self._row(stats, figures, narrow), end_section=i == len(self.endpoints) - 1
                          and not self.hidden)
        if self.hidden:
            table.add_row(*([""] * (not narrow)), Text(f"… {self.hidden:,} more endpoints in stats.csv", style="dim"),
                          end_section=True)
        table.add_row(*self._row(self.total, figures, narrow), style="bold")
        return table

    @staticmethod
    def _row(stats: EndpointStats, figures: tuple[str, ...], narrow: bool) -> list[RenderableType]:
        cells = _endpoint_cells(stats)
        if narrow:
            return [Name(endpoint_label(stats)), *(cells[f] for f in figures)]
        return [Text(stats.method), Name(stats.name), *(cells[f] for f in figures)]


def _failure_row(group: FailureGroup) -> list[RenderableType]:
    return [Text(group.method), Text(group.name), Text(group.kind),
            Text(group.message, overflow="fold"), fmt_count(group.count)]


def _failures(summary: RunSummary) -> list[RenderableType]:
    if not summary.failures:
        return []
    by_kind = ", ".join(f"{k} {fmt_count(n)}" for k, n in sorted(summary.failures_by_kind.items(),
                                                                  key=lambda kv: -kv[1]))
    title = "Failures" + (f" (by kind: {by_kind})" if by_kind else "")
    table = _titled_table(title)
    for header in ("method", "name", "kind"):
        table.add_column(header)
    table.add_column("message", ratio=1, overflow="fold")
    table.add_column("count", justify="right", no_wrap=True)
    top = sorted(summary.failures, key=lambda g: -g.count)
    for group in top[:MAX_FAILURE_GROUPS]:
        table.add_row(*_failure_row(group))
    out: list[RenderableType] = [table]
    if len(top) > MAX_FAILURE_GROUPS:
        more = len(top) - MAX_FAILURE_GROUPS
        out.append(Text(f"… {more} more failure groups in failures.csv", style="dim"))
    return out


_TREND_SHOWN = (("avg", "mean"), ("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("max", "max"))


def _metric_values(metric: CustomMetricStats) -> str:
    """A metric's figures in its unit, short enough for one row at 80 columns: a trend's avg and
    percentiles, a rate as a percentage, a counter's total and its rate per second."""
    values = metric.values
    if metric.kind == "trend":
        number = fmt_ms if metric.unit in _TIME_UNITS else (lambda v: f"{v:,.4g}")
        shown = "  ".join(f"{label} {number(values[key])}" for label, key in _TREND_SHOWN if key in values)
        return f"{shown} {metric.unit}".strip() if shown else NO_VALUE
    if metric.kind == "rate":
        return f"rate {fmt_pct(values.get('rate', 0.0))}"
    return f"total {values.get('count', 0.0):,.6g}  rate {values.get('rate', 0.0):,.4g}/s"


def _custom_metrics(metrics: tuple[CustomMetricStats, ...]) -> list[RenderableType]:
    """One row per metric; its kind shows in its figures (percentiles: a trend, a percentage: a
    rate, a total: a counter)."""
    if not metrics:
        return []
    table = _titled_table("Custom metrics", tight=True)
    table.add_column("name")
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("values", overflow="fold")
    for metric in sorted(metrics, key=lambda m: m.name):
        table.add_row(Name(metric.name, min_width=12), fmt_count(metric.count), Text(_metric_values(metric)))
    return [table]


# -- generator, dropped iterations, warnings, results ----------------------------------------


def _users(summary: RunSummary) -> list[RenderableType]:
    """Virtual users: the peak, and with several user classes what each got (its own peak)."""
    users = summary.users
    if not (users.peak or users.started):
        return []
    line = Text(f"Users: peak {fmt_count(users.peak)}")
    if len(users.by_class) > 1:
        line.append(" (" + " · ".join(f"{name} {fmt_count(n)}" for name, n in users.by_class.items()) + ")")
    line.append(f" · {fmt_count(users.started)} started")
    if users.start_failed:
        line.append(f" · {fmt_count(users.start_failed)} failed to start", style="bold red")
    return [line]


def _generator(summary: RunSummary) -> list[RenderableType]:
    gen = summary.generator
    line = Text(f"Generator: {gen.processes} processes · ")
    lost = gen.workers_lost
    line.append(f"{lost} worker{'' if lost == 1 else 's'} lost", style="bold red" if lost else "")
    line.append(f" · max CPU {gen.cpu_percent_max:.0f}%", style="bold yellow" if gen.saturated else "")
    if gen.coordinator is not None:
        line.append(f" · coordinator CPU max {gen.coordinator.cpu_percent_max:.0f}%")
    return [line]  # a saturated generator is said once, in the warnings


def _dropped(summary: RunSummary) -> list[RenderableType]:
    if summary.workload != "open" or summary.dropped_iterations is None:
        return []
    count = summary.dropped_iterations
    line = Text(f"Dropped iterations: {fmt_count(count)}", style="bold yellow" if count else "")
    if count and summary.generator.saturated:
        line.append(" — the generator could not keep up with the arrival rate: add --processes or "
                    "machines (or a free virtual user was lacking: --max-users)", style="yellow")
    elif count:
        line.append(" — no free virtual user within the cap; raise --max-users", style="yellow")
    return [line]


def describe_breaking_point(bp: dict) -> str:
    """``6 users at 6.0s (step 3): p95 62.8 ms, threshold p95<50ms, on the step's window 5.0-6.0s``"""
    level = f"{bp['users']:,} users" if "users" in bp else f"{bp.get('rate', bp.get('step_level', '?'))} iterations/s"
    step = f" (step {bp['step']})" if bp.get("step") is not None else ""
    actual = bp.get("actual")
    shown = "—" if actual is None else f"{actual:,.4g}"
    text = f"{level} at {bp.get('elapsed_s', 0):.1f}s{step}: {bp.get('stat', '')} {shown}".rstrip()
    text += f", threshold {bp['threshold']}" if bp.get("threshold") else ""
    if bp.get("window_from_s") is not None and bp.get("window_to_s") is not None:
        text += f", on the step's window {bp['window_from_s']:.1f}-{bp['window_to_s']:.1f}s"
    return text


def _extras(summary: RunSummary) -> list[RenderableType]:
    out: list[RenderableType] = []
    if summary.total.cancelled:
        out.append(Text(f"Cancelled at the end: {fmt_count(summary.total.cancelled)} requests still in "
                        "flight after the graceful stop (not failures)", style="dim"))
    if summary.breaking_point:
        out.append(Text(f"Breaking point: {describe_breaking_point(summary.breaking_point)}", style="bold magenta"))
    out.extend(Text(f"⚠ {warning}", style="yellow") for warning in summary.warnings)
    return out


def render_summary(summary: RunSummary, out_dir: str) -> list[RenderableType]:
    """The final summary, verdict first, sections separated by blank lines; print each or ``Group`` them."""
    sections: list[list[RenderableType]] = [
        [*_verdict(summary), _context(summary)],
        _thresholds(summary) if summary.thresholds else [],
        _findings(summary),
        [EndpointsTable(summary.endpoints, summary.total)],
        _failures(summary),
        _custom_metrics(summary.custom_metrics),
        summary_lines(summary.monitors),
        _users(summary) + _generator(summary) + _dropped(summary) + _extras(summary),
        [Text.assemble(("Results: ", "bold"), out_dir)],
    ]
    parts: list[RenderableType] = []
    for section in filter(None, sections):
        parts += [*([Text()] if parts else []), *section]
    return parts


def print_revised(console: Console, summary: RunSummary) -> None:
    """After teardown changed the result: the verdict again, as it now stands."""
    console.print()
    console.print(Group(*_verdict(summary)))


def print_summary(console: Console, summary: RunSummary, out_dir: str) -> None:
    console.print()
    console.print(Group(*render_summary(summary, out_dir)))
