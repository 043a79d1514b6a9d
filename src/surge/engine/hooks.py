"""Event hooks for scenario authors: typed, per run, no globals.

A scenario module may define::

    def on_request(event):          # every request counted, in the worker that sent it
        ...                         # event: surge.RequestEvent (method, name, latency_ms, ...)
    def on_test_start(run): ...     # once, in the coordinator, after setup() and before the load
    def on_test_stop(run, summary): # once, in the coordinator, with the final RunSummary

or a user may register ``on_request`` on its run: ``self.run.events.on_request(fn)`` (in
``on_start``, say; each worker's users register in that worker, once per user unless they
check ``fn in self.run.events.request``). ``on_test_start`` / ``on_test_stop`` run in the
coordinator, so only the scenario module defines them.

Cost. Without an ``on_request`` hook the request path is exactly what it was: each worker's
clients are of a subclass of :class:`HttpClient` made for that worker (no method of its own,
so the same lookups); the first hook installs two overrides on that subclass, which every
client of the worker, also those alive already, then takes. With a hook, each request costs
an event object and the calls (``benchmarks/hooks.py`` measures it).

Errors. A hook that raises is reported once (a warning naming the hook and the error), its
further errors are counted and the count is reported at the end; the run goes on, the
request is counted as it was. A hook that blocks holds the event loop it runs on (the
worker's for on_request, the coordinator's for start/stop): the loop guard (``guard.py``)
applies as to a task that blocks; a stop past its deadline raises into the hook, and the
request's task is then counted failed. ``on_test_start`` / ``on_test_stop`` may be ``async``.
"""
from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.events import RequestEvent
from ..model.plan import TestPlan
from .clients.errors import TIMEOUT
from .clients.http import HttpClient

#: the module-level functions a scenario may define, by event
HOOK_NAMES = ("on_request", "on_test_start", "on_test_stop")


class RunEvents:
    """The hooks of one run in one process: lists of callables, by event. ``where`` is
    ``"worker"`` or ``"coordinator"``: only a worker runs request hooks, only the coordinator
    start and stop hooks."""

    def __init__(self, where: str, warn: Callable[[str], None] = lambda message: None) -> None:
        self.where = where
        self.request: list[Callable[[RequestEvent], Any]] = []
        self.test_start: list[Callable] = []
        self.test_stop: list[Callable] = []
        self._warn = warn
        self._errors: dict[str, int] = {}
        self._first: dict[str, str] = {}
        self._client_class: type[HttpClient] | None = None

    # -- registering ------------------------------------------------------------------------
    def on_request(self, fn: Callable[[RequestEvent], Any]) -> Callable:
        """Call ``fn(event)`` for every request this worker counts from now on (a plain function)."""
        if inspect.iscoroutinefunction(fn):
            raise TypeError(f"on_request hook {_name(fn)} must be a plain function (def, not async def): "
                            "it runs in every request's path")
        self.request.append(fn)
        if len(self.request) == 1 and self._client_class is not None:
            _hook_client_class(self._client_class, self)
        return fn

    def on_test_start(self, fn: Callable) -> Callable:
        self._coordinator_only("on_test_start")
        self.test_start.append(fn)
        return fn

    def on_test_stop(self, fn: Callable) -> Callable:
        self._coordinator_only("on_test_stop")
        self.test_stop.append(fn)
        return fn

    def _coordinator_only(self, name: str) -> None:
        if self.where != "coordinator":
            raise RuntimeError(f"{name} runs once in the coordinator: define `def {name}(...)` in the scenario "
                               "module (a user's self.run.events takes on_request only)")

    # -- the worker's clients -----------------------------------------------------------------
    def client_class(self) -> type[HttpClient]:
        """The class of this worker's clients: a subclass of HttpClient of its own, hooked once
        the first on_request hook is registered (before or after its clients exist)."""
        if self._client_class is None:
            # ``events``: what its WebSocket and Socket.IO connections hand their counted requests to
            self._client_class = type("WorkerHttpClient", (HttpClient,), {"__slots__": (), "events": self})
            if self.request:
                _hook_client_class(self._client_class, self)
        return self._client_class

    # -- calling ----------------------------------------------------------------------------------
    def request_done(self, event: RequestEvent) -> None:
        for fn in self.request:
            try:
                fn(event)
            except Exception as exc:
                self.failed("on_request", fn, exc)

    async def call(self, event: str, *args: Any) -> None:
        """Run the ``test_start`` / ``test_stop`` hooks in order (awaiting async ones); errors warned."""
        name = f"on_{event}"
        for fn in getattr(self, event):
            try:
                result = fn(*args)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except (Exception, SystemExit) as exc:
                self.failed(name, fn, exc)

    def failed(self, hook: str, fn: Callable, exc: BaseException) -> None:
        key = f"{hook} hook {_name(fn)}"
        count = self._errors.get(key, 0) + 1
        self._errors[key] = count
        if count == 1:
            self._first[key] = f"{type(exc).__name__}: {exc}"
            self._warn(f"{key} raised {self._first[key]}; the run goes on (its errors are counted)")

    def report(self, where: str = "") -> None:
        """Warn how often each hook raised, when more than once (the first was warned already)."""
        for key, count in self._errors.items():
            if count > 1:
                self._warn(f"{key} raised {count:,} times{where} (first: {self._first[key]})")

    @property
    def errors(self) -> dict[str, int]:
        """How often each hook raised, by ``"<event> hook <name>"``."""
        return dict(self._errors)


