"""Synchronous task code on the asyncio client: a greenlet per call, suspended at every request.

The technique of SQLAlchemy's asyncio support (``greenlet_spawn`` / ``await_only``): the sync
function runs in a child greenlet whose parent is the greenlet running the event loop. When the
sync code needs I/O it calls :func:`await_only` with an awaitable; that switches to the parent,
which (inside an ordinary coroutine, :func:`greenlet_spawn`) awaits it and switches back with the
result, or throws its exception into the child. No threads; one event loop serves every user.

Cancellation travels the same way: a task cancelled while its greenlet waits gets the
``CancelledError`` thrown in at the ``await_only`` call, so the sync code's ``finally`` blocks
run before the task ends.

Blocking calls in the sync code (``time.sleep``, a blocking socket) hold the whole event loop,
as blocking code in an ``async`` task does: every user of that worker waits. The loop guard
(``surge.engine.guard``) keeps the run stoppable; the live view's loop lag shows the stall.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import greenlet

T = TypeVar("T")
_getcurrent = greenlet.getcurrent


class _TaskGreenlet(greenlet.greenlet):
    """A greenlet that runs calls of sync task code, one after the other; its parent awaits for it.

    Kept for reuse (``_idle``): creating a greenlet costs ~14 µs on CPython 3.11 (its frame
    stack is allocated anew), a switch ~0.4 µs; a task's greenlet per iteration would cost more
    than the request it sends."""

    __slots__ = ()


class _Done:
    """What a task greenlet switches back with when its call ended (not an awaitable): its
    result or its error, one object per greenlet, reused."""

    __slots__ = ("value", "error")

    def __init__(self) -> None:
        self.value = self.error = None


def _serve(fn, args):
    """A task greenlet's life: run a call, hand back its outcome, wait for the next call."""
    parent = _getcurrent().parent
    done = _Done()
    while True:
        try:
            done.value = fn(*args)
        except greenlet.GreenletExit:
            raise
        except BaseException as exc:  # handed to the awaiting coroutine, which raises it
            done.error = exc
        fn = args = None
        fn, args = parent.switch(done)


#: task greenlets between calls, for the next call made from the same parent greenlet
_idle: list[_TaskGreenlet] = []


def in_task_greenlet() -> bool:
    """Whether the caller runs inside :func:`greenlet_spawn` (so it may :func:`await_only`)."""
    return type(_getcurrent()) is _TaskGreenlet


def await_only(awaitable: Awaitable[T]) -> T:
    """Wait for ``awaitable`` from sync code running under :func:`greenlet_spawn`."""
    current = _getcurrent()
    if type(current) is not _TaskGreenlet:
        close = getattr(awaitable, "close", None)
        if close is not None:
            close()  # no "coroutine was never awaited" warning on top of this error
        raise RuntimeError("a Locust client call outside a task: call self.client from a task, "
                           "on_start or on_stop (or await it in an async task)")
    return current.parent.switch(awaitable)


async def greenlet_spawn(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a task greenlet, awaiting on its behalf whatever it waits for."""
    here = _getcurrent()
    child = _idle.pop() if _idle and _idle[-1].parent is here else _TaskGreenlet(_serve, here)
    result = child.switch(fn, args)
    while type(result) is not _Done:
        try:
            value = await result
        except BaseException:  # the awaitable's error (or our cancellation) goes into the sync code
            result = child.throw(*sys.exc_info())
        else:
            result = child.switch(value)
    _idle.append(child)
    if result.error is not None:
        error, result.error = result.error, None
        raise error
    value, result.value = result.value, None
    return value


def sleep(seconds: float) -> None:
    """``asyncio.sleep`` from sync task code (other users run meanwhile)."""
    if seconds > 0 or in_task_greenlet():
        await_only(asyncio.sleep(max(0.0, seconds)))
