"""A closed workload paced to a fixed rate: each of N users starts an iteration every
BENCH_PACING_S seconds (throughput.py sets it to users / --open-rate), one GET /.

The fair partner of an open run at the same rate: both leave the generator idle between
requests, which costs far more per request than a saturated closed loop (every request then
comes with its own wake-up of the event loop).
"""
import os

from surge import HttpUser, constant_pacing, task


class Paced(HttpUser):
    wait_time = constant_pacing(float(os.environ.get("BENCH_PACING_S", "0.0025")))

    @task
    async def index(self):
        await self.client.get("/")
