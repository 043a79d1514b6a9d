"""The findings detectors on synthetic histories of a known shape (``surge.analysis.findings``).

Each history is built point by point: an interval's level, requests, failures and latency,
so the truth of every figure is known. Property tests check that a verdict does not change
when every time of a run is scaled, and that noise alone finds nothing."""
from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.analysis import findings as F
from surge.analysis.timeline import Point, holds, levels, rising, weighted_median
from surge.model.summary import EndpointStats, GeneratorInfo, Latency, RunSummary, ThresholdResult


def point(t: float, level: float, rps: float, *, span: float = 1.0, error_rate: float = 0.0, p95: float = 10.0,
          p99: float | None = None, stage: int = 0) -> Point:
    requests = max(0, round(rps * span))
    failures = round(requests * error_rate)
    p99 = p95 * 1.2 if p99 is None else p99
    latency = {"mean": p95 / 2, "p50": p95 / 2, "p90": p95 * 0.9, "p95": p95, "p99": p99, "max": p99 * 1.1}
    return Point(t_s=t, span_s=span, level=level, users=int(level), stage=stage, requests=requests,
                 failures=failures, rps=requests / span, latency=latency if requests else {})


def steady(n: int = 60, *, level: float = 50, rps: float = 500, p95=lambda t: 10.0, error_rate=lambda t: 0.0,
           span: float = 1.0, p99=None) -> list[Point]:
    return [point((i + 1) * span, level, rps, span=span, p95=p95((i + 1) * span), error_rate=error_rate((i + 1) * span),
                  p99=None if p99 is None else p99((i + 1) * span)) for i in range(n)]


def stepped(levels_and_rps: list[tuple[float, float]], *, per_step: int = 8, span: float = 1.0,
            error_rate=lambda level: 0.0, p95=lambda level: 10.0) -> list[Point]:
    out = []
    for s, (level, rps) in enumerate(levels_and_rps):
        for i in range(per_step):
            t = (s * per_step + i + 1) * span
            out.append(point(t, level, rps, span=span, error_rate=error_rate(level), p95=p95(level), stage=s))
    return out


def summary(**overrides) -> RunSummary:
    total = EndpointStats("", "Aggregated", 1000, 0, 0, 10.0, 0.0, 0.0, Latency())
    values = dict(status="passed", scenario="s", profile=None, host="http://127.0.0.1:1", started_at="2026-01-01T00:00:00Z",
                  duration_s=60.0, workload="closed", total=total, endpoints=(), failures=(), failures_by_kind={},
                  thresholds=(), generator=GeneratorInfo(processes=1))
    values.update(overrides)
    return RunSummary(**values)


def kinds(found) -> list[str]:
    return [f.kind for f in found]


def warnings(found) -> list:
    return [f for f in found if f.severity != "info"]


# -- timeline ------------------------------------------------------------------------------------
def test_holds_leave_their_settling_quarter_out_and_ramps_are_sliced():
    ramp = [point(i + 1, level=i + 1, rps=10 * (i + 1)) for i in range(30)]  # a new level every interval
    hold = [point(31 + i, level=40, rps=300) for i in range(12)]
    found = levels(ramp + hold)
    slices = [lv for lv in found if not lv.hold]
    assert len(slices) == 10 and all(len(lv.points) == 3 for lv in slices)
    (held,) = [lv for lv in found if lv.hold]
    assert len(held.points) == 9 and held.from_s == 33.0  # 3 of 12 settle
    assert held.rps == pytest.approx(300) and held.requests == 2700


