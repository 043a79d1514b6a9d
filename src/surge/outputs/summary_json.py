"""summary.json: the run's machine-readable verdict (DESIGN, "Contracts").

Keys are written in a fixed order with ``schema`` first, so diffs between runs stay readable
and a reader can check the version before anything else. Floats are rounded to what they can
honestly claim: latencies to the µs (3 decimals of ms), rates to 3 decimals, fractions to 6.
``schema/summary.schema.json`` describes the result; a test keeps the two in step.
"""
from __future__ import annotations

import json
import math
from typing import Any

from ..model.redact import redact_summary
from ..model.summary import (
    PERCENTILES,
    CustomMetricStats,
    EndpointStats,
    FailureGroup,
    Finding,
    GeneratorInfo,
    Latency,
    LevelStats,
    ProcessUsage,
    RunSummary,
    ThresholdResult,
)

MS_DIGITS = 3
RATE_DIGITS = 3
FRACTION_DIGITS = 6
LATENCY_KEYS = ("min", "mean", *(key for key, _ in PERCENTILES), "max")


def render_summary_json(summary: RunSummary) -> str:
    """The summary as indented JSON text (ending in a newline), credentials redacted."""
    return json.dumps(summary_dict(redact_summary(summary)), indent=2, allow_nan=False) + "\n"


def summary_dict(s: RunSummary) -> dict[str, Any]:
    """The summary as the ordered, rounded dict that summary.json holds (no redaction here);
    ``baseline`` only after ``surge run --baseline``."""
    doc = {
        "schema": s.schema,
        "status": s.status,
        "scenario": s.scenario,
        "profile": s.profile,
        "host": s.host,
        "started_at": s.started_at,
        "duration_s": _round(s.duration_s, 3),
        "workload": s.workload,
        "total": _endpoint(s.total),
        "endpoints": [_endpoint(e) for e in s.endpoints],
        "failures_by_kind": {k: int(v) for k, v in sorted(s.failures_by_kind.items())},
        "failures": [_failure(f) for f in s.failures],
        "thresholds": [_threshold(t) for t in s.thresholds],
        "generator": _generator(s.generator),
        "dropped_iterations": s.dropped_iterations,
        "custom_metrics": [_custom(m) for m in s.custom_metrics],
        "users": {"peak": s.users.peak, "started": s.users.started, "start_failed": s.users.start_failed,
                  "by_class": dict(s.users.by_class)},
        "warnings": list(s.warnings),
        "status_reasons": list(s.status_reasons),
        "breaking_point": _plain(s.breaking_point),
        "aborted_by": s.aborted_by,
        "monitors": _plain(s.monitors),
        "iterations": {"count": s.iterations, "limit": s.iterations_limit},
        "findings": [_finding(f) for f in s.findings],
        "levels": [_level(lv) for lv in s.levels],
    }
    if s.baseline is not None:
        doc["baseline"] = s.baseline  # compare.json's shape, rounded there already
    return doc


def _latency(lat: Latency) -> dict[str, float | None]:
    return {key: _round(getattr(lat, key), MS_DIGITS) for key in LATENCY_KEYS}


def _endpoint(e: EndpointStats) -> dict[str, Any]:
    doc = {
        "method": e.method,
        "name": e.name,
        "requests": e.requests,
        "failures": e.failures,
        "cancelled": e.cancelled,
        "rps": _round(e.rps, RATE_DIGITS),
        "failures_per_s": _round(e.failures_per_s, RATE_DIGITS),
        "error_rate": _round(e.error_rate, FRACTION_DIGITS),
        "latency_ms": _latency(e.latency_ms),
        "service_time_ms": _latency(e.service_time_ms) if e.service_time_ms is not None else None,
        "bytes_received": e.bytes_received,
        "bytes_sent": e.bytes_sent,
        "avg_content_length": _round(e.avg_content_length, 1),
    }
    if e.messages_sent or e.messages_received:  # WebSocket / Socket.IO series only
        doc["messages"] = {"sent": e.messages_sent, "received": e.messages_received}
    return doc


def _failure(f: FailureGroup) -> dict[str, Any]:
    return {"method": f.method, "name": f.name, "kind": f.kind, "message": f.message, "count": f.count}


def _threshold(t: ThresholdResult) -> dict[str, Any]:
    return {
        "target": t.target,
        "expression": t.expression,
        "actual": _round(t.actual, FRACTION_DIGITS) if t.actual is not None else None,
        "passed": t.passed,
        "message": t.message,
        "abort_on_fail": t.abort_on_fail,
    }


def _generator(g: GeneratorInfo) -> dict[str, Any]:
    return {
        "processes": g.processes,
        "workers_lost": g.workers_lost,
        "cpu_percent_max": _round(g.cpu_percent_max, 1),
        "saturated": g.saturated,
        "workers": [_usage(u) for u in g.workers],
        "coordinator": _usage(g.coordinator) if g.coordinator is not None else None,
        "partial_intervals": g.partial_intervals,
        "late_snapshots": g.late_snapshots,
        "loop_lag_ms_max": round(g.loop_lag_ms_max, 1),
    }


def _usage(u: ProcessUsage) -> dict[str, Any]:
    out: dict[str, Any] = {"worker_id": u.worker_id} if u.worker_id is not None else {}
    out.update({
        "cpu_percent_mean": _round(u.cpu_percent_mean, 1),
        "cpu_percent_max": _round(u.cpu_percent_max, 1),
        "rss_mb_max": _round(u.rss_mb_max, 1),
        "intervals": u.intervals,
    })
    if u.worker_id is not None:
        out["lost"] = u.lost
        out["shared_with_coordinator"] = u.shared
    return out


def _custom(m: CustomMetricStats) -> dict[str, Any]:
    values = {k: _round(v, FRACTION_DIGITS) for k, v in m.values.items()}
    return {"name": m.name, "kind": m.kind, "unit": m.unit, "count": m.count, "values": values}


def _finding(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "severity": f.severity, "message": f.message, "evidence": _plain(f.evidence)}


def _level(lv: LevelStats) -> dict[str, Any]:
    return {
        "level": _round(lv.level, RATE_DIGITS),
        "hold": lv.hold,
        "stage": lv.stage,
        "from_s": _round(lv.from_s, 3),
        "to_s": _round(lv.to_s, 3),
        "intervals": lv.intervals,
        "users": lv.users,
        "requests": lv.requests,
        "failures": lv.failures,
        "rps": _round(lv.rps, RATE_DIGITS),
        "error_rate": _round(lv.error_rate, FRACTION_DIGITS),
        "latency_ms": {k: (_round(v, MS_DIGITS) if v is not None else None) for k, v in lv.latency_ms.items()},
    }


def _round(x: float, digits: int) -> float | None:
    """Round for output; a non-finite value (a bug upstream) becomes null rather than invalid JSON."""
    x = float(x)
    return round(x, digits) if math.isfinite(x) else None


def _plain(value: Any) -> Any:
    """Free-form data (breaking_point) made JSON-safe: floats rounded, tuples as lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return _round(value, FRACTION_DIGITS)
    return value
