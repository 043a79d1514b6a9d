"""What report.html shows, read from a results folder alone.

:func:`load_folder` reads the files a run leaves (summary.json, stats_history.csv,
histograms.json, monitors/*.csv, db_report.json) into one plain dict: the tables as they are,
the series thinned for display by :func:`downsample` (min and max of every bucket kept, so a
spike survives), the latency distributions as percentile curves. Reading only the folder means
``surge report DIR`` and the end of a run give the same file. The data files are never touched.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from ..histograms import load_histograms

#: Points per displayed series: 2 per bucket, so ~1,000 buckets keep a 2-hour soak's spikes visible.
MAX_POINTS = 2000
#: Percentile curve points: p = 100 (1 - 2^(-k/STEPS)), as HdrHistogram's percentile output ticks.
_STEPS_PER_HALF = 5
_LATENCY = ("50%", "95%", "99%")


def load_folder(folder: Path) -> dict[str, Any]:
    """Everything the report shows; raises ``FileNotFoundError`` when summary.json is missing."""
    folder = Path(folder)
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    history = read_history(folder / "stats_history.csv")
    return {
        "summary": summary,
        "history": history,
        "stages": stage_boundaries(history.get("*", {})),
        "distributions": read_distributions(folder / "histograms.json"),
        "monitors": read_monitors(folder / "monitors", summary.get("monitors") or {}),
        "db_report": _read_json(folder / "db_report.json"),
    }


# -- stats_history.csv -----------------------------------------------------------------------
def read_history(path: Path) -> dict[str, dict[str, list]]:
    """Per series (``"*"``: Aggregated, else ``"METHOD NAME"``): t (unix s), rps, fps, users, p50/p95/p99 (ms)."""
    if not path.is_file():
        return {}
    series: dict[str, dict[str, list]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = "*" if row.get("Name") == "Aggregated" and not row.get("Type") else f"{row.get('Type')} {row.get('Name')}"
            s = series.setdefault(key, {"t": [], "rps": [], "fps": [], "users": [], "p50": [], "p95": [], "p99": []})
            s["t"].append(_num(row.get("Timestamp")))
            s["rps"].append(_num(row.get("Requests/s")))
            s["fps"].append(_num(row.get("Failures/s")))
            s["users"].append(_num(row.get("User Count")))
            for name, column in zip(("p50", "p95", "p99"), _LATENCY):
                s[name].append(_num(row.get(column)))
    return {key: downsample(s) for key, s in series.items()}


def stage_boundaries(aggregated: dict[str, list]) -> list[float]:
    """Times where the user count starts or stops changing (a ramp's start and end, a step).

    stats_history.csv has Locust's columns, which carry no stage; the shape of the user count does."""
    t, users = aggregated.get("t", []), aggregated.get("users", [])
    marks, trend = [], 0
    for i in range(1, len(users)):
        if users[i] is None or users[i - 1] is None:
            continue
        step = (users[i] > users[i - 1]) - (users[i] < users[i - 1])
        if step != trend:
            marks.append(t[i - 1])
            trend = step
    return marks[1:] if marks and marks[0] == t[0] else marks


def downsample(series: dict[str, list], max_points: int = MAX_POINTS) -> dict[str, list]:
    """At most ``max_points`` points per column: each bucket of rows becomes two points, the
    first with every column's minimum over the bucket, the second with its maximum.

    ``series["t"]`` is the shared x; the first point of a bucket is at its first time, the second
    at its last, so the envelope of every column is kept exactly."""
    n = len(series.get("t", []))
    if n <= max_points:
        return series
    buckets = max_points // 2
    out: dict[str, list] = {key: [] for key in series}
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        out["t"] += [series["t"][lo], series["t"][hi - 1]]
        for key, values in series.items():
            if key == "t":
                continue
            chunk = [v for v in values[lo:hi] if v is not None]
            out[key] += [min(chunk), max(chunk)] if chunk else [None, None]
    return out


# -- histograms.json ---------------------------------------------------------------------------
def read_distributions(path: Path) -> dict[str, dict[str, list]]:
    """Per series: ``x`` = 1/(1-p) (p a fraction; log axis) and ``ms`` the latency at p, as HdrHistogram plots it."""
    if not path.is_file():
        return {}
    try:
        histograms = load_histograms(path.read_text(encoding="utf-8"))
    except (ValueError, KeyError):
        return {}
    out = {}
    for key, h in histograms.items():
        if not h.count:
            continue
        ps = percentile_ticks(h.count)
        values = h.percentiles_us(ps)
        out[key] = {"x": [round(1 / (1 - p / 100), 3) for p in ps], "ms": [values[p] / 1000 for p in ps],
                    "p": [round(p, 5) for p in ps]}
    return out


def percentile_ticks(count: int) -> list[float]:
    """Percentiles from 0 up to where one more request would be the whole tail (1/(1-p) ≤ count)."""
    ps, k = [], 0
    while True:
        p = 100 * (1 - 2 ** (-k / _STEPS_PER_HALF))
        if 1 / (1 - p / 100) > max(count, 2) or k > 40 * _STEPS_PER_HALF:
            break
        ps.append(p)
        k += 1
    return ps


# -- monitors/*.csv ------------------------------------------------------------------------------
#: Panels per known monitor: (title, columns). Unknown monitors get one panel of all their columns.
PANELS = {
    "target": [("Target RSS (MB)", ("rss_mb",)), ("Target CPU (%)", ("cpu_percent",)),
               ("Target threads and open files", ("threads", "fds", "connections"))],
    "host": [("Host CPU (%)", ("cpu_percent",)), ("Host memory used (%)", ("mem_used_pct",))],
    "generator": [("Generator CPU (%)", None)],
    "db": [("PostgreSQL connections", ("connections", "active", "idle", "idle_in_transaction", "waiting")),
           ("PostgreSQL cache hit ratio", ("cache_hit_ratio",)),
           ("PostgreSQL transactions/s", ("commits_per_s", "rollbacks_per_s"))],
    "redis": [("Redis clients", ("connected_clients", "blocked_clients")), ("Redis ops/s", ("ops_per_s",))],
}


def read_monitors(folder: Path, sections: dict[str, Any]) -> list[dict[str, Any]]:
    """One panel per chart of each monitor's CSV found (none when there are none)."""
    if not folder.is_dir():
        return []
    panels = []
    for path in sorted(folder.glob("*.csv")):
        table = _read_csv_columns(path)
        if not table.get("t"):
            continue
        kind = _kind(path.stem)
        for title, columns in PANELS.get(kind, [(path.stem, None)]):
            if columns is None:
                columns = tuple(c for c in table if c != "t" and (kind != "generator" or c.endswith("cpu_percent")))
            present = [c for c in columns if c in table and any(v is not None for v in table[c])]
            if not present:
                continue
            panel = {"id": f"mon-{path.stem}-{len(panels)}", "title": title, "monitor": path.stem,
                     "series": downsample({"t": table["t"], **{c: table[c] for c in present}})}
            if kind == "target" and present == ["rss_mb"]:
                _add_leak_line(panel, table, sections.get(path.stem) or sections.get("target") or {})
            panels.append(panel)
    return panels


def _kind(stem: str) -> str:
    for kind in ("target", "host", "generator", "redis"):
        if stem.startswith(kind):
            return kind
    return "db" if stem.startswith(("db", "postgres")) else stem


def _add_leak_line(panel: dict[str, Any], table: dict[str, list], section: dict[str, Any]) -> None:
    """The leak verdict and its slope drawn through the fitted part (after the warm-up)."""
    slope_per_min = section.get("rss_growth_mb_per_min")
    panel["verdict"] = section.get("verdict")
    panel["slope_mb_per_min"] = slope_per_min
    if slope_per_min is None or not table.get("elapsed_s"):
        return
    warm = section.get("warmup_s") or 0.0
    fit = [(t, e, y) for t, e, y in zip(table["t"], table["elapsed_s"], table["rss_mb"])
           if e is not None and y is not None and e >= warm]
    if len(fit) < 2:
        return
    slope = slope_per_min / 60.0
    intercept = sorted(y - slope * e for _, e, y in fit)[len(fit) // 2]
    line = [None] * len(panel["series"]["t"])
    first, last = fit[0], fit[-1]
    xs = panel["series"]["t"]
    for i, x in enumerate(xs):
        if first[0] <= x <= last[0]:
            e = first[1] + (x - first[0])
            line[i] = round(intercept + slope * e, 3)
    panel["series"]["slope"] = line


def _read_csv_columns(path: Path) -> dict[str, list]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError):
        return {}
    if not rows:
        return {}
    columns: dict[str, list] = {"t": [_num(r.get("timestamp")) for r in rows]}
    for name in rows[0]:
        if name not in ("timestamp",) and name is not None:
            columns[name] = [_num(r.get(name)) for r in rows]
    return columns


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _num(text: str | None) -> float | None:
    if text is None or text == "" or text == "N/A":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value
