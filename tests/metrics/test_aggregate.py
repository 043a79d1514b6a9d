"""Worker recording -> snapshot bytes -> coordinator aggregation, as a run moves its figures.

Two workers record into their own ``Recorder``; their snapshots cross the wire as bytes and
``RunStats`` merges them: cumulative totals, per-interval windows, failures, custom metrics.
"""
from __future__ import annotations

import json

import pytest

from surge.metrics import aggregate, recorder as recorder_mod
from surge.metrics.aggregate import AGGREGATED, RunStats
from surge.metrics.custom import Counter, Rate, Trend
from surge.metrics.hdr import Histogram
from surge.metrics.recorder import CAP_WARNING, MAX_SERIES, OTHER, Recorder
from surge.metrics.snapshot import PROTOCOL_VERSION, Snapshot
from surge.model.summary import FailureGroup


def request(rec: Recorder, method: str, name: str, latency_ms: float | None, fail: tuple[str, str] | None = None):
    """What the HTTP client does per request: count it, time it if it got an answer, record a failure."""
    s = rec.series(method, name)
    s.requests += 1
    if latency_ms is not None:
        s.latencies_us.append(int(latency_ms * 1000))
    s.bytes_received += 100
    s.bytes_sent += 10
    if fail:
        s.fail(*fail)


def snapshot(worker_id: int, rec: Recorder, *, interval: int = 0, metrics=(), dropped: int = 0,
             iterations: int = 0) -> Snapshot:
    series, task_errors, warnings = rec.flush()
    flushed = [m for m in (metric.flush() for metric in metrics) if m is not None]
    return Snapshot(worker_id=worker_id, interval=interval, users=3, series=series, metrics=flushed,
                    dropped_iterations=dropped, iterations=iterations, task_errors=task_errors, warnings=warnings)


def wire(snap: Snapshot) -> Snapshot:
    return Snapshot.from_bytes(snap.to_bytes())


@pytest.fixture
def workers():
    a, b = Recorder(), Recorder()
    for ms in (10, 20, 30):
        request(a, "GET", "/v1/facts", ms)
    request(a, "GET", "/v1/facts", 40, fail=("status", "HTTP 500"))
    request(a, "POST", "/v1/corrections", 30_000, fail=("timeout", "no response within 30s"))
    a.task_error("browse", "ValueError: bad id")
    a.task_error("browse", "ValueError: bad id")
    for ms in (50, 60):
        request(b, "GET", "/v1/facts", ms)
    request(b, "GET", "/v1/facts", None, fail=("connect", "connection refused"))  # counted, not timed
    request(b, "POST", "/v1/corrections", 5)
    return a, b


# -- the snapshot protocol -------------------------------------------------------------------------
def test_snapshot_round_trips_through_bytes(workers):
    a, _ = workers
    snap = snapshot(0, a, interval=4, dropped=2, iterations=9)
    snap.cpu_percent, snap.final = 37.5, True
    back = wire(snap)
    assert back == snap
    assert back.version == PROTOCOL_VERSION
    facts = next(s for s in back.series if s.name == "/v1/facts")
    assert Histogram.decode(facts.latency).count == 4
    assert facts.errors == [["status", "HTTP 500", 1]]


@pytest.mark.parametrize("version", [PROTOCOL_VERSION + 1, 0, None])
def test_snapshot_of_another_protocol_version_is_rejected(version):
    data = json.loads(Snapshot(worker_id=0, interval=0, users=0).to_bytes())
    if version is None:
        del data["version"]
    else:
        data["version"] = version
    with pytest.raises(ValueError, match=f"protocol {version} is not {PROTOCOL_VERSION}"):
        Snapshot.from_bytes(json.dumps(data).encode())


def test_recorder_flush_starts_a_new_interval(workers):
    a, _ = workers
    first = snapshot(0, a)
    assert {s.name for s in first.series} == {"/v1/facts", "/v1/corrections"}
    assert first.task_errors == [["browse", "ValueError: bad id", 2]]
    again = snapshot(0, a)
    assert again.series == [] and again.task_errors == []  # idle series send nothing
    request(a, "GET", "/v1/facts", 1)
    assert [s.requests for s in snapshot(0, a).series] == [1]