def test_a_levels_percentile_is_the_request_weighted_median_and_mean_is_exact():
    assert weighted_median([(10.0, 1), (20.0, 1), (30.0, 10)]) == 30.0
    assert weighted_median([(1.0, 5), (2.0, 5)]) == 1.0
    pts = [Point(t, 1, 1, 0, 0, n, 0, n, {"mean": m, "p95": p, "max": x})
           for t, n, m, p, x in ((1, 10, 5.0, 9.0, 12.0), (2, 30, 1.0, 2.0, 30.0), (3, 10, 3.0, 4.0, 6.0), (4, 10, 3, 4, 6))]
    (lv,) = levels(pts)
    assert lv.value("mean") == pytest.approx((30 * 1 + 10 * 3 + 10 * 3) / 50)  # the settling point left out
    assert lv.value("p95") == 2.0 and lv.value("max") == 30.0
    assert lv.value("error_rate") == 0.0 and lv.value("rps") == pytest.approx(50 / 3)


def test_rising_keeps_the_climb_only():
    class L:
        def __init__(self, level):
            self.level = level
    climb = rising([L(v) for v in (10, 20, 15, 30, 30, 40, 20, 10)])
    assert [lv.level for lv in climb] == [10, 20, 30, 40]
    assert rising([]) == ()


# -- breaking point, plateau ---------------------------------------------------------------------
def test_breaking_point_is_the_first_level_past_1_percent_errors():
    pts = stepped([(2, 100), (4, 200), (6, 260), (8, 270)], error_rate=lambda lv: 0.0 if lv <= 4 else 0.3)
    bp = F.breaking_point(levels(pts), summary(), (), "users")
    assert bp is not None and bp.evidence["users"] == 6 and bp.evidence["last_good"]["users"] == 4
    assert bp.evidence["rps"] == pytest.approx(260) and "error rate 30.0% > 1%" in bp.evidence["reason"]
    assert bp.evidence["elapsed_s"] == pytest.approx(18.0)  # step 3 starts at 16 s; its first 2 s settle


def test_breaking_point_on_a_latency_threshold_of_the_run():
    pts = stepped([(10, 100), (20, 200), (30, 300), (40, 400)], p95=lambda lv: 5.0 * lv)
    s = summary(thresholds=(ThresholdResult("*", "p95<120ms", 100.0, True, stat="p95"),
                            ThresholdResult("GET /x", "p95<1ms", 100.0, False, stat="p95")))
    bp = F.breaking_point(levels(pts), s, F.latency_limits(s), "users")
    assert bp.evidence["users"] == 30 and "p95<120ms" in bp.evidence["reason"]  # 150 ms > 120; /x is not '*'


def test_no_breaking_point_when_it_never_held_or_never_broke():
    broken_from_start = stepped([(2, 100), (4, 100)], error_rate=lambda lv: 0.5)
    assert F.breaking_point(levels(broken_from_start), summary(), (), "users") is None
    fine = stepped([(2, 100), (4, 200), (6, 300)])
    assert F.breaking_point(levels(fine), summary(), (), "users") is None


def test_an_until_break_result_is_the_breaking_point():
    pts = stepped([(2, 100), (4, 200), (6, 210)])
    bp = {"users": 6, "elapsed_s": 21.0, "threshold": "*: p95<50ms", "actual": 61.5, "stat": "p95", "step": 3,
          "step_level": 6}
    f = F.breaking_point(levels(pts), summary(breaking_point=bp), (), "users")
    assert f.evidence["users"] == 6 and f.evidence["elapsed_s"] == 21.0 and f.evidence["rps"] == pytest.approx(210)
    assert "*: p95<50ms" in f.evidence["reason"]


def test_plateau_where_rps_stops_following_users_then_drops():
    pts = stepped([(1, 100), (2, 200), (4, 400), (6, 410), (8, 405), (12, 300)])
    f = F.plateau(levels(pts), "users")
    assert f is not None and f.evidence["users"] == 4 and f.evidence["rps"] == pytest.approx(405, rel=0.02)
    assert f.evidence["drop_rps"] == pytest.approx(300) and "dropped" in f.message


def test_no_plateau_while_rps_follows_users_or_users_stay():
    linear = stepped([(10 * k, 100 * k) for k in range(1, 11)])
    assert F.plateau(levels(linear), "users") is None
    assert F.plateau(levels(steady()), "users") is None
    # capacity reached only at the very top: users did not rise 25% more past it
    assert F.plateau(levels(stepped([(10, 100), (20, 200), (30, 300), (36, 330)])), "users") is None


