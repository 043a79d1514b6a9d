"""surge: load and performance testing for HTTP APIs.

What a scenario file imports. Importing surge patches nothing, starts no event loop and
installs no signal handler.
"""
from .engine.clients.response import Response
from .engine.user import (
    HttpUser,
    LoadTestShape,
    StopUser,
    User,
    between,
    constant,
    constant_pacing,
    tag,
    task,
)
from .metrics.custom import Counter, Rate, Trend

__version__ = "0.1.0"

__all__ = [
    "Counter",
    "HttpUser",
    "LoadTestShape",
    "Rate",
    "Response",
    "StopUser",
    "Trend",
    "User",
    "__version__",
    "between",
    "constant",
    "constant_pacing",
    "tag",
    "task",
]
