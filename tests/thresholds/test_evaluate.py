"""Evaluating thresholds against RunStats built from real snapshots with known ground truth."""
from __future__ import annotations

import random

import numpy as np
import pytest

from surge.metrics.aggregate import RunStats
from surge.metrics.custom import TREND_SCALE
from surge.metrics.hdr import Histogram, relative_error_bound
from surge.metrics.snapshot import MetricSnapshot, SeriesSnapshot, Snapshot
from surge.model.plan import ThresholdSpec
from surge.model.summary import ThresholdResult
from surge.thresholds import evaluate, failing, parse_cli_threshold, parse_expression, should_abort

ELAPSED_S = 10.0


def encoded(values_us):
    h = Histogram()
    h.record_many(np.asarray(values_us, dtype=np.int64))
    return h.to_wire()


def series(method, name, values_us, failures=0, untimed=0):
    return SeriesSnapshot(
        method, name, latency=encoded(values_us) if len(values_us) else None,
        requests=len(values_us) + untimed, failures=failures,
    )


rng = random.Random(7)
FACTS_US = [rng.randint(1_000, 80_000) for _ in range(5_000)]  # GET /v1/facts: 1..80 ms
CORR_GET_US = [rng.randint(2_000, 20_000) for _ in range(1_000)]  # GET /v1/corrections
CORR_POST_US = [rng.randint(50_000, 150_000) for _ in range(1_000)]  # POST /v1/corrections


def ground_truth_ms(values_us, p):
    """The nearest-rank percentile, as HDR defines it, in ms."""
    ordered = sorted(values_us)
    rank = max(int(np.ceil(p / 100 * len(ordered))), 1)
    return ordered[rank - 1] / 1000


@pytest.fixture(scope="module")
def stats() -> RunStats:
    """Two workers' snapshots: the facts series split across them, plus custom metrics."""
    s = RunStats()
    half = len(FACTS_US) // 2
    first = Snapshot(0, 0, 5, series=[
        series("GET", "/v1/facts", FACTS_US[:half], failures=10),
        series("GET", "/v1/corrections", CORR_GET_US, failures=0),
    ], metrics=[
        MetricSnapshot("db_time", "trend", "ms", hist=encoded([v * TREND_SCALE for v in (5, 10, 15, 20)]), count=4),
        MetricSnapshot("cache_hit", "rate", count=100, hits=90),
        MetricSnapshot("items", "counter", count=3, total=250.0),
    ])
    second = Snapshot(1, 0, 5, series=[
        series("GET", "/v1/facts", FACTS_US[half:], failures=40),
        series("POST", "/v1/corrections", CORR_POST_US, failures=100),
        series("GET", "/v1/down", [], failures=7, untimed=7),
    ], metrics=[
        MetricSnapshot("db_time", "trend", "ms", hist=encoded([v * TREND_SCALE for v in (25, 30, 35, 40, 45, 50)]), count=6),
        MetricSnapshot("upload_s", "trend", "s", hist=encoded([v * TREND_SCALE for v in (1, 2)]), count=2),
    ])
    s.close([first, second])
    return s


def one(stats, target, text, elapsed_s=ELAPSED_S) -> ThresholdResult:
    (result,) = evaluate([parse_expression(target, text)], stats, elapsed_s)
    return result


@pytest.mark.parametrize("p", [50, 90, 95, 99, 99.9, 99.99, 37.5])
def test_percentiles_match_ground_truth_within_hdr_precision(stats, p):
    r = one(stats, "GET /v1/facts", f"p({p}) < 1000ms")
    truth = ground_truth_ms(FACTS_US, p)
    assert r.actual == pytest.approx(truth, rel=relative_error_bound())
    assert r.passed and r.target == "GET /v1/facts" and r.expression == f"p({p}) < 1000ms"


def test_min_mean_max_in_ms(stats):
    assert one(stats, "GET /v1/facts", "min > 0").actual == pytest.approx(min(FACTS_US) / 1000, rel=1e-3)
    assert one(stats, "GET /v1/facts", "max > 0").actual == pytest.approx(max(FACTS_US) / 1000, rel=1e-3)
    assert one(stats, "GET /v1/facts", "mean > 0").actual == pytest.approx(np.mean(FACTS_US) / 1000, rel=1e-3)


def test_the_operator_decides(stats):
    p95 = ground_truth_ms(FACTS_US, 95)
    assert one(stats, "GET /v1/facts", f"p95 < {p95 * 1.01}").passed
    assert not one(stats, "GET /v1/facts", f"p95 < {p95 * 0.98}").passed
    assert one(stats, "GET /v1/facts", f"p95 > {p95 * 0.98}").passed
    actual = one(stats, "GET /v1/facts", "p95 < 1").actual
    assert one(stats, "GET /v1/facts", f"p95 <= {actual!r}").passed
    assert not one(stats, "GET /v1/facts", f"p95 < {actual!r}").passed
    assert one(stats, "GET /v1/facts", f"p95 >= {actual!r}").passed


