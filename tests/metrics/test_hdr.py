"""The HDR layer: bulk binning and vectorised reads must equal the hdrh package exactly.

``record_many`` and ``percentiles_us``/``mean_us`` re-implement hdrh's arithmetic in numpy for
speed; these tests hold them to the package's own results, value for value.
"""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surge.metrics.hdr import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, Histogram, relative_error_bound
from surge.model.summary import PERCENTILES

# values spread over every magnitude from 1 µs to 1 h, plus some outside the range (clamped)
magnitude = st.integers(0, 32).flatmap(lambda b: st.integers(2**b - 1, 2 ** (b + 1)))
values_st = st.lists(st.one_of(magnitude, st.integers(-1000, 0), st.integers(HIGHEST_US, 4 * HIGHEST_US)),
                     max_size=400)


def reference(values) -> HdrHistogram:
    h = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for v in values:
        assert h.record_value(min(max(int(v), LOWEST_US), HIGHEST_US))
    return h


def counts(h) -> np.ndarray:
    return np.ctypeslib.as_array((h._h if isinstance(h, Histogram) else h).counts).copy()


def assert_same(ours: Histogram, ref: HdrHistogram) -> None:
    assert np.array_equal(counts(ours), counts(ref))
    assert ours.count == ref.get_total_count()
    assert ours._h.min_value == ref.min_value
    assert ours._h.max_value == ref.max_value
    if ours.count:
        assert ours.min_us == ref.get_min_value()
        assert ours.max_us == ref.get_max_value()


# -- recording ----------------------------------------------------------------------------------
@settings(max_examples=150)
@given(values_st)
def test_record_many_equals_record_value_one_by_one(values):
    ours = Histogram()
    ours.record_many(values)
    assert_same(ours, reference(values))


@settings(max_examples=50)
@given(values_st, values_st)
def test_record_many_accumulates_over_calls_and_matches_record(first, second):
    ours, single = Histogram(), Histogram()
    ours.record_many(first)
    ours.record_many(np.asarray(second, dtype=np.int64))
    for v in first + second:
        single.record(v)
    assert_same(ours, reference(first + second))
    assert_same(single, reference(first + second))


def test_every_bucket_boundary_bins_like_hdrh():
    edges = sorted({v for b in range(33) for v in (2**b - 1, 2**b, 2**b + 1, 3 * 2**b)} | {HIGHEST_US - 1, HIGHEST_US})
    ours = Histogram()
    ours.record_many(edges)
    assert_same(ours, reference(edges))


def test_clamping_outside_1us_to_1h():
    h = Histogram()
    h.record_many([0, -5, HIGHEST_US * 10])
    assert h.count == 3
    assert h._h.min_value == LOWEST_US and h._h.max_value == HIGHEST_US


def test_record_many_does_not_modify_the_callers_array():
    values = np.array([0, 5, HIGHEST_US * 2], dtype=np.int64)
    Histogram().record_many(values)
    assert values.tolist() == [0, 5, HIGHEST_US * 2]


def test_empty_input_records_nothing():
    h = Histogram()
    h.record_many([])
    h.record_many(np.array([], dtype=np.int64))
    assert h.count == 0 and h.min_us == 0 and h.max_us == 0 and h.mean_us == 0.0
    assert h.percentiles_us([50, 99]) == {50: 0, 99: 0}


# -- reading --------------------------------------------------------------------------------------
data_st = st.lists(st.one_of(magnitude, st.integers(1, 5000)), min_size=1, max_size=300)
percentiles_st = st.lists(st.one_of(st.sampled_from([0.0, 50.0, 99.9, 99.99, 100.0]), st.floats(0, 100)),
                          min_size=1, max_size=8)


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data_st, percentiles_st)
def test_percentiles_equal_hdrh(values, ps):
    ours = Histogram()
    ours.record_many(values)
    expected = reference(values).get_percentile_to_value_dict(ps)
    assert ours.percentiles_us(ps) == {p: expected[p] for p in ps}
    assert ours.percentile_us(ps[0]) == expected[ps[0]]


@settings(max_examples=15, suppress_health_check=[HealthCheck.too_slow])
@given(data_st)
def test_mean_equals_hdrh(values):
    ours = Histogram()
    ours.record_many(values)
    assert ours.mean_us == pytest.approx(reference(values).get_mean_value(), rel=1e-12)


def test_percentiles_are_within_a_tenth_of_a_percent_of_nearest_rank_truth():
    rng = random.Random(7)
    n = 10_000  # p * n / 100 is whole for every reported percentile, so every rounding rule agrees on the rank
    values = sorted(int(rng.lognormvariate(math.log(20_000), 1.5)) + 1 for _ in range(n))
    h = Histogram()
    h.record_many(values)
    ps = [p for _, p in PERCENTILES]
    got = h.percentiles_us(ps)
    for p in ps:
        truth = values[math.ceil(p * n / 100) - 1]
        assert truth <= got[p] <= truth * (1 + 0.001), p  # HDR reports the bucket's highest value
    assert h.min_us == values[0]
    assert values[-1] <= h.max_us <= values[-1] * 1.001
    assert h.mean_us == pytest.approx(sum(values) / n, rel=0.001)
    assert relative_error_bound() <= 0.001


# -- wire and merge ---------------------------------------------------------------------------------
@settings(max_examples=40)
@given(values_st)
def test_encode_decode_round_trip(values):
    ours = Histogram()
    ours.record_many(values)
    text = ours.encode()
    assert text.startswith("HIST") and text.isascii()
    back = Histogram.decode(text)
    assert np.array_equal(counts(back), counts(ours))
    assert back.count == ours.count
    assert (back.min_us, back.max_us) == (ours.min_us, ours.max_us)


@settings(max_examples=40)
@given(values_st, values_st)
def test_merge_equals_recording_the_union(a, b):
    left, right = Histogram(), Histogram()
    left.record_many(a)
    right.record_many(b)
    left.merge(Histogram.decode(right.encode()))  # as the coordinator does: decode, then merge
    union = Histogram()
    union.record_many(a + b)
    assert np.array_equal(counts(left), counts(union))
    assert left.count == union.count == len(a) + len(b)
    assert (left.min_us, left.max_us) == (union.min_us, union.max_us)


def test_merging_into_an_empty_histogram_and_copy_keep_min_and_max():
    h = Histogram()
    h.record_many([1500, 2000, 3000])
    empty = Histogram()
    empty.merge(h)
    assert (empty.min_us, empty.max_us, empty.count) == (h.min_us, h.max_us, 3)
    copy = h.copy()
    copy.record(10)
    assert h.count == 3 and copy.count == 4  # a copy is independent
    h.merge(Histogram())  # merging nothing changes nothing
    assert h.count == 3 and h.min_us == 1500
