"""The terminal view of a running test: an output of the run (``surge.outputs.base``).

Modes: ``rich`` (a live-updating frame), ``lines`` (one compact line per ~5 s, for CI logs and
non-TTY output), ``off`` (warnings only), ``auto`` (rich when stdout is a terminal and ``CI`` is
not set, else lines; ``FORCE_COLOR``, which CI runners set for colour, does not make a live frame).

The live frame's endpoint table lists every endpoint seen so far, in one order (by name), with
cumulative counts and latencies and the current interval's rps (0 when it had no traffic), so
rows never come and go between frames; it fits the terminal's width by shortening long names
in the middle.

``finish(result)`` closes the live frame and prints the final summary
(:func:`surge.cli.summary_table.print_summary`). The live frame is transient (it clears when
closed), so the summary replaces it instead of repeating its tables.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from surge.model.events import (
    MonitorSample,
    IntervalStats,
    Notice,
    RunStarted,
    StageChanged,
    ThresholdBreached,
)
from surge.model.kinds import LiveMode
from surge.model.summary import EndpointStats, RunResult

from .cells import NO_VALUE, Name, endpoint_label, fmt_count, fmt_ms, fmt_pct, fmt_rps
from .monitor_lines import LiveMonitors
from .summary_table import NARROW_BELOW, format_threshold_actual, print_revised, print_summary

__all__ = ["MODES", "ConsoleView", "LiveEndpoints", "auto_mode", "format_line"]

MODES = tuple(LiveMode)
LINE_EVERY_S = 5.0
MAX_ENDPOINT_ROWS = 15
CPU_WARN_PERCENT = 90.0
#: a worker loop held this long in an interval is shown (the summary warns from 250 ms on too)
LOOP_LAG_WARN_MS = 250.0
_NOTICE_STYLES = {"warning": "yellow", "error": "bold red", "info": "dim"}


def clock(seconds: float) -> str:
    """Fixed-shape elapsed time for live output: ``35s``, ``1m00s``, ``1h02m03s``."""
    whole = max(0, int(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m:02d}m{s:02d}s"
    return f"{m}m{s:02d}s" if m else f"{s}s"


def auto_mode(console: Console, environ: Mapping[str, str] = os.environ) -> str:
    """``rich`` when the console writes to a real terminal outside CI, else ``lines``.

    The file is asked itself: rich's ``is_terminal`` is forced true by ``FORCE_COLOR``, which CI
    runners set to keep colour in their logs, and a live frame there is a log of redraws.
    """
    isatty = getattr(console.file, "isatty", None)
    terminal = bool(isatty and isatty()) and not console.is_dumb_terminal
    in_ci = environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return "rich" if terminal and not in_ci else "lines"


def _by_class(stats: IntervalStats, sep: str) -> str:
    """`` (Reader 6, Writer 2)``: the users of each class, when there are several classes."""
    if len(stats.users_by_class) < 2:
        return ""
    return " (" + sep.join(f"{name} {n:,}" for name, n in stats.users_by_class.items()) + ")"


def _level(stats: IntervalStats) -> str:
    if stats.workload == "open":
        return f"rate {stats.target:,.1f}/s vus {stats.users}{_by_class(stats, ', ')}"
    return f"users {stats.users}{_by_class(stats, ', ')}"


def _window_latencies(stats: IntervalStats, sep: str) -> str:
    """``p50 3.1 p95 8.2 p99 12.0``; dashes for an interval in which nothing was timed (no
    request, or every one failed before a response): 0.00 would claim instant answers."""
    lat = stats.window.latency_ms
    timed = lat.max > 0
    return sep.join(f"{key} {fmt_ms(getattr(lat, key)) if timed else NO_VALUE}" for key in ("p50", "p95", "p99"))


def format_line(stats: IntervalStats, iterations: int | None = None) -> str:
    """One compact CI-log line for an interval (window rps and percentiles, cumulative errors).

    ``iterations``: the run's --iterations bound; the line then counts toward it, the duration
    being only a cap."""
    if iterations:
        where = f"[{clock(stats.elapsed_s)} · {fmt_count(stats.iterations)}/{fmt_count(iterations)} it]"
    else:
        total = clock(stats.duration_s) if stats.duration_s > 0 else "?"
        where = f"[{clock(stats.elapsed_s):>{len(total)}}/{total}]"
    parts = [
        f"{where} stage {stats.stage + 1}/{stats.stages} {_level(stats)}",
        f"rps {fmt_rps(stats.window.rps)}",
        f"{_window_latencies(stats, ' ')} ms",
        f"err {fmt_pct(stats.cumulative.error_rate)}",
    ]
    if stats.workload == "open":
        parts.append(f"dropped {fmt_count(stats.dropped_iterations)}")
    if stats.failing_thresholds:
        parts.append(f"failing {len(stats.failing_thresholds)}")
    if stats.loop_lag_ms >= LOOP_LAG_WARN_MS:
        parts.append(f"loop held {stats.loop_lag_ms:,.0f} ms: blocking code in a task")
    if stats.partial:
        parts.append("partial: a worker's snapshot was late")
    return " | ".join(parts)


class ConsoleView:
    """Shows a run as it goes. Feed it every event with :meth:`handle`; call :meth:`close` at the end.

    Unknown event types are ignored, so new events never break an older view.
    """

    def __init__(self, mode: str = "auto", console: Console | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"console mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.console = console or Console()
        self.mode = auto_mode(self.console) if mode == "auto" else mode
        self._started: RunStarted | None = None
        self._last: IntervalStats | None = None
        #: every endpoint seen so far, by (method, name): its latest cumulative figures
        self._seen: dict[tuple[str, str], EndpointStats] = {}
        self._live: Live | None = None
        self._last_line_s: float | None = None
        self._unprinted: IntervalStats | None = None  # the latest interval not yet printed as a line
        self._monitors = LiveMonitors()

    # -- dispatch ---------------------------------------------------------------------------

    @functools.singledispatchmethod
    def handle(self, event: object) -> None:
        """Update the view with one event of the run."""

    @handle.register
    def _on_started(self, event: RunStarted) -> None:
        self._started = event
        if self.mode == "lines":
            profile = f" profile {event.profile}" if event.profile else ""
            length = (f"{fmt_count(event.iterations)} iterations (at most {clock(event.duration_s)})"
                      if event.iterations else clock(event.duration_s))
            self.console.print(Text(
                f"surge: {event.scenario}{profile} → {event.host} ({event.workload} workload, "
                f"{length}, {event.processes} processes)"))
        elif self.mode == "rich":
            self._start_live()

    @handle.register
    def _on_monitor(self, event: MonitorSample) -> None:
        self._monitors.add(event)  # shown with the next interval (live frame or CI line)

    @handle.register
    def _on_interval(self, event: IntervalStats) -> None:
        self._last = event
        for _, cumulative in event.endpoints:
            self._seen[(cumulative.method, cumulative.name)] = cumulative
        if self.mode == "rich":
            self._start_live()
            self._live.update(self.renderable(), refresh=True)
        elif self.mode == "lines":
            self._maybe_print_line(event)

    @handle.register
    def _on_stage(self, event: StageChanged) -> None:
        if self.mode in ("rich", "lines") and event.stages > 1:  # one stage: the header says it all
            unit = "iterations/s" if self._workload() == "open" else "users"
            self._print(Text(f"→ stage {event.stage + 1}/{event.stages} at {clock(event.elapsed_s)}: "
                             f"target {event.target:,.4g} {unit}", style="cyan"))

    @handle.register
    def _on_breach(self, event: ThresholdBreached) -> None:
        r = event.result
        text = Text(f"✗ threshold failed at {clock(event.elapsed_s)}: {r.target}: {r.expression} "
                    f"(actual {format_threshold_actual(r)})", style="bold red")
        if r.message:
            text.append(f" — {r.message}")
        if event.aborting:
            text.append(" — aborting the run", style="bold red reverse")
        elif event.breaking:
            text.append(" — the breaking point: the run stops here", style="bold magenta")
        self._print(text)

    @handle.register
    def _on_notice(self, event: Notice) -> None:
        prefix = "⚠ " if event.level in ("warning", "error") else ""
        # one line however long (a path, a list of files), so a CI log can be grepped for it
        self._print(Text(prefix + event.message, style=_NOTICE_STYLES.get(event.level, "")), soft_wrap=True)

    def finish(self, result: RunResult) -> None:
        """The run is over: stop the live frame, then print the final summary."""
        self.close()
        print_summary(self.console, result.summary, result.out_dir)

    def revise(self, result: RunResult) -> None:
        """Teardown changed the verdict (a signal during it): say how it stands now."""
        if result.summary.status_reasons and any("teardown" in r for r in result.summary.status_reasons):
            print_revised(self.console, result.summary)

    def close(self) -> None:
        """Stop the live display and print the last pending line. Safe to call twice."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._unprinted is not None:
            self._print_line(self._unprinted)

    def __enter__(self) -> ConsoleView:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- output helpers ---------------------------------------------------------------------

    def _print(self, renderable: RenderableType, soft_wrap: bool = False) -> None:
        """Print above the live frame (rich), or plainly; nothing is lost in ``off`` mode but colour."""
        target = self._live.console if self._live is not None else self.console
        target.print(renderable, soft_wrap=soft_wrap)

    def _start_live(self) -> None:
        if self._live is None:
            self._live = Live(self.renderable(), console=self.console, auto_refresh=False,
                              transient=True, redirect_stderr=False)
            self._live.start(refresh=True)

    def _maybe_print_line(self, stats: IntervalStats) -> None:
        first = self._last_line_s is None
        due = first or stats.elapsed_s - self._last_line_s >= LINE_EVERY_S - 0.05
        last = stats.duration_s > 0 and stats.elapsed_s >= stats.duration_s or bool(
            self._iterations() and stats.iterations >= self._iterations())
        if due or last:
            self._print_line(stats)
        else:
            self._unprinted = stats

    def _print_line(self, stats: IntervalStats) -> None:
        self.console.print(Text(format_line(stats, self._iterations())), soft_wrap=True)
        monitors = self._monitors.line()
        if monitors is not None:
            self.console.print(Text("  ").append_text(monitors), soft_wrap=True)
        self._last_line_s = stats.elapsed_s
        self._unprinted = None

    def _workload(self) -> str:
        if self._last is not None:
            return self._last.workload
        return self._started.workload if self._started else "closed"

    # -- the live frame ---------------------------------------------------------------------

    def renderable(self) -> RenderableType:
        """The current live frame: header, totals, endpoint table, failing thresholds."""
        stats = self._last
        parts: list[RenderableType] = [self._title()]
        if stats is None:
            parts.append(Text("waiting for the first interval…", style="dim"))
            return Group(*parts)
        window = {(w.method, w.name): w for w, _ in stats.endpoints}
        monitors = self._monitors.line()
        parts += [_progress(stats, self._iterations()), _load_line(stats, self._processes()), _totals_line(stats),
                  *([monitors] if monitors is not None else []),
                  LiveEndpoints(self._seen, window)]
        if stats.failing_thresholds:
            parts.append(Text("✗ failing: " + ", ".join(stats.failing_thresholds), style="bold red"))
        return Group(*parts)

    def _title(self) -> Text:
        start = self._started
        if start is None:
            return Text("surge", style="bold")
        text = Text.assemble(("surge ", "bold"), (start.scenario, "bold cyan"))
        if start.profile:
            text.append(f" ({start.profile})")
        text.append(" → ")
        text.append(start.host, style="underline")
        text.append(f"  {start.workload} workload", style="dim")
        return text

    def _processes(self) -> int | None:
        return self._started.processes if self._started else None

    def _iterations(self) -> int | None:
        return self._started.iterations if self._started else None


