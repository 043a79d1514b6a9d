"""Read a results folder into what analysis needs: the one loader ``compare`` goes through.

A results folder is recognised by its ``summary.json`` (the whole-run figures); its
``stats_history.csv`` (Locust's columns, one row per series per interval) gives the
per-interval values the noise is estimated from. A folder without a readable summary.json
is :class:`NotAResultsFolder` (exit 2); a missing or unreadable history only leaves the
noise unknown.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..model.errors import ConfigError
from .compare import LATENCIES, OVERALL, RunData, series_from

HISTORY_COLUMNS = dict(zip(LATENCIES, ("50%", "95%", "99%")))


class NotAResultsFolder(ConfigError):
    """A path given as a results folder has no readable summary.json (exit 2)."""


def load_run(folder: str | Path) -> RunData:
    path = Path(folder)
    summary = load_summary(path)
    history = _history(path / "stats_history.csv")
    series = {key: series_from(_figures(stats), history.get(key, [])) for key, stats in _endpoints(summary)}
    return RunData(label=str(path), series=series)


def load_summary(path: Path) -> dict[str, Any]:
    file = path / "summary.json"
    if not path.is_dir():
        raise NotAResultsFolder(f"{path} is not a results folder: no such directory")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotAResultsFolder(f"{path} is not a results folder: it has no summary.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAResultsFolder(f"{path} is not a results folder: summary.json is unreadable ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("total"), dict) or not isinstance(doc.get("endpoints"), list):
        raise NotAResultsFolder(f"{path} is not a results folder: summary.json has no total and endpoints")
    return doc


def _endpoints(summary: dict[str, Any]):
    yield OVERALL, summary["total"]
    for e in summary["endpoints"]:
        yield f"{e.get('method', '')} {e.get('name', '')}".strip(), e


def _figures(stats: dict[str, Any]) -> dict[str, float]:
    figures = {"rps": float(stats.get("rps") or 0.0), "error_rate": float(stats.get("error_rate") or 0.0)}
    latency = stats.get("latency_ms") or {}
    if latency.get("max"):  # 0 only when nothing was timed
        figures.update({metric: float(latency[metric]) for metric in LATENCIES if metric in latency})
    return figures


def _history(file: Path) -> dict[str, list[dict[str, float]]]:
    """Per series, the metric values of each interval (cells "N/A" or empty left out)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    rows: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        name = row.get("Name") or ""
        key = OVERALL if name == "Aggregated" and not row.get("Type") else f"{row.get('Type', '')} {name}".strip()
        rows.setdefault(key, []).append(row)
    return {key: [_interval(row) for row in series] for key, series in rows.items()}


def _interval(row: dict[str, str]) -> dict[str, float]:
    out = {metric: value for metric, column in HISTORY_COLUMNS.items()
           if (value := _number(row.get(column))) is not None}
    rps, fps = _number(row.get("Requests/s")), _number(row.get("Failures/s"))
    if rps is not None:
        out["rps"] = rps
        if rps > 0 and fps is not None:
            out["error_rate"] = fps / rps
    return out


def _number(cell: str | None) -> float | None:
    try:
        return float(cell) if cell not in (None, "", "N/A") else None
    except ValueError:
        return None
