"""The closed set of request failure kinds (DESIGN.md: Measurement semantics)."""
from __future__ import annotations

from ...model.kinds import FailureKind

CONNECT, TIMEOUT, RESET, PROTOCOL, STATUS, CHECK, EXCEPTION = FailureKind
KINDS = tuple(FailureKind)


class RequestFailure(Exception):
    """A request that got no usable response. ``kind`` is a FailureKind; raised ``from`` the cause."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
