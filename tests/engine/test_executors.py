"""The closed and open executors carrying out short plans, with no network at all.

Tasks only ``await asyncio.sleep(...)`` and note what happened; the clients are built but never
used. Plans last well under a second, so the executors' real timers can be checked directly.
"""
from __future__ import annotations

import asyncio
import dataclasses
import sys
import math
import time
import types
from collections import Counter
from pathlib import Path

import pytest

from surge.engine.clients.http import ClientContext
from surge.engine.executors.closed import TICK_S, ClosedExecutor
from surge.engine.executors.open import OpenExecutor
from surge.engine.runtime import WorkerContext
from surge.engine.scenario import Scenario, UserClassPlan
from surge.engine.user import StopUser, User, constant, task
from surge.metrics.recorder import Recorder
from surge.model.plan import ClosedWorkload, OpenWorkload, Stage, TestPlan
from surge.model.schedule import level_at, owned_by_class, owned_count, owned_indices

HOST = "http://127.0.0.1:9"  # never contacted
SLACK_S = 0.03  # event-loop scheduling allowance on top of one tick


def make_ctx(classes, workload, *, worker_id=0, workers=1, t0=None, stop=None) -> WorkerContext:
    """A worker's context as the worker builds it; call inside the running loop."""
    recorder = Recorder()
    scenario = Scenario(path=Path("scenario.py"), module=types.ModuleType("scenario"),
                        user_classes=[UserClassPlan(c, c.weight, c.task_specs()) for c in classes])
    plan = TestPlan(scenario_path="scenario.py", host=HOST, workload=workload)
    return WorkerContext(plan=plan, worker_id=worker_id, workers=workers, scenario=scenario, recorder=recorder,
                         clients=ClientContext(HOST, recorder), data={"token": "t"},
                         t0=time.perf_counter() if t0 is None else t0, stop=stop or asyncio.Event())


def journal_user(log: list, *, wait: float = 0.005, task_body=None):
    """A user class that notes (event, user index, elapsed) in ``log``."""

    class Journal(User):
        wait_time = constant(wait)

        async def on_start(self):
            log.append(("start", self.user_id, time.perf_counter()))

        async def on_stop(self):
            log.append(("stop", self.user_id, time.perf_counter()))

        @task
        async def work(self):
            log.append(("task", self.user_id, time.perf_counter()))
            if task_body is not None:
                await task_body(self)
            else:
                await asyncio.sleep(0)

    return Journal


async def run_sampled(executor: ClosedExecutor, ctx: WorkerContext, graceful_s: float = 1.0):
    """Run the executor to its end while sampling (elapsed, alive user indices) every few ms."""
    samples = []
    done = False

    async def sample():
        while not done:
            samples.append((ctx.elapsed(), [vu.index for vu in executor._vus]))
            await asyncio.sleep(0.004)

    sampler = asyncio.ensure_future(sample())
    await executor.run()
    done = True
    await sampler
    await executor.drain(graceful_s)
    return samples


def want(stages, t: float, worker: int, workers: int) -> int:
    level = level_at(stages, t) if t >= 0 else 0.0
    return owned_count(int(math.ceil(level - 1e-9)), worker, workers)


def check_follows_plan(samples, stages, worker: int, workers: int) -> None:
    duration = sum(s.duration_s for s in stages)
    checked = 0
    for t, indices in samples:
        if t >= duration:
            continue
        assert indices == list(owned_indices(len(indices) * workers + worker, worker, workers))[:len(indices)]
        assert indices == [worker + j * workers for j in range(len(indices))]  # always the lowest indices
        lo = min(want(stages, t - TICK_S - SLACK_S, worker, workers), want(stages, t, worker, workers))
        hi = max(want(stages, t - TICK_S - SLACK_S, worker, workers), want(stages, t, worker, workers))
        assert lo <= len(indices) <= hi, (t, len(indices), lo, hi)
        checked += 1
    assert checked > 50


