"""The sparse HDR histogram must equal the hdrh package's dense one exactly.

:class:`Histogram` re-implements HdrHistogram's layout, recording, merging, percentiles and mean
over sorted arrays of non-zero buckets; these tests hold every result to the package's own,
value for value and counter for counter, and check the wire format against malformed input.
"""
from __future__ import annotations

import binascii
import json
import math
import random
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surge.metrics import hdr
from surge.metrics.hdr import HIGHEST_US, LOWEST_US, SIGNIFICANT_DIGITS, Histogram, relative_error_bound
from surge.model.summary import PERCENTILES

# values spread over every magnitude from 1 µs to 1 h, plus some outside the range (clamped)
magnitude = st.integers(0, 32).flatmap(lambda b: st.integers(2**b - 1, 2 ** (b + 1)))
values_st = st.lists(st.one_of(magnitude, st.integers(-1000, 0), st.integers(HIGHEST_US, 4 * HIGHEST_US)),
                     max_size=400)


def clamp(v) -> int:
    return min(max(int(v), LOWEST_US), HIGHEST_US)


def reference(values) -> HdrHistogram:
    h = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    for v in values:
        assert h.record_value(clamp(v))
    return h


def ours(values) -> Histogram:
    h = Histogram()
    h.record_many(values)
    return h


def counts(h) -> np.ndarray:
    """The dense counts array of either kind of histogram."""
    if isinstance(h, HdrHistogram):
        return np.frombuffer(h.counts, dtype=np.int64).copy()
    dense = np.zeros(hdr._INDICES, dtype=np.int64)
    dense[h._index] = h._counts
    return dense


def assert_valid(h: Histogram) -> None:
    """The invariants every operation relies on."""
    assert h._index.dtype == np.uint16 and h._counts.dtype == np.int64
    assert h._index.size == h._counts.size == h.buckets
    assert np.all(np.diff(h._index.astype(np.int64)) > 0)
    assert h._index.size == 0 or (h._index[0] >= 1 and h._index[-1] < hdr._INDICES)
    assert np.all(h._counts > 0) and int(h._counts.sum()) == h.count
    assert h._weighted == sum(int(c) * int(hdr._MEDIAN[i]) for i, c in zip(h._index, h._counts))
    assert h.nbytes == 10 * h.buckets


def hdrh_mean(ref: HdrHistogram) -> float:
    """``ref.get_mean_value()``'s arithmetic over the non-zero counters only (the package walks
    all 23,552 in Python, ~50 ms a call); a test below compares it with the real thing."""
    total = sum(int(ref.counts[i]) * ref._hdr_median_equiv_value(ref.get_value_from_index(i))
                for i in np.flatnonzero(counts(ref)).tolist())
    return float(total) / ref.total_count if ref.total_count else 0.0


def assert_same(mine: Histogram, ref: HdrHistogram) -> None:
    """Counters, total and HdrHistogram's own min_value/max_value fields, and what they report."""
    assert_valid(mine)
    assert np.array_equal(counts(mine), counts(ref))
    assert mine.count == ref.get_total_count()
    assert (mine._min, mine._max) == (ref.min_value, ref.max_value)
    if mine.count:
        assert (mine.min_us, mine.max_us) == (ref.get_min_value(), ref.get_max_value())
        assert mine.mean_us == hdrh_mean(ref)


# -- the layout ---------------------------------------------------------------------------------
def test_per_index_tables_equal_hdrh_for_every_index():
    ref = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    assert ref.counts_len == hdr._INDICES
    lowest = [ref.get_value_from_index(i) for i in range(ref.counts_len)]
    assert hdr._HIGHEST.tolist() == [ref.get_highest_equivalent_value(v) for v in lowest]
    assert hdr._MEDIAN.tolist() == [ref._hdr_median_equiv_value(v) for v in lowest]
    assert [hdr._lowest_of_index(i) for i in range(ref.counts_len)] == lowest


