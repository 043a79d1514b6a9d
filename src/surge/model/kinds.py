"""The closed vocabularies of a run, as enums: run status, workload kind, arrival
process, failure kind, live mode.

Each member *is* its string (``RunStatus.PASSED == "passed"``), so JSON, CSV and comparisons
with plain strings keep working, while code that means one of a fixed set says so.
"""
from __future__ import annotations

import enum


class _Words(str, enum.Enum):
    """A string enum whose ``str()`` and format are the bare value (3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return str.__str__(self)

    __format__ = str.__format__


class RunStatus(_Words):
    PASSED = "passed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class WorkloadKind(_Words):
    CLOSED = "closed"  # virtual users looping over tasks
    OPEN = "open"  # iterations arriving at a scheduled rate


class Arrival(_Words):
    """How an open workload's iterations arrive at the scheduled rate."""

    UNIFORM = "uniform"  # evenly spaced: iteration k when the rate's integral reaches k
    POISSON = "poisson"  # a (non-homogeneous) Poisson process at that rate (surge.model.arrivals)


class FailureKind(_Words):
    """Why a request failed (DESIGN.md, Measurement semantics)."""

    CONNECT = "connect"
    TIMEOUT = "timeout"
    RESET = "reset"
    PROTOCOL = "protocol"  # bytes that are not valid HTTP
    STATUS = "status"  # HTTP status >= 400 unless the scenario accepts it
    CHECK = "check"  # a scenario check marked it failed
    EXCEPTION = "exception"  # the task's own code raised
    CLOSED = "closed"  # a WebSocket / Socket.IO connection the server closed (or that broke) while in use


class LiveMode(_Words):
    AUTO = "auto"  # rich on a terminal, else lines
    RICH = "rich"
    LINES = "lines"
    OFF = "off"