def test_plateau_on_a_continuous_ramp():
    pts = [point(i + 1, level=0.5 * (i + 1), rps=min(0.5 * (i + 1), 4) * 100) for i in range(40)]  # 0.5 .. 20 users
    f = F.plateau(levels(pts), "users")
    assert f is not None and f.evidence["rps"] == pytest.approx(400, rel=0.02)
    assert 4 <= f.evidence["users"] <= 5


# -- drift, growth, spikes -----------------------------------------------------------------------
def test_latency_drift_slope_is_measured_in_ms_per_min():
    pts = steady(60, p95=lambda t: 20 + 0.5 * t)  # +30 ms/min
    f = F.latency_drift(pts, "users")
    assert f is not None and f.evidence["slope_ms_per_min"] == pytest.approx(30, rel=0.01) and f.evidence["stage"] == 1


def test_latency_drift_ignores_noise_and_a_few_wild_intervals():
    rng = random.Random(7)
    noisy = steady(120, p95=lambda t: 10 + rng.uniform(-3, 3))
    assert F.latency_drift(noisy, "users") is None
    wild = steady(120, p95=lambda t: 500.0 if int(t) % 20 == 0 and t > 60 else 10.0)
    assert F.latency_drift(wild, "users") is None
    small = steady(60, p95=lambda t: 0.3 + 0.005 * t)  # rises 0.3 ms: below the 2 ms floor
    assert F.latency_drift(small, "users") is None


def test_error_growth_is_a_climb_through_a_hold():
    f = F.error_growth(steady(60, error_rate=lambda t: 0.001 * t), "users")  # 0.1 points per s
    assert f is not None and f.evidence["slope_pct_per_min"] == pytest.approx(6.0, rel=0.05)
    assert f.severity == "critical"  # ends near 6%
    assert F.error_growth(steady(60, error_rate=lambda t: 0.002), "users") is None  # flat errors: not growth


def test_latency_spikes_are_counted_with_when():
    pts = steady(60, p95=lambda t: 10.0, p99=lambda t: 200.0 if t in (20.0, 40.0) else 12.0)
    f = F.latency_spikes(pts)
    assert f.evidence["count"] == 2 and f.evidence["at_s"] == [20.0, 40.0] and f.severity == "info"
    assert f.evidence["worst_p99_ms"] == 200.0 and f.evidence["median_p99_ms"] == 12.0
    assert F.latency_spikes(steady(60, p99=lambda t: 12.0 + (t % 3))) is None


# -- doubtful figures, leak ----------------------------------------------------------------------
def test_generator_dropped_and_leak_come_from_the_summary():
    s = summary(generator=GeneratorInfo(processes=1, cpu_percent_max=99.0, saturated=True), dropped_iterations=50,
                iterations=950, workload="open", monitors={"target": {"verdict": "leak", "rss_growth_mb_per_min": 150.2,
                                                                      "rss_mb_start": 30, "rss_mb_final": 180}})
    found = {f.kind: f for f in F.find(steady(20), s)}
    assert found["generator_saturated"].evidence["cpu_percent_max"] == 99.0
    assert found["dropped_iterations"].evidence == {"count": 50, "share": 0.05, "arrivals": 1000}
    assert found["dropped_iterations"].severity == "warning"
    assert found["memory_leak"].severity == "critical" and "150.2 MB/min" in found["memory_leak"].message


def test_a_healthy_steady_run_finds_nothing():
    rng = random.Random(3)
    pts = [point(i + 1, 50, 500 + rng.uniform(-40, 40), p95=8 + rng.uniform(-2, 2)) for i in range(120)]
    assert F.find(pts, summary(monitors={"target": {"verdict": "healthy"}})) == ()


