"""What the monitors of a server (PostgreSQL, Redis) share: a URL checked before anything
connects, the driver imported only when it is needed, and error text that never carries the
URL's password.

Drivers are optional extras (``surge[postgres]``, ``surge[redis]``): a run without ``--db`` must
not need psycopg. Their error messages may quote the connection string, so every message that
leaves a monitor goes through :meth:`Source.scrub` (the URL's password by value, and any
``scheme://user:password@`` or ``password=...`` by pattern) and is made one line.
"""
from __future__ import annotations

import contextlib
import importlib
from types import ModuleType
from urllib.parse import urlsplit

from ..model.errors import ConfigError
from ..model.redact import Redactor, redact_url
from .base import MonitorUnavailable


class Source:
    """A server's URL, checked for shape (not reachability) when built.

    ``what`` names the server for messages (``PostgreSQL``); ``schemes`` are the URL schemes it
    accepts. A malformed URL raises :class:`ConfigError` naming it redacted (exit 2).
    """

    def __init__(self, url: str, *, what: str, schemes: tuple[str, ...]) -> None:
        self.url = url
        self.what = what
        self._redactor = Redactor(urls=(url,))
        self.shown = self.scrub(redact_url(url))  # the URL as every message and file shows it
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as exc:
            raise ConfigError(f"{what} URL {self.shown!r} is malformed: {self.scrub(str(exc))}") from None
        if parts.scheme.lower() not in schemes:
            expected = " or ".join(f"{s}://" for s in schemes)
            raise ConfigError(f"{what} URL {self.shown!r} is malformed: it should start with {expected}")
        self.parts = parts

    def scrub(self, text: str) -> str:
        """``text`` on one line, without the URL's password (or any other credential-looking value)."""
        return self._redactor(" ".join(str(text).split()))

    def unavailable(self, reason: str, hint: str | None = None) -> MonitorUnavailable:
        return MonitorUnavailable(f"{self.what} at {self.shown} is unavailable: {self.scrub(reason)}", hint)

    def malformed(self, reason: str) -> MonitorUnavailable:
        return MonitorUnavailable(f"{self.what} URL {self.shown!r} is malformed: {self.scrub(reason)}")


def import_driver(module: str, *, extra: str, what: str) -> ModuleType:
    """Import a monitor's driver, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MonitorUnavailable(f"watching {what} needs the {module} package, which is not installed",
                                 f"pip install 'surge[{extra}]'") from None


def close_quietly(connection: object) -> None:
    """Close a driver's connection (or client) that may be broken already, or None."""
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()  # type: ignore[attr-defined]