def test_index_of_equals_hdrh_at_every_bucket_boundary():
    ref = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    edges = sorted({v for b in range(33) for v in (2**b - 1, 2**b, 2**b + 1, 3 * 2**b)
                    if LOWEST_US <= v <= HIGHEST_US} | {HIGHEST_US - 1, HIGHEST_US})
    expected = [ref._counts_index_for(v) for v in edges]
    assert [hdr._index_of(v) for v in edges] == expected
    assert hdr._indices_of(np.array(edges, dtype=np.int64)).tolist() == expected
    assert [hdr._lowest_equivalent(v) for v in edges] == [ref.get_lowest_equivalent_value(v) for v in edges]
    assert [hdr._highest_equivalent(v) for v in edges] == [ref.get_highest_equivalent_value(v) for v in edges]


# -- recording ----------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(values_st)
def test_record_many_equals_record_value_one_by_one(values):
    assert_same(ours(values), reference(values))


@settings(max_examples=50, deadline=None)
@given(values_st, values_st)
def test_record_many_accumulates_over_calls_and_matches_record(first, second):
    mine, single = Histogram(), Histogram()
    mine.record_many(first)
    mine.record_many(np.asarray(second, dtype=np.int64))
    for v in first + second:
        single.record(v)
    assert_same(mine, reference(first + second))
    assert_same(single, reference(first + second))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(magnitude, st.integers(0, 2**40)), max_size=30))
def test_record_with_a_count_equals_hdrh(pairs):
    mine, ref = Histogram(), reference([])
    for value, count in pairs:
        mine.record(value, count)
        if count:  # hdrh would move min/max on a zero count; recording nothing is ours
            ref.record_value(clamp(value), count)
    assert_same(mine, ref)


def test_record_refuses_a_negative_count():
    with pytest.raises(ValueError):
        Histogram().record(5, -1)


def test_every_bucket_boundary_bins_like_hdrh():
    edges = sorted({v for b in range(33) for v in (2**b - 1, 2**b, 2**b + 1, 3 * 2**b)} | {HIGHEST_US - 1, HIGHEST_US})
    assert_same(ours(edges), reference(edges))


def test_clamping_outside_1us_to_1h():
    h = ours([0, -5, HIGHEST_US * 10])
    assert h.count == 3 and h.buckets == 2
    assert (h._min, h._max) == (LOWEST_US, HIGHEST_US)
    assert (h.min_us, h.max_us) == (LOWEST_US, hdr._highest_equivalent(HIGHEST_US))
    single = Histogram()
    for v in (0, -3, HIGHEST_US + 1):
        single.record(v)
    assert np.array_equal(counts(single), counts(h)) and (single._min, single._max) == (h._min, h._max)


@pytest.mark.parametrize("values", [np.array([0, 5, HIGHEST_US * 2], dtype=np.int64),
                                    np.array([0, 5, 7], dtype=np.int32), [0, 5, HIGHEST_US * 2]])
def test_record_many_does_not_modify_the_callers_values(values):
    before = list(values)
    ours(values)
    assert list(values) == before


def test_empty_input_records_nothing():
    h = Histogram()
    h.record_many([])
    h.record_many(np.array([], dtype=np.int64))
    h.record(7, 0)
    assert h.count == 0 and h.min_us == 0 and h.max_us == 0 and h.mean_us == 0.0
    assert h.percentiles_us([50, 99]) == {50: 0, 99: 0} and h.percentile_us(0) == 0
    assert h.buckets == 0 and h.nbytes == 0


def test_counts_are_int64_and_do_not_overflow_in_a_long_soak():
    h = Histogram()
    for _ in range(4):
        h.record(20_000, 2**40)
    h.merge(h.copy())
    assert h.count == 2**43 and h._counts.dtype == np.int64
    assert Histogram.from_wire(h.to_wire()).count == 2**43
    assert Histogram.decode(h.encode()).count == 2**43


# -- the sparse layout ----------------------------------------------------------------------------
def test_buckets_and_nbytes_follow_the_non_zero_buckets():
    h = ours([10, 10, 10, 5000, 5001, 1_000_000])  # 5000 and 5001 share a 4 µs wide bucket
    assert h.buckets == 3 and h.nbytes == 3 * (2 + 8)
    h.record_many([10] * 1000)
    assert h.buckets == 3
    many = ours(range(1, 3001))  # exact below 2048, then 2 µs wide
    assert many.buckets == 2048 + 476 and many.nbytes == 10 * many.buckets


