"""The capacity formula on synthetic levels (``surge.analysis.capacity``)."""
from __future__ import annotations

import pytest

from surge.analysis.capacity import check_sla, plan_capacity
from surge.model.errors import ConfigError
from surge.model.summary import LevelStats
from surge.thresholds.parse import parse_cli_threshold, parse_expression


def level(users: float, rps: float, p95: float, error_rate: float = 0.0) -> LevelStats:
    return LevelStats(level=users, hold=True, stage=0, from_s=users, to_s=users + 1, intervals=4, users=int(users),
                      requests=int(rps), failures=int(rps * error_rate), rps=rps, error_rate=error_rate,
                      latency_ms={"mean": p95 / 2, "p50": p95 / 2, "p90": p95 * 0.9, "p95": p95, "p99": p95, "max": p95})


SLA = [parse_expression("*", "p95<500ms"), parse_expression("*", "error_rate<1%")]


def test_the_last_level_before_the_first_break_is_one_instance():
    levels = [level(100, 900, 120), level(200, 1700, 300), level(300, 2000, 650), level(400, 2100, 400)]
    cap = plan_capacity(levels, SLA, by="users", peak=2000, safety=1.5)
    assert cap.per_instance == 200 and cap.required_instances == 15 and not cap.never_broke  # ceil(3000 / 200)
    by_rps = plan_capacity(levels, SLA, by="rps", peak=10_000, safety=1.2)
    assert by_rps.per_instance == 1700 and by_rps.required_instances == 8  # ceil(12000 / 1700) = ceil(7.06)
    assert [v.held for v in cap.verdicts] == [True, True, False, True]  # a later recovery does not count


def test_a_run_that_never_broke_is_a_lower_bound_and_one_that_broke_at_once_has_no_capacity():
    fine = plan_capacity([level(10, 100, 50), level(20, 200, 60)], SLA, by="users", peak=40, safety=1.0)
    assert fine.never_broke and fine.per_instance == 20 and fine.required_instances == 2  # exactly 2, not 3
    broke = plan_capacity([level(10, 100, 900), level(20, 150, 950)], SLA, by="users", peak=40, safety=1.5)
    assert broke.sustained is None and broke.per_instance is None and broke.required_instances is None


def test_levels_of_the_ramp_down_are_not_the_climb():
    levels = [level(10, 100, 50), level(20, 200, 60), level(10, 90, 700)]
    assert [v.level.level for v in plan_capacity(levels, SLA, by="users", peak=1, safety=1).verdicts] == [10, 20]


@pytest.mark.parametrize("text", ["GET /x: p95<500ms", "p99.9<10ms", "requests>5"])
def test_what_a_level_cannot_judge_is_refused(text):
    spec = parse_cli_threshold(text) if ":" in text else parse_expression("*", text)
    with pytest.raises(ConfigError):
        check_sla([spec])
