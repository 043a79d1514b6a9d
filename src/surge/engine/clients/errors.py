"""The closed set of request failure kinds (DESIGN.md: Measurement semantics)."""
from __future__ import annotations

import re

from ...model.kinds import FailureKind

CONNECT, TIMEOUT, RESET, PROTOCOL, STATUS, CHECK, EXCEPTION, CLOSED = FailureKind
KINDS = tuple(FailureKind)

_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{4,}\b")


class RequestFailure(Exception):
    """A request that got no usable response. ``kind`` is a FailureKind; raised ``from`` the cause.

    Two facts about the attempt travel with it, for the client's one retry (``http.py``):
    ``early`` — the connection closed before any byte of the response came; ``unsent`` —
    nothing of the request was even written (the connection had closed first).
    """

    early = False
    unsent = False

    def __init__(self, kind: FailureKind, message: str) -> None:
        message = stable_message(message)
        super().__init__(message)
        self.kind = kind
        self.message = message


class CountedFailure(Exception):
    """A failure a client raised into the task after counting it under its own series (a
    WebSocket that could not connect, or that the server dropped): the virtual user does not
    count it again as a task exception when ``counted`` is true."""

    counted = True


def stable_message(text: str) -> str:
    """``text`` with memory addresses (``0x7f3a…``) blanked: failures are grouped by their
    message, and an address in it makes every occurrence a group of its own."""
    return _ADDRESS.sub("0x…", text) if "0x" in text else text
