"""Measurement accuracy against ground truth the target server knows exactly.

* Percentiles: ``/dist`` hands out delays from a deterministic cycle, so the server's request
  count ``n`` tells us exactly which delays were served; the reported percentiles must match
  the nearest-rank percentiles of those delays (within 1 ms + 2%: loopback and timer slack).
* Coordinated omission: ``/stall`` freezes for the last second of every five. An open workload
  keeps arriving on schedule and must report the stall as latency; a closed one cannot.
* Counts: what the run reports per endpoint is what the server received, to the request.
"""
from __future__ import annotations

import pytest
from hdrh.histogram import HdrHistogram

from support.target import TargetServer, expected_delays_ms, nearest_rank

#: 40% at 5 ms, 50% at 10 ms, 7% at 30 ms, 3% at 80 ms: cumulative 40/90/97/100 %, so p50, p95
#: and p99 each fall well inside one delay's band (10, 30 and 80 ms), never on a band's edge
#: where a tenth of a millisecond of jitter would flip the answer to the neighbouring delay.
DIST_SPEC = "5:40,10:50,30:7,80:3"
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


def within(actual: float, expected: float, abs_ms: float = 1.0, rel: float = 0.02) -> bool:
    return abs(actual - expected) <= abs_ms + rel * expected


def test_percentiles_match_the_delays_the_server_handed_out(runner, target):
    outcome = runner.run(f"""
        from surge import HttpUser, task

        class Reader(HttpUser):
            @task
            async def dist(self):
                await self.client.get("/dist?ms={DIST_SPEC}")
    """, target.url, users=10, spawn_rate=100, duration="4s")

    served = target.stats()["requests"]["GET /dist"]
    endpoint = outcome.endpoint("GET", "/dist")
    assert endpoint.requests + endpoint.cancelled == served
    assert endpoint.failures == 0
    assert served > 1000, "too few requests for the percentiles to mean anything"
    delays = expected_delays_ms(DIST_SPEC, served)
    for key, p in PERCENTILES.items():
        truth = nearest_rank(delays, p)
        reported = getattr(endpoint.latency_ms, key)
        assert within(reported, truth), f"{key}: reported {reported} ms, served {truth} ms (n={served})"
    assert outcome.summary.total.latency_ms.p50 == endpoint.latency_ms.p50  # one endpoint: same histogram