def test_an_empty_histogram_allocates_nothing_but_itself():
    Histogram()  # warm the class
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [Histogram() for _ in range(1000)]
    per_histogram = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    tracemalloc.stop()
    assert per_histogram < 200  # the object and its slots; the empty arrays are shared
    assert kept[0].nbytes == 0 and not kept[0]._counts.flags.writeable


# -- reading --------------------------------------------------------------------------------------
data_st = st.lists(st.one_of(magnitude, st.integers(1, 5000)), min_size=1, max_size=300)
percentiles_st = st.lists(st.one_of(st.sampled_from([0.0, 0, 50, 50.0, 99.9, 99.99, 100.0, 100]), st.floats(0, 100)),
                          min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data_st, percentiles_st)
def test_percentiles_equal_hdrh(values, ps):
    mine = ours(values)
    expected = reference(values).get_percentile_to_value_dict(ps)
    assert mine.percentiles_us(ps) == {p: expected[p] for p in ps}
    assert mine.percentile_us(ps[0]) == expected[ps[0]]


def test_percentiles_above_100_read_as_100_and_below_0_as_the_first_bucket():
    h = ours([100, 2000, 90_000])
    assert h.percentiles_us([150.0, 100.0]) == {150.0: h.max_us, 100.0: h.max_us}
    assert h.percentile_us(-5) == 100 and h.percentile_us(0) == 100


@settings(max_examples=15, deadline=None)
@given(data_st)
def test_mean_min_and_max_equal_hdrh_exactly(values):
    mine, ref = ours(values), reference(values)
    assert mine.mean_us == ref.get_mean_value() == hdrh_mean(ref)
    assert (mine.min_us, mine.max_us) == (ref.get_min_value(), ref.get_max_value())


def test_percentiles_are_within_a_tenth_of_a_percent_of_nearest_rank_truth():
    rng = random.Random(7)
    n = 10_000  # p * n / 100 is whole for every reported percentile, so every rounding rule agrees on the rank
    values = sorted(int(rng.lognormvariate(math.log(20_000), 1.5)) + 1 for _ in range(n))
    h = ours(values)
    ps = [p for _, p in PERCENTILES]
    got = h.percentiles_us(ps)
    for p in ps:
        truth = values[math.ceil(p * n / 100) - 1]
        assert truth <= got[p] <= truth * (1 + 0.001), p  # HDR reports the bucket's highest value
    assert h.min_us == values[0]
    assert values[-1] <= h.max_us <= values[-1] * 1.001
    assert h.mean_us == pytest.approx(sum(values) / n, rel=0.001)
    assert relative_error_bound() <= 0.001


# -- merging --------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(values_st, values_st)
def test_merge_equals_hdrh_add_and_recording_the_union(a, b):
    left = ours(a)
    left.merge(ours(b))
    ref = reference(a)
    if b:  # hdrh's add() of an empty histogram zeroes min; ours leaves everything as it was
        ref.add(reference(b))
    assert_same(left, ref)
    assert np.array_equal(counts(left), counts(reference(a + b)))


@pytest.mark.parametrize("window", [[5000, 6000], [1, 2, 3], [HIGHEST_US], [3, 5000, 7000, 10**8], [4999, 5001]])
def test_merge_inserts_new_buckets_anywhere(window):
    base = [4, 5000, 5500, 6000, 9000, 10**7]
    h, ref = ours(base), reference(base)
    h.merge(ours(window))
    ref.add(reference(window))
    assert_same(h, ref)


