"""The Theil–Sen slope: exact on lines, deaf to a minority of outliers, None without a slope."""
from __future__ import annotations

import math
import random
import time
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.metrics.trend import MAX_PAIRS, pairs, theil_sen, theil_sen_intercept

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
wild = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def line(n: int, slope: float, intercept: float, step: float = 0.5) -> tuple[list[float], list[float]]:
    xs = [i * step for i in range(n)]
    return xs, [intercept + slope * x for x in xs]


def close(value: float | None, expected: float) -> bool:
    return value is not None and math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-9)


@given(n=st.integers(2, 600), slope=finite, intercept=finite, step=st.floats(0.01, 100))
def test_a_line_gives_its_slope_and_intercept(n, slope, intercept, step):
    xs, ys = line(n, slope, intercept, step)
    fitted = theil_sen(xs, ys)
    assert close(fitted, slope)
    assert math.isclose(theil_sen_intercept(xs, ys, fitted), intercept, rel_tol=1e-9, abs_tol=1e-6)


@given(n=st.integers(2, 600), level=finite)
def test_a_constant_gives_zero(n, level):
    assert theil_sen([float(i) for i in range(n)], [level] * n) == 0.0


@pytest.mark.parametrize("xs, ys", [([], []), ([1.0], [5.0]), ([2.0, 2.0, 2.0], [1.0, 5.0, 9.0])])
def test_no_slope_without_two_distinct_xs(xs, ys):
    assert theil_sen(xs, ys) is None


def test_lengths_must_match():
    with pytest.raises(ValueError, match="differ in length"):
        theil_sen([1.0, 2.0], [1.0])


def _with_outliers(data, n: int, share: float, slope: float):
    xs, ys = line(n, slope, 40.0)
    k = data.draw(st.integers(0, int(share * n)), label="outliers")
    where = data.draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k, unique=True), label="at")
    for i in where:
        ys[i] = data.draw(wild, label="value")
    return xs, ys


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n=st.integers(100, 200), slope=finite)
def test_up_to_29_percent_of_outliers_anywhere_do_not_move_it_with_all_pairs(data, n, slope):
    k = int(0.29 * n)
    assert math.comb(n - k, 2) * 2 > math.comb(n, 2)  # the clean pairs are a majority: the claim's premise
    xs, ys = _with_outliers(data, n, 0.29, slope)
    assert close(theil_sen(xs, ys), slope)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(201, 3000), slope=finite)
def test_below_25_percent_of_outliers_anywhere_do_not_move_it_with_sampled_pairs(data, n, slope):
    xs, ys = _with_outliers(data, n, 0.249, slope)
    assert close(theil_sen(xs, ys), slope)


def test_29_percent_of_outliers_at_random_places_do_not_move_it_with_sampled_pairs():
    rng = random.Random(7)
    for n in (500, 2000, 14_400):
        xs, ys = line(n, 0.75, 100.0)
        for i in rng.sample(range(n), int(0.29 * n)):
            ys[i] = rng.uniform(1e4, 1e5)  # all on one side: the worst case for a median
        assert close(theil_sen(xs, ys), 0.75), n


def test_noise_around_a_line_is_fitted_closely():
    rng = random.Random(3)
    xs = [i * 0.25 for i in range(1000)]
    ys = [50 + 2.0 * x + rng.gauss(0, 5) for x in xs]
    assert theil_sen(xs, ys) == pytest.approx(2.0, abs=0.05)


def test_a_step_in_the_series_pulls_least_squares_but_hardly_theil_sen():
    xs, ys = line(120, 0.0, 100.0)
    ys[100:] = [y + 50 for y in ys[100:]]  # an arena mapped near the end: a step, not a leak
    assert theil_sen(xs, ys) == 0.0


grid = st.integers(-10**6, 10**6).map(lambda k: k / 1000)  # no values that vanish beside others in a sum


@given(points=st.lists(st.tuples(grid, grid), min_size=2, max_size=60, unique_by=lambda p: p[0]),
       scale=st.floats(0.1, 10), shift=finite, seed=st.integers(0, 2**16))
def test_it_is_equivariant_and_does_not_depend_on_the_order_of_the_points(points, scale, shift, seed):
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    fitted = theil_sen(xs, ys)
    assert math.isclose(theil_sen(xs, [scale * y + shift for y in ys]), scale * fitted, rel_tol=1e-6, abs_tol=1e-6)
    order = list(range(len(xs)))
    random.Random(seed).shuffle(order)
    assert theil_sen([xs[i] for i in order], [ys[i] for i in order]) == pytest.approx(fitted, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("n", [2, 200, 201, 1000, 14_400, 50_000])
def test_pairs_are_all_of_them_or_a_balanced_sample(n):
    drawn = list(pairs(n))
    if n * (n - 1) // 2 <= MAX_PAIRS:
        assert sorted(drawn) == sorted((i, j) for j in range(n) for i in range(j))
        return
    assert len(drawn) <= max(MAX_PAIRS, n) and all(i != j for i, j in drawn)
    seen = Counter(i for pair in drawn for i in pair)
    assert len(set(seen.values())) == 1 and len(seen) == n  # every point in as many pairs as every other
    assert list(pairs(n)) == drawn  # deterministic


def test_a_long_series_is_fitted_fast():
    xs, ys = line(100_000, 0.01, 3.0)
    began = time.process_time()
    assert close(theil_sen(xs, ys), 0.01)
    assert time.process_time() - began < 1.0
