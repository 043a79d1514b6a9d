"""Event hooks (engine/hooks.py): on_request in the workers, on_test_start / on_test_stop in the
coordinator, against the loopback target; counts compared with what the server saw."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from surge.engine.clients.http import HttpClient
from surge.engine.hooks import RunEvents
from surge.engine.scenario import load_scenario
from surge.model.errors import ScenarioError
from surge.model.events import RequestEvent

SURGE = str(Path(sys.executable).with_name("surge"))

FILES = """
    import json, os
    from pathlib import Path
    from surge import HttpUser, RequestEvent, constant, task

    OUT = Path(__file__).parent / "hooks"
    OUT.mkdir(exist_ok=True)
    _lines = {}

    def on_request(event):
        assert isinstance(event, RequestEvent)
        f = _lines.get(os.getpid())
        if f is None:  # one file per worker process, a line per request
            f = _lines[os.getpid()] = open(OUT / f"requests-{os.getpid()}", "a", buffering=1)
        f.write(json.dumps([event.method, event.name, event.status, event.error, event.bytes_received,
                            event.latency_ms is not None]) + "\\n")

    def on_test_start(run):
        (OUT / f"start-{os.getpid()}").write_text(json.dumps([run.worker_id, run.workers, run.data]))

    def on_test_stop(run, summary):
        (OUT / f"stop-{os.getpid()}").write_text(json.dumps([summary.total.requests, summary.total.failures,
                                                             summary.status]))

    def setup(host):
        return {"token": "t"}

    class Caller(HttpUser):
        wait_time = constant(0.005)

        @task(3)
        async def ok(self):
            await self.client.get("/bytes/10")

        @task(1)
        async def missing(self):
            await self.client.get("/status/404", name="missing")
"""


def test_hooks_see_every_request_once_across_two_worker_processes(tmp_path, target):
    scenario = tmp_path / "hooked.py"
    scenario.write_text(textwrap.dedent(FILES))
    proc = subprocess.Popen([SURGE, "run", str(scenario), "-H", target.url, "--users", "4", "--duration", "1500ms",
                             "--processes", "2", "--live", "off", "--no-host-monitor", "--threshold",
                             "GET /bytes/10: error_rate<1%", "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    folder = tmp_path / "hooks"
    workers = sorted(folder.glob("requests-*"))
    events = [json.loads(line) for path in workers for line in path.read_text().splitlines()]
    # every request once: the hooks' count == the server's == the summary's
    assert summary["total"]["cancelled"] == 0
    assert len(events) == target.stats()["requests_total"] == summary["total"]["requests"] > 50
    assert len(workers) == 2  # on_request ran in each of the two worker processes ...
    starts, stops = list(folder.glob("start-*")), list(folder.glob("stop-*"))
    assert len(starts) == len(stops) == 1  # ... and start / stop once each, in the coordinator
    coordinator = {starts[0].name.split("-")[1], stops[0].name.split("-")[1]}
    assert coordinator == {str(proc.pid)} and str(proc.pid) not in {p.name.split("-")[1] for p in workers}
    assert json.loads(starts[0].read_text()) == [None, 2, {"token": "t"}]
    assert json.loads(stops[0].read_text()) == [summary["total"]["requests"], summary["total"]["failures"], "passed"]
    # the events say what was counted
    by_name = {e["name"]: e["requests"] for e in summary["endpoints"]}
    missing = [e for e in events if e[1] == "missing"]
    assert len(missing) == by_name["missing"] == summary["total"]["failures"]
    assert {tuple(e[2:4]) for e in missing} == {(404, "status")}
    ok = [e for e in events if e[1] == "/bytes/10"]
    assert len(ok) == by_name["/bytes/10"] and {tuple(e[2:6]) for e in ok} == {(200, None, 10, True)}


RAISING = """
    from surge import HttpUser, constant, task

    def on_request(event):
        if event.status == 404:
            raise ValueError("no 404s here")

    async def on_test_start(run):
        raise KeyError("start went wrong")

    def on_test_stop(run, summary):
        raise RuntimeError("stop went wrong")

    class Caller(HttpUser):
        wait_time = constant(0.01)

        @task
        async def ok(self):
            await self.client.get("/ok")
            await self.client.get("/status/404", name="missing")
"""


def test_a_raising_hook_is_warned_once_counted_and_never_ends_the_run(runner, target):
    out = runner.run(RAISING, target.url, users=2, duration="1s")
    summary = out.summary
    missing = out.endpoint("GET", "missing").requests
    assert missing > 5
    assert summary.total.requests == target.stats()["requests_total"]  # every request still counted
    first = [w for w in summary.warnings if "on_request hook on_request raised ValueError: no 404s here" in w]
    assert len(first) == 1 and "the run goes on" in first[0]
    counted = [w for w in summary.warnings if f"raised {missing:,} times in worker 0" in w]
    assert len(counted) == 1 and "on_request hook on_request" in counted[0]
    assert any("on_test_stop hook on_test_stop raised RuntimeError: stop went wrong" in w for w in summary.warnings)
    assert any("on_test_start hook on_test_start raised KeyError: 'start went wrong'" in w for w in summary.warnings)
    assert out.result.exit_code == 1  # the 404s failed (no thresholds set), not the hooks


REGISTERING = """
    from pathlib import Path
    from surge import HttpUser, constant, task

    SEEN = Path(__file__).parent / "seen"  # a line per request the registered hook saw

    class Counting(HttpUser):
        wait_time = constant(0.01)
        log = None

        async def on_start(self):
            assert self.run.worker_id == 0 and self.run.workers == 1 and self.run.plan.host
            if Counting.log is None:  # the first user registers, for every user of this worker
                Counting.log = open(SEEN, "a", buffering=1)
                self.run.events.on_request(lambda event: Counting.log.write(f"{event.name}\\n"))

        @task
        async def ok(self):
            await self.client.get("/ok")
