"""Stress steps judged on their own windows: the step plan, the settle time, the window, the judge."""
from __future__ import annotations

import numpy as np
import pytest

from surge.metrics.aggregate import RunStats
from surge.metrics.custom import TREND_SCALE
from surge.metrics.hdr import Histogram
from surge.metrics.snapshot import MetricSnapshot, SeriesSnapshot, Snapshot
from surge.model.plan import Stage, ThresholdSpec
from surge.model.profiles import profile_stages
from surge.thresholds import ThresholdJudge, parse_cli_threshold
from surge.thresholds.steps import Step, StepWindows, plan_steps, unjudged

STAGES = profile_stages("stress", until_break=8, step_users=2, step_s=2.0)  # 2, 4, 6, 8 users, 2 s each


def test_every_hold_of_the_stress_profile_is_a_step_settling_a_quarter_of_it():
    steps = plan_steps(STAGES)
    assert [(s.number, s.start_s, s.end_s, s.level, s.settle_s) for s in steps] == [
        (1, 0.0, 2.0, 2.0, 0.5), (2, 2.0, 4.0, 4.0, 0.5), (3, 4.0, 6.0, 6.0, 0.5), (4, 6.0, 8.0, 8.0, 0.5)]
    assert [s.settle_s for s in plan_steps(STAGES, settle_s=1.5)] == [1.5] * 4  # --abort-grace
    default = plan_steps(profile_stages("stress"))
    assert (len(default), default[0].settle_s, default[-1].level) == (5, 30.0, 500.0)


def test_a_step_judges_the_intervals_wholly_inside_it_after_its_settle_time():
    step = Step(2, 2.0, 4.0, 4.0, 0.5)
    assert not step.judges(2.0, 3.0)  # still settling
    assert step.judges(3.0, 4.0)
    assert step.judges(2.5, 3.0)
    assert not step.judges(3.5, 4.5)  # straddles the next step: part of it ran the next level


def test_a_step_with_no_whole_interval_after_its_settle_is_found():
    assert unjudged(plan_steps(STAGES), 1.0) is None
    assert unjudged(plan_steps(STAGES, settle_s=1.5), 1.0).number == 1  # [1.5, 2.0) is half an interval
    assert unjudged(plan_steps(STAGES, settle_s=1.5), 0.5) is None
    assert unjudged(plan_steps((Stage(0, 1), Stage(3, 1)), settle_s=0.0), 2.0) is None
    assert unjudged(plan_steps((Stage(0, 1), Stage(3, 1), Stage(0, 2), Stage(3, 2))), 2.0).number == 1


def interval(k: int, latency_ms: list[float], *, failures: int = 0, trend: list[float] = ()) -> Snapshot:
    h = Histogram()
    h.record_many(np.asarray([int(ms * 1000) for ms in latency_ms], dtype=np.int64))
    metrics = []
    if trend:
        t = Histogram()
        t.record_many(np.asarray([int(v * TREND_SCALE) for v in trend], dtype=np.int64))
        metrics.append(MetricSnapshot("db_ms", "trend", "ms", hist=t.to_wire(), count=len(trend)))
    return Snapshot(0, k, 1, series=[SeriesSnapshot("GET", "/x", latency=h.to_wire(), requests=len(latency_ms),
                                                     failures=failures)], metrics=metrics)


def run(judge: ThresholdJudge, per_interval: list[Snapshot], interval_s: float = 1.0):
    """Close each interval and judge it, as the run does; every judgement in order."""
    stats, out = RunStats(), []
    for k, snap in enumerate(per_interval):
        stats.close([snap])
        out.append(judge.judge(stats, (k + 1) * interval_s, final=False))
    return stats, out


def judge_for(*texts: str, settle_s: float | None = None) -> ThresholdJudge:
    specs = [parse_cli_threshold(t) for t in texts]
    return ThresholdJudge(specs, until_break=True, steps=StepWindows(plan_steps(STAGES, settle_s), 1.0))


