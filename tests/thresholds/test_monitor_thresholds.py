"""Thresholds on monitor values: a monitor's summary field as the stat, its name as the target."""
from __future__ import annotations

import pytest

from surge.metrics.aggregate import RunStats
from surge.model.errors import ConfigError
from surge.thresholds.evaluate import evaluate
from surge.thresholds.parse import parse_cli_threshold


def judged(text: str, monitors: dict) -> tuple:
    stats = RunStats()
    stats.monitors = monitors
    [r] = evaluate([parse_cli_threshold(text)], stats, 10.0)
    return r.passed, r.actual, r.message


def test_a_monitor_field_is_judged_as_the_section_has_it():
    sections = {"target": {"rss_growth_mb_per_min": 12.5, "fds_max": 40},
                "db": {"connections_used_pct_max": 85.0, "cache_hit_ratio": 0.995},
                "redis": {"blocked_clients_max": 0}}
    assert judged("target: rss_growth_mb_per_min<5", sections) == (False, 12.5, "")
    assert judged("target: fds_max < 1000", sections) == (True, 40.0, "")
    assert judged("db: connections_used_pct_max<80", sections) == (False, 85.0, "")
    assert judged("db: connections_used_pct_max<80%", sections) == (False, 85.0, "")  # a pct field is in %
    assert judged("db: cache_hit_ratio>0.99", sections) == (True, 0.995, "")
    assert judged("db: cache_hit_ratio > 99.9%", sections) == (False, 0.995, "")  # % on a ratio is /100
    assert judged("redis: blocked_clients_max<1", sections) == (True, 0.0, "")


def test_a_missing_monitor_field_or_value_fails_with_what_to_do():
    assert judged("db: connections_max<80", {}) == (False, None, "no db monitor ran; pass --db postgresql://...")
    passed, actual, message = judged("target: rss_growth<5", {"target": {"rss_growth_mb_per_min": 1.0,
                                                                        "verdict": "healthy"}})
    assert (passed, actual) == (False, None)
    assert message == "the target monitor has no 'rss_growth'; known: rss_growth_mb_per_min"
    assert judged("db: cache_hit_ratio>0.9", {"db": {"cache_hit_ratio": None}}) == (
        False, None, "the db monitor has no value for cache_hit_ratio (yet)")


def test_latency_stats_on_a_monitor_name_stay_request_stats():
    spec = parse_cli_threshold("target: p95<50ms")  # an endpoint named "target"
    assert (spec.stat, spec.value) == ("p95", 50.0)


@pytest.mark.parametrize("text", ["db: connections_max<80 furlongs", "redis: ops_per_s"])
def test_a_bad_monitor_expression_is_refused(text):
    with pytest.raises(ConfigError):
        parse_cli_threshold(text)
