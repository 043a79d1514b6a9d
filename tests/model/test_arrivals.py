"""Poisson arrivals (surge.model.arrivals) and poisson() think time: the right mean and dispersion.

Statistical tolerances: each check allows its statistic 5.5 standard errors (two-sided
p ≈ 4e-8 per check), and no test makes more than 25 such checks, so a correct implementation
fails a test with probability < 1e-6 whatever seeds hypothesis draws. Each check states the
standard error it uses.
"""
from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge import poisson
from surge.model.arrivals import PoissonArrivals, binomial_variate, planned_arrivals, poisson_variate, worker_arrivals
from surge.model.kinds import Arrival
from surge.model.plan import OpenWorkload, Stage
from surge.model.schedule import owned_arrivals

Z = 5.5
SEEDS = st.integers(min_value=0, max_value=2**63)
FEW = settings(max_examples=5, deadline=None)


def steady(rate: float, duration_s: float, seed: int | None, arrival: Arrival = Arrival.POISSON) -> OpenWorkload:
    return OpenWorkload((Stage(0.0, rate), Stage(duration_s, rate)), 100, arrival=arrival, seed=seed)


def merged_times(workload: OpenWorkload, workers: int) -> list[float]:
    return sorted(t for w in range(workers) for _, t in worker_arrivals(workload, w, workers)[0])


def window_counts(times: list[float], window_s: float, duration_s: float) -> list[int]:
    counts = [0] * int(round(duration_s / window_s))
    for t in times:
        counts[min(int(t / window_s), len(counts) - 1)] += 1
    return counts


def dispersion_bounds(windows: int) -> tuple[float, float]:
    """The index of dispersion var/mean of Poisson counts: ~1 with standard error sqrt(2/(windows-1))."""
    se = math.sqrt(2.0 / (windows - 1))
    return 1 - Z * se, 1 + Z * se


# -- the variates ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mean", [0.3, 4.0, 16.5, 250.0, 40_000.0])
@FEW
@given(seed=SEEDS)
def test_poisson_variate_has_mean_and_variance_equal_to_its_mean(mean, seed):
    rng = random.Random(seed)
    n = 3000
    xs = [poisson_variate(rng, mean) for _ in range(n)]
    assert abs(statistics.fmean(xs) - mean) < Z * math.sqrt(mean / n)  # se of a mean: sqrt(var/n)
    # se of the sample variance of Poisson counts: sqrt((mean + 2 mean^2) / n)
    assert abs(statistics.variance(xs) - mean) < Z * math.sqrt((mean + 2 * mean * mean) / n)
    assert min(xs) >= 0 and all(isinstance(x, int) for x in xs)


@pytest.mark.parametrize("trials,p", [(10, 0.3), (17, 0.5), (500, 0.02), (100_000, 0.7)])
@FEW
@given(seed=SEEDS)
def test_binomial_variate_has_the_binomial_mean_and_variance(trials, p, seed):
    rng = random.Random(seed)
    n = 3000
    xs = [binomial_variate(rng, trials, p) for _ in range(n)]
    var = trials * p * (1 - p)
    assert abs(statistics.fmean(xs) - trials * p) < Z * math.sqrt(var / n)
    # se of a sample variance ~ sqrt((mu4 - var^2)/n); for a binomial mu4 - var^2 <= 2 var^2 + var
    assert abs(statistics.variance(xs) - var) < Z * math.sqrt((2 * var * var + var) / n)
    assert all(0 <= x <= trials for x in xs)


# -- arrivals: counts, dispersion, gaps ---------------------------------------------------------
@FEW
@given(seed=SEEDS)
def test_counts_over_windows_have_mean_and_variance_lambda_t(seed):
    rate, duration, window = 500.0, 40.0, 0.2  # 200 windows of mean 100
    times = merged_times(steady(rate, duration, seed), 1)
    counts = window_counts(times, window, duration)
    lam_t, k = rate * window, len(counts)
    assert abs(statistics.fmean(counts) - lam_t) < Z * math.sqrt(lam_t / k)
    low, high = dispersion_bounds(k)
    assert low < statistics.variance(counts) / lam_t < high


def test_uniform_arrivals_have_dispersion_near_zero_for_contrast():
    times = merged_times(steady(500.0, 40.0, None, Arrival.UNIFORM), 1)
    counts = window_counts(times, 0.2, 40.0)
    assert statistics.variance(counts) / statistics.fmean(counts) < 0.05
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert statistics.pstdev(gaps) / statistics.fmean(gaps) < 0.01


@pytest.mark.parametrize("workers", [1, 3])
@FEW
@given(seed=SEEDS)
def test_inter_arrival_gaps_are_exponential_cv_one_across_workers(workers, seed):
    rate, duration = 1000.0, 10.0
    times = merged_times(steady(rate, duration, seed), workers)
    gaps = [b - a for a, b in zip(times, times[1:])]
    n = len(gaps)
    assert abs(n + 1 - rate * duration) < Z * math.sqrt(rate * duration)  # the count is Poisson(λT)
    assert abs(statistics.fmean(gaps) - 1 / rate) < Z * (1 / rate) / math.sqrt(n)  # sd of a gap = its mean
    # the CV of exponential gaps is 1; its standard error is about 1/sqrt(n) (delta method)
    assert abs(statistics.pstdev(gaps) / statistics.fmean(gaps) - 1) < Z / math.sqrt(n)
    # exponential: P(gap > mean) = 1/e
    over = sum(1 for g in gaps if g > 1 / rate) / n
    assert abs(over - math.exp(-1)) < Z * math.sqrt(math.exp(-1) * (1 - math.exp(-1)) / n)


