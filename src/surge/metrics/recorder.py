"""Worker-side recording: the hot path appends integers; the interval flush bins them.

A request costs one dict lookup (its series) and a list append or two; histograms are built
once per interval from the buffered values (see :meth:`Histogram.record_many`).

A task whose own code raised is counted as a failed "request" of the series
``TASK <Class.task>`` (kind ``exception``), so error rates, the verdict and thresholds see it;
it is not timed.

Failure messages and warnings leave the worker scrubbed of credentials (``Recorder.redactor``):
once per distinct message at the interval's flush, so a failing request costs what it did.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from ..model.kinds import FailureKind
from ..model.redact import Redactor
from .hdr import Histogram
from .snapshot import SeriesSnapshot

MAX_SERIES = 1000
OTHER = "(other)"
#: the method of the series that count task exceptions (``TASK Browser.checkout``)
TASK = "TASK"
CAP_WARNING = (f"more than {MAX_SERIES} distinct endpoint names; further ones are grouped under "
               f"{OTHER!r}: pass name= to group URLs that carry ids")


class Series:
    """One (method, name)'s counters for the current interval. Mutated directly by the client."""

    __slots__ = ("method", "name", "latencies_us", "service_us", "requests", "failures", "cancelled",
                 "bytes_received", "bytes_sent", "errors", "messages_sent", "messages_received")

    def __init__(self, method: str, name: str) -> None:
        self.method = method
        self.name = name
        self.latencies_us: list[int] = []
        self.service_us: list[int] = []
        self.requests = 0
        self.failures = 0
        self.cancelled = 0
        self.bytes_received = 0
        self.bytes_sent = 0
        self.errors: Counter[tuple[str, str]] = Counter()
        #: WebSocket / Socket.IO messages on this series' connections (0 for HTTP)
        self.messages_sent = 0
        self.messages_received = 0

    def fail(self, kind: str, message: str) -> None:
        self.failures += 1
        self.errors[(kind, message)] += 1

    def flush(self, redact: Callable[[str], str] = str) -> SeriesSnapshot | None:
        """This interval's figures (None without traffic); ``redact`` scrubs each failure message."""
        if not (self.requests or self.cancelled or self.failures or self.messages_sent or self.messages_received):
            return None
        snap = SeriesSnapshot(
            self.method, self.name,
            latency=_wire(self.latencies_us), service=_wire(self.service_us),
            requests=self.requests, failures=self.failures, cancelled=self.cancelled,
            bytes_received=self.bytes_received, bytes_sent=self.bytes_sent,
            errors=[[str(k), redact(m), c] for (k, m), c in self.errors.items()],
            messages_sent=self.messages_sent, messages_received=self.messages_received,
        )
        self.latencies_us, self.service_us = [], []
        self.requests = self.failures = self.cancelled = self.bytes_received = self.bytes_sent = 0
        self.errors = Counter()
        self.messages_sent = self.messages_received = 0
        return snap


def _wire(values: list[int]):
    if not values:
        return None
    h = Histogram()
    h.record_many(values)
    return h.to_wire()


class Recorder:
    """All series of one worker. ``series()`` caps distinct names at :data:`MAX_SERIES`.

    Also counts what the verdict needs beyond requests: users that started or failed to start,
    and one-line warnings (each sent once) for the coordinator to show. ``redactor`` knows the
    run's secrets (the worker and the clients tell it) and scrubs what is flushed.
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor if redactor is not None else Redactor()
        self._series: dict[tuple[str, str], Series] = {}
        self.warnings: list[str] = []
        self._warned: set[str] = set()
        self.users_started = 0
        self.users_start_failed = 0

    def series(self, method: str, name: str) -> Series:
        key = (method, name)
        s = self._series.get(key)
        if s is None:
            if len(self._series) >= MAX_SERIES:
                self.warn(CAP_WARNING)
                key = (method, OTHER)
                s = self._series.get(key)
                if s is not None:
                    return s
            s = self._series[key] = Series(*key)
        return s

    def task_error(self, task: str, message: str) -> None:
        """The task (``Class.name``) or hook raised: one failed, untimed request of ``TASK task``."""
        s = self.series(TASK, task)
        s.requests += 1
        s.fail(FailureKind.EXCEPTION, message)

    def warn(self, message: str) -> None:
        """A warning for the user, sent with the next snapshot; each distinct text only once."""
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(message)

    def flush(self) -> tuple[list[SeriesSnapshot], list[str]]:
        """This interval's series with traffic, and the new warnings. A series whose histogram
        cannot be built keeps its figures for the next flush (with a warning); the rest go now."""
        snaps = []
        redact = self.redactor
        for series in self._series.values():
            try:
                snap = series.flush(redact)
            except Exception as exc:
                self.warn(f"some series could not be sent with an interval ({type(exc).__name__}: {exc}); "
                          "their figures stay for the next one")
                continue
            if snap is not None:
                snaps.append(snap)
        warnings, self.warnings = self.warnings, []
        return snaps, [redact(w) for w in warnings]
