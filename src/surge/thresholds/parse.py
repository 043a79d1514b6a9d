"""Threshold expressions as users write them, parsed into normalised :class:`ThresholdSpec`.

Grammar: ``STAT OP VALUE[UNIT]`` on a target (whitespace anywhere between the parts).

    STAT   latency:  min, mean (alias avg), max, pN (p50, p95, p99.9, p99.99; k6's p(95) too;
                     med = p50)                                  units ms (default), s
           rps                                                   unit /s (default)
           error_rate                                            unit % or a bare fraction < 1
           requests, failures                                    counts, no unit
           custom metrics: trend min/mean/max/pN/count, rate rate/count, counter count/rate
                     (``rate`` takes %, /s or a bare number; ``count`` no unit)
           on ``*`` and ``METHOD NAME`` (requests only) k6's count is requests, rate with %
           error_rate and rate with /s rps
    OP     < <= > >=   (``==`` and friends are rejected: a measured float is never "equal")

An expression that can never pass (``error_rate<0%``, ``p95<0ms``, ``rps<0``,
``error_rate>100%``) is refused with what to write instead; so is a bare error_rate of 1 or more (``error_rate<1`` is 100%: ``1%`` or ``0.01`` was meant).
k6 metric names as targets (``http_req_duration{name:X}: p(95)<100``) are read by
:mod:`surge.thresholds.k6`.

Values are normalised so the evaluator compares like with like: milliseconds for latency
stats, a fraction for error_rate and rates written with %, per second for rps.

Which stats apply to a target is only known at evaluation (the target may be an endpoint or
a custom metric), so parsing accepts the union and the evaluator reports a misapplied stat.

The ``[thresholds]`` table (config file or ``--thresholds FILE``), one key per target::

    [thresholds]
    abort_on_fail = true                     # optional: default for every entry of this table
    "*" = ["error_rate < 1%", "p95 < 300ms"]
    "GET /v1/facts" = "p95 < 50ms"           # a string, a list, or k6-style inline tables:
    "POST /v1/corrections" = [{ threshold = "p99 < 100ms", abort_on_fail = false }, "p95<80ms"]

``abort_on_fail`` is told apart from targets by its boolean value; an inline table's own
``abort_on_fail`` wins over the table-level default.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from ..model.errors import ConfigError
from ..model.plan import ThresholdSpec
from .k6 import K6Error, k6_metric, surge_stat

OPERATORS = ("<", "<=", ">", ">=")
#: targets that name a monitor (``surge.monitors``): their stats are its summary fields
MONITORS = frozenset({"target", "host", "db", "redis"})
_MONITOR_STAT = re.compile(r"^[a-z][a-z0-9_]*$")
#: units a monitor value may be written with; they say what it is, only % on a ratio converts
_MONITOR_UNITS = frozenset({"", "%", "/s", "/min", "mb", "mb/min", "s", "ms"})
#: a target whose first word is one of these names requests (``METHOD NAME``), never a custom metric
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
                     "WS", "SIO", "TASK"})
LATENCY_STATS = ("min", "mean", "max")
COUNT_STATS = ("requests", "failures", "count")
ALIASES = {"avg": "mean", "med": "p50"}
_STATS_HINT = (
    "use one of min, mean, max, pN (e.g. p95, p99.9), rps, error_rate, requests, failures, "
    "or for a custom metric count, rate"
)

_EXPR = re.compile(
    r"^\s*(?P<stat>p\s*\(\s*[^)]*\)|[A-Za-z_][\w.]*)\s*"
    r"(?P<op>[^\w\s.]+)?\s*(?P<value>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)?\s*(?P<unit>.*?)\s*$"
)
_PERCENTILE = re.compile(r"^p\s*\(?\s*(?P<p>[0-9]*\.?[0-9]+)\s*\)?$")


class _Bad(Exception):
    """A problem with one expression; turned into a ConfigError naming source and target."""


def percentile_of(stat: str) -> float | None:
    """``"p99.9"`` -> 99.9; None for any stat that is not a percentile."""
    match = _PERCENTILE.match(stat)
    return float(match.group("p")) if match else None


def percentile_label(p: float) -> str:
    """The canonical label of percentile ``p``: ``95.0`` -> ``p95``, ``99.9`` -> ``p99.9``."""
    text = repr(float(p))
    return "p" + (text[:-2] if text.endswith(".0") else text)


def parse_expression(
    target: str, text: str, *, abort_on_fail: bool = False, source: str = ""
) -> ThresholdSpec:
    """Parse ``STAT OP VALUE[UNIT]`` for ``target``. ``source`` (a file, ``--threshold``) goes in errors.

    A k6 metric name as the target (:mod:`surge.thresholds.k6`) is read as its surge target and
    stat; the spec then carries the canonical expression and, in ``written``, what was written.
    """
    target = " ".join(str(target).split())
    k6, read_as = None, ""
    try:
        if not target:
            raise _Bad("the target is empty; use '*', 'METHOD NAME', 'NAME' or a custom metric's name")
        if not isinstance(text, str):
            raise _Bad(f"expected a string like 'p95 < 50ms', got {text!r}")
        k6 = k6_metric(target)
        raw_stat, op, number, unit = _split(text)
        if target in MONITORS and is_monitor_stat(raw_stat):
            return _monitor_spec(target, raw_stat, op, number, unit, text, abort_on_fail)
        stat = _stat(raw_stat)
        if k6 is not None:
            stat = surge_stat(k6[0], stat)
            read_as = f" (k6's {k6[0]} {raw_stat} is surge's {k6[1]}: {stat})"
        elif target == "*" or target.split(" ", 1)[0].upper() in METHODS and " " in target:
            stat = _on_requests(stat, unit)
        value = _normalise(stat, number, unit)
        _check_reachable(stat, op, value)
    except (_Bad, K6Error) as exc:
        where = f" ({source})" if source else ""
        label = f"{target}: {str(text).strip()}"
        raise ConfigError(f"threshold {label!r}{where}: {exc}{read_as}") from None
    expression = " ".join(text.split())
    if k6 is None:
        return ThresholdSpec(target, stat, op, value, expression, abort_on_fail)
    return ThresholdSpec(k6[1], stat, op, value, f"{stat}{op}{shown(stat, value)}", abort_on_fail,
                         written=f"{target}: {expression}")


def is_monitor_stat(raw: str) -> bool:
    word = raw.lower()
    return bool(_MONITOR_STAT.match(word)) and word not in (*LATENCY_STATS, *COUNT_STATS, "rps", "error_rate",
                                                             "rate", *ALIASES) and percentile_of(word) is None


def _monitor_spec(target: str, raw: str, op: str, number: float, unit: str, text: str,
                  abort_on_fail: bool) -> ThresholdSpec:
    """``db: connections_used_pct_max < 80``: a field of the monitor's summary section, as the
    section has it (percent fields in percent, ratios as fractions: ``99%`` on a ratio is 0.99).
    Whether the field exists is only known once the monitor ran: the evaluator says."""
    unit = unit.replace(" ", "").lower()
    if unit not in _MONITOR_UNITS:
        raise _Bad(f"{unit!r} is not a unit for a monitor value; write the number as the summary has it")
    stat = raw.lower()
    value = number / 100.0 if unit == "%" and stat.endswith("ratio") else number
    return ThresholdSpec(target, stat, op, value, " ".join(text.split()), abort_on_fail)


def parse_cli_threshold(text: str, *, source: str = "--threshold") -> ThresholdSpec:
    """``"GET /v1/facts: p95<50ms"`` -> spec. The target ends at the last ``:`` (names may hold colons)."""
    target, sep, expression = str(text).rpartition(":")
    if not sep:
        raise ConfigError(
            f"threshold {text!r} ({source}): expected 'TARGET: EXPRESSION', "
            "e.g. 'GET /v1/facts: p95<50ms' or '*: error_rate<1%'"
        )
    return parse_expression(target, expression, source=source)


def parse_table(table: Mapping, source: str) -> list[ThresholdSpec]:
    """Every threshold of a ``[thresholds]`` table (see the module docstring for its shape)."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"thresholds ({source}): expected a table of TARGET = EXPRESSION(S), got {table!r}")
    default = table.get("abort_on_fail", False)
    if not isinstance(default, bool):
        raise ConfigError(f"thresholds.abort_on_fail ({source}): expected true or false, got {default!r}")
    specs: list[ThresholdSpec] = []
    for target, entries in table.items():
        if target == "abort_on_fail" and isinstance(entries, bool):
            continue
        items = entries if isinstance(entries, list) else [entries]
        specs += [_parse_entry(target, item, default, source) for item in items]
    return specs


