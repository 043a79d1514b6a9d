"""The stress profile with --until-break: step up until a threshold breaks on a step's own
window (after the step settled), and report the breaking point."""
from __future__ import annotations

from support.stress import growing

from surge.model.events import IntervalStats, ThresholdBreached

GROWING = growing()  # 2, 4, 6 users answer in 20, 40, 60 ms


def test_until_break_judges_each_step_on_its_window_and_stops_at_the_step_that_breaks(runner, target):
    """Steps of 2 users lasting 1 s, judged in 250 ms intervals after 250 ms of settling: p95 is
    ~20 ms, ~40 ms, then ~60 ms, so p95<50ms breaks on step 3 (6 users), in its first judged
    interval, once; the plan's 10 steps are not run."""
    outcome = runner.run(GROWING, target.url, profile="stress", until_break=20, step_users=2,
                         step_duration="1s", interval="250ms", threshold=["*: p95<50ms"])
    s = outcome.summary
    assert s.status == "failed" and outcome.result.exit_code == 1
    point = s.breaking_point
    assert point is not None, s
    assert (point["users"], point["step"], point["step_level"], point["held_level"]) == (6, 3, 6.0, 4.0), point
    assert point["threshold"] == "*: p95<50ms" and point["stat"] == "p95"
    assert 50 < point["actual"] < 80, point
    assert point["settle_s"] == 0.25 and 2.25 <= point["window_from_s"] < point["window_to_s"] <= 3.0
    assert 2.5 <= point["elapsed_s"] <= 3.0 and s.duration_s < 4.0
    assert s.aborted_by is None  # a breaking point is the goal of the run, not an abort
    assert s.status_reasons[0].startswith("breaking point at 6 users: *: p95<50ms failed on step 3's window")
    breaches = outcome.of_type(ThresholdBreached)
    assert len(breaches) == 1 and breaches[0].breaking and not breaches[0].aborting, breaches
    assert "on step 3's window (6 users" in breaches[0].result.message
    # live, nothing failed before the breaking interval: [2.25, 2.5), step 3's first judged one
    failing = [e.interval for e in outcome.of_type(IntervalStats) if e.failing_thresholds]
    assert failing and failing[0] == 9, failing
    assert s.total.requests + s.total.cancelled == sum(target.stats()["requests"].values())
