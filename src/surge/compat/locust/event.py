"""``locust.event`` / ``locust.events``: Locust's event hooks, fired where surge runs the matching step.

* ``request``: in the process whose user sent the request, after it was counted (for
  ``catch_response`` requests, at the end of the ``with`` block, with the verdict).
* ``init``: in every process, once the locustfile is loaded (``environment.runner`` is set).
* ``test_start``, ``test_stopping``, ``test_stop``, ``quitting``, ``quit``: once, in the coordinator
  (the ``surge`` process), around the load; ``environment.stats`` is then the run's final
  figures across every worker. Module state that ``request`` listeners keep lives in the worker
  processes; with ``--processes 1`` the workers run inside the coordinator, as in Locust's
  single-process mode.

A listener that raises is reported once on stderr and the run goes on, as in Locust.
"""
from __future__ import annotations

import sys

from ...model.errors import ConfigError


class EventHook:
    def __init__(self, name: str = "") -> None:
        self._name = name
        self._handlers: list = []
        self._reported = False

    def add_listener(self, handler):
        self._handlers.append(handler)
        try:  # a locustfile's `def on_request(...)` listener is not surge's module hook of that name
            handler.surge_listener = True
        except (AttributeError, TypeError):  # a bound method, a builtin: it has no module-level name anyway
            pass
        return handler

    def remove_listener(self, handler) -> None:
        self._handlers.remove(handler)

    def fire(self, *, reverse: bool = False, **kwargs) -> None:
        handlers = reversed(self._handlers) if reverse else self._handlers
        for handler in list(handlers):
            try:
                handler(**kwargs)
            except Exception as exc:
                if not self._reported:
                    self._reported = True
                    print(f"surge: a listener of events.{self._name} raised {type(exc).__name__}: {exc}",
                          file=sys.stderr)


class _Unsupported(EventHook):
    def __init__(self, name: str, hint: str) -> None:
        super().__init__(name)
        self._hint = hint

    def add_listener(self, handler):
        raise ConfigError(f"events.{self._name} is not supported by surge's Locust layer", self._hint)


_HOOKS = ("request", "user_error", "report_to_master", "worker_report", "worker_connect", "spawning_complete",
          "quitting", "quit", "init", "test_start", "test_stopping", "test_stop", "reset_stats",
          "cpu_warning", "heartbeat_sent", "heartbeat_received", "usage_monitor")


class Events:
    def __init__(self) -> None:
        for name in _HOOKS:
            setattr(self, name, EventHook(name))
        self.init_command_line_parser = _Unsupported(
            "init_command_line_parser", "surge run has no custom flags; read an environment variable instead")


events = Events()

DeprecatedEventHook = EventHook
__all__ = ["DeprecatedEventHook", "EventHook", "Events", "events"]
