"""The worker's Recorder scrubs what leaves the worker: failure messages and warnings, by the
secrets its redactor knows and by pattern, once per distinct message at the flush."""
from __future__ import annotations

from surge.metrics.recorder import Recorder
from surge.model.redact import Redactor


def test_failure_messages_and_warnings_leave_the_worker_scrubbed():
    rec = Recorder(Redactor(headers=[{"Authorization": "Bearer tok-2468"}]))
    series = rec.series("GET", "/x")
    for _ in range(3):
        series.requests += 1
        series.fail("check", "rejected tok-2468")
    rec.task_error("U.t", "ValueError: bad /y?api_key=k-1357")
    rec.warn("custom metric 'm' could not be sent (KeyError: tok-2468)")
    assert series.errors == {("check", "rejected tok-2468"): 3}  # the hot path records as it was
    snaps, warnings = rec.flush()
    errors = {(s.method, s.name): s.errors for s in snaps}
    assert errors == {("GET", "/x"): [["check", "rejected ***", 3]],
                      ("TASK", "U.t"): [["exception", "ValueError: bad /y?api_key=***", 1]]}
    assert warnings == ["custom metric 'm' could not be sent (KeyError: ***)"]


def test_a_secret_learnt_during_the_run_is_scrubbed_from_the_next_flush():
    rec = Recorder()
    series = rec.series("GET", "/x")
    series.requests += 1
    series.fail("check", "rejected tok-9753")
    rec.redactor.learn_headers({"X-Api-Key": "tok-9753"})  # what a client does with a request's headers
    [snap], _ = rec.flush()
    assert snap.errors == [["check", "rejected ***", 1]]
