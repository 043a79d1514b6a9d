"""hello.py with an empty ``on_request`` hook: what a hook costs per request (benchmarks/hooks.py)."""
from surge import HttpUser, constant, task


def on_request(event):
    pass


class Hello(HttpUser):
    wait_time = constant(0)

    @task
    async def index(self):
        await self.client.get("/")