@dataclass
class RunHandle:
    """What hooks and users see as ``run``: the frozen plan, this process's hooks, and where it
    runs (``worker_id`` None in the coordinator). ``data`` is what ``setup()`` returned."""

    plan: TestPlan
    events: RunEvents
    worker_id: int | None = None
    workers: int = 1
    data: Any = field(default=None, repr=False)


def scenario_hooks(module: Any) -> dict[str, Callable]:
    """The hook functions a scenario module defines, by name (see :data:`HOOK_NAMES`); a
    function marked ``surge_listener`` is another API's event listener that happens to bear the
    name (a locustfile's ``@events.test_start.add_listener def on_test_start(environment)``)."""
    found = {}
    for name in HOOK_NAMES:
        fn = getattr(module, name, None)
        if callable(fn) and not isinstance(fn, type) and not getattr(fn, "surge_listener", False):
            found[name] = fn
    return found


def _name(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


def _hook_client_class(cls: type[HttpClient], events: RunEvents) -> None:
    """Install the two recording overrides on a worker's client class: each calls HttpClient's
    own, then hands the counted request to the hooks (the points where a request is counted:
    an answer, or a failure without one). The event's fields are set as one ``__dict__``
    (``object.__setattr__`` past the frozen guard): ~2x cheaper than its ``__init__``."""
    answered, failed, done = HttpClient._answered, HttpClient._failed, events.request_done
    new, put = object.__new__, object.__setattr__

    def _answered(self, entry, opts, result, start_ns, sent_ns):
        resp = answered(self, entry, opts, result, start_ns, sent_ns)
        event = new(RequestEvent)
        put(event, "__dict__", {"method": entry[0], "name": entry[2].name, "latency_ms": resp.elapsed_ms,
                                "status": resp.status, "error": "status" if resp.failed else None,
                                "bytes_received": len(result[2]), "bytes_sent": len(entry[4])})
        done(event)
        return resp

    def _failed(self, entry, failure, timeout_ns):
        resp = failed(self, entry, failure, timeout_ns)
        latency = timeout_ns / 1e6 if failure.kind == TIMEOUT else None
        done(RequestEvent(entry[0], entry[2].name, latency, 0, str(failure.kind), 0, len(entry[4])))
        return resp

    cls._answered = _answered  # type: ignore[method-assign]
    cls._failed = _failed  # type: ignore[method-assign]
