"""The --health preflight: wait until the target answers before any load starts."""
from __future__ import annotations

import asyncio
import time

from ..metrics.recorder import Recorder
from ..model.errors import TargetUnreachable
from ..model.redact import redact_url
from .clients.http import ClientContext, HttpClient


async def wait_healthy(host: str, path: str, timeout_s: float, *, insecure: bool = False) -> None:
    """Poll ``GET host+path`` until it answers below 400, or raise TargetUnreachable after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    clients = ClientContext(host, Recorder(), timeout_s=min(5.0, timeout_s or 5.0),
                            connect_timeout_s=min(2.0, timeout_s or 2.0), insecure=insecure)
    client = HttpClient(clients)
    last = "no answer"
    try:
        while True:
            resp = await client.get(path)
            if resp.error is None and resp.status < 400:
                return
            last = resp.error or f"HTTP {resp.status}"
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(min(0.25, max(0.0, deadline - time.monotonic())))
    finally:
        await client.close()
        await clients.close()  # its timeout sweeper too: nothing of the preflight outlives it
    raise TargetUnreachable(f"target {redact_url(host)}{path} not healthy after {timeout_s:g}s: {last}",
                            "start the target first, or check --host and --health")
