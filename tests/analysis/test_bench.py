"""surge.analysis.bench: efficiency and where throughput stopped scaling, on synthetic figures."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surge.analysis.bench import (
    StepFigures,
    base_rps,
    efficiency,
    needed_gain,
    scaling_verdict,
    stopped_scaling_at,
)


def sweep(*pairs, errors=None) -> list[StepFigures]:
    """Steps from (concurrency, rps) pairs, 1000 requests each (``errors``: per step)."""
    errors = errors or [0] * len(pairs)
    return [StepFigures(c, 1000, e, rps) for (c, rps), e in zip(pairs, errors)]


def test_a_four_slot_target_stops_scaling_at_four():
    steps = sweep((1, 90), (2, 180), (4, 355), (8, 398), (16, 399))
    assert stopped_scaling_at(steps) == 4
    assert "stopped scaling at concurrency 4 (355 req/s)" in scaling_verdict(steps)
    assert "concurrency 8 gained +12%" in scaling_verdict(steps)


def test_efficiency_is_rps_over_c_times_rps_1():
    steps = sweep((1, 100), (10, 400))
    assert efficiency(steps[1], base_rps(steps, None)) == pytest.approx(0.4)
    assert efficiency(steps[0], 100.0) == pytest.approx(1.0)


def test_rps_1_is_the_concurrency_1_step_else_the_sequential_phase():
    assert base_rps(sweep((1, 90), (10, 500)), 120.0) == 90
    assert base_rps(sweep((10, 500), (25, 600)), 120.0) == 120.0
    assert base_rps(sweep((10, 500)), None) is None


@pytest.mark.parametrize("rps_1", [None, 0.0, -1.0])
def test_no_efficiency_without_a_positive_rps_1(rps_1):
    assert efficiency(StepFigures(10, 100, 0, 500.0), rps_1) is None


def test_the_needed_gain_is_half_of_perfect_scaling_at_most_25_percent():
    one, two, ten = StepFigures(1, 1, 0, 1.0), StepFigures(2, 1, 0, 1.0), StepFigures(10, 1, 0, 1.0)
    assert needed_gain(one, two) == pytest.approx(0.25)
    assert needed_gain(one, ten) == pytest.approx(0.25)
    assert needed_gain(ten, StepFigures(11, 1, 0, 1.0)) == pytest.approx(0.05)
    assert needed_gain(ten, StepFigures(12, 1, 0, 1.0)) == pytest.approx(0.1)


def test_the_default_sweep_on_a_4_worker_server_stopped_at_10():
    """1 -> 10 quadrupled the throughput (scaled, though far from perfect), 25 gained nothing."""
    assert stopped_scaling_at(sweep((1, 100), (10, 400), (25, 401), (50, 399))) == 10


def test_just_below_and_at_the_needed_gain():
    assert stopped_scaling_at(sweep((4, 100), (8, 124.9))) == 4
    assert stopped_scaling_at(sweep((4, 100), (8, 125.0))) is None


def test_still_scaling_at_the_last_step_is_none():
    steps = sweep((1, 100), (10, 900), (25, 2100), (50, 4000))
    assert stopped_scaling_at(steps) is None
    assert "still scaled at the last step (concurrency 50" in scaling_verdict(steps)


def test_a_fall_counts_as_not_scaling():
    assert stopped_scaling_at(sweep((1, 100), (10, 800), (25, 500))) == 10


def test_one_step_has_nothing_to_compare():
    steps = sweep((10, 500))
    assert stopped_scaling_at(steps) is None
    assert scaling_verdict(steps).startswith("one step only (concurrency 10)")


def test_no_steps():
    assert stopped_scaling_at([]) is None and scaling_verdict([]) == "no step ran"


def test_errors_only_everywhere_says_nothing_about_scaling():
    steps = sweep((1, 500), (10, 5000), errors=[1000, 1000])
    assert stopped_scaling_at(steps) is None
    assert scaling_verdict(steps).startswith("no step had a successful request")


def test_fast_errors_are_not_throughput():
    # the target answers 500 fast from concurrency 25 on: its rps rises, its successful rps falls
    steps = sweep((1, 100), (10, 900), (25, 3000), errors=[0, 0, 900])
    assert stopped_scaling_at(steps) == 10
    assert steps[2].good_rps == pytest.approx(300)


def test_zero_rps_steps_are_no_reference():
    # nothing succeeded at 1 and 2 (the target warming up): the first reference is 4
    steps = sweep((1, 0.0), (2, 0.0), (4, 300), (8, 310))
    assert stopped_scaling_at(steps) == 4
    assert StepFigures(1, 0, 0, 0.0).good_rps == 0.0


def test_the_order_given_does_not_matter():
    steps = sweep((1, 90), (2, 180), (4, 355), (8, 398))
    assert stopped_scaling_at(list(reversed(steps))) == stopped_scaling_at(steps) == 4


@given(st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=2, max_size=8),
       st.floats(min_value=1e-3, max_value=1e3))
def test_scaling_every_rps_by_one_factor_changes_no_verdict(rates, factor):
    # req/s measured in other units (or a target k times faster everywhere) has the same knee
    steps = [StepFigures(2 ** i, 100, 0, r) for i, r in enumerate(rates)]
    scaled = [StepFigures(s.concurrency, s.requests, s.errors, s.rps * factor) for s in steps]
    assert stopped_scaling_at(scaled) == stopped_scaling_at(steps) or _near_boundary(steps)


@given(st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=8))
def test_the_answer_is_a_step_before_one_that_did_not_scale(rates):
    steps = [StepFigures(2 ** i, 100, 0, r) for i, r in enumerate(rates)]
    at = stopped_scaling_at(steps)
    if at is None:
        assert all(b.rps * 1.25 <= s.rps for b, s in zip(steps, steps[1:]))
    else:
        i = next(k for k, s in enumerate(steps) if s.concurrency == at)
        assert steps[i + 1].rps < steps[i].rps * 1.25
        assert all(b.rps * 1.25 <= s.rps for b, s in zip(steps[:i + 1], steps[1:i + 1]))


def _near_boundary(steps) -> bool:
    """A ratio within float rounding of the needed 1.25: scaling may flip it (not a real change)."""
    return any(abs(s.rps / b.rps - 1.25) < 1e-9 for b, s in zip(steps, steps[1:]))
