"""The final summary of a run as rich renderables: verdict first, then what explains it.

Order matters: a reader (or a CI log skimmer) sees PASSED/FAILED and the thresholds before the
detail. Every user-supplied string (endpoint names, failure messages, threshold expressions) goes
into :class:`rich.text.Text`, never through console markup, so ``/items/[id]`` prints as written.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from rich import box
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

__all__ = [
    "EndpointsTable", "fmt_count", "fmt_ms", "fmt_pct", "fmt_rps", "format_threshold_actual",
    "print_summary", "render_summary",
]

MAX_FAILURE_GROUPS = 10
NO_VALUE = "—"

_VERDICT_STYLES = {
    "passed": "bold white on green",
    "failed": "bold white on red",
    "interrupted": "bold black on yellow",
    "error": "bold white on red",
}
_BOX = box.SIMPLE_HEAD  # light rules: more room for figures, and it reads well in CI logs
_LATENCY_STAT = re.compile(r"^(min|mean|max|p\d+(\.\d+)?)$")


# -- number formatting (shared with the live view) -------------------------------------------


def fmt_ms(value: float) -> str:
    """Milliseconds: 2 decimals below 1 ms, 1 decimal below 1 s, whole ms with separators above."""
    if value < 1:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def fmt_rps(value: float) -> str:
    return f"{value:,.1f}"


def fmt_count(value: int | float) -> str:
    return f"{int(value):,}"


def fmt_pct(fraction: float) -> str:
    """A fraction as a percentage: ``0.001`` -> ``0.10%``, ``0.125`` -> ``12.5%``."""
    pct = fraction * 100
    return f"{pct:.2f}%" if pct < 10 else f"{pct:.1f}%"


def _titled_table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=_BOX,
                 collapse_padding=True, show_edge=False)


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
    style = "" if status == "passed" else "bold red" if status in ("failed", "error") else "yellow"
    reasons = [r for r in summary.status_reasons if not r.endswith("thresholds failed")]
    return [text, *(Text(f"  {r}", style=style) for r in reasons)]


def _context(summary: RunSummary) -> Text:
    parts = [summary.scenario, f"profile {summary.profile}" if summary.profile else None,
             summary.host, f"{summary.workload} workload", format_duration(summary.duration_s),
             f"started {summary.started_at}"]
    return Text(" · ".join(p for p in parts if p), style="dim")


def format_threshold_actual(result: ThresholdResult) -> str:
    """The actual value in the unit the expression speaks (ms, %, /s, a count, or plain)."""
    if result.actual is None:
        return NO_VALUE
    stat = result.stat
    if stat == "error_rate":
        return fmt_pct(result.actual)
    if stat == "rps":
        return f"{fmt_rps(result.actual)}/s"
    if stat in ("requests", "failures"):
        return fmt_count(result.actual)
    if _LATENCY_STAT.match(stat):
        return f"{fmt_ms(result.actual)} ms"
    return f"{result.actual:,.4g}"


def _thresholds_table(results: tuple[ThresholdResult, ...]) -> Table:
    table = _titled_table("Thresholds")
    table.add_column("target")
    table.add_column("expression")
    table.add_column("actual", justify="right")
    table.add_column("", justify="center")
    with_notes = any(r.message for r in results)
    if with_notes:
        table.add_column("note", overflow="fold")
    for r in results:
        mark = Text("✓", style="bold green") if r.passed else Text("✗", style="bold red")
        row = [Text(r.target), Text(r.expression), Text(format_threshold_actual(r)), mark]
        if with_notes:
            row.append(Text(r.message, style="yellow" if r.message else ""))
        table.add_row(*row, style=None if r.passed else "red")
    return table


# -- endpoints, failures, custom metrics -----------------------------------------------------

_ENDPOINT_LATENCIES = ("p50", "p95", "p99", "p999", "max")
_FIGURES = ("requests", "failures", "error %", "rps", "p50", "p95", "p99", "p99.9", "max")
_NARROW_FIGURES = ("requests", "error %", "rps", "p50", "p95", "p99", "max")
NARROW_BELOW = 100  # columns; an 80-column CI log gets the narrow table
MAX_SUMMARY_ENDPOINTS = 40


def _endpoint_cells(stats: EndpointStats) -> dict[str, RenderableType]:
    latencies = _latency_cells(stats.latency_ms, _ENDPOINT_LATENCIES)
    return {
        "requests": fmt_count(stats.requests), "failures": fmt_count(stats.failures),
        "error %": fmt_pct(stats.error_rate), "rps": fmt_rps(stats.rps),
        **dict(zip(("p50", "p95", "p99", "p99.9", "max"), latencies)),
    }


class EndpointsTable:
    """The per-endpoint table, Aggregated last, fitted to the width it is printed at.

    Below :data:`NARROW_BELOW` columns the method joins the name and the failures count and
    p99.9 step aside (error % and the files keep them), so names stay readable. Beyond
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
        table = _titled_table("Endpoints (latency in ms)")
        if not narrow:
            table.add_column("method", no_wrap=True)
        table.add_column("name", overflow="fold", min_width=12)
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
            return [Text(f"{stats.method} {stats.name}".strip()), *(cells[f] for f in figures)]
        return [Text(stats.method), Text(stats.name), *(cells[f] for f in figures)]


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


def _metric_values(metric: CustomMetricStats) -> str:
    return "  ".join(f"{key} {value:,.4g}" for key, value in metric.values.items())


def _custom_metrics(metrics: tuple[CustomMetricStats, ...]) -> list[RenderableType]:
    if not metrics:
        return []
    table = _titled_table("Custom metrics")
    for header in ("name", "kind"):
        table.add_column(header)
    table.add_column("count", justify="right")
    table.add_column("values", overflow="fold")
    for metric in sorted(metrics, key=lambda m: m.name):
        table.add_row(Text(metric.name), Text(metric.kind), fmt_count(metric.count),
                      Text(_metric_values(metric)))
    return [table]


# -- generator, dropped iterations, warnings, results ----------------------------------------


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


def _extras(summary: RunSummary) -> list[RenderableType]:
    out: list[RenderableType] = []
    if summary.total.cancelled:
        out.append(Text(f"Cancelled at the end: {fmt_count(summary.total.cancelled)} requests still in "
                        "flight after the graceful stop (not failures)", style="dim"))
    if summary.breaking_point:
        details = ", ".join(f"{k} {v}" for k, v in summary.breaking_point.items())
        out.append(Text(f"Breaking point: {details}", style="bold magenta"))
    out.extend(Text(f"⚠ {warning}", style="yellow") for warning in summary.warnings)
    return out


def render_summary(summary: RunSummary, out_dir: str) -> list[RenderableType]:
    """The final summary, verdict first, sections separated by blank lines; print each or ``Group`` them."""
    sections: list[list[RenderableType]] = [
        [*_verdict(summary), _context(summary)],
        [_thresholds_table(summary.thresholds)] if summary.thresholds else [],
        [EndpointsTable(summary.endpoints, summary.total)],
        _failures(summary),
        _custom_metrics(summary.custom_metrics),
        _generator(summary) + _dropped(summary) + _extras(summary),
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
