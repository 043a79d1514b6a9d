"""Many endpoint names: user j of n walks /items/j, /items/j+n, ... over BENCH_NAMES names.

Used by coordinator.py: every name gets traffic every interval, so the coordinator merges, judges
and writes history for all of them each second.
"""
import os

from surge import HttpUser, constant, task

NAMES = int(os.environ.get("BENCH_NAMES", "1000"))
USERS = int(os.environ.get("BENCH_USERS", "20"))


class Walker(HttpUser):
    wait_time = constant(float(os.environ.get("BENCH_THINK_S", "0.005")))
    step = 0

    @task
    async def walk(self):
        name = (self.user_id + USERS * self.step) % NAMES
        self.step += 1
        await self.client.get(f"/items/{name}")
