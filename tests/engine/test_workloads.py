"""Workload semantics (DESIGN.md): stages, user classes, tags, setup/teardown, custom metrics,
dropped iterations, the exact split across workers and LoadTestShape, in real short runs."""
from __future__ import annotations

import time

import asyncio
import json
import math
import signal

from surge.model.events import IntervalStats, StageChanged
from surge.model.plan import ClosedWorkload, Stage
from surge.model.schedule import level_at

OK_SCENARIO = """
    from surge import HttpUser, constant, task

    class Browser(HttpUser):
        wait_time = constant(0.05)

        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def users_by_second(outcome) -> dict[int, int]:
    """VUs alive at each whole-second interval boundary, as IntervalStats reported them."""
    return {round(e.elapsed_s): e.users for e in outcome.of_type(IntervalStats)
            if abs(e.elapsed_s - round(e.elapsed_s)) < 1e-6}


def test_closed_stages_ramp_users_as_planned(runner, target):
    stages = (Stage(2, 8), Stage(1, 8), Stage(1, 2), Stage(1, 2))  # up 0->8, hold, down to 2, hold
    plan = runner.plan(runner.write(OK_SCENARIO), target.url)
    plan = plan.replace(workload=ClosedWorkload(stages))
    outcome = runner.execute(plan)

    seen = users_by_second(outcome)
    assert set(seen) >= {1, 2, 3, 4}, seen
    for second in (1, 2, 3, 4):
        planned = math.floor(level_at(stages, second))  # 4, 8, 8, 2
        assert abs(seen[second] - planned) <= 1, (second, seen, planned)
    assert seen[3] == 8  # mid-hold: exactly the plan
    changes = [(e.stage, e.target) for e in outcome.of_type(StageChanged)]
    assert changes[:3] == [(0, 8), (1, 8), (2, 2)], changes
    assert outcome.of_type(IntervalStats)[-1].target == 2  # the wind-down: the level the plan ended at
    assert outcome.summary.status == "passed"


def test_user_classes_share_users_by_weight(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, constant, task

        class Reader(HttpUser):
            weight = 3
            wait_time = constant(0.02)

            @task
            async def read(self):
                await self.client.get("/status/200")

        class Writer(HttpUser):
            weight = 1
            wait_time = constant(0.02)

            @task
            async def write(self):
                await self.client.post("/status/201")
    """, target.url, users=8, spawn_rate=100, duration="2s")

    served = target.stats()["requests"]
    reads, writes = served["GET /status/200"], served["POST /status/201"]
    assert outcome.endpoint("GET", "/status/200").requests == reads
    assert outcome.endpoint("POST", "/status/201").requests == writes
    assert 2.4 <= reads / writes <= 3.6, (reads, writes)  # 6 readers, 2 writers
    assert outcome.summary.users.by_class == {"Reader": 6, "Writer": 2}
    live = [e.users_by_class for e in outcome.of_type(IntervalStats)]
    assert live[0] == {"Reader": 6, "Writer": 2} and live[-1] == {"Reader": 0, "Writer": 0}  # after the stop


TAGGED_SCENARIO = """
    from surge import HttpUser, constant, tag, task

    class Tagged(HttpUser):
        wait_time = constant(0.02)

        @tag("read")
        @task
        async def read(self):
            await self.client.get("/status/200")

        @tag("write")
        @task
        async def write(self):
            await self.client.post("/status/201")

        @task
        async def plain(self):
            await self.client.get("/ok")
"""


def test_tags_select_tasks(runner, target):
    outcome = runner.run(TAGGED_SCENARIO, target.url, users=2, duration="1s", tags=["read"])
    assert set(target.stats()["requests"]) == {"GET /status/200"}
    assert [(e.method, e.name) for e in outcome.summary.endpoints] == [("GET", "/status/200")]


def test_exclude_tags_drop_tasks(runner, target):
    runner.run(TAGGED_SCENARIO, target.url, users=2, duration="1s", exclude_tags=["write"])
    assert set(target.stats()["requests"]) == {"GET /status/200", "GET /ok"}