def _parse_entry(target: str, item: object, default: bool, source: str) -> ThresholdSpec:
    """One list item: a string, or ``{threshold = "...", abort_on_fail = bool}``."""
    if isinstance(item, str):
        return parse_expression(target, item, abort_on_fail=default, source=source)
    if isinstance(item, Mapping):
        unknown = sorted(set(item) - {"threshold", "abort_on_fail"})
        abort = item.get("abort_on_fail", default)
        if unknown or "threshold" not in item or not isinstance(abort, bool):
            raise ConfigError(
                f"threshold for {target!r} ({source}): {dict(item)!r} is not valid; "
                'use { threshold = "p95 < 50ms", abort_on_fail = true }'
            )
        return parse_expression(target, item["threshold"], abort_on_fail=abort, source=source)
    raise ConfigError(
        f"threshold for {target!r} ({source}): {item!r} is not an expression; "
        "use a string like 'p95 < 50ms', a list of them, or inline tables"
    )


# -- the expression itself ---------------------------------------------------------------
def _split(text: str) -> tuple[str, str, float, str]:
    """``(stat as written, operator, number, unit)``."""
    match = _EXPR.match(text)
    if not match or not text.strip():
        raise _Bad(f"expected 'STAT OP VALUE', e.g. 'p95 < 50ms'; {_STATS_HINT}")
    op = _operator(match.group("op"))
    if match.group("value") is None:
        raise _Bad(f"expected a number after '{op}', e.g. 'p95 < 50ms'")
    return match.group("stat"), op, float(match.group("value")), match.group("unit")