@settings(max_examples=40, deadline=None)
@given(st.lists(values_st, max_size=6))
def test_merged_equals_merging_one_by_one(groups):
    parts = [ours(g) for g in groups]
    union = Histogram.merged(iter(parts))
    one_by_one = Histogram()
    for p in parts:
        one_by_one.merge(p)
    assert_valid(union)
    assert np.array_equal(counts(union), counts(one_by_one))
    assert (union.count, union._min, union._max) == (one_by_one.count, one_by_one._min, one_by_one._max)
    assert union.mean_us == one_by_one.mean_us
    assert np.array_equal(counts(union), counts(reference([v for g in groups for v in g])))


def test_merged_results_are_independent_of_their_parts():
    a, b = ours([10, 20]), ours([20, 30])
    for union in (Histogram.merged([a, b]), Histogram.merged([a]), Histogram.merged([Histogram(), a])):
        union.record(10, 5)
        union.merge(ours([10]))
    assert a.count == 2 and b.count == 2 and counts(a)[hdr._index_of(10)] == 1
    assert Histogram.merged([]).count == 0 and Histogram.merged([Histogram()]).count == 0


def test_merging_into_an_empty_histogram_and_copy_keep_min_and_max():
    h = ours([1500, 2000, 3000])
    empty = Histogram()
    empty.merge(h)
    assert (empty.min_us, empty.max_us, empty.count) == (h.min_us, h.max_us, 3)
    copy = h.copy()
    copy.record(10)
    assert h.count == 3 and copy.count == 4  # a copy is independent
    h.merge(Histogram())  # merging nothing changes nothing
    assert h.count == 3 and h.min_us == 1500


def test_a_merge_target_and_a_copy_share_no_counts_with_their_source():
    source = ours([100, 200, 300])
    target, copy = Histogram(), source.copy()
    target.merge(source)
    source.record_many([100, 200, 300, 400])  # in place for three buckets, an insert for one
    assert target.count == copy.count == 3 and counts(target)[hdr._index_of(100)] == 1
    target.record(100, 7)
    copy.merge(ours([200]))
    assert source.count == 7 and counts(source)[hdr._index_of(100)] == 2


# -- the standard encoding ------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(values_st)
def test_encode_is_read_by_hdrh_with_the_same_counts(values):
    text = ours(values).encode()
    assert text.startswith("HIST") and text.isascii()
    theirs, ref = HdrHistogram.decode(text), reference(values)
    assert np.array_equal(counts(theirs), counts(ref))
    assert theirs.get_total_count() == ref.get_total_count()
    if values:
        assert (theirs.get_min_value(), theirs.get_max_value()) == (ref.get_min_value(), ref.get_max_value())


@settings(max_examples=40, deadline=None)
@given(values_st)
def test_decode_reads_hdrhs_encoding_as_hdrh_does(values):
    text = reference(values).encode()
    assert_same(Histogram.decode(text), HdrHistogram.decode(text))
    assert_same(Histogram.decode(ours(values).encode()), HdrHistogram.decode(text))


def test_decode_rebins_another_layout_and_clamps_zero():
    foreign = HdrHistogram(1, 10**12, 2)
    for v in (0, 0, 7, 1234, 10**6, 10**11):
        foreign.record_value(v)
    h = Histogram.decode(foreign.encode())
    values = [0, 0, 7, foreign.get_lowest_equivalent_value(1234), foreign.get_lowest_equivalent_value(10**6), 10**11]
    assert np.array_equal(counts(h), counts(reference(values)))
    assert h.count == 6 and h.min_us == 1 and h.max_us == hdr._highest_equivalent(HIGHEST_US)
    assert_valid(h)


@pytest.mark.parametrize("text", ["", "not base64!", "SElTVA==", "HISTFAAAACB4nJNpmSzMwMDAzwABzFCaEUoDAA", b"\x00\x01"])
def test_decode_refuses_what_is_not_an_hdr_encoding(text):
    with pytest.raises(ValueError):
        Histogram.decode(text)


