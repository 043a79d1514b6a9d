"""surge: load and performance testing for HTTP APIs.

What a scenario file imports. Importing surge patches nothing, starts no event loop and
installs no signal handler.
"""
TYPE_CHECKING = False  # not ``typing.TYPE_CHECKING``: importing typing here would widen the moment at
# start-up when Ctrl-C still meets Python's own handler (a KeyboardInterrupt traceback), before the
# command line's handler is installed (``surge.cli.main``)

#: where each name lives; imported on first use (PEP 562), so that ``surge --help`` and the
#: command line's own signal handling begin before the engine is imported (~120 ms)
_HOMES = {
    "Response": ".engine.clients.response", "RequestEvent": ".model.events",
    "HttpUser": ".engine.user", "LoadTestShape": ".engine.user", "StopUser": ".engine.user",
    "User": ".engine.user", "between": ".engine.user", "constant": ".engine.user",
    "constant_pacing": ".engine.user", "poisson": ".engine.user", "tag": ".engine.user", "task": ".engine.user",
    "WebSocketClosed": ".engine.clients.websocket", "WebSocketTimeout": ".engine.clients.websocket",
    "Counter": ".metrics.custom", "Rate": ".metrics.custom", "Trend": ".metrics.custom",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .engine.clients.response import Response
    from .engine.clients.websocket import WebSocketClosed, WebSocketTimeout
    from .engine.user import (HttpUser, LoadTestShape, StopUser, User, between, constant, constant_pacing,
                              poisson, tag, task)
    from .metrics.custom import Counter, Rate, Trend
    from .model.events import RequestEvent
del TYPE_CHECKING  # not part of the vocabulary


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'surge' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__version__ = "0.1.0"

__all__ = [
    "Counter",
    "HttpUser",
    "LoadTestShape",
    "Rate",
    "RequestEvent",
    "Response",
    "StopUser",
    "Trend",
    "User",
    "WebSocketClosed",
    "WebSocketTimeout",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "poisson",
    "tag",
    "task",
]