@FEW
@given(seed=SEEDS)
def test_a_ramp_is_a_non_homogeneous_poisson_process(seed):
    """0 -> 2000/s over 20 s, then down to 0 over 10 s: each 1 s window's count has mean and
    variance Λ(window); standardised, the counts have mean 0 and variance 1."""
    stages = (Stage(20.0, 2000.0), Stage(10.0, 0.0))
    workload = OpenWorkload(stages, 100, arrival=Arrival.POISSON, seed=seed)
    times = merged_times(workload, 2)
    assert 0 <= times[0] and times[-1] <= 30.0

    def cum(t: float) -> float:  # Λ(t)
        return 50.0 * t * t if t <= 20 else 20_000.0 + 2000.0 * (t - 20) - 100.0 * (t - 20) ** 2

    counts = window_counts(times, 1.0, 30.0)
    expected = [cum(i + 1) - cum(i) for i in range(30)]
    z = [(c - e) / math.sqrt(e) for c, e in zip(counts, expected)]
    assert abs(statistics.fmean(z)) < Z / math.sqrt(30)
    # the variance of 30 standard normals: se sqrt(2/29); a uniform schedule would give ~0
    low, high = dispersion_bounds(30)
    assert low < statistics.variance(z) < high
    assert abs(len(times) - 30_000) < Z * math.sqrt(30_000)


# -- determinism, the split and the count ----------------------------------------------------
def test_same_seed_same_times_other_seed_other_times():
    a = merged_times(steady(300.0, 5.0, 7), 2)
    assert a == merged_times(steady(300.0, 5.0, 7), 2)
    assert a != merged_times(steady(300.0, 5.0, 8), 2)
    unseeded = [merged_times(steady(300.0, 5.0, None), 2) for _ in range(2)]
    assert unseeded[0] != unseeded[1]


@given(seed=SEEDS, workers=st.integers(1, 6), rate=st.floats(0.5, 400.0), duration=st.floats(0.1, 5.0))
@settings(max_examples=40, deadline=None)
def test_each_worker_walks_exactly_its_total_with_its_own_indices_in_order(seed, workers, rate, duration):
    stages = (Stage(duration / 2, rate), Stage(duration / 2, rate / 3))
    workload = OpenWorkload(stages, 100, arrival=Arrival.POISSON, seed=seed)
    walked = 0
    for w in range(workers):
        arrivals, total = worker_arrivals(workload, w, workers)
        got = list(arrivals)
        assert len(got) == total
        assert [k for k, _ in got] == list(range(w, w + workers * total, workers))
        assert all(0 <= t <= duration + 1e-9 for _, t in got)
        assert [t for _, t in got] == sorted(t for _, t in got)
        walked += total
    assert planned_arrivals(workload, workers) == walked


def test_uniform_counts_are_the_schedule_functions():
    workload = steady(123.0, 2.5, None, Arrival.UNIFORM)
    for w in range(3):
        arrivals, total = worker_arrivals(workload, w, 3)
        assert list(arrivals) == list(owned_arrivals(workload.stages, w, 3))
        assert total == sum(1 for _ in owned_arrivals(workload.stages, w, 3))
    assert planned_arrivals(workload, 3) == math.ceil(123.0 * 2.5)


def test_a_plan_with_no_rate_has_no_arrivals():
    assert PoissonArrivals((Stage(5.0, 0.0),), 0, 1, 1).total == 0
    assert list(PoissonArrivals((), 0, 1, 1)) == []


def test_a_jump_and_a_hold_at_zero_schedule_nothing_in_the_silence():
    stages = (Stage(0.0, 100.0), Stage(2.0, 100.0), Stage(0.0, 0.0), Stage(3.0, 0.0))
    got = list(PoissonArrivals(stages, 0, 1, 3))
    assert got and all(t <= 2.0 for _, t in got)


# -- poisson() think time -----------------------------------------------------------------------------
@FEW
@given(seed=SEEDS)
def test_poisson_wait_time_is_exponential_with_its_mean(seed):
    random.seed(seed)
    wait = poisson(0.25)
    n = 4000
    xs = [wait(0.0) for _ in range(n)]
    mean = statistics.fmean(xs)
    assert abs(mean - 0.25) < Z * 0.25 / math.sqrt(n)
    assert abs(statistics.pstdev(xs) / mean - 1) < Z / math.sqrt(n)  # CV of an exponential: 1
    assert min(xs) >= 0


def test_poisson_wait_time_refuses_a_negative_mean_and_zero_never_waits():
    with pytest.raises(ValueError):
        poisson(-1)
    with pytest.raises(ValueError):
        poisson(float("inf"))
    assert poisson(0)(1.0) == 0.0
    assert repr(poisson(2)) == "poisson(2)"
