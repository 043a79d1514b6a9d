"""k6's threshold names, read as surge's: thresholds copied from a k6 script work or say why not.

k6 judges built-in metrics (``http_req_duration: p(95)<100``); surge judges targets (``*``,
``METHOD NAME``, ``NAME``). The three k6 metrics with a surge meaning are mapped, with the
stats k6 allows on them; a tag filter picks the target::

    http_req_duration{name:X,method:GET}: p(95)<100   ->  GET X: p95<100ms
    http_req_failed: rate<0.01                        ->  *: error_rate<1%
    http_reqs: rate>100 / count>1000                  ->  *: rps>100/s / requests>1000

Every other k6 built-in (``iteration_duration``, ``data_received``, ``http_req_waiting``...)
has no surge counterpart and is refused with the supported names, rather than read as a
custom metric that never comes (k6's built-in names are reserved for that reason). Pure.
"""
from __future__ import annotations

import re

#: k6 metric -> {the stat as parsed (``p(95)`` is ``p95``): surge's stat}; "latency" keeps any latency stat
MAPPED: dict[str, dict[str, str]] = {
    "http_req_duration": {"latency": "latency"},
    "http_req_failed": {"rate": "error_rate"},
    "http_reqs": {"rate": "rps", "count": "requests"},
}
_STATS_SHOWN = {"http_req_duration": "avg, min, med, max or p(N)", "http_req_failed": "rate",
                "http_reqs": "rate or count"}
#: k6's other built-in metrics: no surge counterpart
UNMAPPED = frozenset({
    "vus", "vus_max", "iterations", "iteration_duration", "dropped_iterations", "data_received",
    "data_sent", "checks", "group_duration", "http_req_blocked", "http_req_connecting",
    "http_req_tls_handshaking", "http_req_sending", "http_req_waiting", "http_req_receiving",
    "ws_connecting", "ws_session_duration", "ws_sessions", "ws_msgs_sent", "ws_msgs_received",
    "ws_ping", "grpc_req_duration",
})
_SUPPORTED = "http_req_duration, http_req_failed, http_reqs (or a surge target: '*', 'METHOD NAME', 'NAME')"
_TAGGED = re.compile(r"^(?P<metric>[a-z_]+)\s*(?:\{(?P<tags>.*)\})?$")


class K6Error(ValueError):
    """A k6 name surge cannot read; the message says what to write instead."""


def k6_metric(target: str) -> tuple[str, str] | None:
    """``(k6 metric, surge target)`` when ``target`` names a k6 built-in, else None.

    Raises :class:`K6Error` for a k6 metric without a surge meaning, or a tag surge cannot filter on.
    """
    match = _TAGGED.match(target)
    if not match or (match["metric"] not in MAPPED and match["metric"] not in UNMAPPED):
        return None
    metric = match["metric"]
    if metric in UNMAPPED:
        raise K6Error(f"k6's {metric} has no surge counterpart; surge reads {_SUPPORTED}")
    return metric, _target_of(metric, match["tags"])


def surge_stat(metric: str, stat: str) -> str:
    """surge's stat for ``stat`` (already canonical: ``p95``, ``mean``...) on k6's ``metric``."""
    known = MAPPED[metric]
    if "latency" in known:
        if stat in ("min", "mean", "max") or re.fullmatch(r"p[0-9.]+", stat):
            return stat
    elif stat in known:
        return known[stat]
    raise K6Error(f"'{stat}' does not apply to k6's {metric}; use {_STATS_SHOWN[metric]}")


def _target_of(metric: str, tags: str | None) -> str:
    """``*``, or what the ``name`` (and ``method``) tags pick."""
    if not tags or not tags.strip():
        return "*"
    found: dict[str, str] = {}
    for part in tags.split(","):
        key, sep, value = part.partition(":")
        key, value = key.strip(), value.strip().strip("'\"")
        if not sep or not value or key not in ("name", "method"):
            raise K6Error(f"surge cannot filter {metric} on {part.strip()!r}; "
                          "it filters on name (the request's name) and method only, e.g. {name:/v1/facts}")
        found[key] = value
    if "name" not in found:
        raise K6Error(f"{metric}{{{tags}}}: surge targets a method with a name; add name:..., "
                      "e.g. {method:GET,name:/v1/facts}")
    return f"{found['method'].upper()} {found['name']}" if "method" in found else found["name"]