# -- closed ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("worker, workers", [(0, 1), (1, 2)])
def test_closed_users_follow_the_ramp_and_hold(worker, workers):
    stages = (Stage(0.5, 20), Stage(0.5, 20))
    log: list = []

    async def main():
        ctx = make_ctx([journal_user(log)], ClosedWorkload(stages), worker_id=worker, workers=workers)
        executor = ClosedExecutor(ctx)
        samples = await run_sampled(executor, ctx)
        return executor, samples

    executor, samples = asyncio.run(main())
    check_follows_plan(samples, stages, worker, workers)
    expected = list(owned_indices(20, worker, workers))
    assert max(len(ix) for _, ix in samples) == len(expected)
    started = [u for e, u, _ in log if e == "start"]
    stopped = [u for e, u, _ in log if e == "stop"]
    assert started == expected  # users start in index order
    assert sorted(stopped) == expected  # drain stops every one of them, once
    assert executor.users() == 0
    tasks = Counter(u for e, u, _ in log if e == "task")
    assert all(tasks[u] > 5 for u in expected)


def test_closed_users_retire_from_the_highest_index():
    stages = (Stage(0, 10), Stage(0.2, 10), Stage(0.4, 0), Stage(0.2, 0))
    log: list = []

    async def main():
        ctx = make_ctx([journal_user(log, wait=0.01)], ClosedWorkload(stages))
        executor = ClosedExecutor(ctx)
        return await run_sampled(executor, ctx)

    samples = asyncio.run(main())
    check_follows_plan(samples, stages, 0, 1)
    stop_at = {u: t for e, u, t in log if e == "stop"}
    assert sorted(stop_at) == list(range(10))
    order = sorted(stop_at, key=stop_at.get)
    assert order[:9] == list(range(9, 0, -1))  # the last ones may go together at the end of the plan
    assert all(len(ix) == 0 for t, ix in samples if 0.6 + TICK_S + SLACK_S < t < 0.8)


def test_closed_tasks_that_never_wait_do_not_starve_the_loop():
    stages = (Stage(0, 5), Stage(0.3, 5))
    calls = Counter()

    class Spinner(User):  # no think time and a task that never really awaits
        @task
        async def spin(self):
            calls[self.user_id] += 1

    async def main():
        ctx = make_ctx([Spinner], ClosedWorkload(stages))
        executor = ClosedExecutor(ctx)
        began = time.perf_counter()
        samples = await run_sampled(executor, ctx)
        return samples, time.perf_counter() - began

    samples, took = asyncio.run(main())
    assert took < 1.0
    assert len(samples) > 20  # the sampler kept running next to five busy users
    assert sorted(calls) == [0, 1, 2, 3, 4] and min(calls.values()) > 100


def test_stop_user_ends_that_user_only():
    stages = (Stage(0, 4), Stage(0.4, 4))
    log: list = []
    calls = Counter()

    async def body(user):
        calls[user.user_id] += 1
        if user.user_id % 2 and calls[user.user_id] == 3:
            raise StopUser()
        await asyncio.sleep(0)

    async def main():
        ctx = make_ctx([journal_user(log, task_body=body)], ClosedWorkload(stages))
        executor = ClosedExecutor(ctx)
        alive_mid = []

        async def probe():
            await asyncio.sleep(0.25)
            alive_mid.append(executor.users())

        probing = asyncio.ensure_future(probe())
        await executor.run()
        await probing
        await executor.drain(1.0)
        return ctx, alive_mid[0]

    ctx, alive_mid = asyncio.run(main())
    assert calls[1] == calls[3] == 3  # stopped users run no further task
    assert calls[0] > 3 and calls[2] > 3
    assert alive_mid == 2  # and are not replaced
    assert sorted(u for e, u, _ in log if e == "stop") == [0, 1, 2, 3]  # on_stop still runs
    assert task_errors(ctx.recorder) == {}  # StopUser is not a failure


