"""k6 threshold names read as surge's: the three mapped metrics, tag filters, and refusals."""
from __future__ import annotations

import pytest

from surge.model.errors import ConfigError
from surge.thresholds import parse_cli_threshold, parse_table

MAPPED = [
    # as written in k6, read as surge's (target, canonical expression, stat, value)
    ("http_req_failed: rate<0.01", "*", "error_rate<1%", "error_rate", 0.01),
    ("http_req_failed: rate < 2%", "*", "error_rate<2%", "error_rate", 0.02),
    ("http_req_duration: p(95)<100", "*", "p95<100ms", "p95", 100.0),
    ("http_req_duration: p(99.9) < 1s", "*", "p99.9<1000ms", "p99.9", 1000.0),
    ("http_req_duration: avg<50", "*", "mean<50ms", "mean", 50.0),
    ("http_req_duration: med<20", "*", "p50<20ms", "p50", 20.0),
    ("http_req_duration: min>1", "*", "min>1ms", "min", 1.0),
    ("http_req_duration: max<2000", "*", "max<2000ms", "max", 2000.0),
    ("http_reqs: rate>100", "*", "rps>100/s", "rps", 100.0),
    ("http_reqs: count>1000", "*", "requests>1000", "requests", 1000.0),
    ("http_req_duration{name:/v1/facts}: p(95)<100", "/v1/facts", "p95<100ms", "p95", 100.0),
    ("http_req_duration{method:post, name:/v1/corrections}: p(99)<200", "POST /v1/corrections",
     "p99<200ms", "p99", 200.0),
    ("http_req_failed{name:'/v1/facts'}: rate<0.05", "/v1/facts", "error_rate<5%", "error_rate", 0.05),
]


@pytest.mark.parametrize("text, target, expression, stat, value", MAPPED)
def test_k6_names_are_read_as_surge_targets(text, target, expression, stat, value):
    spec = parse_cli_threshold(text)
    assert (spec.target, spec.expression, spec.stat) == (target, expression, stat)
    assert spec.value == pytest.approx(value)
    assert spec.written == " ".join(text.split())  # what was written, for the one notice


def test_k6_names_in_a_thresholds_table():
    specs = parse_table({"http_req_duration": ["p(95)<100", "p(99)<300"], "http_req_failed": "rate<0.01"},
                        "k6.toml")
    assert [s.label for s in specs] == ["*: p95<100ms", "*: p99<300ms", "*: error_rate<1%"]


REFUSED = [
    ("iteration_duration: p(95)<100", ["k6's iteration_duration has no surge counterpart",
                                       "http_req_duration, http_req_failed, http_reqs"]),
    ("data_received: count>1", ["k6's data_received has no surge counterpart"]),
    ("http_req_waiting: p(95)<100", ["no surge counterpart"]),
    ("http_req_duration{status:200}: p(95)<100", ["cannot filter http_req_duration on 'status:200'",
                                                  "name", "method"]),
    ("http_req_duration{expected_response:true}: p(95)<100", ["cannot filter"]),
    ("http_req_duration{method:GET}: p(95)<100", ["a method with a name", "name:"]),
    ("http_req_duration: count>10", ["'count' does not apply to k6's http_req_duration",
                                     "avg, min, med, max or p(N)"]),
    ("http_reqs: p(95)<10", ["does not apply to k6's http_reqs", "rate or count"]),
    ("http_req_failed: count<10", ["use rate"]),
    ("http_req_failed: rate<1", ["a bare error_rate is a fraction", "1%", "0.01",
                                 "k6's http_req_failed rate is surge's *: error_rate"]),
    ("http_req_failed: rate<0", ["never below 0%", "error_rate<=0%"]),
]


@pytest.mark.parametrize("text, words", REFUSED)
def test_k6_names_without_a_meaning_are_refused_with_a_hint(text, words):
    with pytest.raises(ConfigError) as err:
        parse_cli_threshold(text)
    message = str(err.value)
    assert message.startswith(f"threshold '{text}' (--threshold): ")
    for word in words:
        assert word in message


@pytest.mark.parametrize("text, stat", [
    ("*: count>10", "requests"),        # on requests count can only be requests
    ("GET /v1/facts: count>10", "requests"),
    ("*: rate<1%", "error_rate"),       # a share of requests: the failed one
    ("GET /v1/facts: rate>10/s", "rps"),
    ("*: p(95)<100", "p95"),
    ("*: med<100", "p50"),
    ("*: avg<100", "mean"),
    ("checkout: count>10", "count"),    # a NAME may be a custom metric: judged when known
])
def test_k6_stat_spellings_on_surge_targets(text, stat):
    spec = parse_cli_threshold(text)
    assert spec.stat == stat and spec.written == ""


def test_a_bare_rate_on_requests_is_ambiguous():
    with pytest.raises(ConfigError, match=r"'rate' is either error_rate or rps; write error_rate<1%.*rps>100/s"):
        parse_cli_threshold("*: rate<0.01")


def test_a_custom_metric_may_still_be_named_like_anything_else():
    assert parse_cli_threshold("http_checkout: p(95)<100").target == "http_checkout"
