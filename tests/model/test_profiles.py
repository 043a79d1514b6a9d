"""The built-in load profiles have the shapes DESIGN.md's table promises."""
from __future__ import annotations

import pytest

from surge.model.errors import ConfigError
from surge.model.plan import Stage
from surge.model.profiles import ALIASES, PROFILES, profile_stages
from surge.model.schedule import level_at


def duration_s(stages) -> float:
    return sum(s.duration_s for s in stages)


def peak(stages) -> float:
    return max(s.target for s in stages)


def test_the_documented_profiles_exist():
    assert set(PROFILES) == {"smoke", "load", "peak", "stress", "spike", "soak", "ramp"}
    assert ALIASES == {"baseline": "load"}


def test_smoke_is_5_users_for_a_minute():
    s = profile_stages("smoke")
    assert duration_s(s) == 60
    assert {level_at(s, t) for t in (0, 30, 59.9)} == {5}
    assert level_at(s, 60) == 0


def test_load_ramps_to_50_then_100_holds_and_ramps_down():
    s = profile_stages("load")
    assert s == (Stage(60, 50), Stage(180, 100), Stage(300, 100), Stage(60, 0))
    assert level_at(s, 0) == 0
    assert level_at(s, 30) == pytest.approx(25)
    assert level_at(s, 60) == pytest.approx(50)
    assert level_at(s, 150) == pytest.approx(75)
    assert level_at(s, 240) == pytest.approx(100)
    assert level_at(s, 539.9) == 100
    assert level_at(s, 570) == pytest.approx(50)
    assert duration_s(s) == 600


def test_baseline_is_an_alias_of_load():
    assert profile_stages("baseline") == profile_stages("load")


def test_peak_ramps_to_500_over_2_minutes_and_holds_5():
    s = profile_stages("peak")
    assert level_at(s, 60) == pytest.approx(250)
    assert level_at(s, 120) == 500
    assert level_at(s, 419.9) == 500
    assert duration_s(s) == 420


def test_stress_steps_100_users_every_2_minutes_up_to_500():
    s = profile_stages("stress")
    assert duration_s(s) == 5 * 120
    for step in range(5):
        for t in (step * 120, step * 120 + 60, step * 120 + 119.9):
            assert level_at(s, t) == 100 * (step + 1)  # steps, not ramps
    assert peak(s) == 500


def test_stress_until_break_steps_on_up_to_the_cap():
    s = profile_stages("stress", until_break=1000)
    assert duration_s(s) == 10 * 120
    assert peak(s) == 1000
    assert level_at(s, 9 * 120 + 1) == 1000
    assert peak(profile_stages("stress", until_break=5000)) == 5000
    assert profile_stages("stress", until_break=500) == profile_stages("stress")


def test_until_break_works_only_with_stress():
    with pytest.raises(ConfigError, match="--until-break"):
        profile_stages("load", until_break=1000)
    with pytest.raises(ConfigError, match="--step-users/--step-duration works with --profile stress only"):
        profile_stages("spike", step_users=10)


def test_stress_steps_are_settable():
    s = profile_stages("stress", until_break=9, step_users=3, step_s=2.0)
    assert s == (Stage(0, 3), Stage(2, 3), Stage(0, 6), Stage(2, 6), Stage(0, 9), Stage(2, 9))
    assert profile_stages("stress", step_s=60.0)[1] == Stage(60, 100)  # up to the usual 500
    assert peak(profile_stages("stress", step_users=250)) == 500
    with pytest.raises(ConfigError, match="a stress step of 600 users is more than the top of 500"):
        profile_stages("stress", step_users=600)


def test_spike_jumps_to_1000_for_2_minutes_within_15_minutes():
    s = profile_stages("spike")
    assert duration_s(s) == 15 * 60
    assert peak(s) == 1000
    assert level_at(s, 0) == 100 and level_at(s, 119.9) == 100
    assert level_at(s, 120) == 1000 and level_at(s, 239.9) == 1000  # at once, no ramp
    assert level_at(s, 240) == 100 and level_at(s, 899.9) == 100


def test_soak_is_200_users_for_2_hours():
    s = profile_stages("soak")
    assert duration_s(s) == 2 * 3600
    assert {level_at(s, t) for t in (0, 3600, 7199.9)} == {200}


def test_ramp_goes_from_0_to_50_over_15_minutes():
    s = profile_stages("ramp")
    assert duration_s(s) == 900
    assert level_at(s, 0) == 0
    assert level_at(s, 450) == pytest.approx(25)
    assert level_at(s, 899.9) == pytest.approx(50, abs=0.01)


@pytest.mark.parametrize("name", sorted([*PROFILES, *ALIASES]))
def test_every_profile_is_well_formed(name):
    s = profile_stages(name)
    assert s and all(st.duration_s >= 0 and st.target >= 0 for st in s)
    assert all(st.target == int(st.target) for st in s)  # users are whole


def test_unknown_profile_names_the_choices():
    with pytest.raises(ConfigError) as err:
        profile_stages("lod")
    assert "'lod'" in err.value.message
    for name in ["baseline", "load", "peak", "ramp", "smoke", "soak", "spike", "stress"]:
        assert name in err.value.hint
