"""`surge bench`'s result as data (the ``--output`` JSON, described by
``outputs/schema/bench.schema.json``; a test keeps the two in step), as the terminal table, and
its exit code. The arithmetic (efficiency, where scaling stopped) is ``surge.analysis.bench``."""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

from ..analysis.bench import StepFigures, base_rps, efficiency, scaling_verdict, stopped_scaling_at
from ..model.errors import ConfigError, ExitCode

SCHEMA = 1
_PERCENTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))


def latency_ms(phase) -> dict[str, float | None]:
    """p50, p95, p99 and max of a phase's HDR histogram in ms (None when nothing was timed)."""
    h = phase.latency
    if h.count == 0:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    ps = h.percentiles_us([p for _, p in _PERCENTILES])
    out = {name: ps[p] / 1000.0 for name, p in _PERCENTILES}
    out["max"] = h.max_us / 1000.0
    return out


def figures(phase) -> StepFigures:
    return StepFigures(phase.concurrency, phase.requests, phase.errors, phase.rps)


def bench_dict(plan, result, shown_url: str) -> dict[str, Any]:
    """The whole result as the ``--output`` JSON document (``shown_url``: the URL, redacted)."""
    steps = [figures(s) for s in result.steps]
    seq = result.sequential
    rps_1 = base_rps(steps, seq.rps if seq is not None else None)
    single = result.single
    failures: dict[tuple[str, str], int] = {}
    for phase in result.phases():
        for key, count in phase.failures.items():
            failures[key] = failures.get(key, 0) + count
    return {
        "schema": SCHEMA,
        "url": shown_url,
        "method": plan.method,
        "status": "completed" if result.interrupted is None else "interrupted",
        "requests_per_phase": plan.requests,
        "duration_s": plan.duration_s,
        "timeout_s": plan.timeout_s,
        "single": None if single is None else {
            "first_ms": single.first_ms, "requests": single.requests, "errors": single.errors,
            "latency_ms": latency_ms(single)},
        "sequential": None if seq is None else {
            "requests": seq.requests, "errors": seq.errors, "rps": seq.rps, "latency_ms": latency_ms(seq)},
        "steps": [{
            "concurrency": s.concurrency, "requests": s.requests, "rps": s.rps, "errors": s.errors,
            "cancelled": s.cancelled, "elapsed_s": s.elapsed_s, "latency_ms": latency_ms(s),
            "efficiency": efficiency(f, rps_1)} for s, f in zip(result.steps, steps)],
        "stopped_scaling_at": stopped_scaling_at(steps),
        "verdict": scaling_verdict(steps),
        "failures": [{"kind": k, "message": m, "count": c}
                     for (k, m), c in sorted(failures.items(), key=lambda kv: -kv[1])],
    }


def exit_code(result) -> int:
    """130/143 when a signal stopped it; else 1 when any request failed, 0 when none did."""
    if result.interrupted is not None:
        return int(ExitCode.TERMINATED if result.interrupted == signal.SIGTERM else ExitCode.INTERRUPTED)
    failed = any(p.errors for p in result.phases())
    return int(ExitCode.THRESHOLDS_FAILED if failed else ExitCode.PASSED)


def write_output(path: Path, doc: dict) -> None:
    from ..outputs.results import write_atomic

    try:
        write_atomic(path, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise ConfigError(f"--output {str(path)!r} cannot be written: {exc.strerror or exc}") from None


def _ms(value: float | None) -> str:
    from .cells import NO_VALUE, fmt_ms

    return NO_VALUE if value is None else fmt_ms(value)


def print_bench(doc: dict, console=None) -> None:
    """The phases' lines, the sweep's table, the scaling verdict and the failures."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from .cells import NO_VALUE, fmt_count, fmt_rps

    console = console or Console(highlight=False, width=None if sys.stdout.isatty() else 100)
    say = lambda text: console.print(text, markup=False, soft_wrap=True)  # noqa: E731 - as written, unwrapped
    single, seq = doc["single"], doc["sequential"]
    if single is not None:
        lat = single["latency_ms"]
        say(f"single:     first request {_ms(single['first_ms'])} ms (new connection, connect included); "
            f"then p50 {_ms(lat['p50'])} ms, max {_ms(lat['max'])} ms over {max(0, single['requests'] - 1)} requests")
    if seq is not None:
        lat = seq["latency_ms"]
        say(f"sequential: {fmt_rps(seq['rps'])} req/s, p50 {_ms(lat['p50'])} ms, p99 {_ms(lat['p99'])} ms "
            f"({fmt_count(seq['requests'])} requests, {fmt_count(seq['errors'])} errors)")
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("concurrency", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors", "efficiency"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in doc["steps"]:
        lat = s["latency_ms"]
        eff = NO_VALUE if s["efficiency"] is None else f"{s['efficiency']:.0%}"
        table.add_row(str(s["concurrency"]), fmt_rps(s["rps"]), _ms(lat["p50"]), _ms(lat["p95"]), _ms(lat["p99"]),
                      _ms(lat["max"]), fmt_count(s["errors"]), eff)
    if doc["steps"]:
        console.print(table)
    say(doc["verdict"])
    for f in doc["failures"][:10]:
        say(f"  {fmt_count(f['count'])} x {f['kind']}: {f['message']}")
    if doc["status"] == "interrupted":
        say("interrupted: the figures above are what was measured until then")