def test_counts_per_endpoint_and_errors_equal_the_servers(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, constant, task

        class Mixed(HttpUser):
            wait_time = constant(0.002)

            @task(3)
            async def ok(self):
                await self.client.get("/ok")

            @task(1)
            async def unavailable(self):
                await self.client.get("/status/503")
    """, target.url, users=5, spawn_rate=100, duration="2s")

    stats = target.stats()
    ok, bad = outcome.endpoint("GET", "/ok"), outcome.endpoint("GET", "/status/503")
    assert ok.requests + ok.cancelled == stats["requests"]["GET /ok"]
    assert bad.requests + bad.cancelled == stats["requests"]["GET /status/503"]
    assert ok.cancelled == bad.cancelled == 0  # /ok and /503 answer at once: nothing left in flight
    assert ok.failures == 0
    assert bad.failures == bad.requests == stats["responses"]["503"]
    assert outcome.summary.total.requests == stats["requests_total"]
    assert outcome.summary.total.failures == stats["responses"]["503"]
    assert outcome.summary.failures_by_kind == {"status": stats["responses"]["503"]}
    [group] = outcome.summary.failures
    assert (group.method, group.name, group.kind, group.count) == ("GET", "/status/503", "status", bad.failures)
    assert 2.0 < ok.requests / bad.requests < 4.5  # weights 3:1
    # no threshold is set, so the failed requests fail the run, as Locust's default does
    assert outcome.summary.status == "failed" and outcome.result.exit_code == 1


# -- coordinated omission ----------------------------------------------------------------------
STALL_PERIOD_S, STALL_S = 5.0, 1.0
STALL_RUN_S = 15.0  # three periods: exactly three seconds of stall, whatever the phase
STALL_RATE = 200.0

STALL_SCENARIO = """
    from surge import HttpUser, constant_pacing, task

    class Poller(HttpUser):
        wait_time = constant_pacing(0.05)  # closed runs: 10 users x 20/s = 200/s nominal

        @task
        async def stall(self):
            await self.client.get("/stall")
"""


@pytest.fixture(scope="module")
def stall_target():
    """A target of its own: /stall answers at once except in the last 1 s of every 5 s."""
    with TargetServer(stall_period_s=STALL_PERIOD_S, stall_s=STALL_S) as server:
        yield server


def count_at_or_above(encoded: str, ms: float) -> int:
    """Requests recorded at ``ms`` or slower, from an encoded HDR histogram (µs)."""
    h = HdrHistogram.decode(encoded)
    return sum(item.count_at_value_iterated_to for item in h.get_recorded_iterator()
               if item.value_iterated_to >= ms * 1000)


@pytest.mark.slow
def test_open_workload_reports_a_stalled_target_as_latency(runner, stall_target):
    """Iterations keep arriving at 200/s while the target stalls, and each is timed from its
    scheduled arrival. 20% of the run falls in a stall window, where a request waits for the
    rest of the window (uniform over 0..1 s): p90 is about 500 ms, p99 about 950 ms."""
    stall_target.reset_stats()
    outcome = runner.run(STALL_SCENARIO, stall_target.url, rate=STALL_RATE, duration=f"{STALL_RUN_S:g}s")

    endpoint = outcome.endpoint("GET", "/stall")
    latency = endpoint.latency_ms
    assert latency.p90 >= 400, latency
    assert latency.p99 >= 800, latency
    assert latency.max <= (STALL_S + 0.5) * 1000, latency  # nobody waits longer than one window
    scheduled = STALL_RATE * STALL_RUN_S
    assert abs(endpoint.requests - scheduled) <= 0.01 * scheduled
    assert endpoint.requests + endpoint.cancelled == stall_target.stats()["requests"]["GET /stall"]
    assert endpoint.failures == 0
    assert outcome.summary.dropped_iterations == 0  # max_users default max(100, 10 x rate) = 2000
    assert outcome.summary.workload == "open"
    assert endpoint.service_time_ms is not None  # kept beside the arrival-timed latency


@pytest.mark.slow
def test_closed_workload_hides_a_stalled_target_coordinated_omission(runner, stall_target):
    """The same target under a closed loop of 10 users pacing 200/s in total.

    A closed user sends its next request only after the previous one answered. When the target
    stalls, each of the 10 users has one request caught in the window and then *stops sending*
    until the window ends: the ~200 requests an open workload would have sent into that second
    are never sent, so they are never timed. Only ~10 slow samples per window reach the
    histogram out of ~800 per period, so p90 stays at loopback speed (a few ms) while the target
    was frozen 20% of the time. That is coordinated omission, and why the open workload is the
    one that tells the truth about a stalling target. The lost throughput shows in the count.
    """
    stall_target.reset_stats()
    outcome = runner.run(STALL_SCENARIO, stall_target.url, users=10, spawn_rate=100,
                         duration=f"{STALL_RUN_S:g}s")

    endpoint = outcome.endpoint("GET", "/stall")
    latency = endpoint.latency_ms
    assert latency.p90 < 100, latency  # vs >= 400 ms for the open workload
    nominal = STALL_RATE * STALL_RUN_S
    assert endpoint.requests < 0.9 * nominal  # ~1 s of sending lost per stall window
    windows = int(STALL_RUN_S // STALL_PERIOD_S) + 1  # + a window cut in two by the run's ends
    slow = count_at_or_above(outcome.result.histograms["GET /stall"], 100)
    assert 1 <= slow <= 10 * windows, f"{slow} requests saw the stall"
    assert endpoint.requests + endpoint.cancelled == stall_target.stats()["requests"]["GET /stall"]
    assert outcome.summary.dropped_iterations is None  # closed workloads drop nothing
