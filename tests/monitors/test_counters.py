"""Rates from cumulative counters: the first row is the baseline, a reset never goes negative."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surge.model.events import MonitorSample
from surge.monitors.counters import Deltas, column_max, counter_delta, counter_rate, net, ratio


def rows(*values, key="n", step_s=1.0):
    return [MonitorSample("m", 1000.0 + i * step_s, i * step_s, {key: v}) for i, v in enumerate(values)]


def test_the_first_row_is_the_baseline():
    assert counter_delta(rows(100, 110, 130), "n") == 30
    assert counter_rate(rows(100, 110, 130), "n") == 15.0  # 30 over 2 s


def test_a_reset_counts_what_accumulated_since_it():
    # 100 -> 120 (+20), restart, 5 (+5 since the restart), 15 (+10)
    assert counter_delta(rows(100, 120, 5, 15), "n") == 35


def test_rows_without_the_counter_are_skipped_not_zeros():
    assert counter_delta(rows(10, None, 30), "n") == 20
    assert counter_rate(rows(10, None, 30), "n") == 10.0
    assert column_max(rows(None, 3, None, 2), "n") == 3


def test_fewer_than_two_readings_give_no_rate():
    assert counter_delta(rows(10), "n") is None
    assert counter_rate(rows(10, None), "n") is None
    assert counter_rate([], "n") is None
    assert column_max([], "n") is None


def test_the_monitors_own_share_is_taken_off():
    data = [MonitorSample("m", 0, t, {"all": a, "own": o}) for t, a, o in ((0, 10, 0), (1, 20, 2), (2, 40, 4))]
    assert counter_rate(data, "all", minus="own") == pytest.approx(13.0)  # (30 - 4) / 2
    assert net(5.0, 7.0) == 0.0 and net(None, 1.0) is None


def test_ratio():
    assert ratio(3, 1) == 0.75
    assert ratio(0, 0) is None and ratio(None, 1) is None


def test_deltas_give_rates_per_interval():
    deltas = Deltas()
    assert deltas.rates({"n": 10}, 0.0) == {"n": None}
    assert deltas.rates({"n": 30}, 2.0) == {"n": 10.0}
    assert deltas.rates({"n": None}, 3.0) == {"n": None}
    assert deltas.rates({"n": 40}, 4.0) == {"n": None}  # the previous call had no value
    assert deltas.rates({"n": 5}, 5.0) == {"n": 5.0}  # reset


@given(st.lists(st.one_of(st.none(), st.integers(0, 10**12)), max_size=30))
def test_a_delta_is_never_negative_and_equals_the_sum_of_increases(values):
    delta = counter_delta(rows(*values), "n")
    seen = [v for v in values if v is not None]
    if len(seen) < 2:
        assert delta is None
    else:
        assert delta == sum(b - a if b >= a else b for a, b in zip(seen, seen[1:])) >= 0