"""


def test_a_user_registers_on_request_on_self_run_events(runner, target):
    """Registered in the first user's on_start, after the worker's clients exist: the hook still
    sees every request of every user (the users' clients were made before it)."""
    out = runner.run(REGISTERING, target.url, users=3, duration="1s")
    seen = (runner.folder / "seen").read_text().splitlines()
    assert len(seen) == out.summary.total.requests == target.stats()["requests_total"] > 20
    assert set(seen) == {"/ok"}
    assert out.result.exit_code == 0


def test_a_user_cannot_register_coordinator_hooks(runner, target):
    source = REGISTERING.replace("self.run.events.on_request(", "self.run.events.on_test_stop(")
    out = runner.run(source, target.url, users=1, duration="500ms")
    failed = [f for f in out.summary.failures if f.name == "Counting.on_start"]
    assert failed and "on_test_stop runs once in the coordinator" in failed[0].message


def test_list_names_the_hooks_and_a_class_of_its_own_run_keeps_it(tmp_path, target):
    path = tmp_path / "own_run.py"
    path.write_text(textwrap.dedent("""
        from surge import HttpUser, task

        def on_request(event):
            pass

        class Runner(HttpUser):
            run = "its own"  # the class's own attribute: surge's run handle must not shadow it

            @task
            async def go(self):
                assert self.run == "its own"
                await self.client.get("/ok")
    """))
    listed = subprocess.run([SURGE, "run", str(path), "--list"], capture_output=True, text=True, timeout=30)
    assert "event hooks: on_request" in listed.stdout
    proc = subprocess.run([SURGE, "run", str(path), "-H", target.url, "--users", "1", "--duration", "500ms",
                           "--processes", "1", "--live", "off", "--no-host-monitor", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # a task that raised would have failed the run (exit 1)
    total = json.loads((tmp_path / "o" / "summary.json").read_text())["total"]
    assert total["requests"] > 0 and total["failures"] == 0


def test_an_async_on_request_is_refused_when_the_scenario_loads(tmp_path):
    path = tmp_path / "async_hook.py"
    path.write_text(textwrap.dedent("""
        from surge import HttpUser, task
        async def on_request(event):
            pass
        class U(HttpUser):
            @task
            async def t(self):
                pass
    """))
    with pytest.raises(ScenarioError, match="on_request must be a plain function"):
        load_scenario(path)


def test_without_a_hook_the_worker_clients_record_as_the_plain_client_does():
    """The zero-cost path: no override until the first hook, which then reaches live clients."""
    events = RunEvents("worker")
    cls = events.client_class()
    assert issubclass(cls, HttpClient) and cls.__slots__ == ()
    assert cls._answered is HttpClient._answered and cls._failed is HttpClient._failed
    got: list = []
    events.on_request(got.append)
    assert cls._answered is not HttpClient._answered and cls._failed is not HttpClient._failed
    assert HttpClient._answered.__qualname__ == "HttpClient._answered"  # the base is never touched
    assert RunEvents("worker").client_class()._answered is HttpClient._answered  # nor another run's


def test_request_hooks_run_in_order_and_an_error_in_one_does_not_skip_the_next():
    warnings: list[str] = []
    events = RunEvents("worker", warnings.append)
    calls: list = []

    def broken(event):
        raise KeyError("k")

    events.on_request(broken)
    events.on_request(calls.append)
    event = RequestEvent("GET", "/x", 1.5, 200, None, 2, 40)
    for _ in range(3):
        events.request_done(event)
    assert calls == [event] * 3
    events.report(" in worker 0")
    assert warnings == [
        "on_request hook test_request_hooks_run_in_order_and_an_error_in_one_does_not_skip_the_next.<locals>.broken "
        "raised KeyError: 'k'; the run goes on (its errors are counted)",
        "on_request hook test_request_hooks_run_in_order_and_an_error_in_one_does_not_skip_the_next.<locals>.broken "
        "raised 3 times in worker 0 (first: KeyError: 'k')",
    ]
    assert events.errors == {next(iter(events.errors)): 3}
    with pytest.raises(TypeError, match="plain function"):
        async def later(event):
            pass
        events.on_request(later)


def test_a_request_event_is_frozen():
    event = RequestEvent("GET", "/x", None, 0, "connect", 0, 40)
    with pytest.raises(AttributeError):
        event.status = 200  # type: ignore[misc]
