"""The throughput benchmark's scenario: one user class, one task, no think time."""
from surge import HttpUser, constant, task


class Hello(HttpUser):
    wait_time = constant(0)

    @task
    async def index(self):
        await self.client.get("/")
