"""``surge compare BASELINE CURRENT``: per series and metric, what changed and what regressed.

Loads both results folders through ``surge.analysis.loader``, compares them with the pure
``surge.analysis.compare``, prints a table (regressions first), writes compare.json and
compare.md, and appends the Markdown to ``$GITHUB_STEP_SUMMARY`` when that is set.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from ..model.errors import ConfigError, ExitCode

COMPARE_HELP = """Compare the results folder CURRENT against BASELINE: per endpoint and
overall, p50/p95/p99, requests/s and error rate, with absolute and relative deltas.

\b
A regression is a change for the worse (higher latency or error rate, lower
requests/s) that exceeds --tolerance AND the run-to-run noise. The noise comes
from the two runs' stats_history.csv: the shift of the metric's per-interval
means must exceed 3 x their combined standard error, 3 * sqrt(sd_b^2/n_b +
sd_c^2/n_c), widened by 1 + 2.5/(n_b + n_c - 2) for short histories (the first
and last, partial intervals left out when a run has more than 4), so a single
slow interval cannot make a regression. With fewer than 2 intervals in a run
the noise is unknown and only the tolerance applies. A latency must also change
by --min-latency-change (1 ms): between runs the generator's own jitter moves
sub-millisecond latencies more than either run's intervals show.
Endpoints in only one run are listed as added/removed, not as regressions.
In a closed workload requests/s follows latency, so a slower endpoint can
lower every endpoint's rate; an open (--rate) workload keeps rates apart.

\b
Writes compare.json and compare.md into --out (default: CURRENT) and appends
compare.md to $GITHUB_STEP_SUMMARY when that variable is set.
Exit codes: 0 no regression; 1 a regression; 2 a folder is not a results
folder, or a bad option.
"""


@click.command("compare", help=COMPARE_HELP)
@click.argument("baseline", metavar="BASELINE_DIR")
@click.argument("current", metavar="CURRENT_DIR")
@click.option("--tolerance", metavar="PERCENT", default="10%", show_default=True,
              help="Smallest relative change for the worse that can count: 10%, 5.5%, or a fraction 0.1.")
@click.option("--min-latency-change", metavar="DURATION", default="1ms", show_default=True,
              help="A latency must also change by at least this much (0 for none): below ~1 ms, two runs of "
                   "one target differ by the generator's own scheduling jitter, which the per-interval noise "
                   "of either run does not show.")
@click.option("--out", "-o", metavar="DIR", help="Where compare.json and compare.md go (default: CURRENT_DIR).")
@click.option("--debug", is_flag=True, default=None, help="Show tracebacks.")
def compare_command(baseline: str, current: str, tolerance: str, min_latency_change: str, out: str | None,
                    debug: bool | None) -> None:
    from ..analysis.compare import compare
    from ..analysis.loader import load_run
    from ..model.durations import parse_duration

    floor_ms = parse_duration(min_latency_change, "--min-latency-change") * 1000
    comparison = compare(load_run(baseline), load_run(current), parse_tolerance(tolerance),
                         min_latency_change_ms=floor_ms)
    print_table(comparison)
    write_comparison(comparison, Path(out or current))
    raise SystemExit(int(ExitCode.THRESHOLDS_FAILED if comparison.regressed else ExitCode.PASSED))


def parse_tolerance(text: str) -> float:
    """``10%`` -> 0.1, ``0.1`` -> 0.1; negative or unreadable is a ConfigError naming the value."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ConfigError(f"--tolerance {text!r} is not a percentage such as 10% or a fraction such as 0.1") from None
    if value < 0:
        raise ConfigError(f"--tolerance {text!r} must be at least 0")
    return value


def write_comparison(comparison, folder: Path) -> None:
    """compare.json and compare.md into ``folder``; compare.md appended to $GITHUB_STEP_SUMMARY."""
    from ..analysis.render import render_compare_json, render_compare_md
    from ..outputs.results import write_atomic

    markdown = render_compare_md(comparison)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / "compare.json", render_compare_json(comparison))
        write_atomic(folder / "compare.md", markdown)
    except OSError as exc:
        raise ConfigError(f"--out {str(folder)!r} cannot be written: {exc.strerror or exc}") from None
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")


def print_table(comparison, console=None) -> None:
    """The comparison as a rich table, regressions first (rich imported here: ``surge --help``
    and the other commands need not load it)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from ..analysis.render import fmt_relative

    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 120)  # CI logs: wide
    table = Table(title=f"{comparison.current}\nvs baseline {comparison.baseline}\n"
                        f"(tolerance {comparison.tolerance:.0%}; a regression's shift exceeds the noise)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("series", overflow="fold", min_width=16)
    wide = console.width >= 100  # the shift (in compare.json and .md) only where it fits
    for name in ("metric", "baseline", "current", "delta", "rel.", *(("shift",) if wide else ()), "noise"):
        table.add_column(name, justify="left" if name == "metric" else "right", no_wrap=True)
    for r in comparison.rows:
        mark = "[bold red]REG[/]" if r.regression else ("worse" if r.worse else "")
        noise = "?" if r.noise is None else "±" + _num(r.metric, r.noise)
        shift = "?" if r.shift is None else _signed(r.metric, r.shift)
        table.add_row(mark, r.series, _UNITS[r.metric], _num(r.metric, r.baseline), _num(r.metric, r.current),
                      _signed(r.metric, r.delta), fmt_relative(r.relative), *((shift,) if wide else ()), noise)
    console.print(table)
    for title, keys in (("added (only in current)", comparison.added), ("removed (only in baseline)", comparison.removed)):
        if keys:
            console.print(f"{title}: {', '.join(keys)}", markup=False)
    n = len(comparison.regressions)
    console.print(f"{n} regression(s) (REG)" if n else "no regression", markup=False)


_UNITS = {"p50": "p50 ms", "p95": "p95 ms", "p99": "p99 ms", "rps": "req/s", "error_rate": "errors %"}


def _signed(metric: str, value: float) -> str:
    return ("+" if value >= 0 else "") + _num(metric, value)


def _num(metric: str, value: float) -> str:
    return f"{value * 100:.2f}" if metric == "error_rate" else f"{value:.1f}" if metric == "rps" else f"{value:.3f}"
