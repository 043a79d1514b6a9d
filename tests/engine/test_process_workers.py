"""Real worker processes (spawned children): counts survive the pipe, and a worker killed mid-run
is reported lost while the run goes on with the others."""
from __future__ import annotations

import os
import signal

import psutil
import pytest

from surge.engine.launchers import ProcessLauncher
from surge.model.events import IntervalStats, Notice

SCENARIO = """
    from surge import HttpUser, constant, task

    class Browser(HttpUser):
        wait_time = constant(0.01)

        @task(3)
        async def ok(self):
            await self.client.get("/ok")

        @task(1)
        async def missing(self):
            await self.client.get("/status/404")
"""


def worker_processes() -> list[psutil.Process]:
    """This test process's spawned multiprocessing children (not the target server)."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if any("spawn_main" in part for part in child.cmdline()):
                found.append(child)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


@pytest.mark.slow
def test_two_processes_report_what_the_server_received(runner, target):
    outcome = runner.run(SCENARIO, target.url, users=6, spawn_rate=100, duration="2s", processes=2,
                         launcher=ProcessLauncher())

    summary = outcome.summary
    served = target.stats()
    assert summary.generator.processes == 2 and summary.generator.workers_lost == 0
    assert outcome.endpoint("GET", "/ok").requests == served["requests"]["GET /ok"] > 0
    assert outcome.endpoint("GET", "/status/404").requests == served["requests"]["GET /status/404"] > 0
    assert summary.failures_by_kind == {"status": served["responses"]["404"]}
    assert summary.status == "failed" and outcome.result.exit_code == 1  # 404s failed, no threshold set
    assert [w.intervals >= 1 and not w.shared for w in summary.generator.workers] == [True, True]
    assert summary.generator.coordinator is not None
    assert worker_processes() == []  # the launcher reaped its children


@pytest.mark.slow
def test_a_killed_worker_is_reported_lost_and_the_run_goes_on(runner, target):
    killed: list[int] = []

    def kill_one_worker(event) -> None:
        if isinstance(event, IntervalStats) and not killed:
            victims = worker_processes()
            assert len(victims) == 2, victims
            killed.append(victims[-1].pid)
            os.kill(victims[-1].pid, signal.SIGKILL)

    outcome = runner.run(SCENARIO, target.url, users=6, spawn_rate=100, duration="3s", processes=2,
                         launcher=ProcessLauncher(), observers=(kill_one_worker,),
                         threshold=["*: requests > 0"])

    summary = outcome.summary
    assert killed, "the run never reached its first interval"
    assert summary.generator.processes == 2
    assert summary.generator.workers_lost == 1
    assert any("lost" in n.message for n in outcome.of_type(Notice)), outcome.of_type(Notice)
    # the load was not what was planned: the run cannot pass, and it says which share and why
    assert summary.status == "error" and outcome.result.exit_code == 3
    lost = [r for r in summary.status_reasons if r.startswith("worker ")]
    assert len(lost) == 1 and "1/2 of the planned users" in lost[0] and "exit code -9" in lost[0], lost
    assert [w.lost is not None for w in summary.generator.workers].count(True) == 1
    assert summary.duration_s >= 2.9  # the survivor ran the plan to its end
    alive = [e.workers_alive for e in outcome.of_type(IntervalStats)]
    assert alive[0] == 2 and alive[-1] == 1, alive
    # the survivor's requests all arrived; the dead worker's last interval is lost with it
    assert 0 < outcome.endpoint("GET", "/ok").requests <= target.stats()["requests"]["GET /ok"]
    assert worker_processes() == []



def test_setup_data_that_cannot_reach_worker_processes_is_a_clear_scenario_error(runner, target):
    """DESIGN: what setup() returns must be JSON- or pickle-able; say so instead of an internal error."""
    import pytest

    from surge.engine.launchers import ProcessLauncher
    from surge.model.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"setup\(\) returned a value worker processes cannot receive"):
        runner.run("""
            import threading
            from surge import HttpUser, task

            def setup(host):
                return {"lock": threading.Lock()}   # cannot be pickled

            class U(HttpUser):
                @task
                async def ok(self):
                    await self.client.get("/ok")
        """, target.url, launcher=ProcessLauncher(), users=1, duration="1s", processes=2)
    assert target.stats()["requests_total"] == 0  # no load started
