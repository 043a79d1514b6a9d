"""Threshold expressions: every stat, unit and operator; errors that say what is wrong."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surge.model.errors import ConfigError
from surge.thresholds import (
    parse_cli_threshold,
    parse_expression,
    parse_table,
    percentile_label,
    percentile_of,
)

VALID = [
    # text, stat, op, normalised value
    ("p95 < 50ms", "p95", "<", 50.0),
    ("p95<50ms", "p95", "<", 50.0),
    ("  p95   <=   50  ms ", "p95", "<=", 50.0),
    ("p95 < 50", "p95", "<", 50.0),  # bare latency: ms
    ("p95 < 0.5s", "p95", "<", 500.0),
    ("p(95) < 1s", "p95", "<", 1000.0),  # k6 style
    ("p( 99.9 ) < 2s", "p99.9", "<", 2000.0),
    ("p99.9 > 1", "p99.9", ">", 1.0),
    ("p99.99 >= 3ms", "p99.99", ">=", 3.0),
    ("P50 < 10", "p50", "<", 10.0),
    ("p100 < 10", "p100", "<", 10.0),
    ("med < 10", "p50", "<", 10.0),
    ("min > 1ms", "min", ">", 1.0),
    ("mean < 20", "mean", "<", 20.0),
    ("avg < 20", "mean", "<", 20.0),
    ("max < 1.5s", "max", "<", 1500.0),
    ("rps > 100", "rps", ">", 100.0),
    ("rps >= 100/s", "rps", ">=", 100.0),
    ("rps >= 100 /s", "rps", ">=", 100.0),
    ("error_rate < 1%", "error_rate", "<", 0.01),
    ("error_rate < 0.01", "error_rate", "<", 0.01),
    ("error_rate <= 0", "error_rate", "<=", 0.0),
    ("error_rate <= 100%", "error_rate", "<=", 1.0),  # always passes: how expected failures pass
    ("error_rate >= 100%", "error_rate", ">=", 1.0),
    ("requests >= 0", "requests", ">=", 0.0),
    ("requests > 1000", "requests", ">", 1000.0),
    ("failures < 5", "failures", "<", 5.0),
    ("count > 10", "count", ">", 10.0),
    ("rate > 95%", "rate", ">", 0.95),
    ("rate > 0.95", "rate", ">", 0.95),
    ("rate > 20/s", "rate", ">", 20.0),
    ("p95 < 1e2", "p95", "<", 100.0),
]


@pytest.mark.parametrize("text, stat, op, value", VALID)
def test_valid_expressions(text, stat, op, value):
    spec = parse_expression("checkout", text)  # a NAME: an endpoint or a custom metric
    assert (spec.target, spec.stat, spec.op) == ("checkout", stat, op)
    assert spec.value == pytest.approx(value)
    assert spec.expression == " ".join(text.split())
    assert spec.abort_on_fail is False
    assert spec.written == ""


INVALID = [
    # text, words the message must contain
    ("p95 << 5ms", ["unknown operator '<<'", "< <= > >="]),
    ("p95 == 5ms", ["unknown operator '=='", "never exactly equal"]),
    ("p95 = 5ms", ["unknown operator '='"]),
    ("p95 != 5ms", ["unknown operator '!='"]),
    ("p95 =< 5ms", ["unknown operator '=<'"]),
    ("p95 5ms", ["missing operator"]),
    ("p95 <", ["expected a number"]),
    ("p95 < -5", ["expected a number"]),
    ("p95 < fast", ["expected a number"]),
    ("", ["expected 'STAT OP VALUE'"]),
    ("< 5", ["expected 'STAT OP VALUE'"]),
    ("latency < 5", ["unknown statistic 'latency'", "pN"]),
    ("p(abc) < 5", ["unknown statistic"]),
    ("p999 < 5", ["outside (0, 100]", "write p99.9"]),
    ("p9999 < 5", ["write p99.99"]),
    ("p0 < 5", ["outside (0, 100]"]),
    ("p150 < 5", ["outside (0, 100]"]),
    ("p95 < 5%", ["unit '%' does not fit p95", "ms or s"]),
    ("p95 < 5m", ["unit 'm' does not fit p95"]),
    ("p95 < 5ms extra", ["unit 'msextra'"]),
    ("rps > 5ms", ["unit 'ms' does not fit rps"]),
    ("error_rate < 5ms", ["unit 'ms' does not fit error_rate", "%"]),
    ("error_rate < 5", ["fraction", "5%"]),
    ("requests > 5%", ["does not fit requests", "a bare number"]),
    ("count > 5s", ["does not fit requests"]),  # count on METHOD NAME is k6's word for requests
    # a bare error_rate of 1 or more is 100% or more: a percentage was meant
    ("error_rate < 1", ["a bare error_rate is a fraction (0..1), so 1 means 100%", "write 1%", "or 0.01"]),
    ("error_rate <= 1.0", ["so 1 means 100%"]),
    # never passes: < against the least a stat can be, > against the most
    ("error_rate < 0%", ["error_rate is never below 0%", "can never pass", "error_rate<=0%"]),
    ("error_rate < 0", ["can never pass", "error_rate<=0%"]),
    ("error_rate > 100%", ["never above 100%", "can never pass", "error_rate>=100%"]),
    ("error_rate >= 101%", ["can never pass"]),
    ("rps < 0", ["rps is never below 0/s", "can never pass", "rps<=0/s"]),
    ("rps < 0/s", ["can never pass"]),
    ("p95 < 0ms", ["p95 is never below 0ms", "can never pass", "a bound above 0"]),
    ("p99.9 < 0s", ["can never pass"]),
    ("mean < 0", ["can never pass"]),
    ("failures < 0", ["failures is never below 0", "failures<=0"]),
    ("requests < 0", ["requests is never below 0", "requests<=0"]),
]


@pytest.mark.parametrize("text, words", INVALID)
def test_invalid_expressions_say_what_is_wrong(text, words):
    with pytest.raises(ConfigError) as err:
        parse_expression("GET /x", text, source="sla.toml")
    message = str(err.value)
    assert message.startswith(f"threshold 'GET /x: {text}' (sla.toml): ")
    for word in words:
        assert word in message


def test_the_documented_error_message():
    with pytest.raises(ConfigError) as err:
        parse_expression("GET /x", "p95 << 5ms", source="sla.toml")
    assert str(err.value) == "threshold 'GET /x: p95 << 5ms' (sla.toml): unknown operator '<<'; use one of < <= > >="


def test_empty_target_and_non_string_expression():
    with pytest.raises(ConfigError, match="target is empty"):
        parse_expression("  ", "p95<5")
    with pytest.raises(ConfigError, match="expected a string"):
        parse_expression("*", 5)


def test_target_whitespace_is_collapsed():
    assert parse_expression("  GET   /v1/facts ", "p95<5").target == "GET /v1/facts"


# -- --threshold ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, target, stat",
    [
        ("GET /v1/facts: p95<50ms", "GET /v1/facts", "p95"),
        ("*:error_rate<1%", "*", "error_rate"),
        ("GET /items/{id:int}: p99 < 1s", "GET /items/{id:int}", "p99"),  # the LAST ':' splits
        ("checkout_time: p(90) < 300", "checkout_time", "p90"),
    ],
)
def test_cli_threshold(text, target, stat):
    spec = parse_cli_threshold(text)
    assert (spec.target, spec.stat) == (target, stat)
    assert spec.label == f"{target}: {spec.expression}"


def test_cli_threshold_needs_a_target():
    with pytest.raises(ConfigError, match=r"--threshold.*expected 'TARGET: EXPRESSION'"):
        parse_cli_threshold("p95<50ms")
    with pytest.raises(ConfigError, match=r"\(--threshold\): unknown operator"):
        parse_cli_threshold("*: p95 ~ 5")


# -- [thresholds] tables -----------------------------------------------------------------------
def test_table_forms():
    table = {
        "*": ["error_rate < 1%", "p95 < 300ms"],
        "GET /v1/facts": "p95 < 50ms",
        "POST /v1/corrections": [{"threshold": "p99<100ms", "abort_on_fail": True}, "p95<80ms"],
        "GET /v1/history": {"threshold": "max < 2s"},
    }
    specs = parse_table(table, "sla.toml")
    assert [(s.target, s.stat, s.value, s.abort_on_fail) for s in specs] == [
        ("*", "error_rate", 0.01, False),
        ("*", "p95", 300.0, False),
        ("GET /v1/facts", "p95", 50.0, False),
        ("POST /v1/corrections", "p99", 100.0, True),
        ("POST /v1/corrections", "p95", 80.0, False),
        ("GET /v1/history", "max", 2000.0, False),
    ]


def test_table_level_abort_on_fail_is_a_default_entries_may_override():
    table = {"abort_on_fail": True, "*": ["p95<5", {"threshold": "p99<9", "abort_on_fail": False}]}
    assert [s.abort_on_fail for s in parse_table(table, "f.toml")] == [True, False]


@pytest.mark.parametrize(
    "table, words",
    [
        ({"*": 5}, ["5 is not an expression", "f.toml"]),
        ({"*": [{"threshold": "p95<5", "abort": True}]}, ["is not valid", "abort_on_fail"]),
        ({"*": [{"abort_on_fail": True}]}, ["is not valid"]),
        ({"*": {"threshold": "p95<5", "abort_on_fail": "yes"}}, ["is not valid"]),
        ({"abort_on_fail": "yes", "*": "p95<5"}, ["thresholds.abort_on_fail", "true or false"]),
        ({"GET /x": "p95 <> 5"}, ["threshold 'GET /x: p95 <> 5' (f.toml)", "unknown operator"]),
        (["p95<5"], ["expected a table"]),
    ],
)
def test_bad_tables(table, words):
    with pytest.raises(ConfigError) as err:
        parse_table(table, "f.toml")
    for word in words:
        assert word in str(err.value)


# -- percentiles as properties ------------------------------------------------------------------
percentiles = st.decimals(min_value="0.0001", max_value=100, places=4).map(float).filter(lambda p: p > 0)


@given(percentiles)
def test_any_percentile_round_trips_its_label(p):
    label = percentile_label(p)
    spec = parse_expression("*", f"{label} < 5ms")
    assert spec.stat == label
    assert percentile_of(spec.stat) == p
    assert parse_expression("*", f"p({p}) < 5").stat == label


@given(st.sampled_from(["<", "<=", ">", ">="]), st.floats(1e-3, 1e6, allow_nan=False), st.sampled_from(["", " "]))
def test_every_operator_and_spacing(op, value, space):
    spec = parse_expression("*", f"p95{space}{op}{space}{value!r}ms")
    assert spec.op == op
    assert spec.value == pytest.approx(value)