HOOKS_SCENARIO = """
    import json
    from pathlib import Path
    from surge import HttpUser, constant, task

    LOG = Path({log!r})

    def setup(host):
        with LOG.open("a") as f:
            f.write(json.dumps({{"hook": "setup", "host": host}}) + "\\n")
        return {{"status": 207, "token": "from-setup"}}

    def teardown(host, data):
        with LOG.open("a") as f:
            f.write(json.dumps({{"hook": "teardown", "data": data}}) + "\\n")

    class Consumer(HttpUser):
        wait_time = constant(0.05)

        @task
        async def use_data(self):
            assert self.data["token"] == "from-setup"
            await self.client.get(f"/status/{{self.data['status']}}")
"""


def hook_log(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_setup_data_reaches_users_and_teardown_runs_once(runner, target, tmp_path):
    log = tmp_path / "hooks.jsonl"
    outcome = runner.run(HOOKS_SCENARIO.format(log=str(log)), target.url, users=3, duration="1s", workers=2)

    served = target.stats()["requests"]
    assert set(served) == {"GET /status/207"}  # every VU of both workers saw setup()'s return value
    assert outcome.summary.failures_by_kind == {}  # the task's assert on self.data never failed
    entries = hook_log(log)
    assert [e["hook"] for e in entries] == ["setup", "teardown"]  # once each, in the coordinator
    assert entries[0]["host"] == target.url
    assert entries[1]["data"] == {"status": 207, "token": "from-setup"}


def test_teardown_runs_after_an_interrupt(runner, target, tmp_path):
    log = tmp_path / "hooks.jsonl"
    plan = runner.plan(runner.write(HOOKS_SCENARIO.format(log=str(log))), target.url, users=3, duration="30s")

    def interrupt_soon(run) -> None:
        asyncio.get_running_loop().call_later(1.0, run.interrupt, int(signal.SIGINT))

    outcome = runner.execute(plan, before=interrupt_soon)

    assert outcome.summary.status == "interrupted"
    assert outcome.result.exit_code == 130
    assert outcome.summary.duration_s < 5
    assert [e["hook"] for e in hook_log(log)] == ["setup", "teardown"]
    assert outcome.endpoint("GET", "/status/207").requests > 0


def test_custom_metrics_reach_the_summary_and_thresholds(runner, target):
    outcome = runner.run("""
        from surge import Counter, HttpUser, Rate, Trend, constant, task

        server_ms = Trend("server_ms")
        ok_rate = Rate("ok_rate")
        items = Counter("items")

        class Measured(HttpUser):
            wait_time = constant(0.02)

            @task
            async def measure(self):
                resp = await self.client.get("/delay/5")
                server_ms.add(float(resp.headers["X-Delay-Ms"]))
                ok_rate.add(resp.status == 200)
                items.add(2)
    """, target.url, users=2, duration="1s", threshold=[
        "server_ms: p95 < 10ms", "server_ms: min >= 5ms", "ok_rate: rate > 99%", "items: count > 10",
        "items: count < 5",  # fails: the one that makes the run fail
    ])

    requests = outcome.endpoint("GET", "/delay/5").requests
    metrics = {m.name: m for m in outcome.summary.custom_metrics}
    assert set(metrics) == {"server_ms", "ok_rate", "items"}
    assert metrics["server_ms"].kind == "trend" and metrics["server_ms"].count == requests
    assert abs(metrics["server_ms"].values["p95"] - 5.0) < 0.01
    assert metrics["ok_rate"].values["rate"] == 1.0
    assert metrics["items"].values["count"] == 2 * requests
    verdicts = {f"{t.target}: {t.expression}": t.passed for t in outcome.summary.thresholds}
    assert verdicts == {"server_ms: p95 < 10ms": True, "server_ms: min >= 5ms": True,
                        "ok_rate: rate > 99%": True, "items: count > 10": True, "items: count < 5": False}
    assert outcome.result.exit_code == 1 and outcome.summary.status == "failed"


def test_open_workload_drops_iterations_beyond_max_users(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, task

        class Slow(HttpUser):
            @task
            async def slow(self):
                await self.client.get("/delay/200")
    """, target.url, rate=50, max_users=2, duration="2s")

    endpoint = outcome.endpoint("GET", "/delay/200")
    dropped = outcome.summary.dropped_iterations
    # 2 VUs x 5 iterations/s each can serve ~20 of the 100 scheduled iterations
    assert dropped > 50, dropped
    assert endpoint.requests + endpoint.cancelled + dropped == 100  # every arrival: served or dropped
    assert endpoint.requests + endpoint.cancelled == target.stats()["requests"]["GET /delay/200"]
    live = [e.dropped_iterations for e in outcome.of_type(IntervalStats)]
    assert live and live == sorted(live) and 0 < live[-1] <= dropped  # counted as the run goes
    assert max(e.users for e in outcome.of_type(IntervalStats)) <= 2


def test_an_open_worker_that_falls_behind_ends_on_time_and_counts_what_it_never_started(runner, target):
    """Each iteration burns ~2 ms of CPU, so one worker manages ~500 of the 2,000 arrivals/s
    planned: it must keep serving (never livelock), stop starting arrivals when the plan ends,
    and count the rest as dropped, so every planned arrival is accounted for."""
    started = time.monotonic()
    outcome = runner.run("""
        import time
        from surge import HttpUser, task

        class Busy(HttpUser):
            @task
            async def work(self):
                await self.client.get("/ok")
                end = time.perf_counter() + 0.002
                while time.perf_counter() < end:   # CPU-bound: the loop gets no turn meanwhile
                    pass
    """, target.url, rate=2000, duration="2s", graceful_stop="1s")
    elapsed = time.monotonic() - started
    s = outcome.summary
    ok = outcome.endpoint("GET", "/ok")
    assert s.dropped_iterations > 1000, s.dropped_iterations
    assert ok.requests + ok.cancelled + s.dropped_iterations == 4000  # every planned arrival
    assert ok.requests + ok.cancelled == target.stats()["requests"]["GET /ok"]
    assert s.duration_s < 3.6 and elapsed < 6, (s.duration_s, elapsed)  # 2 s + the 1 s graceful stop, no backlog
    assert ok.latency_ms.min >= ok.service_time_ms.min  # no latency shorter than its request took


def test_workers_split_users_exactly(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, constant, task

        class Numbered(HttpUser):
            wait_time = constant(0.05)

            @task
            async def me(self):
                await self.client.get(f"/status/{200 + self.user_id}")
    """, target.url, users=7, spawn_rate=100, duration="2s", workers=3)

    served = target.stats()["requests"]
    assert set(served) == {f"GET /status/{200 + j}" for j in range(7)}  # user ids 0..6, no gap, no twin
    seen = users_by_second(outcome)
    assert seen[1] == 7, seen


def test_a_load_test_shape_drives_the_users(runner, target):
    outcome = runner.run("""
        from surge import HttpUser, LoadTestShape, constant, task

        class Browser(HttpUser):
            wait_time = constant(0.05)

            @task
            async def ok(self):
                await self.client.get("/ok")

        class Steps(LoadTestShape):
            def tick(self, run_time_s):
                if run_time_s < 1.5:
                    return (2, 100)
                if run_time_s < 2.5:
                    return (6, 100)
                if run_time_s < 3.5:
                    return (3, 100)
                return None
    """, target.url, shape=True, workers=2)

    seen = users_by_second(outcome)
    assert (seen[1], seen[2], seen[3]) == (2, 6, 3), seen
    assert outcome.of_type(IntervalStats)[-1].target == 3  # past the shape's end: where it ended
    assert 3.4 < outcome.summary.duration_s < 5, outcome.summary.duration_s  # ended when tick said None
    assert outcome.endpoint("GET", "/ok").requests == target.stats()["requests"]["GET /ok"]
