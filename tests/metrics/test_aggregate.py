"""Worker recording -> snapshot bytes -> coordinator aggregation, as a run moves its figures.

Two workers record into their own ``Recorder``; their snapshots cross the wire as bytes and
``RunStats`` merges them by interval: cumulative totals, per-interval windows, failures,
custom metrics, late snapshots.
"""
from __future__ import annotations

import json

import pytest

from surge.metrics import aggregate, recorder as recorder_mod
from surge.metrics.aggregate import AGGREGATED, RunStats
from surge.metrics.custom import Counter, Rate, Trend
from surge.metrics.hdr import Histogram
from surge.metrics.recorder import CAP_WARNING, MAX_SERIES, OTHER, TASK, Recorder
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
    series, warnings = rec.flush()
    flushed = [m for m in (metric.flush() for metric in metrics) if m is not None]
    return Snapshot(worker_id=worker_id, interval=interval, users=3, series=series, metrics=flushed,
                    dropped_iterations=dropped, iterations=iterations, warnings=warnings)


def wire(snap: Snapshot) -> Snapshot:
    return Snapshot.from_bytes(snap.to_bytes())


@pytest.fixture
def workers():
    a, b = Recorder(), Recorder()
    for ms in (10, 20, 30):
        request(a, "GET", "/v1/facts", ms)
    request(a, "GET", "/v1/facts", 40, fail=("status", "HTTP 500"))
    request(a, "POST", "/v1/corrections", 30_000, fail=("timeout", "no response within 30s"))
    a.task_error("Shopper.browse", "ValueError: bad id")
    a.task_error("Shopper.browse", "ValueError: bad id")
    for ms in (50, 60):
        request(b, "GET", "/v1/facts", ms)
    request(b, "GET", "/v1/facts", None, fail=("connect", "connection refused"))  # counted, not timed
    request(b, "POST", "/v1/corrections", 5)
    return a, b


# -- the snapshot protocol -------------------------------------------------------------------------
def test_snapshot_round_trips_through_bytes(workers):
    a, _ = workers
    snap = snapshot(0, a, interval=4, dropped=2, iterations=9)
    snap.cpu_percent, snap.rss_mb, snap.final = 37.5, 51.25, True
    snap.users_started, snap.users_start_failed = 3, 1
    snap.users_by_class = {"Reader": 2, "Writer": 1}
    back = wire(snap)
    assert back == snap
    assert back.version == PROTOCOL_VERSION
    facts = next(s for s in back.series if s.name == "/v1/facts")
    assert Histogram.from_wire(facts.latency).count == 4
    assert facts.errors == [["status", "HTTP 500", 1]]


def test_a_partial_snapshot_carries_no_cpu_figure():
    snap = Snapshot(worker_id=1, interval=2, users=0, cpu_percent=None)
    assert wire(snap).cpu_percent is None


@pytest.mark.parametrize("version", [PROTOCOL_VERSION + 1, 0, None])
def test_snapshot_of_another_protocol_version_is_rejected(version):
    data = json.loads(Snapshot(worker_id=0, interval=0, users=0).to_bytes())
    data[0] = version
    with pytest.raises(ValueError, match=f"protocol {version} is not {PROTOCOL_VERSION}"):
        Snapshot.from_bytes(json.dumps(data).encode())


