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
        self._worker = None  # the WorkerContext of this process's load (set as its users start)

    @property
    def stats(self):
        return self.environment.stats

    @property
    def user_classes_count(self) -> dict:
        return {}

    def quit(self) -> None:
        """Locust's ``runner.quit()`` from a task: this process's load ends (Locust's local runner
        ends the test; a worker's, that worker), said in a warning; the calling user stops at once,
        the others after their current iteration, within the graceful stop."""
        from .exception import StopUser

        worker = self._worker
        if worker is not None and not worker.stop.is_set():
            worker.recorder.warn(f"the locustfile called runner.quit() at {worker.elapsed():.1f}s: "
                                 "this worker's load ended before its plan")
            worker.stop.set()
        raise StopUser()

    stop = quit


class LocalRunner(Runner):
    pass


class MasterRunner(Runner):
    pass


class WorkerRunner(Runner):
    pass


__all__ = ["LocalRunner", "MasterRunner", "Runner", "WorkerRunner"]