def test_seconds_and_ms_compare_alike(stats):
    assert one(stats, "GET /v1/facts", "max < 1s").passed
    assert not one(stats, "GET /v1/facts", "max < 0.01s").passed


def test_error_rate_rps_requests_failures(stats):
    assert one(stats, "GET /v1/facts", "error_rate < 2%").actual == pytest.approx(50 / 5000)
    assert one(stats, "GET /v1/facts", "error_rate < 2%").passed
    assert not one(stats, "GET /v1/facts", "error_rate < 0.5%").passed
    assert one(stats, "GET /v1/facts", "rps > 400/s").actual == pytest.approx(500.0)
    assert one(stats, "GET /v1/facts", "rps > 0", elapsed_s=0).actual == 0.0
    assert one(stats, "GET /v1/facts", "requests >= 5000").actual == 5000
    assert one(stats, "GET /v1/facts", "failures < 51").actual == 50


def test_name_merges_every_method(stats):
    merged = CORR_GET_US + CORR_POST_US
    r = one(stats, "/v1/corrections", "p90 < 1s")
    assert r.actual == pytest.approx(ground_truth_ms(merged, 90), rel=relative_error_bound())
    assert one(stats, "/v1/corrections", "requests > 0").actual == 2000
    assert one(stats, "/v1/corrections", "error_rate < 50%").actual == pytest.approx(100 / 2000)
    # while METHOD NAME picks one series, and the method is case-insensitive
    assert one(stats, "POST /v1/corrections", "requests > 0").actual == 1000
    assert one(stats, "post /v1/corrections", "min > 0").actual == pytest.approx(50.0, rel=1e-3)


def test_star_is_every_request_in_one_histogram(stats):
    everything = FACTS_US + CORR_GET_US + CORR_POST_US
    assert one(stats, "*", "requests > 0").actual == len(everything) + 7
    assert one(stats, "*", "failures > 0").actual == 157
    assert one(stats, "*", "p99 < 1s").actual == pytest.approx(ground_truth_ms(everything, 99), rel=relative_error_bound())
    assert one(stats, "*", "rps > 0").actual == pytest.approx((len(everything) + 7) / ELAPSED_S)