@pytest.mark.parametrize("mangle", [
    lambda d: d[:5],  # too short
    lambda d: [*d[:1], "zero", *d[2:]],  # worker id not a number
    lambda d: [*d[:2], -1, *d[3:]],  # negative interval
    lambda d: [*d[:4], [["GET", "/x"]], *d[5:]],  # a series missing fields
    lambda d: [*d[:4], [["GET", "/x", None, None, 1, 1, 0, 0, 0, [["bogus-kind", "m", 1]]]], *d[5:]],
    lambda d: [*d[:4], [["GET", "/x", None, None, True, 0, 0, 0, 0, []]], *d[5:]],  # a bool is not a count
    lambda d: [*d[:5], [["m", "histogram", "", None, 0, 0, 0]], *d[6:]],  # unknown metric kind
    lambda d: {"version": PROTOCOL_VERSION},
    lambda d: [*d[:13], "not a list"],
    lambda d: [*d[:16], {"Reader": -1}],  # users_by_class: counts only
    lambda d: [*d[:16], [["Reader", 2]]],
    lambda d: d[:16],  # a version 3 body under a version 4 header
])
def test_a_malformed_snapshot_is_a_value_error_not_a_crash(mangle):
    data = json.loads(Snapshot(worker_id=0, interval=0, users=0).to_bytes())
    with pytest.raises(ValueError):
        Snapshot.from_bytes(json.dumps(mangle(data)).encode())
    with pytest.raises(ValueError):
        Snapshot.from_bytes(b"\xff not json")
    with pytest.raises(ValueError):
        Snapshot.from_bytes(b"[" * 100_000)  # nested past the recursion limit


def test_recorder_flush_starts_a_new_interval(workers):
    a, _ = workers
    first = snapshot(0, a)
    assert {(s.method, s.name) for s in first.series} == {
        ("GET", "/v1/facts"), ("POST", "/v1/corrections"), (TASK, "Shopper.browse")}
    task = next(s for s in first.series if s.method == TASK)
    assert (task.requests, task.failures, task.latency) == (2, 2, None)  # counted, failed, not timed
    assert task.errors == [["exception", "ValueError: bad id", 2]]
    again = snapshot(0, a)
    assert again.series == []  # idle series send nothing
    request(a, "GET", "/v1/facts", 1)
    assert [s.requests for s in snapshot(0, a).series] == [1]


def test_a_series_whose_histogram_fails_keeps_its_figures_for_the_next_flush(workers, monkeypatch):
    a, _ = workers
    calls = []
    real = recorder_mod._wire

    def flaky(values):
        calls.append(len(values))
        if len(calls) == 1:
            raise OSError(24, "Too many open files")
        return real(values)

    monkeypatch.setattr(recorder_mod, "_wire", flaky)
    series, warnings = a.flush()
    assert "Too many open files" in warnings[0]
    sent = {s.name: s.requests for s in series}
    assert "/v1/facts" not in sent and sent["/v1/corrections"] == 1  # the others went out
    series, _ = a.flush()
    assert {s.name: s.requests for s in series} == {"/v1/facts": 4}  # nothing lost


# -- merging two workers -----------------------------------------------------------------------------
def test_cumulative_totals_are_the_sum_of_the_workers(workers):
    a, b = workers
    stats = RunStats()
    stats.close([wire(snapshot(0, a, dropped=1, iterations=5)), wire(snapshot(1, b, dropped=2, iterations=4))])

    facts = stats.series[("GET", "/v1/facts")]
    assert (facts.requests, facts.failures, facts.latency.count) == (7, 2, 6)
    assert (facts.bytes_received, facts.bytes_sent) == (700, 70)
    assert stats.total.requests == 11 and stats.total.failures == 5  # 2 of them task exceptions
    assert stats.http_requests == 9
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
    assert [k for k in by_name] == [("POST", "/v1/corrections"), ("GET", "/v1/facts"),
                                    ("TASK", "Shopper.browse")]  # sorted by name

    total = stats.total_stats(seconds=10)
    assert (total.method, total.name, total.requests, total.failures) == ("", AGGREGATED, 11, 5)
    assert total.rps == pytest.approx(1.1) and total.error_rate == pytest.approx(5 / 11)
    assert total.latency_ms.max == pytest.approx(30_000, rel=1e-3)

    hists = stats.histograms()
    assert set(hists) == {"GET /v1/facts", "POST /v1/corrections", "TASK Shopper.browse", "*"}
    assert Histogram.decode(hists["*"]).count == 8


def test_rates_over_zero_seconds_and_empty_series_are_zero():
    stats = RunStats()
    e = stats.total_stats(seconds=0)
    assert (e.requests, e.rps, e.error_rate, e.latency_ms.p99) == (0, 0.0, 0.0, 0.0)