# -- merging two workers -----------------------------------------------------------------------------
def test_cumulative_totals_are_the_sum_of_the_workers(workers):
    a, b = workers
    stats = RunStats()
    stats.add(wire(snapshot(0, a, dropped=1, iterations=5)))
    stats.add(wire(snapshot(1, b, dropped=2, iterations=4)))

    facts = stats.series[("GET", "/v1/facts")]
    assert (facts.requests, facts.failures, facts.latency.count) == (7, 2, 6)
    assert (facts.bytes_received, facts.bytes_sent) == (700, 70)
    assert stats.total.requests == 9 and stats.total.failures == 3
    assert stats.total.latency.count == 8  # every timed request, from both workers
    assert (stats.dropped_iterations, stats.iterations) == (3, 9)

    by_name = {(e.method, e.name): e for e in stats.endpoint_stats(seconds=10)}
    e = by_name[("GET", "/v1/facts")]
    assert e.rps == pytest.approx(0.7)
    assert e.failures_per_s == pytest.approx(0.2)
    assert e.error_rate == pytest.approx(2 / 7)
    assert e.avg_content_length == pytest.approx(100)
    assert e.latency_ms.min == pytest.approx(10, rel=1e-3)
    assert e.latency_ms.max == pytest.approx(60, rel=1e-3)
    assert e.latency_ms.mean == pytest.approx(35, rel=1e-3)
    assert e.latency_ms.p50 == pytest.approx(30, rel=1e-3)
    assert [k for k in by_name] == [("POST", "/v1/corrections"), ("GET", "/v1/facts")]  # sorted by name

    total = stats.total_stats(seconds=10)
    assert (total.method, total.name, total.requests, total.failures) == ("", AGGREGATED, 9, 3)
    assert total.rps == pytest.approx(0.9) and total.error_rate == pytest.approx(1 / 3)
    assert total.latency_ms.max == pytest.approx(30_000, rel=1e-3)

    hists = stats.histograms()
    assert set(hists) == {"GET /v1/facts", "POST /v1/corrections", "*"}
    assert Histogram.decode(hists["*"]).count == 8


def test_rates_over_zero_seconds_and_empty_series_are_zero():
    stats = RunStats()
    e = stats.total_stats(seconds=0)
    assert (e.requests, e.rps, e.error_rate, e.latency_ms.p99) == (0, 0.0, 0.0, 0.0)


def test_close_interval_resets_the_window_but_not_the_totals(workers):
    a, b = workers
    stats = RunStats()
    stats.add(wire(snapshot(0, a)))
    stats.add(wire(snapshot(1, b)))
    window, per_series = stats.close_interval()
    assert window.requests == 9 and per_series[("GET", "/v1/facts")].requests == 7

    request(a, "GET", "/v1/facts", 99)
    stats.add(wire(snapshot(0, a, interval=1)))
    window, per_series = stats.close_interval()
    assert window.requests == 1 and set(per_series) == {("GET", "/v1/facts")}
    assert per_series[("GET", "/v1/facts")].latency.count == 1
    assert stats.total.requests == 10  # cumulative keeps everything

    window, per_series = stats.close_interval()
    assert window.requests == 0 and per_series == {}


def test_failure_groups_and_kinds(workers):
    a, b = workers
    request(b, "GET", "/v1/facts", 70, fail=("status", "HTTP 500"))
    stats = RunStats()
    stats.add(wire(snapshot(0, a)))
    stats.add(wire(snapshot(1, b)))
    groups = stats.failure_groups()
    assert set(groups[:2]) == {  # the most common first
        FailureGroup("GET", "/v1/facts", "status", "HTTP 500", 2),
        FailureGroup("", "browse", "exception", "ValueError: bad id", 2),  # task errors: under the task's name
    }
    assert FailureGroup("POST", "/v1/corrections", "timeout", "no response within 30s", 1) in groups
    assert FailureGroup("GET", "/v1/facts", "connect", "connection refused", 1) in groups
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)
    assert stats.failures_by_kind() == {"status": 2, "timeout": 1, "connect": 1, "exception": 2}


def test_warnings_are_passed_on_once():
    a, b = Recorder(), Recorder()
    stats = RunStats()
    for worker_id, rec in enumerate((a, b)):
        rec.warnings.append("generator saturated")
        stats.add(wire(snapshot(worker_id, rec)))
    assert stats.warnings == ["generator saturated"]


