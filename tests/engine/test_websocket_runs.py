"""WebSocket connections inside real runs: a failure the client counted (a refused handshake)
is not counted again as a task exception, and a connection the scenario never closes is closed
when its user stops (the server sees it go; nothing counts as a drop)."""
from __future__ import annotations

import time

from .clients.ws_servers import WsServer


def test_a_refused_handshake_counts_once_not_also_as_a_task_exception(runner):
    with WsServer() as server:
        outcome = runner.run("""
            from surge import HttpUser, task, constant

            class Watcher(HttpUser):
                wait_time = constant(0.05)

                @task
                async def watch(self):
                    async with self.client.websocket("/refuse", name="stream") as ws:
                        await ws.send("never")
        """, server.url, users=2, spawn_rate=100, duration="1s")
    stream = outcome.endpoint("WS", "stream")
    assert stream.requests > 0 and stream.failures == stream.requests
    assert [(e.method, e.name) for e in outcome.summary.endpoints] == [("WS", "stream")]  # no TASK series
    assert {f.kind for f in outcome.summary.failures} == {"status"}


def test_a_websocket_never_closed_is_closed_at_the_users_stop(runner):
    with WsServer() as server:
        outcome = runner.run("""
            from surge import HttpUser, task, constant

            class Leaky(HttpUser):
                wait_time = constant(0.2)

                async def on_start(self):
                    self.ws = await self.client.websocket("/echo", name="stream")  # never closed

                @task
                async def chat(self):
                    reply = await self.ws.request("hi", name="hi")
                    assert reply == "hi"
        """, server.url, users=3, spawn_rate=100, duration="1s")
        deadline = time.monotonic() + 5
        while server.open_now and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.connections["/echo"] == 3
        assert server.open_now == 0, "connections left open after the run"
    stream, hi = outcome.endpoint("WS", "stream"), outcome.endpoint("WS", "hi")
    assert stream.requests == 3 and stream.failures == 0  # closed by surge at the stop: not a drop
    assert hi.requests > 0 and hi.failures == 0
    assert hi.messages_sent == 0 and stream.messages_sent == hi.requests + hi.cancelled
