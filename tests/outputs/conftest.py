"""Builders for run summaries with real HDR percentiles, shared by the output tests.

Summaries go through ``RunStats`` fed with worker ``Snapshot``s, as a real run's do, so the
percentiles the writers print are the ones HDR computes, not numbers typed into a test.
"""
from __future__ import annotations

import dataclasses

import pytest

from surge.metrics.aggregate import IntervalWindow, RunStats
from surge.metrics.hdr import Histogram
from surge.metrics.snapshot import SeriesSnapshot, Snapshot
from surge.model.summary import GeneratorInfo, HistoryRow, RunSummary, ThresholdResult

PASSWORD = "s3cretpw"
HOST = f"http://alice:{PASSWORD}@api.example.test:8443"
DURATION_S = 10.0
#: GET /v1/facts: 1..100 ms, ten of each, so p95 is 95 ms and p50 50 ms (within HDR's 0.1%).
#: (Few distinct values on purpose: hdrh computes the mean by iterating buckets in Python.)
FACTS_MS = [ms for ms in range(1, 101) for _ in range(10)]


def hist_ms(values_ms: list[float]) -> Histogram:
    h = Histogram()
    h.record_many([int(v * 1000) for v in values_ms])
    return h


def _snapshots() -> list[Snapshot]:
    """Two workers, each with half of the facts latencies; corrections only on worker 1."""
    evens, odds = FACTS_MS[1::2], FACTS_MS[0::2]
    w0 = Snapshot(worker_id=0, interval=0, users=5, series=[
        SeriesSnapshot("GET", "/v1/facts", latency=hist_ms(evens).to_wire(), requests=len(evens),
                       failures=10, bytes_received=len(evens) * 100,
                       errors=[["status", "HTTP 500 Internal Server Error", 10]]),
    ])
    w1 = Snapshot(worker_id=1, interval=0, users=5, series=[
        SeriesSnapshot("GET", "/v1/facts", latency=hist_ms(odds).to_wire(), requests=len(odds),
                       bytes_received=len(odds) * 100),
        SeriesSnapshot("POST", "/v1/corrections", latency=hist_ms([5.0] * 200).to_wire(), requests=203,
                       failures=3, cancelled=1,
                       errors=[["connect", f"cannot connect to {HOST}/v1/corrections", 3]]),
        # a task that raised twice: two failed, untimed "requests" under its name
        SeriesSnapshot("TASK", "Shopper.checkout", requests=2, failures=2,
                       errors=[["exception", "ZeroDivisionError: division by zero", 2]]),
    ])
    return [w0, w1]


def make_interval() -> tuple[RunStats, IntervalWindow]:
    """Both workers' snapshots closed as one interval: the stats and that interval's window."""
    stats = RunStats()
    window = stats.close(_snapshots())
    return stats, window


def make_stats() -> RunStats:
    return make_interval()[0]


def make_summary(stats: RunStats | None = None, **changes) -> RunSummary:
    stats = stats or make_stats()
    summary = RunSummary(
        status="failed", scenario="demo", profile="smoke", host=HOST,
        started_at="2024-05-01T12:00:00Z", duration_s=DURATION_S, workload="closed",
        total=stats.total_stats(DURATION_S), endpoints=tuple(stats.endpoint_stats(DURATION_S)),
        failures=tuple(stats.failure_groups()), failures_by_kind=stats.failures_by_kind(),
        thresholds=(
            ThresholdResult("*", "p95 < 2000ms", 95.0, True, stat="p95"),
            ThresholdResult("GET /v1/facts", "p95 < 50ms", 95.0, False, stat="p95"),
            ThresholdResult("GET /v1/typo", "error_rate < 1%", None, False,
                            message="target 'GET /v1/typo' matched no request", stat="error_rate"),
            ThresholdResult("POST /v1/<x> & \"y\"", "error_rate < 1%", 0.015, False, stat="error_rate"),
        ),
        generator=GeneratorInfo(processes=2, cpu_percent_max=71.26),
        custom_metrics=tuple(stats.custom_stats(DURATION_S)),
        warnings=(f"target {HOST} answered slowly",),
    )
    return dataclasses.replace(summary, **changes)


def history_rows(stats: RunStats, window: IntervalWindow, timestamp: float, users: int,
                 elapsed_s: float) -> list[HistoryRow]:
    """What the coordinator does every interval: one row per series with traffic, then the total."""
    rows = [HistoryRow(timestamp, elapsed_s, users, 0, w.stats(m, n, 1.0), stats.series[(m, n)].stats(m, n, elapsed_s))
            for (m, n), w in sorted(window.series.items())]
    rows.append(HistoryRow(timestamp, elapsed_s, users, 0, window.total.stats("", "Aggregated", 1.0),
                           stats.total_stats(elapsed_s)))
    return rows


@pytest.fixture
def stats() -> RunStats:
    return make_stats()


@pytest.fixture(scope="session")
def summary() -> RunSummary:
    """Built once: RunSummary is frozen, and HDR's mean costs ~0.1 s per busy histogram."""
    return make_summary()


@pytest.fixture(scope="session")
def history() -> list[HistoryRow]:
    """One interval's stats_history rows (all the traffic in a 1 s window, 10 s into the run)."""
    stats, window = make_interval()
    return history_rows(stats, window, timestamp=1714564810.7, users=10, elapsed_s=10.0)
