"""The closed set of request failure kinds (DESIGN.md: Measurement semantics)."""
from __future__ import annotations

CONNECT, TIMEOUT, RESET, PROTOCOL, STATUS, CHECK, EXCEPTION = (
    "connect", "timeout", "reset", "protocol", "status", "check", "exception")
KINDS = (CONNECT, TIMEOUT, RESET, PROTOCOL, STATUS, CHECK, EXCEPTION)


class RequestFailure(Exception):
    """A request that got no usable response. ``kind`` is one of KINDS; raised ``from`` the cause."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
