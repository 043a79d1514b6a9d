"""compare: pure, on synthetic histories. Same distribution never flagged; shifted flagged."""
from __future__ import annotations

import json
import random
from importlib import resources

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surge.analysis.compare import RunData, Series, compare, noise_of
from surge.analysis.render import compare_dict, render_compare_json, render_compare_md


def run_of(label: str, endpoints: dict[str, list[float]], rps: float = 50.0, errors: float = 0.0) -> RunData:
    """A run whose endpoints have these per-interval p95s (p50 half, p99 1.5x); figures their mean."""
    series = {}
    for key, p95s in endpoints.items():
        intervals = {"p50": [v / 2 for v in p95s], "p95": list(p95s), "p99": [v * 1.5 for v in p95s],
                     "rps": [rps] * len(p95s), "error_rate": [errors] * len(p95s)}
        figures = {metric: sum(values) / len(values) for metric, values in intervals.items()}
        series[key] = Series(figures=figures, intervals=intervals)
    return RunData(label=label, series=series)


def noisy(rng: random.Random, centre: float, spread: float, n: int) -> list[float]:
    return [max(0.01, rng.gauss(centre, spread)) for _ in range(n)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), centre=st.floats(0.2, 500), cv=st.floats(0.0, 0.5), n=st.integers(5, 120))
def test_two_runs_of_one_distribution_are_hardly_ever_flagged(seed, centre, cv, n):
    """A statistical yardstick has a false-alarm rate; it must stay under 1% of unchanged pairs
    (here: of 200 pairs drawn from one distribution, at most 2 flagged on any of the 5 metrics)."""
    rng = random.Random(seed)
    flagged = 0
    for _ in range(200):
        base = run_of("b", {"GET /a": noisy(rng, centre, centre * cv, n)})
        cur = run_of("c", {"GET /a": noisy(rng, centre, centre * cv, n)})
        flagged += compare(base, cur).regressed
    assert flagged <= 2


def test_two_identical_runs_are_never_flagged():
    rng = random.Random(7)
    run = run_of("b", {"GET /a": noisy(rng, 5, 2, 30), "GET /b": [1.0] * 30})
    assert not compare(run, run).regressed


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32), centre=st.floats(0.2, 500), cv=st.floats(0.0, 0.3), n=st.integers(10, 120),
       factor=st.floats(3, 10))
def test_a_run_made_slower_is_flagged_on_that_endpoint_only(seed, centre, cv, n, factor):
    rng = random.Random(seed)
    same = noisy(rng, 1, 0.1, n)  # the very same intervals in both runs (two draws of one distribution
    # differ beyond the noise bar now and then: ~1% of pairs, the yardstick's stated false-positive rate)
    base = run_of("b", {"GET /slow": noisy(rng, centre, centre * cv, n), "GET /same": same})
    cur = run_of("c", {"GET /slow": noisy(rng, centre * factor, centre * factor * cv, n), "GET /same": list(same)})
    result = compare(base, cur, min_latency_change_ms=0)
    assert {r.series for r in result.regressions} == {"GET /slow"}
    assert {r.metric for r in result.regressions} == {"p50", "p95", "p99"}
    assert result.rows[0].regression  # regressions first


def test_a_change_within_tolerance_is_not_flagged_even_when_beyond_noise():
    base = run_of("b", {"GET /a": [10.0] * 10})
    cur = run_of("c", {"GET /a": [10.5] * 10})  # +5%, noise 0
    result = compare(base, cur, tolerance=0.10)
    assert not result.regressed
    assert compare(base, cur, tolerance=0.04, min_latency_change_ms=0.5).regressed


def test_a_latency_change_under_the_floor_is_not_a_regression():
    base = run_of("b", {"GET /a": [0.4] * 10})
    cur = run_of("c", {"GET /a": [0.55] * 10})  # +37%, noise 0: the run-to-run jitter of a loopback target
    assert not compare(base, cur).regressed
    assert {r.metric for r in compare(base, cur, min_latency_change_ms=0.05).regressions} == {"p50", "p95", "p99"}