def test_custom_trend(stats):
    values_ms = [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert one(stats, "db_time", "p50 < 100").actual == pytest.approx(25, rel=1e-3)
    assert one(stats, "db_time", "max < 100").actual == pytest.approx(50, rel=1e-3)
    assert one(stats, "db_time", "min > 1").actual == pytest.approx(5, rel=1e-3)
    assert one(stats, "db_time", "mean < 100").actual == pytest.approx(np.mean(values_ms), rel=1e-3)
    assert one(stats, "db_time", "count >= 10").actual == 10
    assert one(stats, "db_time", "p(90) < 0.05s").actual == pytest.approx(45, rel=1e-3)


def test_trend_in_seconds_is_compared_in_ms(stats):
    r = one(stats, "upload_s", "max < 3s")
    assert r.actual == pytest.approx(2000, rel=1e-3) and r.passed
    assert not one(stats, "upload_s", "max < 1500ms").passed


def test_custom_rate_and_counter(stats):
    assert one(stats, "cache_hit", "rate > 85%").actual == pytest.approx(0.9)
    assert one(stats, "cache_hit", "rate > 85%").passed
    assert one(stats, "cache_hit", "count >= 100").actual == 100
    assert one(stats, "items", "count >= 250").actual == 250
    assert one(stats, "items", "rate > 20/s").actual == pytest.approx(25.0)


@pytest.mark.parametrize(
    "target, text, words",
    [
        ("cache_hit", "p95 < 5", ["'p95' does not apply to rate metric 'cache_hit'", "rate, count"]),
        ("items", "max < 5", ["does not apply to counter metric"]),
        ("db_time", "rate > 1", ["does not apply to trend metric"]),
        ("/v1/facts", "rate > 1", ["applies to custom metrics"]),
        ("GET /v1/down", "p95 < 5", ["no request was timed"]),
    ],
)
def test_misapplied_stats_fail_with_a_reason(stats, target, text, words):
    r = one(stats, target, text)
    assert not r.passed and r.actual is None
    for word in words:
        assert word in r.message


def test_request_stats_on_a_metric_name_mean_requests(stats):
    r = one(stats, "cache_hit", "rps > 0")
    assert not r.passed and r.message.startswith("no requests matched 'cache_hit'")


def test_untimed_series_still_has_counts(stats):
    assert one(stats, "GET /v1/down", "error_rate < 50%").actual == 1.0


def test_an_unmatched_target_fails_naming_close_known_targets(stats):
    r = one(stats, "GET /v1/fact", "p95 < 50ms")
    assert not r.passed and r.actual is None
    assert r.message.startswith("no requests matched 'GET /v1/fact'; known: GET /v1/facts")
    assert "(+" in r.message  # more known targets than shown


def test_nothing_recorded_fails_every_target():
    for target in ("*", "GET /v1/facts"):
        r = one(RunStats(), target, "p95 < 50ms")
        assert not r.passed and r.actual is None and "no requests were recorded" in r.message


def test_results_keep_order_and_abort_flag(stats):
    specs = [parse_cli_threshold("*: p95 < 1ms"), parse_expression("*", "p95 < 1s", abort_on_fail=True)]
    results = evaluate(specs, stats, ELAPSED_S)
    assert [r.passed for r in results] == [False, True]
    assert [r.abort_on_fail for r in results] == [False, True]
    assert failing(results) == [results[0]]


def test_a_spec_built_by_hand_with_an_odd_stat_fails_cleanly(stats):
    (r,) = evaluate([ThresholdSpec("*", "median", "<", 1.0, "median < 1")], stats, ELAPSED_S)
    assert not r.passed and "unknown statistic" in r.message


# -- abort ---------------------------------------------------------------------------------------
def result(passed, abort, actual=1.0, target="*"):
    return ThresholdResult(target, "p95<1", actual if actual is not None else None, passed, "", abort)


def test_should_abort_after_grace_on_the_first_failing_abort_threshold():
    results = [result(False, False), result(True, True), result(False, True, target="a"), result(False, True, target="b")]
    assert should_abort(results, elapsed_s=5, abort_grace_s=10) is None
    assert should_abort(results, elapsed_s=10, abort_grace_s=10).target == "a"
    assert should_abort(results, elapsed_s=30, abort_grace_s=0).target == "a"


def test_should_not_abort_without_abort_flag_or_on_unmatched_targets():
    assert should_abort([result(False, False)], 100, 0) is None
    assert should_abort([result(False, True, actual=None)], 100, 0) is None
    assert should_abort([], 100, 0) is None


def test_abort_end_to_end(stats):
    specs = [parse_expression("GET /v1/facts", "p95 < 1ms", abort_on_fail=True)]
    results = evaluate(specs, stats, ELAPSED_S)
    assert should_abort(results, ELAPSED_S, abort_grace_s=ELAPSED_S + 1) is None
    assert should_abort(results, ELAPSED_S, abort_grace_s=ELAPSED_S) is results[0]


def test_until_break_aborts_on_any_breach_whatever_the_grace(stats):
    specs = [parse_expression("GET /v1/facts", "p95 < 1ms"), parse_expression("GET /v1/nope", "p95 < 1ms")]
    results = evaluate(specs, stats, ELAPSED_S)
    assert should_abort(results, ELAPSED_S, abort_grace_s=0) is None  # not abort_on_fail
    assert should_abort(results, ELAPSED_S, abort_grace_s=ELAPSED_S + 60, until_break=True) is results[0]
    # a target with no data yet never aborts, even stepping until break
    assert should_abort(results[1:], ELAPSED_S, abort_grace_s=0, until_break=True) is None


def test_results_carry_their_stat():
    from surge.thresholds import ThresholdJudge

    specs = [parse_expression("*", "p99.9 < 5s"), parse_expression("*", "error_rate < 1%")]
    judgement = ThresholdJudge(specs).judge(RunStats(), 1.0, final=True)
    assert [r.stat for r in judgement.results] == ["p99.9", "error_rate"]
    assert judgement.abort is None


def test_the_judge_applies_the_one_abort_policy(stats):
    from surge.thresholds import ThresholdJudge

    specs = [parse_expression("GET /v1/facts", "p95 < 1ms", abort_on_fail=True)]
    judge = ThresholdJudge(specs, abort_grace_s=ELAPSED_S)
    live = judge.judge(stats, ELAPSED_S, final=False)
    assert live.abort is live.results[0] and live.failing == live.results
    assert judge.judge(stats, ELAPSED_S - 1, final=False).abort is None  # still in the grace period
    assert judge.judge(stats, ELAPSED_S, final=True).abort is None  # the final verdict never aborts


def test_k6_count_on_a_name_that_is_requests_counts_requests(stats):
    r = one(stats, "/v1/corrections", "count > 1999")
    assert (r.actual, r.passed, r.stat) == (2000, True, "requests")
