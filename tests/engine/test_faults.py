"""A misbehaving target: every failure kind is counted exactly, and the run still completes.

The server reports what it did (resets, garbage, hangs, statuses), so each failure kind the
run reports is checked against the server's own count, not against a guess.
"""
from __future__ import annotations

import time

FAULTS_SCENARIO = """
    from surge import HttpUser, constant, task

    REFUSED = {refused!r}

    class Victim(HttpUser):
        wait_time = constant(0.02)  # keeps the refused-connect loop from spinning

        @task
        async def reset(self):
            await self.client.get("/reset")

        @task
        async def garbage(self):
            await self.client.get("/garbage")

        @task
        async def hang(self):
            await self.client.get("/hang")

        @task
        async def error(self):
            await self.client.get("/status/500")

        @task
        async def refused(self):
            await self.client.get(REFUSED + "/nothing-listens")
"""


def test_each_failure_kind_is_counted_as_the_server_saw_it(runner, target, refused_url):
    outcome = runner.run(FAULTS_SCENARIO.format(refused=refused_url), target.url, users=6, spawn_rate=100,
                         duration="3s", timeout="500ms", threshold=["*: error_rate <= 100%"])

    stats = target.stats()
    served, outcomes = stats["requests"], stats["outcomes"]
    summary = outcome.summary
    assert summary.status == "passed" and outcome.result.exit_code == 0  # failures alone do not fail a run

    expected_kinds = {
        "reset": ("/reset", outcomes["reset"]),
        "protocol": ("/garbage", outcomes["garbage"]),
        "timeout": ("/hang", outcomes["hang"]),
        "status": ("/status/500", stats["responses"].get("500", 0)),
    }
    for kind, (path, count) in expected_kinds.items():
        endpoint = outcome.endpoint("GET", path)
        assert count > 0, f"the scenario never hit {path}"
        assert summary.failures_by_kind[kind] == count, (kind, summary.failures_by_kind)
        assert endpoint.failures == endpoint.requests == count, (path, endpoint)
        assert endpoint.requests + endpoint.cancelled == served[f"GET {path}"], path
    refused = outcome.endpoint("GET", "/nothing-listens")
    assert refused.requests == refused.failures == summary.failures_by_kind["connect"] > 0
    assert set(summary.failures_by_kind) == {"reset", "protocol", "timeout", "status", "connect"}
    assert sum(summary.failures_by_kind.values()) == summary.total.failures == summary.total.requests

    # timed: responses (any status) and timeouts, the latter at the timeout; not timed: the rest
    hang = outcome.endpoint("GET", "/hang").latency_ms
    assert 495 <= hang.min <= hang.max <= 505, hang
    assert outcome.endpoint("GET", "/status/500").latency_ms.max < 500
    for path in ("/reset", "/garbage", "/nothing-listens"):
        assert outcome.endpoint("GET", path).latency_ms.max == 0, path
    kinds = {(f.name, f.kind) for f in summary.failures}
    assert kinds == {("/reset", "reset"), ("/garbage", "protocol"), ("/hang", "timeout"),
                     ("/status/500", "status"), ("/nothing-listens", "connect")}


def test_a_failing_threshold_is_the_only_way_to_exit_1(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, constant, task

        class Victim(HttpUser):
            wait_time = constant(0.01)

            @task
            async def error(self):
                await self.client.get("/status/500")
    """, target.url, users=2, duration="1s", threshold=["*: error_rate < 1%"])

    assert outcome.result.exit_code == 1
    assert outcome.summary.status == "failed"
    [result] = outcome.summary.thresholds
    assert not result.passed and result.actual == 1.0


def test_requests_in_flight_at_the_end_are_cancelled_not_failed(runner, target):
    """Requests still running when --graceful-stop runs out are reported as ``cancelled``, and
    ``requests + cancelled`` is still exactly what the server received."""
    started = time.monotonic()
    outcome = runner.run("""
        from surge import HttpUser, task

        class Patient(HttpUser):
            @task(3)
            async def slow(self):
                await self.client.get("/delay/3000")

            @task(1)
            async def quick(self):
                await self.client.get("/delay/100")
    """, target.url, users=4, spawn_rate=100, duration="1s", graceful_stop="500ms")
    elapsed = time.monotonic() - started

    served = target.stats()["requests"]
    summary = outcome.summary
    slow = outcome.endpoint("GET", "/delay/3000")
    assert slow.requests == 0  # none could finish: the run ended ~1.5 s after the first was sent
    assert slow.cancelled == served["GET /delay/3000"] > 0
    assert slow.failures == 0
    for e in summary.endpoints:
        assert e.requests + e.cancelled == served[f"{e.method} {e.name}"], e
    assert summary.total.cancelled == sum(e.cancelled for e in summary.endpoints)
    assert summary.total.cancelled <= 4  # at most one request in flight per user
    assert summary.failures_by_kind == {} and summary.total.failures == 0
    assert summary.status == "passed" and outcome.result.exit_code == 0
    assert elapsed < 3.5, f"graceful stop of 0.5 s, yet the run took {elapsed:.1f} s"  # without it: >= 4 s
    # the server saw each cancelled request's connection close with no answer sent
    deadline = time.monotonic() + 2
    while target.stats()["outcomes"]["unanswered"] < summary.total.cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert target.stats()["outcomes"]["unanswered"] == summary.total.cancelled
