"""The page: the folder's data (:mod:`.data`) through the Jinja2 template, uPlot inlined.

Everything is inline (script, style, data), so the file opens from ``file://`` with no network.
The data travels as JSON in a ``<script type="application/json">`` block, with ``<``, ``>``
and ``&`` escaped as ``\\u003c`` etc., so no value can close the block.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from .data import load_folder

REPORT_HTML = "report.html"
_HERE = resources.files(__package__)


def render_report(folder: Path) -> str:
    """The HTML text of the report on the results folder ``folder``.

    Raises ``FileNotFoundError`` when the folder has no summary.json (it is not a results folder)."""
    data = load_folder(Path(folder))
    summary = data["summary"]
    context = {
        "s": summary,
        "endpoints": summary.get("endpoints") or [],
        "statements": _statements(data["db_report"]),
        "baseline": _baseline_rows(summary.get("baseline")),
        "findings": [f for f in summary.get("findings") or [] if isinstance(f, dict)],
        "levels": _levels(summary.get("levels")),
        "data_json": embed_json(_chart_data(data)),
        "uplot_js": _asset("vendor/uPlot.iife.min.js"),
        "uplot_css": _asset("vendor/uPlot.min.css"),
        "report_js": _asset("report.js"),
        "report_css": _asset("report.css"),
    }
    return _template().render(**context)


def _levels(levels: Any) -> list[dict]:
    """The levels table, shown when the load moved through more than one level."""
    rows = [lv for lv in levels or [] if isinstance(lv, dict) and isinstance(lv.get("latency_ms"), dict)]
    return rows if len(rows) > 1 else []


def embed_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: nothing in it can end the element."""
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _chart_data(data: dict[str, Any]) -> dict[str, Any]:
    summary = data["summary"]
    return {
        "workload": summary.get("workload"),
        "history": data["history"],
        "stages": data["stages"],
        "distributions": data["distributions"],
        "monitors": data["monitors"],
        "endpoints": [f"{e.get('method')} {e.get('name')}" for e in summary.get("endpoints") or []],
    }


def _statements(db_report: Any) -> list[dict[str, Any]]:
    if not isinstance(db_report, dict):
        return []
    part = db_report.get("statements") or {}
    return [r for r in part.get("by_mean_time") or [] if isinstance(r, dict)][:10]


def _baseline_rows(baseline: Any) -> list[dict[str, Any]]:
    """The delta table's rows, read leniently: a list of rows, or ``{"rows"|"endpoints": [...]}``."""
    if isinstance(baseline, dict):
        baseline = baseline.get("rows") or baseline.get("endpoints") or baseline.get("deltas") or []
    if not isinstance(baseline, list):
        return []
    rows = []
    for r in baseline:
        if not isinstance(r, dict):
            continue
        endpoint = r.get("endpoint") or " ".join(str(r[k]) for k in ("method", "name") if r.get(k)) or r.get("target", "")
        rows.append({"endpoint": endpoint, "metric": r.get("metric", ""), "baseline": r.get("baseline"),
                     "current": r.get("current"), "delta": r.get("delta"), "relative": r.get("relative"),
                     "regression": bool(r.get("regression") or r.get("regressed") or r.get("flagged"))})
    return rows


@lru_cache(maxsize=None)
def _asset(name: str) -> str:
    return (_HERE / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    return env.from_string(_asset("template.html.j2"))


def _num(value: Any, digits: int = 3) -> str:
    """A number for a table cell: up to ``digits`` decimals, trailing zeros dropped; — for none."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"