def test_each_interval_has_its_own_window_and_the_totals_keep_everything(workers):
    a, b = workers
    stats = RunStats()
    window = stats.close([wire(snapshot(0, a)), wire(snapshot(1, b))])
    assert window.total.requests == 11 and window.series[("GET", "/v1/facts")].requests == 7
    assert window.total.latency.count == 8

    request(a, "GET", "/v1/facts", 99)
    window = stats.close([wire(snapshot(0, a, interval=1))])
    assert window.total.requests == 1 and set(window.series) == {("GET", "/v1/facts")}
    assert window.series[("GET", "/v1/facts")].latency.count == 1
    assert stats.total.requests == 12  # cumulative keeps everything

    window = stats.close([])
    assert window.total.requests == 0 and window.series == {}


def test_a_late_snapshot_counts_in_the_totals_only(workers):
    a, b = workers
    stats = RunStats()
    stats.close([wire(snapshot(0, a))])
    stats.add_late(wire(snapshot(1, b, dropped=4)))
    assert stats.series[("GET", "/v1/facts")].requests == 7
    assert stats.total.requests == 11 and stats.total.latency.count == 8
    assert stats.dropped_iterations == 4
    assert ("GET", "/v1/facts", "connect", "connection refused") in stats.errors


def test_failure_groups_and_kinds(workers):
    a, b = workers
    request(b, "GET", "/v1/facts", 70, fail=("status", "HTTP 500"))
    stats = RunStats()
    stats.close([wire(snapshot(0, a)), wire(snapshot(1, b))])
    groups = stats.failure_groups()
    assert set(groups[:2]) == {  # the most common first
        FailureGroup("GET", "/v1/facts", "status", "HTTP 500", 2),
        FailureGroup(TASK, "Shopper.browse", "exception", "ValueError: bad id", 2),  # under the task's name
    }
    assert FailureGroup("POST", "/v1/corrections", "timeout", "no response within 30s", 1) in groups
    assert FailureGroup("GET", "/v1/facts", "connect", "connection refused", 1) in groups
    assert [g.count for g in groups] == sorted((g.count for g in groups), reverse=True)
    assert stats.failures_by_kind() == {"status": 2, "timeout": 1, "connect": 1, "exception": 2}


def test_warnings_are_passed_on_once():
    a, b = Recorder(), Recorder()
    stats = RunStats()
    for worker_id, rec in enumerate((a, b)):
        rec.warn("generator saturated")
        rec.warn("generator saturated")
        stats.close([wire(snapshot(worker_id, rec))])
    assert stats.warnings == ["generator saturated"]


# -- the 1,000-names cap ------------------------------------------------------------------------------
def test_a_worker_groups_names_beyond_1000_under_other_with_one_warning():
    assert MAX_SERIES == 1000
    rec = Recorder()
    for i in range(MAX_SERIES + 25):
        rec.series("GET", f"/items/{i}").requests += 1
    rec.series("POST", "/late").requests += 1
    rec.series("GET", "/items/3").requests += 1  # a name already known keeps its series
    series, warnings = rec.flush()
    names = {(s.method, s.name): s.requests for s in series}
    assert len([k for k in names if k[1] != OTHER]) == MAX_SERIES
    assert names[("GET", OTHER)] == 25
    assert names[("POST", OTHER)] == 1
    assert names[("GET", "/items/3")] == 2
    assert warnings == [CAP_WARNING] and "name=" in CAP_WARNING
    rec.series("GET", "/items/5000").requests += 1
    assert rec.flush()[1] == []  # warned once per run, not per interval


def test_the_run_caps_names_across_workers(monkeypatch):
    # each worker stays under its own cap, yet together they exceed the run's
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
        stats.close([snap])
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
    stats.close([wire(snapshot(0, rec))])
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
    stats.close([wire(snapshot(worker_id, Recorder(), metrics=metrics)) for worker_id, metrics in enumerate(per_worker)])

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
    stats.close([Snapshot(0, 0, 0, metrics=[snap])])
    assert stats.custom_stats(1)[0].values["p50"] == pytest.approx(0.123, rel=1e-3)
    with pytest.raises(ValueError):
        Trend("")