def test_an_empty_run_finds_nothing():
    assert F.find([], summary()) == ()
    assert F.find([point(1, 5, 0)], summary()) == ()


# -- properties ----------------------------------------------------------------------------------
def scaled(pts: list[Point], k: float) -> list[Point]:
    """The same run with every time multiplied by ``k``: same counts, rates divided by ``k``."""
    return [Point(p.t_s * k, p.span_s * k, p.level, p.users, p.stage, p.requests, p.failures, p.rps / k, p.latency)
            for p in pts]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(k=st.floats(min_value=0.1, max_value=20), seed=st.integers(0, 10_000))
def test_a_verdict_does_not_change_when_the_run_is_scaled_in_time(k, seed):
    rng = random.Random(seed)
    shapes = [
        stepped([(1, 100), (2, 200), (4, 400), (6, 400), (8, 400)]),
        stepped([(2, 100), (4, 200), (6, 300)], error_rate=lambda lv: 0.2 if lv > 4 else 0.0),
        steady(40, p95=lambda t: 10 + 0.5 * t + rng.uniform(-1, 1)),
        steady(40, error_rate=lambda t: 0.002 * t),
        steady(40, p95=lambda t: 10 + rng.uniform(-2, 2)),
    ]
    for pts in shapes:
        assert kinds(F.find(pts, summary())) == kinds(F.find(scaled(pts, k), summary()))


@settings(max_examples=200, deadline=None, derandomize=True)  # the same 200 noisy runs every time
@given(seed=st.integers(0, 100_000), n=st.integers(10, 200), base=st.floats(0.2, 500))
def test_noise_alone_raises_no_warning(seed, n, base):
    rng = random.Random(seed)
    pts = [point(i + 1, 20, 300 * rng.uniform(0.8, 1.2), p95=base * rng.uniform(0.7, 1.3),
                 p99=base * 1.3 * rng.uniform(0.7, 1.3), error_rate=rng.choice((0.0, 0.0, 0.001)))
           for i in range(n)]
    assert warnings(F.find(pts, summary())) == []


def test_the_slopes_are_per_minute_whatever_the_interval():
    for span in (0.1, 0.5, 2.0):
        pts = steady(60, span=span, p95=lambda t: 20 + 2 * t)  # 120 ms/min
        assert F.latency_drift(pts, "users").evidence["slope_ms_per_min"] == pytest.approx(120, rel=0.01)
    assert math.isclose(F.agreement([1, 2, 3, 4]), 1.0) and F.agreement([4, 3, 2, 1]) == 0.0
    assert holds([]) == ()


def test_plateau_counts_successful_requests_only():
    """A server that turns requests away answers them fast: the RPS rises with the failures, the
    successful RPS stays at what the server can do (250/s here)."""
    shape = [(2, 100, 0.0), (4, 200, 0.0), (6, 2500, 0.9), (8, 3000, 0.917), (10, 3200, 0.922)]
    pts = []
    for s, (level, rps, err) in enumerate(shape):
        pts += [point(s * 8 + i + 1, level, rps, error_rate=err, stage=s) for i in range(8)]
    f = F.plateau(levels(pts), "users")
    assert f is not None and f.evidence["users"] == 6 and f.evidence["rps"] == pytest.approx(250, rel=0.02)


def test_a_short_noisy_stage_is_not_a_trend():
    """The case hypothesis found: 20 intervals of ±30% noise around 6 ms whose pairs agreed 0.65."""
    rng = random.Random(20)
    pts = [point(i + 1, 20, 300 * rng.uniform(0.8, 1.2), p95=6.0 * rng.uniform(0.7, 1.3),
                 p99=6.0 * 1.3 * rng.uniform(0.7, 1.3), error_rate=rng.choice((0.0, 0.0, 0.001))) for i in range(20)]
    assert F.latency_drift(pts, "users") is None
    assert F.steady_trend([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) and not F.steady_trend([1, 3, 2, 4, 3, 5, 4, 6])