def test_a_spike_in_the_settle_time_does_not_break_the_step_and_a_late_break_is_not_diluted():
    """Step 1's first interval spikes to 900 ms (settling: not judged); latency then grows
    20, 40, 60 ms per step. mean<50ms breaks on step 3's own window at 6 s, where cumulative
    totals would have broken at 1 s (the spike) and, without it, not before step 4."""
    judge = judge_for("*: mean<50ms")
    snaps = [interval(0, [900] * 10), interval(1, [20] * 20), interval(2, [40] * 40), interval(3, [40] * 40),
             interval(4, [60] * 60), interval(5, [60] * 60)]
    stats, judged = run(judge, snaps)
    assert [j.results for j in judged[0::2]] == [(), (), ()]  # each step's settling interval: not judged
    assert [j.abort is None for j in judged] == [True] * 5 + [False]
    broke = judged[5]
    assert broke.abort.actual == pytest.approx(60, rel=1e-3) and broke.abort.stat == "mean"
    assert "on step 3's window (6 users, 5.0-6.0s)" in broke.abort.message
    assert broke.step == {"step": 3, "step_level": 6.0, "held_level": 4.0, "settle_s": 0.5,
                          "window_from_s": 5.0, "window_to_s": 6.0, "window_requests": 60}
    # the cumulative verdict is unchanged: the whole run, the spike included
    (final,) = judge.judge(stats, 6.0, final=True).results
    assert final.actual == pytest.approx((900 * 10 + 20 * 20 + 40 * 80 + 60 * 120) / 230, rel=1e-3)


def test_the_window_grows_through_the_step_and_starts_again_at_the_next():
    judge = judge_for("*: requests<100", "*: rps<1000/s", "db_ms: p95<1000", settle_s=0.0)
    snaps = [interval(0, [5] * 30, trend=[10]), interval(1, [5] * 30, trend=[20]), interval(2, [5] * 70)]
    _, judged = run(judge, snaps)
    assert [r.actual for r in judged[0].results] == [30, 30, pytest.approx(10, rel=1e-3)]
    assert [r.actual for r in judged[1].results] == [60, 30, pytest.approx(20, rel=1e-3)]  # rps over 2 s
    assert judged[1].step["window_from_s"] == 0.0 and judged[1].step["settle_s"] == 0.0
    again = judged[2]  # step 2: its own window only; the trend had no value in it (never aborts)
    assert [r.actual for r in again.results] == [70, 70, None] and again.abort is None
    assert again.step["step"] == 2 and again.step["held_level"] == 2.0


def test_a_failure_share_is_judged_per_step_too():
    judge = judge_for("*: error_rate<10%", settle_s=0.0)
    _, judged = run(judge, [interval(0, [5] * 100, failures=50), interval(1, [5] * 100), interval(2, [5] * 100)])
    assert judged[0].abort is not None and judged[0].abort.actual == 0.5  # broke in step 1, nothing to dilute it


def test_an_interval_is_taken_once_and_intervals_past_the_plan_are_not_judged():
    judge = judge_for("*: requests<1000", settle_s=0.0)
    stats = RunStats()
    stats.close([interval(0, [5] * 10)])
    assert judge.judge(stats, 1.0, final=False).results[0].actual == 10
    assert judge.judge(stats, 1.0, final=False).results == ()  # asked again: nothing new closed
    for k in range(1, 9):
        stats.close([interval(k, [5] * 10)])
        judged = judge.judge(stats, k + 1.0, final=False)
    assert judged.results == ()  # the 9th interval is the wind-down, past the last step


def test_without_until_break_the_judge_stays_cumulative():
    spec = ThresholdSpec("*", "mean", "<", 50.0, "mean<50ms", abort_on_fail=True)
    stats = RunStats()
    stats.close([interval(0, [900] * 10)])
    judgement = ThresholdJudge([spec]).judge(stats, 1.0, final=False)
    assert judgement.abort is not None and judgement.step is None


def test_an_open_stress_run_steps_its_rate(tmp_path):
    from surge.config import settle

    plan = settle({"scenario": "s.py", "profile": "stress", "until_break": 400, "rate": 40, "step_duration": "4s"},
                  {}, tmp_path)
    steps = ThresholdJudge.for_plan(plan).steps
    assert steps.unit == "iterations/s"
    assert [(s.level, s.start_s, s.settle_s) for s in steps.steps] == [
        (10.0, 0.0, 1.0), (20.0, 4.0, 1.0), (30.0, 8.0, 1.0), (40.0, 12.0, 1.0)]