def _stat(raw: str) -> str:
    word = ALIASES.get(raw.lower(), raw.lower())
    if word in (*LATENCY_STATS, *COUNT_STATS, "rps", "error_rate", "rate"):
        return word
    p = percentile_of(word)
    if p is None:
        raise _Bad(f"unknown statistic {raw!r}; {_STATS_HINT}")
    if not 0 < p <= 100:
        digits = raw[1:]
        hint = f"; write p{digits[:2]}.{digits[2:]} with the dot" if digits[:2] == "99" and digits.isdigit() else ""
        raise _Bad(f"percentile {raw!r} is outside (0, 100]{hint}")
    return percentile_label(p)


def _on_requests(stat: str, unit: str) -> str:
    """k6's ``count`` and ``rate`` on a target that can only be requests (``*``, ``METHOD NAME``)."""
    if stat == "count":
        return "requests"
    if stat != "rate":
        return stat
    unit = unit.replace(" ", "")
    if unit == "%":
        return "error_rate"
    if unit == "/s":
        return "rps"
    raise _Bad("on requests 'rate' is either error_rate or rps; write error_rate<1% (failed share) "
               "or rps>100/s (requests per second)")


def _operator(op: str | None) -> str:
    if op in OPERATORS:
        return op
    if op is None:
        raise _Bad("missing operator; use one of < <= > >=")
    hint = " (a measured value is never exactly equal)" if op in ("=", "==", "!=") else ""
    raise _Bad(f"unknown operator {op!r}{hint}; use one of < <= > >=")


def _normalise(stat: str, value: float, unit: str) -> float:
    """Scale ``value`` to the stat's normal unit, rejecting units that do not fit it."""
    unit = unit.replace(" ", "").lower()
    if _is_latency(stat):
        factors = {"": 1.0, "ms": 1.0, "s": 1000.0}
        expected = "ms or s (a bare number is ms)"
    elif stat == "rps":
        factors, expected = {"": 1.0, "/s": 1.0}, "/s or a bare number"
    elif stat == "error_rate":
        factors, expected = {"": 1.0, "%": 0.01}, "% or a bare fraction"
    elif stat == "rate":
        factors, expected = {"": 1.0, "%": 0.01, "/s": 1.0}, "%, /s or a bare number"
    else:
        factors, expected = {"": 1.0}, "a bare number"
    if unit not in factors:
        raise _Bad(f"unit {unit!r} does not fit {stat}; use {expected}")
    if stat == "error_rate" and unit == "" and value >= 1:
        raise _Bad(f"a bare error_rate is a fraction (0..1), so {value:g} means {value * 100:g}%; "
                   f"write {value:g}% for {value:g} percent, or {value / 100:g}")
    return value * factors[unit]


def _check_reachable(stat: str, op: str, value: float) -> None:
    """Refuse an expression that can never pass, whatever the run does: a ``<`` against the
    least a stat can be (every request stat and latency is at least 0), a ``>`` against the
    most (error_rate is at most 100%). ``count`` and ``rate`` belong to custom metrics, where a
    counter may go down: not checked. (One that always passes, ``error_rate<=100%``, is
    allowed: it is how a run with expected failures is made to pass.)"""
    if stat in ("count", "rate"):
        return
    zero = shown(stat, 0.0)
    if op == "<" and value <= 0:
        fix = (f"give a bound above 0, e.g. {stat}<300ms" if _is_latency(stat)
               else f"write {stat}<={zero} for none at all")
        raise _Bad(f"{stat} is never below {zero}, so '{stat}<{zero}' can never pass; {fix}")
    full = shown(stat, 1.0)
    if stat == "error_rate" and ((op == ">" and value >= 1) or (op == ">=" and value > 1)):
        raise _Bad(f"error_rate is never above {full}, so it can never pass; write error_rate>={full} "
                   "(every request failed) or a ceiling like error_rate<1%")


def shown(stat: str, value: float) -> str:
    """A normalised value as written in an expression: ``1%``, ``100ms``, ``100/s``, ``1000``."""
    if stat == "error_rate":
        return f"{value * 100:.10g}%"
    if _is_latency(stat):
        return f"{value:.10g}ms"
    if stat == "rps":
        return f"{value:.10g}/s"
    return f"{value:.10g}"


def _is_latency(stat: str) -> bool:
    return stat in LATENCY_STATS or percentile_of(stat) is not None