def test_a_change_beyond_tolerance_but_within_noise_is_not_flagged():
    base = run_of("b", {"GET /a": [5.0, 15.0] * 5})
    cur = run_of("c", {"GET /a": [6.0, 16.0] * 5})  # +10% .. +20%, but the intervals swing by 10 ms
    rows = [r for r in compare(base, cur).rows if r.metric == "p95"]
    assert rows[0].relative == pytest.approx(0.1) and rows[0].noise > rows[0].delta
    assert not compare(base, cur, tolerance=0.05).regressed


def test_improvements_and_an_rps_rise_are_not_regressions():
    base = run_of("b", {"GET /a": [10.0] * 10}, rps=50)
    cur = run_of("c", {"GET /a": [5.0] * 10}, rps=80)
    result = compare(base, cur)
    assert not result.regressed and not any(r.worse for r in result.rows)


def test_an_rps_drop_and_new_errors_are_regressions():
    base = run_of("b", {"GET /a": [10.0] * 10}, rps=50, errors=0.0)
    cur = run_of("c", {"GET /a": [10.0] * 10}, rps=30, errors=0.05)
    result = compare(base, cur)
    assert {r.metric for r in result.regressions} == {"rps", "error_rate"}
    error_row = next(r for r in result.rows if r.metric == "error_rate")
    assert error_row.relative is None  # from 0: no relative change


def test_endpoints_in_one_run_only_are_added_or_removed_not_regressions():
    base = run_of("b", {"GET /a": [1.0] * 5, "GET /old": [1.0] * 5})
    cur = run_of("c", {"GET /a": [1.0] * 5, "GET /new": [900.0] * 5})
    result = compare(base, cur)
    assert result.added == ("GET /new",) and result.removed == ("GET /old",)
    assert not result.regressed and {r.series for r in result.rows} == {"GET /a"}


def test_without_history_the_noise_is_unknown_and_only_the_tolerance_applies():
    assert noise_of([1.0], [1.0, 2.0]) is None
    base = RunData("b", {"*": Series({"p95": 10.0})})
    cur = RunData("c", {"*": Series({"p95": 12.0})})
    (row,) = compare(base, cur).rows
    assert row.noise is None and row.regression


def test_a_metric_missing_on_one_side_is_skipped():
    base = RunData("b", {"*": Series({"rps": 10.0})})
    cur = RunData("c", {"*": Series({"rps": 10.0, "p95": 3.0})})
    assert [r.metric for r in compare(base, cur).rows] == ["rps"]


def test_compare_json_validates_against_its_schema_and_markdown_lists_regressions():
    schema = json.loads(resources.files("surge.outputs").joinpath("schema/compare.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    base = run_of("b", {"GET /a": [1.0] * 5, "GET /old": [1.0] * 5}, errors=0.0)
    cur = run_of("c", {"GET /a": [3.0] * 5, "GET /new": [1.0] * 5}, errors=0.1)
    result = compare(base, cur, min_latency_change_ms=0.5)
    doc = json.loads(render_compare_json(result))
    jsonschema.validate(doc, schema)
    assert doc == compare_dict(result) | {"rows": doc["rows"]}
    assert doc["regressed"] and doc["regressions"] == 4 and doc["added"] == ["GET /new"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**doc, "regressed": "yes"}, schema)
    md = render_compare_md(result)
    assert "4 regression(s)" in md and "| REGRESSION | `GET /a` | p95 |" in md and "`GET /old`" in md


def test_one_slow_interval_moves_the_whole_run_p99_but_is_not_a_regression():
    base = RunData("b", {"GET /a": Series({"p99": 2.6}, {"p99": [2.0, 2.5, 2.2, 2.6, 2.1, 2.4, 2.3, 2.2]})})
    cur = RunData("c", {"GET /a": Series({"p99": 26.0}, {"p99": [2.1, 2.4, 26.0, 2.5, 2.2, 2.3, 2.4, 2.1]})})
    (row,) = compare(base, cur).rows
    assert row.relative == pytest.approx(9.0) and row.shift == pytest.approx(3.0, abs=0.1)
    assert row.worse and not row.regression and row.noise > row.shift


def test_a_shift_against_the_whole_run_change_is_no_evidence():
    base = RunData("b", {"*": Series({"p95": 10.0}, {"p95": [12.0, 12.1] * 5})})
    cur = RunData("c", {"*": Series({"p95": 13.0}, {"p95": [10.0, 10.1] * 5})})
    (row,) = compare(base, cur).rows
    assert row.worse and row.shift < 0 and not row.regression
