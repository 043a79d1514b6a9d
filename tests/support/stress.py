"""A scenario for stepped (stress) runs whose latency grows with the users, so a run breaks at
a known step: against the target's ``/delay/<ms>``, each request waits 10 ms per user started
in the worker (run it with one worker process); the first ``spike_requests`` wait ``spike_ms``."""
from __future__ import annotations


def growing(spike_ms: int = 0, spike_requests: int = 0) -> str:
    return f"""
from surge import HttpUser, constant_pacing, task

ACTIVE = [0]   # users started in this (one) worker
SENT = [0]

class Grow(HttpUser):
    wait_time = constant_pacing(0.1)

    async def on_start(self):
        ACTIVE[0] += 1

    @task
    async def get(self):
        SENT[0] += 1
        ms = {spike_ms} if SENT[0] <= {spike_requests} else 10 * ACTIVE[0]
        await self.client.get(f"/delay/{{ms}}", name="/delay")
"""
