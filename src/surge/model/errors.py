"""The error hierarchy and the exit codes they map to.

Only the CLI turns a :class:`SurgeError` into an exit code and a one-line hint; everything
below it raises typed errors with a message that names the bad key and value.
"""
from __future__ import annotations

import enum
from collections.abc import Callable


class ExitCode(enum.IntEnum):
    PASSED = 0
    THRESHOLDS_FAILED = 1
    USAGE = 2
    CANNOT_PROCEED = 3
    INTERRUPTED = 130  # Ctrl-C
    TERMINATED = 143  # SIGTERM


class SurgeError(Exception):
    """Base of every error surge reports to a user. ``hint`` says what to do about it."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"

    def scrub(self, redact: Callable[[str], str]) -> "SurgeError":
        """Pass the message and hint through ``redact`` (in place: the traceback stays); self."""
        self.message = redact(self.message)
        self.args = (self.message,)
        if self.hint:
            self.hint = redact(self.hint)
        return self


class ConfigError(SurgeError):
    """A flag, config key, profile, duration, URL or threshold is invalid (exit 2)."""

    exit_code = ExitCode.USAGE


class ScenarioError(SurgeError):
    """The scenario file is missing, fails to import, or defines no user class (exit 3)."""

    exit_code = ExitCode.CANNOT_PROCEED


class TargetUnreachable(SurgeError):
    """The target did not answer the --health preflight in time (exit 3)."""

    exit_code = ExitCode.CANNOT_PROCEED