def _progress(stats: IntervalStats, iterations: int | None = None) -> Table:
    """The bar: toward the --iterations bound when there is one (the duration is then a cap),
    else through the plan's duration."""
    grid = Table.grid(padding=(0, 1))
    if iterations:
        bar = ProgressBar(total=iterations, completed=min(stats.iterations, iterations), width=30)
        label = (f"{fmt_count(stats.iterations)} / {fmt_count(iterations)} iterations · "
                 f"{clock(stats.elapsed_s)} elapsed · at most {clock(stats.duration_s)}")
    elif stats.duration_s > 0:
        remaining = max(0.0, stats.duration_s - stats.elapsed_s)
        bar = ProgressBar(total=stats.duration_s, completed=min(stats.elapsed_s, stats.duration_s),
                          width=30)
        label = f"{clock(stats.elapsed_s)} / {clock(stats.duration_s)} · {clock(remaining)} left"
    else:
        bar = ProgressBar(total=None, width=30)
        label = clock(stats.elapsed_s)
    grid.add_row(bar, Text(label), Text(f"· stage {stats.stage + 1}/{stats.stages}"))
    return grid


def _load_line(stats: IntervalStats, processes: int | None) -> Text:
    if stats.workload == "open":
        text = Text(f"rate {stats.target:,.1f}/s · VUs {stats.users}{_by_class(stats, ' · ')} · dropped ")
        text.append(fmt_count(stats.dropped_iterations),
                    style="bold yellow" if stats.dropped_iterations else "")
    else:
        text = Text(f"users {stats.users}/{stats.target:,.0f}{_by_class(stats, ' · ')}")
    if stats.users == 0 and 0 < stats.duration_s <= stats.elapsed_s:
        text.append(" stopped", style="dim")  # the wind-down after the plan's end
    cpu_hot = stats.cpu_percent >= CPU_WARN_PERCENT
    text.append(" · generator CPU ")
    text.append(f"{stats.cpu_percent:.0f}%", style="bold red" if cpu_hot else "")
    if cpu_hot:
        text.append(" ⚠ generator may be the bottleneck", style="bold red")
    if stats.loop_lag_ms >= LOOP_LAG_WARN_MS:
        text.append(f" · loop held {stats.loop_lag_ms:,.0f} ms ⚠ blocking code in a task", style="bold red")
    lost = processes is not None and stats.workers_alive < processes
    text.append(" · workers ")
    text.append(f"{stats.workers_alive}" + (f"/{processes}" if processes else ""),
                style="bold red" if lost else "")
    return text


