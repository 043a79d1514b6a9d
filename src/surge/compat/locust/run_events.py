"""The coordinator's side of Locust's events: ``test_start`` before the load, ``test_stop`` and
``quitting`` after it, with ``environment.stats`` holding the run's final figures.

An output of the run (``surge.outputs.base``): it fires from ``handle(RunStarted)`` and
``finish(result)``, so listeners run once per run, in the ``surge`` process, whatever the number
of workers. ``environment.process_exit_code`` set by a listener becomes the run's exit code, as
in Locust.
"""
from __future__ import annotations

from ...model.events import IntervalStats, RunStarted
from .env import environment
from .event import events
from .runners import STATE_RUNNING, STATE_STOPPED
from .stats import from_result, local_stats


class LocustEvents:
    def __init__(self) -> None:
        self.exit_code: int | None = None

    def handle(self, event) -> None:
        if isinstance(event, RunStarted):
            # a run in a process that ran one before (a suite, tests): nothing carries over
            environment.process_exit_code = None
            environment.stats = local_stats
            local_stats.reset_all()
            environment.host = event.host
            environment.runner.state = STATE_RUNNING
            events.test_start.fire(environment=environment)
        elif isinstance(event, IntervalStats):
            environment.runner.user_count = event.users

    def finish(self, result) -> None:
        environment.stats = from_result(result)
        environment.runner.state = STATE_STOPPED
        events.test_stopping.fire(environment=environment)
        events.test_stop.fire(environment=environment)
        events.quitting.fire(environment=environment)
        if environment.process_exit_code is not None:
            self.exit_code = int(environment.process_exit_code)
        events.quit.fire(exit_code=self.exit_code if self.exit_code is not None else result.exit_code)


def uses_locust(scenario) -> bool:
    """Whether a loaded scenario's user classes are Locust's (``surge.compat.locust.User``)."""
    from ._users import User

    return any(issubclass(plan.cls, User) for plan in scenario.user_classes)
