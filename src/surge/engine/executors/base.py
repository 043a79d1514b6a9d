"""What executors owe the worker.

``run()`` returns when the plan is over or ``ctx.stop`` is set, without waiting for work in
flight; ``drain(graceful_s)`` then lets in-flight iterations finish for at most ``graceful_s``
and cancels the rest (their requests are counted as cancelled, not failed).
"""
from __future__ import annotations

import asyncio
from typing import Protocol

from ..runtime import VirtualUser, WorkerContext, retire


class Executor(Protocol):
    async def run(self) -> None: ...

    async def drain(self, graceful_s: float) -> None: ...

    def users(self) -> int: ...

    def dropped(self) -> int: ...

    def iterations(self) -> int: ...


async def sleep_or_stop(ctx: WorkerContext, seconds: float) -> None:
    if seconds <= 0:
        await asyncio.sleep(0)
        return
    try:
        await asyncio.wait_for(ctx.stop.wait(), seconds)
    except asyncio.TimeoutError:
        pass


async def drain_tasks(vus: list[VirtualUser], tasks: set[asyncio.Task], graceful_s: float) -> None:
    """Retire every user, give in-flight work ``graceful_s``, then cancel what is left."""
    for vu in vus:
        retire(vu)
    pending = {t for t in tasks if not t.done()}
    if pending:
        _, pending = await asyncio.wait(pending, timeout=graceful_s)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.wait(pending, timeout=5.0)
