"""``surge report DIR``: report.html rebuilt from a results folder alone."""
from __future__ import annotations

from pathlib import Path

import click

from ..model.errors import ConfigError


@click.command("report")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "-o", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the page (default DIR/report.html).")
def report_command(folder: Path, out: Path | None) -> None:
    """Write report.html for the results folder FOLDER from its files alone (summary.json,
    stats_history.csv, histograms.json, monitors/*.csv, db_report.json): the same page a run
    writes at its end. Exit 2 when FOLDER is not a results folder."""
    from ..outputs.report import REPORT_HTML, render_report
    from ..outputs.results import SUMMARY_JSON, write_atomic

    if not (folder / SUMMARY_JSON).is_file():
        raise ConfigError(f"{str(folder)!r} is not a results folder: it has no {SUMMARY_JSON}",
                          "pass the folder a run wrote (results/<scenario>-<profile>-<time>/ or its --out)")
    target = out or folder / REPORT_HTML
    try:
        write_atomic(target, render_report(folder))
    except OSError as exc:
        raise ConfigError(f"--out {str(target)!r} cannot be written: {exc.strerror or exc}") from exc
    click.echo(str(target))
