"""A Locust user's closed loop, run whole inside one greenlet.

The engine's ``closed_loop`` awaits one task per iteration; a sync task awaited that way costs a
coroutine and four greenlet switches per request (into the task greenlet, out with the request,
back in with the response, out with the task's end). Here the user's iterations run in its own
task greenlet from the first to the last, so a request is the two switches it cannot do without
(out with the request, back in with the response) and an iteration makes no coroutine at all.

The steps are ``surge.engine.runtime.closed_loop``'s, written in sync form (its docstring points
here): the iteration budget, the stop flag, the task failures counted by
:func:`~surge.engine.runtime.task_raised`, the unawaited-request check, think time asleep on the
loop (cancellable while thinking, as there) and a loop turn every ``_YIELD_EVERY`` iterations
without a wait. An ``async def`` task of the same user is awaited through the bridge.

Open workloads hand a user one iteration at a time and keep awaiting each task on its own.
"""
from __future__ import annotations

import asyncio

from ...engine.runtime import _YIELD_EVERY, VUState, _check_unawaited, _perf, task_raised, think_time
from ._bridge import await_only


def iterate(vu, ctx, think) -> None:
    """The user's iterations until it stops; its task greenlet runs this (``User._surge_iterate``)."""
    recorder = ctx.recorder
    budget = ctx.iterations
    user = vu.user
    client = vu.client
    single = vu.spec.tasks[0] if len(vu.spec.tasks) == 1 else None
    iterations = 0
    while not vu.stopping and budget.take():
        began = 0.0 if think is None else _perf()
        spec = single or vu.pick()
        try:
            call = getattr(spec.fn, "surge_sync", None)
            if call is not None:
                call[0](user, call[1])
            else:
                await_only(spec.fn(user))  # an async task beside the sync ones
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if task_raised(vu, spec.name, exc, recorder):
                break
        if client.created != client.started:
            _check_unawaited(client, vu._label(spec.name), recorder)
        pause = 0.0 if think is None else think_time(vu, think, _perf() - began, recorder)
        if pause is None or vu.stopping:
            break
        if pause > 0:
            vu.state = VUState.WAITING
            try:
                await_only(asyncio.sleep(pause))
            except asyncio.CancelledError:
                if not vu.stopping:
                    raise
                break  # retired while thinking: no request was in flight
            vu.state = VUState.RUNNING
        else:
            iterations += 1
            if iterations % _YIELD_EVERY == 0:
                await_only(asyncio.sleep(0))  # tasks that never send must not starve the loop
