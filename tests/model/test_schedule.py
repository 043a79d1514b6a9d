"""The pure schedules behind every workload: levels, stages, worker shares, arrivals, class cycles.

Nothing here touches a clock: the elapsed time is an argument, so a 10-minute plan runs in ms.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.model.plan import ClosedWorkload, OpenWorkload, Stage, TestPlan
from surge.model.profiles import PROFILES
from surge.model.schedule import (
    arrival_time,
    level_at,
    owned_arrivals,
    owned_count,
    owned_iterations,
    owned_indices,
    scale_stages,
    stage_index_at,
    stage_numbers,
    stage_total,
    total_arrivals,
    weighted_cycle,
)

RAMP_HOLD_DOWN = (Stage(10, 100), Stage(20, 100), Stage(10, 0))


# -- level_at -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "t, level",
    [(0, 0), (2.5, 25), (5, 50), (9.999, 99.99), (10, 100), (20, 100), (29.999, 100), (30, 100), (35, 50), (39, 10)],
)
def test_level_at_follows_linear_ramps(t, level):
    assert level_at(RAMP_HOLD_DOWN, t) == pytest.approx(level)


def test_level_at_ramps_between_consecutive_targets_not_from_zero():
    stages = (Stage(10, 50), Stage(10, 150))
    assert level_at(stages, 15) == pytest.approx(100)


def test_zero_duration_stage_jumps_at_once():
    stages = (Stage(0, 100), Stage(10, 100), Stage(0, 1000), Stage(10, 1000), Stage(0, 100), Stage(10, 100))
    assert level_at(stages, 0) == 100
    assert level_at(stages, 9.999) == 100
    assert level_at(stages, 10) == 1000  # the jump happens exactly at the boundary
    assert level_at(stages, 19.999) == 1000
    assert level_at(stages, 20) == 100
    assert level_at(stages, 29.999) == 100


def test_level_is_zero_after_the_end_and_for_an_empty_plan():
    assert level_at(RAMP_HOLD_DOWN, 40) == 0
    assert level_at(RAMP_HOLD_DOWN, 1e9) == 0
    assert level_at((Stage(0, 5), Stage(60, 5)), 60) == 0  # a hold ends at 0, not at its target
    assert level_at((), 0) == 0


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 1000)), min_size=1, max_size=8),
       st.floats(0, 1000, allow_nan=False))
def test_level_stays_between_the_neighbouring_targets(raw, t):
    stages = tuple(Stage(d, x) for d, x in raw)
    level = level_at(stages, t)
    targets = [0.0] + [s.target for s in stages]
    assert min(targets) - 1e-9 <= level <= max(targets) + 1e-9
    if t >= sum(d for d, _ in raw):
        assert level == 0


# -- stage_index_at ---------------------------------------------------------------------------
@pytest.mark.parametrize("t, index", [(0, 0), (9.99, 0), (10, 1), (29.99, 1), (30, 2), (39.99, 2), (40, 2), (1e6, 2)])
def test_stage_index_at(t, index):
    assert stage_index_at(RAMP_HOLD_DOWN, t) == index


def test_stage_index_skips_zero_duration_stages_and_handles_no_stages():
    stages = (Stage(0, 100), Stage(10, 100), Stage(0, 1000), Stage(10, 1000))
    assert stage_index_at(stages, 0) == 1
    assert stage_index_at(stages, 10) == 3
    assert stage_index_at((), 5) == 0


# -- stage_numbers: the stages a reader counts ------------------------------------------------
@pytest.mark.parametrize("stages, numbers", [
    ((Stage(1, 50), Stage(59, 50)), (0, 0)),  # a steady run: its spawn folds into the hold
    ((Stage(0, 20), Stage(60, 20)), (0, 0)),  # a steady open run: the jump takes no time
    ((Stage(30, 50), Stage(0, 50)), (0, 0)),  # a spawn as long as the run
    (RAMP_HOLD_DOWN, (0, 1, 2)),  # a ramp to a hold that is followed by more is a stage
    ((Stage(2, 8), Stage(1, 8), Stage(1, 2), Stage(1, 2)), (0, 1, 2, 3)),
    ((Stage(10, 50), Stage(10, 100)), (0, 1)),  # the second ramp does not hold the first's level
    ((), ()),
])
def test_stage_numbers_count_the_stages_that_take_time(stages, numbers):
    assert stage_numbers(stages) == numbers
    assert stage_total(stages) == (max(numbers) + 1 if numbers else 1)


def test_stage_totals_of_the_profiles_and_steady_workloads():
    totals = {name: stage_total(stages) for name, stages in PROFILES.items()}
    assert totals == {"smoke": 1, "load": 4, "peak": 1, "stress": 5, "spike": 3, "soak": 1, "ramp": 1}
    assert ClosedWorkload((Stage(1, 50), Stage(59, 50))).stage_count == 1  # not "stage 2/2"
    assert OpenWorkload((Stage(0, 20), Stage(60, 20)), max_users=200).stage_count == 1
    assert ClosedWorkload((), shape=True).stage_count == 1


@given(st.lists(st.tuples(st.integers(0, 100), st.integers(0, 1000)), min_size=1, max_size=8),
       st.floats(0, 1000, allow_nan=False))
def test_stage_numbers_never_go_back_and_stay_in_range(raw, t):
    stages = tuple(Stage(d, x) for d, x in raw)
    numbers = stage_numbers(stages)
    assert list(numbers) == sorted(numbers)
    assert 0 <= numbers[stage_index_at(stages, t)] < stage_total(stages)


# -- owned_count / owned_indices ----------------------------------------------------------------
@given(st.integers(0, 10_000), st.integers(1, 64))
def test_worker_shares_sum_exactly_and_differ_by_at_most_one(total, workers):
    shares = [owned_count(total, i, workers) for i in range(workers)]
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1
    assert shares == sorted(shares, reverse=True)  # the lower workers get the remainder


@given(st.integers(0, 2_000), st.integers(1, 32))
def test_owned_indices_partition_the_users(total, workers):
    seen = []
    for i in range(workers):
        indices = owned_indices(total, i, workers)
        assert len(indices) == owned_count(total, i, workers)
        assert all(j % workers == i for j in indices)
        seen += indices
    assert sorted(seen) == list(range(total))


@given(st.integers(0, 500), st.integers(1, 16))
def test_growing_the_level_only_adds_users_to_each_worker(total, workers):
    # users start in index order, so a worker's share never shrinks while the level grows
    for i in range(workers):
        assert owned_count(total, i, workers) <= owned_count(total + 1, i, workers) <= owned_count(total, i, workers) + 1


@given(st.integers(0, 5_000), st.integers(1, 50), st.integers(1, 16), st.booleans())
def test_iteration_shares_sum_exactly_among_the_workers_that_get_users(iterations, users, workers, is_open):
    stages = (Stage(0, users), Stage(10, users))
    workload = OpenWorkload(stages, max_users=100) if is_open else ClosedWorkload(stages)
    plan = TestPlan(scenario_path="s.py", host="", workload=workload, iterations=iterations)
    shares = [owned_iterations(plan, i, workers) for i in range(workers)]
    assert sum(shares) == iterations
    for i, share in enumerate(shares):
        if not is_open and owned_count(users, i, workers) == 0:
            assert share == 0  # a worker without users could never run its share
    among = [s for i, s in enumerate(shares) if is_open or owned_count(users, i, workers)]
    assert max(among) - min(among) <= 1
    assert owned_iterations(plan.replace(iterations=None), 0, workers) is None


def test_negative_totals_own_nothing():
    assert owned_count(-3, 0, 2) == 0
    assert list(owned_indices(-3, 0, 2)) == []


# -- arrival_time -------------------------------------------------------------------------------
def _arrivals(stages) -> list[float]:
    out = []
    while (t := arrival_time(stages, len(out))) is not None:
        out.append(t)
    return out


def _integral(stages, t: float) -> float:
    """Exact area under the (piecewise-linear) rate from 0 to t."""
    area, start_t, start = 0.0, 0.0, 0.0
    for s in stages:
        end_t = start_t + s.duration_s
        if s.duration_s > 0:
            upto = min(t, end_t) - start_t
            if upto > 0:
                here = start + (s.target - start) * upto / s.duration_s
                area += (start + here) / 2 * upto
        if t <= end_t and s.duration_s > 0:
            return area
        start, start_t = s.target, end_t
    return area


def test_constant_rate_arrives_exactly_r_times_d_with_even_spacing():
    times = _arrivals((Stage(0, 200), Stage(60, 200)))
    assert len(times) == 200 * 60
    assert times[0] == 0.0
    assert times[-1] == pytest.approx(60 - 1 / 200)
    assert all(t == pytest.approx(k / 200, abs=1e-9) for k, t in enumerate(times))


@given(st.integers(1, 800).map(lambda q: q / 4), st.integers(1, 5))
def test_constant_rate_count_and_spacing(rate, duration_s):
    times = _arrivals((Stage(0, rate), Stage(duration_s, rate)))
    # iteration k is due at k/R and belongs to the plan while k/R < D: ceil(R*D) of them
    assert len(times) == math.ceil(rate * duration_s)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g == pytest.approx(1 / rate, rel=1e-6) for g in gaps)


def test_ramp_from_zero_arrives_half_as_often_with_increasing_times():
    rate, duration_s = 100, 10
    times = _arrivals((Stage(duration_s, rate),))
    assert len(times) == rate * duration_s // 2
    assert times[0] == 0.0
    assert all(a < b for a, b in zip(times, times[1:]))
    # the rate's integral is R t^2 / (2 D): iteration k is due at sqrt(2 k D / R)
    assert all(t == pytest.approx(math.sqrt(2 * k * duration_s / rate), abs=1e-9) for k, t in enumerate(times))


def test_ramp_down_and_zero_rate_gaps():
    # nothing is due while the rate is 0; arrivals resume where it becomes positive again
    stages = (Stage(0, 10), Stage(1, 10), Stage(0, 0), Stage(5, 0), Stage(2, 10))
    times = _arrivals(stages)
    assert len(times) == 10 + 10
    assert all(t < 1 for t in times[:10])
    assert times[10] == pytest.approx(6.0)
    assert all(a < b for a, b in zip(times, times[1:]))


def test_no_arrivals_without_rate():
    assert arrival_time((), 0) is None
    assert arrival_time((Stage(10, 0),), 0) is None


def test_a_nearly_flat_ramp_is_timed_precisely():
    # 1000/s rising by 1e-9/s: iteration 999 is due at 0.999 s (naive quadratic roots lose ms here)
    assert arrival_time((Stage(0, 1000), Stage(1, 1000 + 1e-9)), 999) == pytest.approx(0.999, abs=1e-9)


stage_lists = st.lists(
    st.tuples(st.sampled_from([0, 0.5, 1, 2, 3]), st.integers(0, 60)).map(lambda dt: Stage(*dt)),
    min_size=1, max_size=5,
)


@settings(max_examples=60)
@given(stage_lists)
def test_arrival_k_is_where_the_rate_integral_reaches_k(stages):
    times = _arrivals(stages)
    total = _integral(stages, math.inf)
    assert total - 1e-6 <= len(times) <= total + 1 + 1e-6
    assert all(a <= b for a, b in zip(times, times[1:]))
    for k, t in enumerate(times):
        assert _integral(stages, t) == pytest.approx(k, abs=1e-6)


@settings(max_examples=60)
@given(stage_lists, st.integers(1, 5))
def test_owned_arrivals_partition_the_global_sequence(stages, workers):
    times = _arrivals(stages)
    owned = [list(owned_arrivals(stages, i, workers)) for i in range(workers)]
    merged = sorted(pair for share in owned for pair in share)
    assert [k for k, _ in merged] == list(range(len(times)))
    assert [t for _, t in merged] == times
    for i, share in enumerate(owned):
        assert [k for k, _ in share] == list(range(i, len(times), workers))
        assert len(share) == owned_count(len(times), i, workers)


# -- weighted_cycle ---------------------------------------------------------------------------------
def test_weighted_cycle_examples():
    assert weighted_cycle([3, 1]) == [0, 0, 1, 0]
    assert weighted_cycle([1, 1, 1]) == [0, 1, 2]
    assert weighted_cycle([5]) == [0]
    assert weighted_cycle([0, 2]) == [1]
    assert weighted_cycle([6, 2]) == weighted_cycle([3, 1])  # reduced by the common divisor


def test_weighted_cycle_fractional_weights():
    assert sorted(weighted_cycle([0.5, 0.25])) == [0, 0, 1]
    assert sorted(weighted_cycle([1.5, 1])) == [0, 0, 0, 1, 1]
    assert weighted_cycle([1e-5]) == [0]  # a lone tiny weight still gets every user
    thirds = weighted_cycle([1 / 3, 2 / 3])  # not a finite decimal: approximated to 4 digits
    assert thirds.count(1) / len(thirds) == pytest.approx(2 / 3, abs=1e-4)


@pytest.mark.parametrize("weights", [[], [0, 0], [-1, 2]])
def test_weighted_cycle_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        weighted_cycle(weights)


weights_st = st.lists(st.one_of(st.integers(0, 30), st.integers(0, 40).map(lambda x: x / 10)),
                      min_size=1, max_size=8).filter(lambda w: sum(w) > 0)


@settings(max_examples=100)
@given(weights_st)
def test_weighted_cycle_is_exact_over_a_cycle_and_smooth_in_every_prefix(weights):
    cycle = weighted_cycle(weights)
    total = sum(weights)
    n = len(cycle)
    counts = [0] * len(weights)
    live = sum(1 for w in weights if w)
    # Tijdeman's bound: every prefix is within 1 - 1/(2(k-1)) < 1 of its proportional share
    bound = 1 - 1 / (2 * (live - 1)) if live > 1 else 0
    for picks, i in enumerate(cycle, 1):
        counts[i] += 1
        for j, w in enumerate(weights):
            assert abs(counts[j] - picks * w / total) <= bound + 1e-9
    for j, w in enumerate(weights):
        assert counts[j] == pytest.approx(n * w / total, abs=1e-9)


# -- scale_stages -------------------------------------------------------------------------------------
LOAD = (Stage(60, 50), Stage(180, 100), Stage(300, 100), Stage(60, 0))


def test_scale_duration_stretches_every_stage_proportionally():
    out = scale_stages(LOAD, duration_s=60)
    assert [s.duration_s for s in out] == pytest.approx([6, 18, 30, 6])
    assert [s.target for s in out] == [50, 100, 100, 0]
    assert sum(s.duration_s for s in scale_stages(LOAD, duration_s=7200)) == pytest.approx(7200)


def test_scale_peak_scales_every_target_and_rounds_users_to_whole_numbers():
    out = scale_stages(LOAD, peak=30)
    assert [s.target for s in out] == [15, 30, 30, 0]
    assert [s.duration_s for s in out] == [60, 180, 300, 60]
    odd = scale_stages((Stage(10, 3), Stage(10, 10)), peak=7)
    assert [s.target for s in odd] == [2, 7]  # 2.1 -> 2
    assert all(s.target == int(s.target) for s in odd)


def test_scale_rates_keep_fractions():
    out = scale_stages((Stage(10, 3), Stage(10, 10)), peak=7, whole=False)
    assert [s.target for s in out] == pytest.approx([2.1, 7])


def test_scale_both_and_degenerate_plans():
    out = scale_stages(LOAD, duration_s=300, peak=200)
    assert [(s.duration_s, s.target) for s in out] == [(30, 100), (90, 200), (150, 200), (30, 0)]
    zero = (Stage(0, 0),)
    assert scale_stages(zero, duration_s=10, peak=5) == zero  # nothing to stretch or scale
    assert scale_stages((), duration_s=10) == ()


@given(st.lists(st.tuples(st.integers(0, 600), st.integers(0, 1000)), min_size=1, max_size=6),
       st.integers(1, 7200), st.integers(1, 5000))
def test_scaled_plans_last_the_duration_and_peak_at_the_peak(raw, duration_s, peak):
    stages = tuple(Stage(d, x) for d, x in raw)
    out = scale_stages(stages, duration_s=duration_s, peak=peak)
    if sum(d for d, _ in raw) > 0:
        assert sum(s.duration_s for s in out) == pytest.approx(duration_s)
    if max(x for _, x in raw) > 0:
        assert max(s.target for s in out) == peak
    for old, new in zip(stages, out):
        assert new.target == int(new.target)
        if max(x for _, x in raw) > 0:
            assert abs(new.target - old.target * peak / max(x for _, x in raw)) <= 0.5


# -- a 10-minute plan in milliseconds ---------------------------------------------------------------
def test_ten_minute_closed_plan_sampled_every_50ms():
    """Ramp 0->100 over 2 min, hold 6 min, ramp down over 2 min: what a closed executor would do
    at each 50 ms tick, for 3 workers, computed from the pure schedule alone."""
    stages = (Stage(120, 100), Stage(360, 100), Stage(120, 0))
    tick_s, workers = 0.05, 3
    ticks = int(600 / tick_s)
    levels, alive = [], [[] for _ in range(workers)]  # each worker's users, in start order
    started, retired = 0, []
    user_seconds = 0.0
    for n in range(ticks + 1):
        t = n * tick_s
        level = level_at(stages, t)
        levels.append(level)
        users = int(math.floor(level + 1e-9))
        for i in range(workers):
            want = owned_count(users, i, workers)
            while len(alive[i]) < want:
                alive[i].append(i + len(alive[i]) * workers)
                started += 1
            while len(alive[i]) > want:
                retired.append(alive[i].pop())
            assert alive[i] == list(owned_indices(users, i, workers))
        assert sum(len(a) for a in alive) == users  # shares sum exactly at every tick
        user_seconds += users * tick_s

    ramp_up, hold, ramp_down = levels[:2400], levels[2400:9600], levels[9600:12000]
    assert all(a <= b for a, b in zip(ramp_up, ramp_up[1:]))
    assert ramp_up[1200] == pytest.approx(50)
    assert set(hold) == {100}
    assert all(a >= b for a, b in zip(ramp_down, ramp_down[1:]))
    assert ramp_down[1200] == pytest.approx(50)
    assert levels[-1] == 0  # t = 600 s: the plan is over
    assert stage_index_at(stages, 300) == 1

    assert started == 100 and len(retired) == 100
    # users leave from the highest index down, a whole plan's worth of them
    assert retired == sorted(retired, reverse=True) == list(range(99, -1, -1))
    # user-seconds: 100 * 120 / 2 + 100 * 360 + 100 * 120 / 2, less the floor() of the ramps
    assert 48_000 - 150 <= user_seconds <= 48_000


@pytest.mark.parametrize("stages", [
    (Stage(0.0, 100.0), Stage(3.0, 100.0)),
    (Stage(2.5, 37.0), Stage(1.3, 5.0), Stage(0.0, 80.0), Stage(0.7, 80.0)),
    (Stage(1.0, 0.5),),
])
def test_total_arrivals_counts_what_owned_arrivals_walks(stages):
    walked = sum(sum(1 for _ in owned_arrivals(stages, w, 3)) for w in range(3))
    assert total_arrivals(stages) == walked
