"""``time.sleep`` in a locustfile's tasks, cooperative as Locust's gevent made it.

Under Locust, gevent's monkey-patching turns ``time.sleep`` into a yield to the other users;
locustfiles rely on it (``time.sleep(1)`` between two steps of a task). surge patches nothing
process-wide: only the locustfile's own namespace is changed, after its import, so that its
``time`` (``import time``) and its ``sleep`` (``from time import sleep``) sleep on the event
loop when called from a task. Called elsewhere they are the real ones.

A ``time.sleep`` reached from another module (a helper the locustfile imports) still blocks the
whole worker, as any blocking call in a task does: every user of that worker waits, the live
view's loop lag shows it, and the loop guard keeps the run stoppable.
"""
from __future__ import annotations

import time as _time
import types

from ._bridge import in_task_greenlet, sleep as _loop_sleep

_real_sleep = _time.sleep


def cooperative_sleep(seconds: float) -> None:
    if in_task_greenlet():
        _loop_sleep(seconds)
    else:
        _real_sleep(seconds)


class _Time(types.ModuleType):
    """The ``time`` module as the locustfile sees it: everything real but ``sleep``."""

    def __getattr__(self, name: str):
        return getattr(_time, name)


_TIME = _Time("time", _time.__doc__)
_TIME.sleep = cooperative_sleep


def make_sleep_cooperative(module: types.ModuleType) -> None:
    """Rebind the locustfile's ``time`` and ``time.sleep`` globals (nothing else is touched)."""
    namespace = vars(module)
    for name, value in list(namespace.items()):
        if value is _time:
            namespace[name] = _TIME
        elif value is _real_sleep:
            namespace[name] = cooperative_sleep
