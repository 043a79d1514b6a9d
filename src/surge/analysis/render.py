"""compare.json and compare.md: a :class:`Comparison` as text; the caller decides where it goes.

``outputs/schema/compare.schema.json`` describes the JSON; a test keeps the two in step.
The same dict is summary.json's ``baseline`` section after ``surge run --baseline``.
"""
from __future__ import annotations

import json
from typing import Any

from .compare import NOISE_K, Comparison, Row

SCHEMA = 1
METHOD = (f"regression: the whole-run figure worse by more than the tolerance, and the shift of the "
          f"per-interval means worse by more than the noise, {NOISE_K:g} x the combined standard error "
          f"of the two runs' per-interval values (widened for short histories)")


def compare_dict(c: Comparison) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "baseline": c.baseline,
        "current": c.current,
        "tolerance": c.tolerance,
        "min_latency_change_ms": c.min_latency_change_ms,
        "noise_method": METHOD,
        "regressed": c.regressed,
        "regressions": len(c.regressions),
        "rows": [_row(r) for r in c.rows],
        "added": list(c.added),
        "removed": list(c.removed),
    }


def render_compare_json(c: Comparison) -> str:
    return json.dumps(compare_dict(c), indent=2, allow_nan=False) + "\n"


def render_compare_md(c: Comparison) -> str:
    verdict = (f"**{len(c.regressions)} regression(s)**" if c.regressed else "no regression")
    lines = [f"## surge compare: {verdict}", "",
             f"Baseline `{c.baseline}`, current `{c.current}`; tolerance {c.tolerance:.0%} "
             f"(latencies: and at least {c.min_latency_change_ms:g} ms), "
             "a regression also needs the shift of the per-interval means beyond the noise "
             f"({NOISE_K:g} x their combined standard error).", "",
             "| | series | metric | baseline | current | delta | relative | shift | noise |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in c.rows:
        mark = "REGRESSION" if r.regression else ("worse" if r.worse else "")
        lines.append(f"| {mark} | `{r.series}` | {r.metric} | {fmt(r.metric, r.baseline)} | {fmt(r.metric, r.current)} "
                     f"| {fmt_delta(r)} | {fmt_relative(r.relative)} | {fmt_shift(r)} | {fmt_noise(r)} |")
    if c.added:
        lines += ["", "Added (only in current, not compared): " + ", ".join(f"`{s}`" for s in c.added)]
    if c.removed:
        lines += ["", "Removed (only in baseline, not compared): " + ", ".join(f"`{s}`" for s in c.removed)]
    return "\n".join(lines) + "\n"


def _row(r: Row) -> dict[str, Any]:
    return {"series": r.series, "metric": r.metric, "baseline": _round(r.baseline), "current": _round(r.current),
            "delta": _round(r.delta), "relative": None if r.relative is None else round(r.relative, 6),
            "shift": None if r.shift is None else _round(r.shift),
            "noise": None if r.noise is None else _round(r.noise), "worse": r.worse, "regression": r.regression}


def _round(value: float) -> float:
    return round(value, 6)


def fmt(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value:.2%}"
    return f"{value:.1f}/s" if metric == "rps" else f"{value:.3f} ms"


def fmt_delta(r: Row) -> str:
    return _signed(r.metric, r.delta)


def fmt_shift(r: Row) -> str:
    return "?" if r.shift is None else _signed(r.metric, r.shift)


def _signed(metric: str, value: float) -> str:
    return ("+" if value >= 0 else "-") + fmt(metric, abs(value))


def fmt_relative(relative: float | None) -> str:
    return "new" if relative is None else f"{relative:+.1%}"


def fmt_noise(r: Row) -> str:
    return "?" if r.noise is None else "±" + fmt(r.metric, r.noise)
