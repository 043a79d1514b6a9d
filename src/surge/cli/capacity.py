"""``surge capacity DIR``: how many instances a peak needs, from a stress or ramp run's folder.

Reads the folder's summary.json alone (its ``levels``, and its thresholds when no ``--sla``
is given) and applies the pure :mod:`surge.analysis.capacity`.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from ..model.errors import ConfigError, ExitCode

CAPACITY_HELP = """From the results folder DIR of a stress or ramp run: the highest load one
instance sustained while the SLA held, and the instances a peak needs:

\b
    required instances = ceil(peak x safety / per-instance capacity)

\b
The run's levels (summary.json 'levels': each step it held, or slices of a
ramp) are judged in the order it climbed; the per-instance capacity is the
last level before the first that broke the SLA: its users (--peak-users) or
its measured requests/s (--peak-rps). The SLA is --sla (repeatable, on all
requests: 'p95<500ms', 'error_rate<1%'; stats rps, error_rate, mean, p50,
p90, p95, p99, max), else the run's thresholds on '*', else error_rate<1%.
A run that never broke the SLA gives a lower bound (said so).

\b
Exit codes: 0 computed; 1 no level held the SLA (no capacity to plan with);
2 DIR is not a results folder, it has no levels, or a bad option.
"""


@click.command("capacity", help=CAPACITY_HELP)
@click.argument("folder", metavar="DIR")
@click.option("--peak-users", type=click.FloatRange(min=0, min_open=True), metavar="N",
              help="The peak to plan for, in concurrent users (a closed-workload run).")
@click.option("--peak-rps", type=click.FloatRange(min=0, min_open=True), metavar="R",
              help="The peak to plan for, in requests per second.")
@click.option("--safety", type=click.FloatRange(min=1.0), default=1.5, show_default=True, metavar="X",
              help="Safety factor the peak is multiplied by (at least 1).")
@click.option("--sla", "slas", multiple=True, metavar="EXPR",
              help="The SLA a level must hold, e.g. 'p95<500ms' (repeatable; default: the run's thresholds on '*').")
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the result as JSON to this file.")
@click.option("--debug", is_flag=True, default=None, help="Show tracebacks.")
def capacity_command(folder: str, peak_users: float | None, peak_rps: float | None, safety: float,
                     slas: tuple[str, ...], output: Path | None, debug: bool | None) -> None:
    from ..analysis.capacity import check_sla, level_from, plan_capacity
    from ..analysis.loader import load_summary

    if (peak_users is None) == (peak_rps is None):
        raise ConfigError("give the peak to plan for: --peak-users N or --peak-rps R (one of them)")
    summary = load_summary(Path(folder))
    raw_levels = summary.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise ConfigError(f"{folder} has no levels in its summary.json (a run of an older surge, or one that sent "
                          "nothing)", "run the stress or ramp profile again with this version")
    try:
        levels = [level_from(doc) for doc in raw_levels]
    except ValueError as exc:
        raise ConfigError(f"{folder}: summary.json 'levels': {exc}") from None
    by = "users" if peak_users is not None else "rps"
    if by == "users" and summary.get("workload") == "open":
        raise ConfigError(f"{folder} is an open-workload run (arrival rate): it measured rates, not users",
                          "plan with --peak-rps")
    specs, source = _sla(slas, summary)
    check_sla(specs)
    result = plan_capacity(levels, specs, by=by, peak=peak_users if by == "users" else peak_rps, safety=safety)
    doc = _document(folder, result, specs, source)
    _print(doc)
    if output is not None:
        try:
            output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--output {str(output)!r} cannot be written: {exc.strerror or exc}") from None
    raise SystemExit(int(ExitCode.PASSED if result.sustained is not None else ExitCode.THRESHOLDS_FAILED))


def _sla(slas: tuple[str, ...], summary: dict):
    from ..thresholds.parse import parse_cli_threshold, parse_expression

    if slas:
        return [parse_cli_threshold(s, source="--sla") if ":" in s else parse_expression("*", s, source="--sla")
                for s in slas], "--sla"
    run = []
    for t in summary.get("thresholds") or []:
        if isinstance(t, dict) and t.get("target") == "*":
            try:
                run.append(parse_expression("*", str(t.get("expression", ""))))
            except ConfigError:
                continue
    if run:
        return run, "the run's thresholds on '*'"
    return [parse_expression("*", "error_rate<1%")], "default (the run had no thresholds on '*')"


def _document(folder: str, result, specs, source: str) -> dict:
    unit = "users" if result.by == "users" else "req/s"
    sustained = result.sustained.level if result.sustained is not None else None
    return {
        "folder": folder,
        "sla": [spec.expression for spec in specs],
        "sla_source": source,
        "peak": {"users" if result.by == "users" else "rps": result.peak},
        "safety": result.safety,
        "per_instance": None if sustained is None else {
            "users": sustained.level if result.by == "users" else sustained.users,
            "rps": round(sustained.rps, 3), "level": sustained.level,
            "from_s": sustained.from_s, "to_s": sustained.to_s,
            "capacity": result.per_instance, "unit": unit},
        "lower_bound": result.never_broke,
        "required_instances": result.required_instances,
        "formula": (f"ceil({result.peak:g} x {result.safety:g} / {result.per_instance:g}) = {result.required_instances}"
                    if result.per_instance else None),
        "levels": [{"level": v.level.level, "users": v.level.users, "rps": round(v.level.rps, 3),
                    "error_rate": v.level.error_rate, "p95_ms": v.level.latency_ms.get("p95"),
                    "from_s": v.level.from_s, "to_s": v.level.to_s, "held": v.held, "broke": list(v.broke)}
                   for v in result.verdicts],
    }


def _print(doc: dict) -> None:
    echo = click.echo
    echo(f"Capacity from {doc['folder']}")
    echo(f"  SLA: {', '.join(doc['sla'])} ({doc['sla_source']})")
    for lv in doc["levels"]:
        mark = "held " if lv["held"] else "BROKE"
        p95 = "—" if lv["p95_ms"] is None else f"{lv['p95_ms']:,.1f} ms"
        why = f"  {'; '.join(lv['broke'])}" if lv["broke"] else ""
        echo(f"  {mark} level {lv['level']:>8,.4g} ({lv['from_s']:.0f}-{lv['to_s']:.0f}s): {lv['rps']:,.1f} req/s, "
             f"p95 {p95}, errors {lv['error_rate']:.2%}{why}")
    per = doc["per_instance"]
    if per is None:
        echo("No level held the SLA: the lowest level the run tried already broke it; "
             "run a gentler ramp (or check the SLA) to find one instance's capacity.")
        return
    (key, peak), = doc["peak"].items()
    echo(f"  per instance: {per['capacity']:,.4g} {per['unit']} (the level held at {per['from_s']:.0f}-"
         f"{per['to_s']:.0f}s)" + ("; a lower bound: the run never broke the SLA" if doc["lower_bound"] else ""))
    echo(f"  peak: {peak:,.4g} {per['unit']} x safety {doc['safety']:g}")
    echo(f"Required instances: {doc['formula']}")
