"""junit.xml: the thresholds as test cases, so any CI shows an SLA breach like a failed test.

One test case per threshold, named ``TARGET: EXPRESSION`` (what the user wrote), failing with
``actual X, wanted EXPRESSION``. A run without thresholds still yields one case, "run
completed", which fails only when the run itself errored: CI then sees a red run rather
than an empty, green report. ElementTree does the escaping, so endpoint names and messages
with ``<``, ``&`` or quotes cannot break the XML.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from ..model.redact import redact_summary
from ..model.kinds import RunStatus
from ..model.summary import RunSummary, ThresholdResult

SUITES_NAME = "surge"
CLASSNAME = "surge.thresholds"
_LATENCY_STAT = re.compile(r"(min|mean|max|median|p\d+(\.\d+)?)$")


def render_junit(summary: RunSummary) -> str:
    """The JUnit XML document (with declaration) for ``summary``; credentials redacted."""
    summary = redact_summary(summary)
    time_s = f"{summary.duration_s:.3f}"
    suites = ET.Element("testsuites", name=SUITES_NAME)
    suite = ET.SubElement(suites, "testsuite", name=summary.scenario, timestamp=summary.started_at, time=time_s)
    props = ET.SubElement(suite, "properties")
    for key, value in (("status", summary.status), ("profile", summary.profile or ""),
                       ("host", summary.host), ("workload", summary.workload),
                       ("aborted_by", summary.aborted_by or "")):
        ET.SubElement(props, "property", name=key, value=value)

    if summary.thresholds:
        failures = sum(_threshold_case(suite, t) for t in summary.thresholds)
        tests = len(summary.thresholds)
    else:
        failures = _completed_case(suite, summary)
        tests = 1
    for element in (suites, suite):
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", "0")
        element.set("time", time_s)
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


def _threshold_case(suite: ET.Element, t: ThresholdResult) -> int:
    """Add the test case for one threshold; return 1 if it failed."""
    case = ET.SubElement(suite, "testcase", name=f"{t.target}: {t.expression}", classname=CLASSNAME)
    if t.passed:
        return 0
    failure = ET.SubElement(case, "failure", type="ThresholdFailed",
                            message=f"actual {format_actual(t)}, wanted {t.expression}")
    failure.text = t.message or None
    return 1


def _completed_case(suite: ET.Element, summary: RunSummary) -> int:
    """The one case of a run without thresholds: it fails when the run errored or failed
    (requests failed, as Locust judges a run with no thresholds)."""
    case = ET.SubElement(suite, "testcase", name="run completed", classname="surge.run")
    if summary.status not in (RunStatus.ERROR, RunStatus.FAILED):
        return 0
    kind, message = (("RunError", "the run ended with an error") if summary.status == RunStatus.ERROR
                     else ("RunFailed", "requests failed"))
    failure = ET.SubElement(case, "failure", type=kind, message=message)
    failure.text = "; ".join((*summary.status_reasons, *summary.warnings)) or None
    return 1


def format_actual(t: ThresholdResult) -> str:
    """The measured value in the threshold's own terms: ms for latency, % for error_rate."""
    if t.actual is None:
        return "nothing (no request matched the target)"
    stat = t.stat
    if stat == "error_rate":
        return f"{_trim(t.actual * 100, 4)}%"
    if stat == "rps":
        return f"{_trim(t.actual, 3)}/s"
    if _LATENCY_STAT.match(stat):
        return f"{_trim(t.actual, 3)}ms"
    return _trim(t.actual, 6)


def _trim(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
