"""A Locust user's closed loop in one greenlet (``compat/locust/_loop.py``): the engine's steps kept.

Each locustfile is written here, run in this process (``run_here``) against the loopback target,
and checked against what the server saw and what the users wrote to the probe directory.
"""
from __future__ import annotations

import json
import textwrap
import time

import greenlet
import pytest

from surge.compat.locust import _bridge

PROBE = """
    import itertools, json, os
    from pathlib import Path

    _seq = itertools.count()

    def probe(name, **data):
        Path(os.environ["LOCUST_PROBE_DIR"], f"{name}-{next(_seq)}").write_text(json.dumps(data))
"""


def write(tmp_path, source: str) -> str:
    path = tmp_path / "locustfile.py"
    path.write_text(textwrap.dedent(PROBE) + textwrap.dedent(source))
    return str(path)


def probes(tmp_path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "probe").glob(prefix + "*"))]


def test_an_iteration_budget_is_exact_across_users(target, run_here, tmp_path):
    path = write(tmp_path, """
        from locust import FastHttpUser, task

        import greenlet

        class Hello(FastHttpUser):
            def on_start(self):
                self.greenlets = set()

            @task
            def index(self):
                self.greenlets.add(id(greenlet.getcurrent()))
                self.client.get("/ok")

            def on_stop(self):
                probe("user", greenlets=sorted(self.greenlets))
    """)
    switches = []
    previous = greenlet.settrace(lambda event, args: switches.append(event))
    try:
        code, summary, text = run_here(path, target.url, "-u", "4", "-r", "1000", "--iterations", "300", "-t", "20s")
    finally:
        greenlet.settrace(previous)
    assert code == 0, text[-2000:]
    assert target.stats()["requests"] == {"GET /ok": 300}
    assert summary["total"]["requests"] == 300
    # each user's iterations ran in one greenlet of its own: two switches a request (out with the
    # request, back with the response), not four (1,216 before); a user's greenlet, on_start and
    # on_stop add 2 each, and a loop turn every 64 iterations 2 more
    # (users that started after the budget ran out made none)
    users = [p["greenlets"] for p in probes(tmp_path, "user")]
    assert 1 <= len(users) <= 4 and all(len(g) <= 1 for g in users)
    assert 2 * 300 <= len(switches) <= 2 * 300 + 2 * (300 // 64 + 1) + 6 * len(users), len(switches)


def test_raising_tasks_are_counted_and_thinking_users_stop_on_time(target, run_here, tmp_path):
    # every third iteration raises; the users think 30 s after a request but 0.02 s after an error,
    # so the run's end finds most of them thinking: they stop at once, with on_stop
    path = write(tmp_path, """
        from locust import HttpUser, task

        class Flaky(HttpUser):
            def on_start(self):
                self.turns = self.raised = 0
                self.slept = False

            def wait_time(self):
                return 0.02 if self.turns % 3 else 30

            @task
            def maybe(self):
                self.turns += 1
                if self.turns % 3:
                    self.raised += 1
                    raise ValueError("odd turn")
                self.client.get("/ok")

            def on_stop(self):
                probe("stop", turns=self.turns, raised=self.raised)
    """)
    began = time.monotonic()
    code, summary, text = run_here(path, target.url, "-u", "5", "-r", "100", "-t", "1s")
    took = time.monotonic() - began
    assert code == 1, text[-2000:]  # task errors are failures, as in Locust
    assert took < 10, took  # not the 30 s think time
    stops = probes(tmp_path, "stop-")
    assert len(stops) == 5
    assert target.stats()["requests"]["GET /ok"] == summary["total"]["requests"] - sum(s["raised"] for s in stops)
    task = next(e for e in summary["endpoints"] if e["name"] == "Flaky.maybe")
    assert task["failures"] == sum(s["raised"] for s in stops) >= 5
    assert "ValueError: odd turn" in json.dumps(summary["failures"])


def test_a_hard_stop_mid_request_unwinds_the_sync_code_and_runs_on_stop(target, run_here, tmp_path):
    path = write(tmp_path, """
        from locust import HttpUser, task

        class Stuck(HttpUser):
            @task
            def hang(self):
                try:
                    self.client.get("/hang")
                finally:
                    probe("finally")

            def on_stop(self):
                probe("stop")
    """)
    code, summary, text = run_here(path, target.url, "-u", "3", "-r", "100", "-t", "0.5s", "--stop-timeout", "0.3s")
    assert summary is not None, text[-2000:]
    assert len(probes(tmp_path, "finally-")) == 3 and len(probes(tmp_path, "stop-")) == 3
    assert summary["total"]["cancelled"] == 3 and summary["total"]["requests"] == 0
    assert target.stats()["requests"] == {"GET /hang": 3}
    assert not _bridge._idle or all(not g.dead for g in _bridge._idle)  # pooled greenlets are reusable


def test_a_class_of_async_tasks_only_keeps_the_engines_loop(target, run_here, tmp_path):
    path = write(tmp_path, """
        from locust import HttpUser, task

        class Native(HttpUser):
            @task
            async def index(self):
                await self.client.get("/ok")

            def on_stop(self):
                probe("iterate", own=self._surge_iterate is not None)
    """)
    code, summary, text = run_here(path, target.url, "-u", "2", "-r", "100", "--iterations", "10", "-t", "10s")
    assert code == 0, text[-2000:]
    assert target.stats()["requests"] == {"GET /ok": 10}
    owns = [p["own"] for p in probes(tmp_path, "iterate-")]
    assert owns and not any(owns)  # (the budget may run out before the second user starts)


def test_under_an_arrival_rate_a_taskset_runs_one_task_per_arrival(target, run_here, tmp_path):
    # a TaskSet that never interrupts would hold every user it is given; here each arrival is one
    # of its tasks, in order, and the user's stop leaves it (its on_stop)
    path = write(tmp_path, """
        from locust import HttpUser, SequentialTaskSet, constant, task

        class Journey(SequentialTaskSet):
            wait_time = constant(5)  # ignored under --rate: the arrivals pace the load

            def on_start(self):
                self.steps = []

            @task
            def first(self):
                self.steps.append("first")
                self.client.get("/ok", name="first")

            @task
            def second(self):
                self.steps.append("second")
                self.client.get("/status/200", name="second")

            def on_stop(self):
                probe("journey", steps=self.steps)

        class Walker(HttpUser):
            tasks = [Journey]
    """)
    code, summary, text = run_here(path, target.url, "--rate", "100", "-t", "1s", "--max-users", "50")
    assert code == 0, text[-2000:]
    seen = target.stats()["requests"]
    assert 90 <= seen["GET /ok"] + seen["GET /status/200"] <= 101  # 100 arrivals in 1 s
    assert summary["total"]["requests"] + summary["total"]["cancelled"] == sum(seen.values())
    assert summary["dropped_iterations"] == 0
    assert summary["users"]["peak"] <= 10  # not a user per arrival (~1 ms requests at 100/s)
    journeys = probes(tmp_path, "journey")
    assert 1 <= len(journeys) <= summary["users"]["peak"]  # each user's TaskSet ended with it
    for j in journeys:  # in order, one step an arrival
        assert j["steps"] == ["first", "second"] * (len(j["steps"]) // 2) + ["first"] * (len(j["steps"]) % 2)
    assert sum(len(j["steps"]) for j in journeys) == sum(seen.values())


# -- hostile locustfiles: one clear line at load, or a failure the verdict shows ---------------------
USER = """
    from locust import HttpUser, LoadTestShape, task

    class U(HttpUser):
        {body}
        @task
        def t(self):
            self.client.get("/ok")
"""


@pytest.mark.parametrize("body, says", [
    ('weight = "3"', "U.weight must be a number >= 0, not '3'"),
    ('weight = float("inf")', "U.weight must be a number >= 0, not inf"),
    ("fixed_count = 1.5", "U.fixed_count must be a whole number >= 0, not 1.5"),
    ("@task\n        def gen(self):\n            yield 1", "task U.gen is a generator (it yields)"),
])
def test_a_class_written_wrong_is_one_line_at_load(run_here, tmp_path, body, says):
    code, summary, text = run_here(write(tmp_path, USER.format(body=body)), "http://127.0.0.1:9", "-u", "1", "-t", "1s")
    assert code == 3 and summary is None
    assert says in text and len(text.strip().splitlines()) == 1, text


@pytest.mark.parametrize("tick, says", [
    ('("a", 1)', "S.tick() returned ('a', 1) at 0 s"),
    ("(-5, 1)", "S.tick() returned (-5, 1) at 0 s"),
    ('(2, 1) if self.get_run_time() < 1.5 else (float("nan"), 1)', "S.tick() returned (nan, 1) at 2 s"),
])
def test_a_shape_that_ticks_nonsense_is_one_line_before_the_load(run_here, tmp_path, tick, says):
    source = USER.format(body="pass") + f"""
    class S(LoadTestShape):
        def tick(self):
            return None if self.get_run_time() > 3 else {tick}
    """
    code, summary, text = run_here(write(tmp_path, source), "http://127.0.0.1:9")
    assert code == 3 and summary is None
    assert says in text and "users a number >= 0" in text and len(text.strip().splitlines()) == 1, text


@pytest.mark.parametrize("source", [
    USER.format(body='wait_time = lambda self: "soon"'),
    USER.format(body='wait_time = lambda self: float("nan")'),
    """
    from surge import HttpUser, task

    class U(HttpUser):
        wait_time = lambda self, iteration_s: "soon"

        @task
        async def t(self):
            await self.client.get("/ok")
    """,
], ids=["locust-str", "locust-nan", "surge-str"])
def test_a_wait_time_that_gives_no_seconds_fails_the_user_not_silently(target, run_here, tmp_path, source):
    code, summary, text = run_here(write(tmp_path, source), target.url, "-u", "3", "-r", "100", "-t", "1s")
    assert code == 1, text[-2000:]  # it passed before: 3 requests, users gone, no failure
    (failure,) = summary["failures"]
    assert failure["name"] == "U.wait_time" and failure["count"] == 3
    assert failure["message"].startswith("wait_time must return seconds")
    assert target.stats()["requests"] == {"GET /ok": 3}  # each user's first iteration, then it ended


def test_runner_quit_ends_the_load_early_and_says_so(target, run_here, tmp_path):
    source = USER.format(body="pass").replace(
        'self.client.get("/ok")', 'self.client.get("/ok")\n            self.environment.runner.quit()')
    code, summary, text = run_here(write(tmp_path, source), target.url, "-u", "2", "-r", "100", "-t", "20s")
    assert code == 0, text[-2000:]
    assert summary["duration_s"] < 5  # not the planned 20 s
    assert any("runner.quit()" in w for w in summary["warnings"])
    assert summary["total"]["requests"] == target.stats()["requests"]["GET /ok"] >= 1
