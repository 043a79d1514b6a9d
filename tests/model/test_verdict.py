"""The verdict: a stress run's breaking point fails the run even when the totals pass."""
from __future__ import annotations

from surge.model.summary import ThresholdResult
from surge.model.verdict import RunFacts, decide

PASSED = (ThresholdResult("*", "mean<50ms", 46.0, True, stat="mean"),)
FACTS = dict(http_requests=240, requests=240, users_started=6, thresholds=PASSED)


def test_a_breaking_point_fails_the_run_whatever_the_totals():
    broke = "breaking point at 6 users: *: mean<50ms failed on step 3's window (actual 60.5) at 6s"
    assert decide(RunFacts(**FACTS, broke=broke)) == ("failed", 1, (broke,))
    assert decide(RunFacts(**FACTS)) == ("passed", 0, ())


def test_a_breaking_point_comes_first_among_the_reasons():
    failed = (ThresholdResult("*", "p95<50ms", 61.0, False, stat="p95"),)
    status, code, reasons = decide(RunFacts(**{**FACTS, "thresholds": failed}, broke="breaking point at 6 users"))
    assert (status, code, reasons) == ("failed", 1, ("breaking point at 6 users", "1 of 1 thresholds failed"))