def test_task_exceptions_are_recorded_and_the_user_goes_on():
    stages = (Stage(0, 3), Stage(0.2, 3))
    calls = Counter()

    class Faulty(User):
        wait_time = constant(0.005)

        @task
        async def explode(self):
            calls[self.user_id] += 1
            raise ValueError(f"boom {self.user_id % 2}")

    class BadStart(User):
        async def on_start(self):
            raise RuntimeError("no login")

        @task
        async def never(self):
            calls["never"] += 1

    class Exits(User):
        @task
        async def bail(self):
            calls["bail"] += 1
            sys.exit(3)  # must end this iteration only, as any exception would

    async def main():
        ctx = make_ctx([Faulty, BadStart, Exits], ClosedWorkload(stages))
        await run_sampled(ClosedExecutor(ctx), ctx)
        return ctx.recorder

    recorder = asyncio.run(main())
    errors = task_errors(recorder)
    # the weighted cycle [0, 1, 2] makes user 0 Faulty, user 1 BadStart, user 2 Exits
    assert calls["never"] == 0
    assert errors[("BadStart.on_start", "RuntimeError: no login")] == 1
    assert (recorder.users_started, recorder.users_start_failed) == (2, 1)
    assert calls[0] > 3 and calls["bail"] > 3  # the user that called sys.exit() went on
    assert errors[("Faulty.explode", "ValueError: boom 0")] == calls[0]
    assert errors[("Exits.bail", "SystemExit: sys.exit(3) in a task ends that iteration, not the run")] == calls["bail"]
    assert len(errors) == 3


def task_errors(recorder) -> dict:
    """{(task, message): count} of the TASK series (task exceptions), flushing the recorder."""
    series, _ = recorder.flush()
    out = {}
    for s in series:
        if s.method == "TASK":
            assert s.requests == s.failures  # each raise is one failed, untimed request
            for kind, message, count in s.errors:
                assert kind == "exception"
                out[(s.name, message)] = count
    return out


def test_closed_drain_cancels_what_outlasts_the_graceful_stop():
    stages = (Stage(0, 3), Stage(0.1, 3))
    log: list = []

    async def stuck(user):
        await asyncio.sleep(30)

    async def main():
        ctx = make_ctx([journal_user(log, task_body=stuck)], ClosedWorkload(stages))
        executor = ClosedExecutor(ctx)
        await executor.run()
        assert executor.users() == 3  # the plan is over; in-flight work is drain's business
        began = time.perf_counter()
        await executor.drain(0.1)
        return executor, time.perf_counter() - began

    executor, took = asyncio.run(main())
    assert 0.1 <= took < 0.5
    assert executor.users() == 0
    assert sorted(u for e, u, _ in log if e == "stop") == [0, 1, 2]


def test_closed_run_returns_when_stop_is_set():
    async def main():
        ctx = make_ctx([journal_user([])], ClosedWorkload((Stage(0, 2), Stage(30, 2))))
        executor = ClosedExecutor(ctx)
        asyncio.get_running_loop().call_later(0.1, ctx.stop.set)
        began = time.perf_counter()
        await executor.run()
        took = time.perf_counter() - began
        await executor.drain(1.0)
        return took

    assert asyncio.run(main()) < 0.3


def test_closed_workers_start_exactly_their_share_of_iterations_and_stop():
    """--iterations: each worker's users together start exactly its share of task picks (never
    more, though several users pick at once), then the worker stops on its own, long before
    the plan's end, and every user's on_stop runs."""
    stages = (Stage(0, 5), Stage(30, 5))
    log: list = []

    async def main():
        t0 = time.perf_counter()
        ctxs = [make_ctx([journal_user(log, wait=0)], ClosedWorkload(stages), worker_id=i, workers=2, t0=t0)
                for i in range(2)]
        ctxs = [dataclasses.replace(c, plan=c.plan.replace(iterations=101), iterations=None) for c in ctxs]
        executors = [ClosedExecutor(c) for c in ctxs]
        await asyncio.wait_for(asyncio.gather(*(e.run() for e in executors)), 5)
        took = time.perf_counter() - t0
        await asyncio.gather(*(e.drain(1.0) for e in executors))
        return executors, ctxs, took

    executors, ctxs, took = asyncio.run(main())
    assert took < 1
    assert [e.iterations() for e in executors] == [51, 50]
    assert all(c.stop.is_set() for c in ctxs)
    assert sum(1 for e, _, _ in log if e == "task") == 101
    users = {u for e, u, _ in log if e == "start"}
    assert users == {0, 1, 2, 3, 4} and {u for e, u, _ in log if e == "stop"} == users