# -- the wire -------------------------------------------------------------------------------------
@settings(max_examples=80, deadline=None)
@given(values_st, st.sampled_from([1, 300, 70_000, 2**33]))
def test_wire_round_trips_through_json(values, scale):
    h = ours(values)
    if values:
        h.record(values[0], scale)  # totals that need 1-, 2-, 4- and 8-byte counts
    text = json.dumps({"latency": h.to_wire()})
    back = Histogram.from_wire(json.loads(text)["latency"])
    assert_valid(back)
    assert np.array_equal(counts(back), counts(h))
    assert (back.count, back.min_us, back.max_us, back.mean_us) == (h.count, h.min_us, h.max_us, h.mean_us)
    as_decoded = Histogram.decode(h.encode())  # min and max bucket-equivalent, as after a decode
    assert (back._min, back._max) == (as_decoded._min, as_decoded._max)


def test_an_empty_histogram_round_trips_and_a_wire_is_small():
    back = Histogram.from_wire(json.loads(json.dumps(Histogram().to_wire())))
    assert back.count == 0 and back.buckets == 0 and back.percentile_us(99) == 0
    h = ours(np.repeat(np.arange(20_000, 21_600, 16), 3))  # 100 buckets 16 µs wide, counts of 3
    assert h.buckets == 100 and len(json.dumps(h.to_wire())) < 450


def wire(index, counts_, width=8, buckets=None) -> str:
    raw = np.array(index, "<u2").tobytes() + np.array(counts_, hdr._COUNT_DTYPES[width]).tobytes()
    n = len(index) if buckets is None else buckets
    return f"hs1:{n}:{width}:{binascii.b2a_base64(raw, newline=False).decode()}"


def test_the_wire_helper_builds_what_to_wire_builds():
    assert wire([hdr._index_of(5000)], [3], 1) == ours([5000] * 3).to_wire()
    assert Histogram.from_wire(wire([5, 9], [1, 2**40])).count == 1 + 2**40


@pytest.mark.parametrize("value", [
    None, 5, ["hs1", 0, 1, ""], b"hs1:0:1:", "", "hs1", "hs1:0:1", "hs2:0:1:", "hs1:0:1::", "hs1:x:1:",
    "hs1:-1:1:", "hs1:1:3:AAAA", "hs1:٣:1:", "hs1:0:1:A", "hs1:1:1:!!!!", "hs1:1:1:AAAAé",
    wire([5], [1], buckets=2), wire([5, 6], [1, 1], buckets=1), wire([0], [1]), wire([hdr._INDICES], [1]),
    wire([65535], [1]), wire([9, 5], [1, 1]), wire([5, 5], [1, 1]), wire([5, 6], [1, 0]),
    wire([5], [2**63]), wire([5, 6], [2**62, 2**62]), wire([5], [0], width=1),
])
def test_from_wire_refuses_malformed_values_with_value_error(value):
    with pytest.raises(ValueError):
        Histogram.from_wire(value)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=40), st.binary(max_size=40).map(
    lambda b: f"hs1:{len(b) // 3}:1:{binascii.b2a_base64(b, newline=False).decode()}")))
def test_from_wire_of_arbitrary_input_is_a_valid_histogram_or_a_value_error(value):
    try:
        h = Histogram.from_wire(value)
    except ValueError:
        return
    assert_valid(h)


# -- the module -----------------------------------------------------------------------------------
def test_the_hot_paths_import_no_numpy_submodule_lazily():
    """A worker out of file descriptors died importing one mid-snapshot (OSError: Too many open files)."""
    script = """
import json, sys
from surge.metrics.hdr import Histogram, warm_up
warm_up()
before = set(sys.modules)
a, b = Histogram(), Histogram()
a.record_many([1, 50, 3000, 10**9]); a.record(7); b.record_many(list(range(1, 5000, 7)))
a.merge(b); b.merge(a); t = Histogram.merged([a, b, Histogram()]); c = t.copy()
t.percentiles_us([0, 50, 99.9, 100]); t.mean_us, t.min_us, t.max_us, t.count, t.buckets, t.nbytes
Histogram.from_wire(json.loads(json.dumps(c.to_wire())))
for bad in ("hs1:1:1:!!", "hs1:1:1:AAAA", 3):
    try:
        Histogram.from_wire(bad)
    except ValueError:
        pass
print(sorted(set(sys.modules) - before))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_warm_up_stays_callable():
    assert hdr.warm_up() is None