# -- the 1,000-names cap ------------------------------------------------------------------------------
def test_a_worker_groups_names_beyond_1000_under_other_with_one_warning():
    assert MAX_SERIES == 1000
    rec = Recorder()
    for i in range(MAX_SERIES + 25):
        rec.series("GET", f"/items/{i}").requests += 1
    rec.series("POST", "/late").requests += 1
    rec.series("GET", "/items/3").requests += 1  # a name already known keeps its series
    series, _, warnings = rec.flush()
    names = {(s.method, s.name): s.requests for s in series}
    assert len([k for k in names if k[1] != OTHER]) == MAX_SERIES
    assert names[("GET", OTHER)] == 25
    assert names[("POST", OTHER)] == 1
    assert names[("GET", "/items/3")] == 2
    assert warnings == [CAP_WARNING] and "name=" in CAP_WARNING
    rec.series("GET", "/items/5000").requests += 1
    assert rec.flush()[2] == []  # warned once per run, not per interval


def test_the_run_caps_names_across_workers(monkeypatch):
    # each worker stays under its own cap, yet together they exceed the run's (kept small: a
    # coordinator series holds two 185 kB HDR histograms)
    cap = 10
    monkeypatch.setattr(recorder_mod, "MAX_SERIES", cap)
    monkeypatch.setattr(aggregate, "MAX_SERIES", cap)
    stats = RunStats()
    for worker_id in range(2):
        rec = Recorder()
        for i in range(cap):
            request(rec, "GET", f"/items/{worker_id}-{i}", 5, fail=("status", "HTTP 404") if i == cap - 1 else None)
        snap = wire(snapshot(worker_id, rec))
        assert snap.warnings == []
        stats.add(snap)
    assert len(stats.series) == cap + 1
    other = stats.series[("GET", OTHER)]
    assert other.requests == cap and other.latency.count == cap
    assert stats.total.requests == 2 * cap
    assert stats.warnings == [CAP_WARNING]
    assert FailureGroup("GET", OTHER, "status", "HTTP 404", 1) in stats.failure_groups()
    # a worker's own (other) series joins the run's
    rec = Recorder()
    for i in range(cap + 3):
        request(rec, "GET", f"/more/{i}", 5)
    stats.add(wire(snapshot(0, rec)))
    assert stats.series[("GET", OTHER)].requests == 2 * cap + 3
    assert stats.warnings == [CAP_WARNING]


# -- custom metrics -------------------------------------------------------------------------------------
def test_custom_metrics_are_aggregated_across_workers():
    per_worker = []
    for values, hits, items in (([10, 20, 30], [True, False, True], 5), ([40], [True], 7)):
        trend, rate, counter = Trend("server_ms"), Rate("cache_hit"), Counter("items")
        for v in values:
            trend.add(v)
        for h in hits:
            rate.add(h)
        counter.add(items)
        per_worker.append((trend, rate, counter))
    stats = RunStats()
    for worker_id, metrics in enumerate(per_worker):
        stats.add(wire(snapshot(worker_id, Recorder(), metrics=metrics)))

    got = {m.name: m for m in stats.custom_stats(seconds=4)}
    assert list(got) == ["cache_hit", "items", "server_ms"]
    trend = got["server_ms"]
    assert (trend.kind, trend.count) == ("trend", 4)
    assert trend.values["min"] == pytest.approx(10, rel=1e-3)
    assert trend.values["max"] == pytest.approx(40, rel=1e-3)
    assert trend.values["mean"] == pytest.approx(25, rel=1e-3)
    assert trend.values["p50"] == pytest.approx(20, rel=1e-3)
    assert stats.metrics["server_ms"].unit == "ms"
    rate = got["cache_hit"]
    assert (rate.kind, rate.count, rate.values) == ("rate", 4, {"rate": 0.75})
    counter = got["items"]
    assert (counter.kind, counter.count) == ("counter", 2)
    assert counter.values == {"count": 12, "rate": 3.0}


def test_custom_metrics_flush_only_what_was_added():
    trend, rate, counter = Trend("t", unit="s"), Rate("r"), Counter("c")
    assert [m.flush() for m in (trend, rate, counter)] == [None, None, None]
    trend.add(0.123)  # below one unit: kept to three significant digits by the 1000x scale
    snap = trend.flush()
    assert snap.count == 1 and snap.unit == "s"
    assert trend.flush() is None
    stats = RunStats()
    stats.add(Snapshot(0, 0, 0, metrics=[snap]))
    assert stats.custom_stats(1)[0].values["p50"] == pytest.approx(0.123, rel=1e-3)
    with pytest.raises(ValueError):
        Trend("")
