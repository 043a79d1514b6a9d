"""Keeping a process stoppable when code holds its event loop.

A stop is a message the event loop reads: the coordinator's signal handler, a worker's
control frame. Code that never gives the loop a turn (a task spinning in a CPU loop, a
``time.sleep`` in an ``async`` hook) makes every such message wait, and Ctrl-C, Ctrl-C,
SIGTERM went unanswered for good. The guard is the one way out that does not need the loop:

* a heartbeat on the loop (a timer every :data:`BEAT_S`) tells whether the loop is turning;
* SIGINT and SIGTERM are caught at the Python level, so their handler runs in the main thread
  between two bytecodes even while a task spins: it hands the signal to the loop
  (``call_soon_threadsafe``), and when the loop is held and the stop is already past its
  deadline (a second signal, or the deadline the owner gave) it raises :class:`Escalated`
  right there, into the code that holds the loop;
* a watchdog thread raises it the same way (by sending the main thread SIGINT) when a
  deadline passes while the loop is held and no signal comes: a run stops by itself.

:class:`Escalated` derives from ``BaseException``, so a task's ``except Exception`` does not
swallow it; the user loops count it as a failure of the task and end that user.
"""
from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable

BEAT_S = 0.1
#: the loop is held when its heartbeat is older than this
HELD_S = 1.0
#: after a forced escalation, how soon the next may follow (each held task needs its own)
REPEAT_S = 0.5

_monotonic = time.perf_counter  # the clock of every deadline handed in (perf_counter)


class Escalated(BaseException):
    """Raised into code that held the event loop past a stop's deadline."""


class LoopGuard:
    """Watch one event loop; escalate stops it cannot read. ``on_signal(signum)`` runs on the
    loop for every SIGINT/SIGTERM (when ``signals`` is true); ``deadline()`` returns the
    monotonic time past which a held loop is escalated (None: no deadline); ``armed()`` says
    whether raising into the main thread is safe now (the load or a hook runs, not surge's
    own bookkeeping). ``grace_s``: how long a held loop is given after the first signal.

    With ``signals`` false (a worker process) SIGTERM is left alone and SIGINT, which only its
    coordinator sends it (a worker leaves the terminal's process group), means "escalate now"
    and is ignored while the loop turns."""

    def __init__(self, loop: asyncio.AbstractEventLoop, *, on_signal: Callable[[int], None] | None = None,
                 deadline: Callable[[], float | None] = lambda: None,
                 armed: Callable[[], bool] = lambda: True, signals: bool = True, grace_s: float = 5.0) -> None:
        self._loop = loop
        self._on_signal = on_signal
        self._deadline = deadline
        self._armed = armed
        self._signals = signals
        self._grace_s = grace_s
        self.beat = _monotonic()
        self.signals_seen = 0
        self.escalations = 0
        self._forced = False
        self._last_force = 0.0
        self._signal_deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._saved: dict[int, object] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._main = threading.main_thread().ident

    # -- lifecycle ------------------------------------------------------------------------
    def install(self) -> "LoopGuard":
        self._tick()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM) if self._signals else (signal.SIGINT,):
                self._saved[signum] = signal.signal(signum, self._handle)
        self._thread = threading.Thread(target=self._watch, name="surge-loop-guard", daemon=True)
        self._thread.start()
        return self

    def uninstall(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
        for signum, previous in self._saved.items():
            signal.signal(signum, previous)
        self._saved.clear()

    def held(self) -> bool:
        return _monotonic() - self.beat > HELD_S

    def escalate_after(self, seconds: float) -> None:
        """A stop was asked: a loop still held ``seconds`` from now is escalated."""
        at = _monotonic() + seconds
        if self._signal_deadline is None or at < self._signal_deadline:
            self._signal_deadline = at

    # -- internals ---------------------------------------------------------------------------
    def _tick(self) -> None:
        self.beat = _monotonic()
        self._timer = self._loop.call_later(BEAT_S, self._tick)

    def _handle(self, signum: int, frame: object) -> None:
        """The Python-level handler: main thread, between two bytecodes of whatever runs."""
        if self._forced:
            self._forced = False
            self.escalations += 1
            raise Escalated("stopped: this code held the event loop past the stop's deadline")
        if not self._signals:  # a worker: SIGINT comes from its coordinator only, meaning "escalate now"
            if self.held() and self._armed():
                self.escalations += 1
                raise Escalated("stopped by the coordinator: this code held the worker's event loop "
                                "past the stop's deadline")
            return
        self.signals_seen += 1
        self.escalate_after(self._grace_s if self.signals_seen == 1 else 0.0)
        if self._on_signal is not None:
            try:
                self._loop.call_soon_threadsafe(self._on_signal, int(signum))
            except RuntimeError:  # the loop is closed: nothing is left to stop gracefully
                pass
        if self.signals_seen >= 2 and self.held() and self._armed():
            self.escalations += 1
            raise Escalated(f"stopped: {signal.Signals(signum).name} arrived again while this code "
                            "held the event loop")

    def _watch(self) -> None:
        while not self._stop.wait(BEAT_S):
            now = _monotonic()
            deadlines = [d for d in (self._deadline(), self._signal_deadline) if d is not None]
            if not deadlines or now < min(deadlines) or not self.held() or not self._armed():
                continue
            if now - self._last_force < (REPEAT_S if self.escalations else HELD_S):
                continue
            self._last_force = now
            self._forced = True
            try:
                signal.pthread_kill(self._main, signal.SIGINT)
            except (OSError, ValueError):  # pragma: no cover - the main thread is gone
                return
