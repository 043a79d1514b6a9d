"""Async surge tasks and sync Locust tasks side by side."""
import surge
from locust import HttpUser, constant, task


class SyncAndAsync(HttpUser):
    wait_time = constant(0.01)

    @task
    def sync_task(self):
        self.client.get("/ok", name="sync")

    @task
    async def async_task(self):
        await self.client.get("/ok", name="async")


class Native(surge.HttpUser):
    wait_time = surge.constant(0.01)

    @surge.task
    async def native(self):
        await self.client.get("/ok", name="native")
