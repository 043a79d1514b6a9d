"""``locust.runners``: the runner classes listeners test ``environment.runner`` against.

Every surge process has a :class:`LocalRunner` (Locust's single-process runner): the
coordinator fires the test events once, so ``isinstance(environment.runner, MasterRunner)``
guards written for Locust's distributed mode are simply false.
"""
from __future__ import annotations

STATE_INIT, STATE_SPAWNING, STATE_RUNNING, STATE_CLEANUP, STATE_STOPPING, STATE_STOPPED, STATE_MISSING = (
    "ready", "spawning", "running", "cleanup", "stopping", "stopped", "missing")


class Runner:
    def __init__(self, environment) -> None:
        self.environment = environment
        self.state = STATE_INIT
        #: users of this process alive now (counted as surge's users start and stop)
        self.user_count = 0
        self.spawning_greenlet = None

    @property
    def stats(self):
        return self.environment.stats

    @property
    def user_classes_count(self) -> dict:
        return {}

    def quit(self) -> None:
        from .exception import StopUser

        raise StopUser()  # inside a task: this user ends; the run ends at its planned time

    stop = quit


class LocalRunner(Runner):
    pass


class MasterRunner(Runner):
    pass


class WorkerRunner(Runner):
    pass


__all__ = ["LocalRunner", "MasterRunner", "Runner", "WorkerRunner"]
