"""Rates and ratios from cumulative counters, the way servers report them (pure, stdlib only).

PostgreSQL's ``pg_stat_database`` and Redis's ``INFO stats`` give counters that only grow while
the server runs (commits, commands processed, keyspace hits). A monitor keeps them raw in its
rows, so a summary can be recomputed from a results folder; rates come from the differences:

* the first row is the baseline: what happened before the run is not counted;
* a counter that went *down* was reset (the server restarted, or its stats were reset): the
  new value is what accumulated since the reset, so it counts whole, and nothing is negative;
* a row without the counter (a sample that could not read it) is skipped, not a zero.

``rows`` are :class:`~surge.model.events.MonitorSample` (``values`` and ``elapsed_s``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class _Row(Protocol):
    elapsed_s: float
    values: Mapping[str, Any]


def increase(before: float, after: float) -> float:
    """What a counter gained from ``before`` to ``after``: ``after`` alone when it was reset."""
    return after - before if after >= before else after


def counter_delta(rows: Sequence[_Row], key: str) -> float | None:
    """The counter's total increase across ``rows`` (None with fewer than two readings)."""
    total, previous, pairs = 0.0, None, 0
    for row in rows:
        value = row.values.get(key)
        if value is None:
            continue
        if previous is not None:
            total += increase(previous, value)
            pairs += 1
        previous = value
    return total if pairs else None


def span_s(rows: Sequence[_Row], key: str) -> float | None:
    """Seconds from the first to the last row that read ``key``."""
    times = [row.elapsed_s for row in rows if row.values.get(key) is not None]
    return times[-1] - times[0] if len(times) >= 2 and times[-1] > times[0] else None


def counter_rate(rows: Sequence[_Row], key: str, *, minus: str | None = None) -> float | None:
    """The counter's increase per second over the rows; ``minus``, a counter of what the monitor
    itself caused (its own transactions or commands), is taken off first."""
    delta, span = counter_delta(rows, key), span_s(rows, key)
    if delta is None or span is None:
        return None
    if minus is not None:
        delta = max(0.0, delta - (counter_delta(rows, minus) or 0.0))
    return delta / span


def ratio(part: float | None, other: float | None) -> float | None:
    """``part / (part + other)``: a hit ratio from hits and misses; None when both are zero."""
    if part is None or other is None or part + other <= 0:
        return None
    return part / (part + other)


def column_max(rows: Sequence[_Row], key: str) -> float | None:
    values = [row.values[key] for row in rows if row.values.get(key) is not None]
    return max(values) if values else None


def rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def as_count(value: float | None) -> int | None:
    return None if value is None else int(value)


def net(rate: float | None, own: float | None) -> float | None:
    """A rate less what the monitor itself caused (never below zero)."""
    return None if rate is None else max(0.0, rate - (own or 0.0))


class Deltas:
    """The per-interval view of counters for one monitor's live rows: each call gets the
    counters now and the time, and returns each counter's rate since the previous call (None the
    first time, or for a counter the previous call did not have)."""

    def __init__(self) -> None:
        self._previous: dict[str, float] = {}
        self._previous_t: float | None = None

    def rates(self, counters: Mapping[str, float | None], now_s: float) -> dict[str, float | None]:
        previous, previous_t = self._previous, self._previous_t
        span = None if previous_t is None else now_s - previous_t
        out: dict[str, float | None] = {}
        for key, value in counters.items():
            before = previous.get(key)
            if value is None or before is None or not span or span <= 0:
                out[key] = None
            else:
                out[key] = increase(before, value) / span
        self._previous = {k: v for k, v in counters.items() if v is not None}
        self._previous_t = now_s
        return out

