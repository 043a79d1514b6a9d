"""``locust.env``: the one :class:`Environment` of this process (``self.environment``, listeners' ``environment``)."""
from __future__ import annotations

import argparse

from .event import events as _events
from .runners import LocalRunner
from .stats import local_stats


class Environment:
    def __init__(self, *, events=None, host: str | None = None, user_classes=None, shape_class=None,
                 parsed_options=None, **_ignored) -> None:
        self.events = events or _events
        self.host = host
        self.user_classes = list(user_classes or [])
        self.shape_class = shape_class
        self.parsed_options = parsed_options or argparse.Namespace()
        self.stats = local_stats
        self.runner = LocalRunner(self)
        self.web_ui = None
        self.catch_exceptions = True
        #: set by a quitting/test_stop listener to choose the run's exit code (Locust's contract)
        self.process_exit_code: int | None = None

    def create_local_runner(self):
        return self.runner


#: this process's environment
environment = Environment()

__all__ = ["Environment", "environment"]
