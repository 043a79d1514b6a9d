"""``surge db report URL``: a database's slowest statements, missing-index hints and sizes, now.

The same report a run writes as ``db_report.json`` (``surge.monitors.db_report``), without a
load window: the statement totals since PostgreSQL's statistics were last reset. It prints a
short table and writes the JSON file.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from ..model.errors import ConfigError

REPORT_HELP = """Report on the PostgreSQL database at URL (or $DATABASE_URL): the slowest
statements by mean and by total time (from pg_stat_statements), tables read by many
sequential scans (missing-index hints) and the biggest tables and indexes.

\b
Prints a short table and writes the JSON (default db_report.json).
Read-only; a role with pg_monitor is enough.
Exit codes: 0 report written; 2 malformed or unreachable URL, or --out not writable.
"""

_ROWS = 5  # per table printed; the JSON has more


@click.group("db")
def db_group() -> None:
    """PostgreSQL: what a database spends its time on."""


@db_group.command("report", help=REPORT_HELP)
@click.argument("url", envvar="DATABASE_URL", metavar="URL")
@click.option("--out", "-o", metavar="FILE", default="db_report.json", show_default=True,
              help="Where the JSON report goes.")
@click.option("--debug", is_flag=True, default=None, help="Show tracebacks.")
def report_command(url: str, out: str, debug: bool | None) -> None:
    from ..monitors.db import report_now
    from ..monitors.db_report import render_db_report_json
    from ..outputs.results import write_atomic

    report = report_now(url)
    path = Path(out)
    try:
        write_atomic(path, render_db_report_json(report))
    except OSError as exc:
        raise ConfigError(f"--out {out!r} cannot be written: {exc.strerror or exc}") from None
    click.echo(render_report_text(report))
    click.echo(f"report written to {path}")


def render_report_text(report: Mapping[str, Any]) -> str:
    """The short table ``surge db report`` prints."""
    statements = report.get("statements") or {}
    lines = [f"PostgreSQL {report.get('database')} ({report.get('server_version', '?')}); "
             f"statements {statements.get('scope', 'unavailable')}"]
    for key, title in (("by_mean_time", "Slowest statements by mean time"), ("by_total_time", "by total time")):
        lines += _table(title, ("mean ms", "calls", "total ms", "query"),
                        [(f"{s['mean_time_ms']:.1f}", str(s["calls"]), f"{s['total_time_ms']:.1f}", _short(s["query"]))
                         for s in statements.get(key, ())[:_ROWS]], ">>><")
    lines += _table("Missing-index hints", ("table", "seq scans", "rows read", "idx scans", "rows"),
                    [(f"{h['schema']}.{h['table']}", str(h["seq_scan"]), str(h["seq_tup_read"]), str(h["idx_scan"]),
                      str(h["rows"])) for h in report.get("missing_index_hints", ())[:_ROWS]], "<>>>>")
    lines += _table("Biggest tables", ("table", "total", "heap", "indexes", "rows"),
                    [(f"{t['schema']}.{t['table']}", _mb(t["total_bytes"]), _mb(t["table_bytes"]),
                      _mb(t["indexes_bytes"]), str(t["rows"])) for t in report.get("tables", ())[:_ROWS]], "<>>>>")
    if statements.get("note"):
        lines.append(f"note: {statements['note']}")
    lines += [f"warning: {w}" for w in report.get("warnings", ())]
    return "\n".join(lines)


def _table(title: str, header: Sequence[str], rows: list[tuple[str, ...]], align: str) -> list[str]:
    """``align``: one ``<`` or ``>`` per column (text left, numbers right)."""
    if not rows:
        return [f"{title}: none"]
    widths = [max(len(r[i]) for r in (tuple(header), *rows)) for i in range(len(header))]
    fmt = "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths))
    return [f"{title}:", *("  " + fmt.format(*r).rstrip() for r in (tuple(header), *rows))]


def _short(query: str, width: int = 70) -> str:
    return query if len(query) <= width else query[:width - 1] + "…"


def _mb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:.1f} MB"
