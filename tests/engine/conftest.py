"""Helpers for real, in-process runs against the loopback target (``tests/support/target.py``).

The ``runner`` fixture writes a scenario file into the test's tmp folder, settles a plan from
CLI-style options (as ``surge run`` would, but with an empty environment and the tmp folder
as cwd), runs it with in-process workers (or the launcher given) and returns an :class:`Outcome`:
the :class:`RunResult` plus every event the run emitted. Every run is bounded by its
``duration`` and a wall-clock guard.
"""
from __future__ import annotations

import asyncio
import socket
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from surge.config import settle
from surge.engine.launchers import InProcessLauncher, Launcher
from surge.engine.run import Run
from surge.engine.scenario import load_scenario
from surge.model.plan import TestPlan
from surge.model.summary import EndpointStats, RunResult
from surge.thresholds import ThresholdJudge

RUN_GUARD_S = 60.0  # no single run in these tests may take longer than this


@dataclass
class Outcome:
    """What one run produced: the result, its plan and the events observers saw, in order."""

    result: RunResult
    plan: TestPlan
    events: list = field(default_factory=list)

    @property
    def summary(self):
        return self.result.summary

    def endpoint(self, method: str, name: str) -> EndpointStats:
        for e in self.summary.endpoints:
            if (e.method, e.name) == (method, name):
                return e
        known = [(e.method, e.name) for e in self.summary.endpoints]
        raise AssertionError(f"no endpoint {method} {name}; the run has {known}")

    def of_type(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def write_scenario(folder: Path, source: str, name: str = "scenario.py") -> Path:
    path = Path(folder) / name
    path.write_text(textwrap.dedent(source))
    return path


def plan_for(folder: Path, scenario: Path, host: str, **options) -> TestPlan:
    """A plan settled from CLI-style options (``users=5, duration="2s", threshold=[...]``)."""
    cli = {"scenario": str(scenario), "host": host, "processes": 1, **options}
    return settle(cli, {}, Path(folder))


class Watch:
    """An output (``surge.outputs.base``) that calls ``fn`` with every event: a test's observer."""

    def __init__(self, fn: Callable) -> None:
        self.fn = fn
        self.result: RunResult | None = None

    def handle(self, event) -> None:
        self.fn(event)

    def finish(self, result: RunResult) -> None:
        self.result = result


def execute_plan(plan: TestPlan, *, workers: int = 1, launcher: Launcher | None = None,
                 observers: tuple[Callable, ...] = (), outputs: tuple = (),
                 before: Callable[[Run], None] | None = None, guard_s: float = RUN_GUARD_S) -> Outcome:
    """Run ``plan`` to the end (thresholds judged as the CLI judges them) and collect its events.

    ``observers`` are plain callables given every event; ``outputs`` real output objects."""
    scenario = load_scenario(plan.scenario_path, tags=plan.tags, exclude_tags=plan.exclude_tags,
                             user_classes=plan.user_classes)
    if launcher is None and workers != plan.processes:
        plan = plan.replace(processes=workers)  # the workers split the plan as worker processes would
    events: list = []
    run = Run(plan, scenario, launcher=launcher or InProcessLauncher(),
              outputs=[ThresholdJudge.for_plan(plan), Watch(events.append), *map(Watch, observers), *outputs])

    async def main() -> RunResult:
        if before is not None:
            before(run)
        return await asyncio.wait_for(run.execute(), guard_s)

    result = asyncio.run(main())
    return Outcome(result, plan, events)


class Runner:
    """The ``runner`` fixture: write a scenario into the test's tmp folder, settle a plan, run it."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def write(self, source: str, name: str = "scenario.py") -> Path:
        return write_scenario(self.folder, source, name)

    def plan(self, scenario: Path, host: str, **options) -> TestPlan:
        return plan_for(self.folder, scenario, host, **options)

    def execute(self, plan: TestPlan, **kw) -> Outcome:
        return execute_plan(plan, **kw)

    def run(self, source: str, host: str, *, workers: int = 1, launcher: Launcher | None = None,
            observers: tuple[Callable, ...] = (), outputs: tuple = (),
            before: Callable[[Run], None] | None = None, **options) -> Outcome:
        """Write ``source``, settle ``options`` (CLI keys) and run: the common case in one call."""
        plan = self.plan(self.write(source), host, **options)
        return execute_plan(plan, workers=workers, launcher=launcher, observers=observers, outputs=outputs,
                            before=before)


@pytest.fixture
def runner(tmp_path) -> Runner:
    return Runner(tmp_path)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def refused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"
