"""``locust``, as a locustfile imported by surge sees it: Locust's API mapped onto surge's engine.

A scenario file that imports ``locust`` (or ``locust.<submodule>``) gets this package, whether or
not Locust is installed: the scenario loader (``surge.engine.scenario``) maps the name here
before the file is imported, in the coordinator and in every worker process. The real Locust
is never imported (it monkey-patches the process with gevent on import).

What a locustfile uses and where it lives: users and TaskSets in ``_users``, ``self.client``
and its responses in ``_client``, the greenlet bridge in ``_bridge``, events in ``event``,
``environment.stats`` in ``stats``, shapes in ``shape``. A name Locust has and surge does not
fails the import with one line naming it and what to use instead (exit 2).
"""
from __future__ import annotations

from ...model.errors import ConfigError
from . import exception
from ._users import HttpUser, SequentialTaskSet, TaskSet, User, between, constant, constant_pacing
from ._users import constant_throughput, tag, task
from .contrib.fasthttp import FastHttpUser
from .env import environment
from .event import events
from ._sleep import make_sleep_cooperative
from .shape import LoadTestShape
from .stats import local_stats

__version__ = "2.99.0+surge"  # Locust 2.x's API; not Locust itself

#: names of Locust's top-level API surge does not provide, and what to use instead
_UNSUPPORTED = {
    "run_single_user": "run the file with `surge run FILE -u 1 -i 1`",
    "HttpLocust": "Locust 0.x's name: use HttpUser",
    "Locust": "Locust 0.x's name: use User",
    "TaskSequence": "Locust 0.x's name: use SequentialTaskSet",
    "seq_task": "Locust 0.x's decorator: use SequentialTaskSet with @task",
    "web": "surge has no Locust web UI: use `surge run ... --live rich` or `surge web`",
}


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)
    hint = _UNSUPPORTED.get(name, "see 'Running a locustfile' in surge's README for what is supported")
    raise ConfigError(f"locust.{name} is not supported by surge's Locust compatibility layer", hint)


def surge_before_import() -> None:
    """The scenario loader imports a file (again, in this process): its listeners and this
    process's statistics start afresh."""
    events.__init__()
    local_stats.reset_all()
    environment.__init__()


_initialised: list = []  # the scenario modules whose init event fired (a module is reused in-process)


def surge_loaded(scenario) -> None:
    """Called by the scenario loader once a locustfile was imported in this process: Locust's
    ``init`` event, with the environment knowing its user classes and shape."""
    if any(module is scenario.module for module in _initialised):
        return
    _initialised[:] = [scenario.module]
    make_sleep_cooperative(scenario.module)
    try:
        local_stats.kept = "stats" in scenario.path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        local_stats.kept = True
    environment.user_classes = [plan.cls for plan in scenario.user_classes]
    environment.shape_class = scenario.shape() if scenario.shape is not None else None
    environment.host = scenario.default_host
    events.init.fire(environment=environment, runner=environment.runner, web_ui=None)


__all__ = ["FastHttpUser", "HttpUser", "LoadTestShape", "SequentialTaskSet", "TaskSet", "User",
           "__version__", "between", "constant", "constant_pacing", "constant_throughput",
           "environment", "events", "exception", "tag", "task"]