def users_made(classes, peak: int, workers: int) -> list[Counter]:
    """The users each of ``workers`` closed executors made, by class, holding ``peak`` for 0.3 s."""
    stages = (Stage(0, peak), Stage(0.3, peak))

    async def main():
        t0 = time.perf_counter()
        executors = [ClosedExecutor(make_ctx(classes, ClosedWorkload(stages), worker_id=i, workers=workers, t0=t0))
                     for i in range(workers)]
        runs = [asyncio.ensure_future(e.run()) for e in executors]
        await asyncio.sleep(0.15)
        made = [Counter(type(vu.user).__name__ for vu in e._vus) for e in executors]
        await asyncio.gather(*runs)
        await asyncio.gather(*(e.drain(1.0) for e in executors))
        return made

    return asyncio.run(main())


def test_closed_users_per_class_and_worker_are_what_dry_run_shows():
    """--dry-run prints owned_by_class(); the executors must make exactly those users."""
    def cls(name, weight):
        return type(name, (journal_user([]),), {"weight": weight})

    made = users_made([cls("Reader", 3), cls("Writer", 1), cls("Admin", 0.5)], 11, workers=3)
    for i, counts in enumerate(made):
        expected = owned_by_class(11, [3, 1, 0.5], i, 3)
        assert [counts["Reader"], counts["Writer"], counts["Admin"]] == expected


@pytest.mark.parametrize("fixed, peak", [((0, 2, 0), 11), ((1, 2, 0), 4), ((1, 2, 3), 11)])
def test_fixed_count_users_come_first_and_dry_run_shows_them(fixed, peak):
    """Locust's fixed_count: that many users of a class first, the rest by weight; all fixed caps the level."""
    def cls(name, weight, count):
        return type(name, (journal_user([]),), {"weight": weight, "fixed_count": count})

    made = users_made([cls("Reader", 3, fixed[0]), cls("Writer", 1, fixed[1]), cls("Admin", 0.5, fixed[2])],
                      peak, workers=2)
    total = Counter()
    for i, counts in enumerate(made):
        expected = owned_by_class(peak, [3, 1, 0.5], i, 2, fixed)
        assert [counts["Reader"], counts["Writer"], counts["Admin"]] == expected
        total += counts
    for name, count in zip(("Reader", "Writer", "Admin"), fixed):
        if count:
            assert total[name] == min(count, peak)
    assert sum(total.values()) == (min(peak, sum(fixed)) if all(fixed) else peak)


# -- open ------------------------------------------------------------------------------------------
def iteration_user(log: list, *, seconds: float = 0.0, weight: float = 1, name: str = "Iter"):
    class Iter(User):
        async def on_start(self):
            log.append((name, "start", self.user_id, 0))

        @task
        async def hit(self):
            log.append((name, "iteration", self.user_id, self.client.intended_ns))
            await asyncio.sleep(seconds)

    Iter.weight = weight
    Iter.__name__ = name
    return Iter


async def run_open(classes, workload, workers: int = 2, graceful_s: float = 1.0):
    t0, stop = time.perf_counter(), asyncio.Event()
    executors = [OpenExecutor(make_ctx(classes, workload, worker_id=i, workers=workers, t0=t0, stop=stop))
                 for i in range(workers)]
    await asyncio.gather(*(e.run() for e in executors))
    await asyncio.gather(*(e.drain(graceful_s) for e in executors))
    return executors