def _totals_line(stats: IntervalStats) -> Text:
    cum = stats.cumulative
    text = Text.assemble(("rps ", "dim"), (fmt_rps(stats.window.rps), "bold"))
    text.append(f" · {_window_latencies(stats, ' · ')} ms · errors ")
    text.append(fmt_pct(cum.error_rate), style="bold red" if cum.failures else "")
    text.append(f" · requests {fmt_count(cum.requests)}")
    return text


_LIVE_LATENCIES = ("mean", "p50", "p95", "p99", "max")
_LIVE_HEADERS = ("avg", "p50", "p95", "p99", "max")
#: room kept for typical figures (rps below 1,000, latencies below 100 ms), so the name column
#: keeps its width from frame to frame instead of moving with every digit
_LIVE_MIN_WIDTHS = {"rps": 5, **dict.fromkeys(_LIVE_HEADERS, 4)}


class LiveEndpoints:
    """The live endpoint table: every endpoint seen so far (sorted by name, then method), its
    cumulative counts and latencies and this interval's rps, at most :data:`MAX_ENDPOINT_ROWS`.

    Below :data:`NARROW_BELOW` columns the method joins the name and ``max`` steps aside, so at
    80 columns ``GET /v1/...`` of ~40 characters shows whole with typical figures; a longer one
    is shortened in the middle (:class:`~surge.cli.cells.Name`).
    """

    def __init__(self, seen: Mapping[tuple[str, str], EndpointStats],
                 window: Mapping[tuple[str, str], EndpointStats]) -> None:
        self.rows = sorted(seen.values(), key=lambda e: (e.name, e.method))
        self.window = window

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table(narrow=options.max_width < NARROW_BELOW)

    def table(self, narrow: bool = False) -> Table:
        latencies = _LIVE_LATENCIES[:-1] if narrow else _LIVE_LATENCIES
        table = Table(box=None, header_style="bold dim", pad_edge=False, padding=(0, 0, 0, 1),
                      collapse_padding=True)
        if not narrow:
            table.add_column("method", no_wrap=True)
        table.add_column("endpoint" if narrow else "name")  # Name cells shorten, never wrap
        for header in ("requests", "fails", "rps", *_LIVE_HEADERS[:len(latencies)]):
            table.add_column(header, justify="right", no_wrap=True, min_width=_LIVE_MIN_WIDTHS.get(header))
        for cumulative in self.rows[:MAX_ENDPOINT_ROWS]:
            table.add_row(*self._row(cumulative, latencies, narrow))
        if len(self.rows) > MAX_ENDPOINT_ROWS:
            table.add_row(*([""] * (not narrow)), Text(f"… {len(self.rows) - MAX_ENDPOINT_ROWS} more", style="dim"))
        return table

    def _row(self, cumulative: EndpointStats, latencies: tuple[str, ...], narrow: bool) -> list[RenderableType]:
        window = self.window.get((cumulative.method, cumulative.name))
        lat = cumulative.latency_ms
        cells = [NO_VALUE] * len(latencies) if lat.max == 0 else [fmt_ms(getattr(lat, k)) for k in latencies]
        failures = Text(fmt_count(cumulative.failures), style="red" if cumulative.failures else "")
        names = [Name(endpoint_label(cumulative))] if narrow else [Text(cumulative.method), Name(cumulative.name)]
        return [*names, fmt_count(cumulative.requests), failures, fmt_rps(window.rps if window else 0.0), *cells]
