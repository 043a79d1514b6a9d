"""summary.json: DESIGN's keys, schema first, real percentiles, and the schema catches mistakes."""
from __future__ import annotations

import copy
import dataclasses
import json
from importlib import resources

import jsonschema
import pytest

from surge.model.summary import SCHEMA_VERSION, Latency
from surge.outputs.summary_json import render_summary_json

from .conftest import PASSWORD

LATENCY_KEYS = ["min", "mean", "p50", "p66", "p75", "p80", "p90", "p95", "p98", "p99", "p999", "p9999", "max"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    text = resources.files("surge.outputs").joinpath("schema/summary.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def doc(summary) -> dict:
    return json.loads(render_summary_json(summary))


def test_real_output_validates(validator, doc):
    validator.validate(doc)


def test_schema_version_comes_first_and_design_keys_are_present(doc):
    keys = list(doc)
    assert keys[0] == "schema" and doc["schema"] == SCHEMA_VERSION
    for key in ("status", "scenario", "profile", "host", "started_at", "duration_s", "total", "endpoints",
                "failures_by_kind", "failures", "thresholds", "generator", "dropped_iterations",
                "custom_metrics", "warnings", "breaking_point", "aborted_by", "workload"):
        assert key in doc, key
    endpoint = doc["endpoints"][0]
    for key in ("method", "name", "requests", "failures", "cancelled", "rps", "error_rate", "latency_ms"):
        assert key in endpoint, key
    assert list(endpoint["latency_ms"]) == LATENCY_KEYS
    assert set(doc["generator"]) >= {"processes", "workers_lost", "cpu_percent_max", "saturated"}
    assert set(doc["thresholds"][0]) >= {"target", "expression", "actual", "passed", "message"}


def test_values_are_real_and_rounded(doc):
    facts = next(e for e in doc["endpoints"] if e["name"] == "/v1/facts")
    assert facts["requests"] == 1000 and facts["failures"] == 10
    assert facts["error_rate"] == 0.01 and facts["rps"] == 100.0
    assert abs(facts["latency_ms"]["p95"] - 95.0) <= 0.1
    assert all(round(v, 3) == v for v in facts["latency_ms"].values())
    assert doc["failures_by_kind"] == {"connect": 3, "exception": 2, "status": 10}
    assert doc["generator"]["cpu_percent_max"] == 71.3  # 71.26, to one decimal
    assert doc["dropped_iterations"] is None  # closed workload
    unmatched = doc["thresholds"][2]
    assert unmatched["actual"] is None and "matched no request" in unmatched["message"]


def test_output_is_stable(summary):
    assert render_summary_json(summary) == render_summary_json(summary)


def test_host_password_is_redacted(summary):
    text = render_summary_json(summary)
    assert PASSWORD not in text
    assert json.loads(text)["host"] == "http://alice:***@api.example.test:8443"


def test_open_workload_and_extras_validate(validator, summary):
    total = dataclasses.replace(summary.total, service_time_ms=Latency(min=1.0, max=2.0))
    s = dataclasses.replace(summary, workload="open", dropped_iterations=7, total=total, status="interrupted",
                            breaking_point={"users": 400, "rps": 812.123456789}, aborted_by="*: p95 < 50ms")
    doc = json.loads(render_summary_json(s))
    validator.validate(doc)
    assert doc["dropped_iterations"] == 7
    assert doc["total"]["service_time_ms"]["max"] == 2.0


@pytest.mark.parametrize("path", [
    ("status",), ("endpoints", 0, "latency_ms", "p99"), ("generator", "saturated"), ("thresholds", 0, "passed"),
    ("total", "requests"), ("schema",),
])
def test_schema_rejects_a_missing_key(validator, doc, path):
    broken = copy.deepcopy(doc)
    parent = broken
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


@pytest.mark.parametrize("path,value", [
    (("status",), "ok"),
    (("status",), None),
    (("endpoints", 0, "requests"), "1000"),
    (("endpoints", 0, "latency_ms", "p95"), "95ms"),
    (("failures", 0, "kind"), "oops"),
    (("failures_by_kind",), {"weird": 1}),
    (("duration_s",), -1),
    (("schema",), 99),
])
def test_schema_rejects_a_wrong_value(validator, doc, path, value):
    broken = copy.deepcopy(doc)
    parent = broken
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_every_status_validates(validator, summary):
    for status in ("passed", "failed", "interrupted", "error"):
        validator.validate(json.loads(render_summary_json(dataclasses.replace(summary, status=status))))
