"""Helpers for the HTTP client tests: one client in a fresh event loop, and ways to read the recorder.

pytest-asyncio is not a dependency: each test is a plain function that calls :func:`drive` (or
``asyncio.run``). The ``target`` fixture (tests/conftest.py) is the real server on loopback.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import uvloop

from surge.engine.clients.http import ClientContext, HttpClient
from surge.metrics.recorder import Recorder, Series


def drive(base_url: str, body: Callable[[HttpClient, Recorder], Awaitable[Any]], *, on_uvloop: bool = False,
          client_class: type[HttpClient] = HttpClient, **options: Any) -> Any:
    """Run ``body(client, recorder)`` in a new loop with one client of a fresh context; the client
    and the context are closed afterwards. ``options`` go to :class:`ClientContext` (``timeout_s``
    defaults to 5). ``on_uvloop``: the loop surge runs on, for what only uvloop does.
    ``client_class``: a worker's (``RunEvents.client_class()``, with hooks)."""
    options.setdefault("timeout_s", 5.0)

    async def main() -> Any:
        recorder = Recorder()
        ctx = ClientContext(base_url, recorder, **options)
        client = client_class(ctx)
        try:
            return await body(client, recorder)
        finally:
            await client.close()
            await ctx.close()

    return uvloop.run(main()) if on_uvloop else asyncio.run(main())


def series_names(recorder: Recorder) -> list[tuple[str, str]]:
    """The (method, name) of every series that saw traffic (flushes the recorder)."""
    snapshots, _ = recorder.flush()
    return sorted((snap.method, snap.name) for snap in snapshots)


def only_error(series: Series) -> tuple[str, str]:
    """The single (kind, message) a series failed with, asserting it failed exactly once."""
    assert series.failures == 1, series.errors
    assert sum(series.errors.values()) == 1, series.errors
    return next(iter(series.errors))
