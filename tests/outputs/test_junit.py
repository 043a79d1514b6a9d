"""junit.xml: one test case per threshold, failures exactly for the failing ones, safe escaping."""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from surge.model.summary import ThresholdResult
from surge.outputs.junit import format_actual, render_junit
from surge.thresholds import parse_expression

from .conftest import PASSWORD


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def test_one_case_per_threshold_and_failures_for_the_failing(summary):
    root = parse(render_junit(summary))
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [f"{t.target}: {t.expression}" for t in summary.thresholds]
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert failed == [f"{t.target}: {t.expression}" for t in summary.thresholds if not t.passed]
    assert suite.get("tests") == "4" and suite.get("failures") == "3" and root.get("failures") == "3"
    assert suite.get("time") == "10.000"


def test_failure_message_names_actual_and_wanted(summary):
    suite = parse(render_junit(summary)).find("testsuite")
    by_name = {c.get("name"): c for c in suite.findall("testcase")}
    assert by_name["GET /v1/facts: p95 < 50ms"].find("failure").get("message") == "actual 95ms, wanted p95 < 50ms"
    typo = by_name["GET /v1/typo: error_rate < 1%"].find("failure")
    assert typo.get("message").startswith("actual nothing")
    assert "matched no request" in typo.text


def test_names_with_markup_characters_are_escaped(summary):
    root = parse(render_junit(summary))  # parsing at all proves the escaping
    names = [c.get("name") for c in root.iter("testcase")]
    assert 'POST /v1/<x> & "y": error_rate < 1%' in names
    failure = [c for c in root.iter("testcase") if c.get("name").startswith("POST")][0].find("failure")
    assert failure.get("message") == "actual 1.5%, wanted error_rate < 1%"


@pytest.mark.parametrize("status,fails", [("passed", False), ("failed", True), ("interrupted", False), ("error", True)])
def test_without_thresholds_one_case_run_completed(summary, status, fails):
    root = parse(render_junit(dataclasses.replace(summary, thresholds=(), status=status)))
    (case,) = root.iter("testcase")
    assert case.get("name") == "run completed"
    assert (case.find("failure") is not None) is fails
    assert root.get("tests") == "1" and root.get("failures") == ("1" if fails else "0")


def test_host_password_is_redacted(summary):
    text = render_junit(summary)
    assert PASSWORD not in text
    assert "alice:***@api.example.test" in text


@pytest.mark.parametrize("expression,actual,shown", [
    ("p99.9 < 100ms", 12.3456, "12.346ms"),
    ("mean<5ms", 4.0, "4ms"),
    ("rps > 100/s", 99.5, "99.5/s"),
    ("error_rate < 1%", 0.0123, "1.23%"),
    ("requests > 10", 7.0, "7"),
])
def test_format_actual(expression, actual, shown):
    stat = parse_expression("*", expression).stat
    assert format_actual(ThresholdResult("*", expression, actual, False, stat=stat)) == shown