def test_open_rate_is_split_exactly_across_two_workers():
    log: list = []
    workload = OpenWorkload((Stage(0, 200), Stage(1, 200)), max_users=100)
    began = time.perf_counter()
    executors = asyncio.run(run_open([iteration_user(log)], workload))
    took = time.perf_counter() - began
    assert 0.99 <= took < 1.5  # the last arrival is due at 0.995 s
    per_worker = [e.iterations() for e in executors]
    assert abs(sum(per_worker) - 200) <= 2
    assert all(abs(n - 100) <= 1 for n in per_worker)
    assert [e.dropped() for e in executors] == [0, 0]
    iterations = [(u, t) for _, ev, u, t in log if ev == "iteration"]
    assert len(iterations) == sum(per_worker)
    # each iteration's first request is timed from its scheduled arrival: every 5 ms, exactly
    due = sorted(t for _, t in iterations)
    gaps_ms = [(b - a) / 1e6 for a, b in zip(due, due[1:])]
    assert all(g == pytest.approx(5, abs=0.01) for g in gaps_ms)
    # a worker's VUs keep to the worker's own indices, and few are needed for instant tasks
    for w, e in enumerate(executors):
        assert all(vu.index % 2 == w for vu in e._vus)
        assert 1 <= e.users() <= 5


def test_open_iterations_follow_class_weights():
    log: list = []
    classes = [iteration_user(log, weight=3, name="Reader"), iteration_user(log, weight=1, name="Writer")]
    workload = OpenWorkload((Stage(0, 400), Stage(0.5, 400)), max_users=100)
    asyncio.run(run_open(classes, workload))
    counts = Counter(name for name, ev, _, _ in log if ev == "iteration")
    assert counts == {"Reader": 150, "Writer": 50}


def test_open_drops_iterations_when_no_user_is_free():
    log: list = []
    workload = OpenWorkload((Stage(0, 200), Stage(0.3, 200)), max_users=2)  # one VU per worker
    executors = asyncio.run(run_open([iteration_user(log, seconds=0.1)], workload))
    served = [e.iterations() for e in executors]
    dropped = [e.dropped() for e in executors]
    assert [s + d for s, d in zip(served, dropped)] == [30, 30]  # every owned arrival is served or dropped
    assert all(2 <= s <= 4 for s in served)
    assert sum(dropped) >= 50
    assert [e.users() for e in executors] == [1, 1]
    assert sum(1 for _, ev, _, _ in log if ev == "start") == 2  # on_start once per VU


def test_open_workers_serve_exactly_their_share_of_iterations():
    log: list = []
    workload = OpenWorkload((Stage(0, 400), Stage(30, 400)), max_users=100)

    async def main():
        t0 = time.perf_counter()
        executors = []
        for i in range(2):
            ctx = make_ctx([iteration_user(log, seconds=0.01)], workload, worker_id=i, workers=2, t0=t0)
            ctx = dataclasses.replace(ctx, plan=ctx.plan.replace(iterations=41), iterations=None)
            executors.append(OpenExecutor(ctx))
        await asyncio.wait_for(asyncio.gather(*(e.run() for e in executors)), 5)
        took = time.perf_counter() - t0
        await asyncio.gather(*(e.drain(1.0) for e in executors))
        return executors, took

    executors, took = asyncio.run(main())
    assert took < 0.5  # 41 arrivals at 400/s: ~0.1 s
    assert [e.iterations() for e in executors] == [21, 20] and [e.dropped() for e in executors] == [0, 0]
    assert sum(1 for _, ev, _, _ in log if ev == "iteration") == 41


def test_open_run_returns_when_stop_is_set():
    async def main():
        stop = asyncio.Event()
        ctx = make_ctx([iteration_user([])], OpenWorkload((Stage(0, 50), Stage(30, 50)), max_users=10), stop=stop)
        executor = OpenExecutor(ctx)
        asyncio.get_running_loop().call_later(0.1, stop.set)
        began = time.perf_counter()
        await executor.run()
        took = time.perf_counter() - began
        await executor.drain(1.0)
        return took, executor.iterations()

    took, iterations = asyncio.run(main())
    assert took < 0.3
    assert 3 <= iterations <= 8
