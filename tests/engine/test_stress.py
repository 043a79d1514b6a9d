"""The stress profile with --until-break: step up until a threshold breaks, report the breaking point."""
from __future__ import annotations

SCENARIO = """
from surge import HttpUser, task, constant_pacing

class Steady(HttpUser):
    wait_time = constant_pacing(0.5)   # each user: 2 requests/s, whatever the latency

    @task
    async def ok(self):
        await self.client.get("/ok")
"""


def test_until_break_stops_at_the_first_breach_and_reports_the_breaking_point(runner, target):
    """Steps of 100 users (each ~2 s once the 6-step plan is squeezed into 12 s). Users send 2
    requests/s, so step 1 (100 users) makes ~400 requests and step 2 (200 users) ~800 more:
    the cumulative ``requests < 700`` threshold breaks during step 2, at 200 users."""
    outcome = runner.run(SCENARIO, target.url, profile="stress", until_break=600, duration="12s",
                     threshold=["*: requests<700"])
    s = outcome.summary
    assert s.status == "failed" and outcome.result.exit_code == 1
    assert s.breaking_point is not None, s
    assert s.breaking_point["users"] == 200, s.breaking_point
    assert s.breaking_point["threshold"] == "*: requests<700"
    assert 2.0 <= s.breaking_point["elapsed_s"] < 4.0
    assert s.duration_s < 8.0  # it stopped at the break, not after all 600 users' steps
    assert s.aborted_by is None  # a breaking point is the goal of the run, not an abort
    assert s.total.requests + s.total.cancelled == target.stats()["requests"]["GET /ok"]
