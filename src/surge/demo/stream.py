"""The demo API's WebSocket endpoint, ``/v1/stream``: live corrections and a ping/pong op.

Messages are JSON objects, one per text frame:

- ``{"subscribe": "corrections"}`` -> ``{"subscribed": "corrections"}``, then every correction
  created from then on is pushed as ``{"event": "correction", "correction": {...}}``;
- ``{"op": "ping", "id": X}`` -> ``{"op": "pong", "id": X}`` (any JSON value as the id);
- anything else -> ``{"error": "..."}`` (the connection stays open).

Like every other route, the stream is scoped by the ``X-Tenant-Id`` header of its handshake: a
subscriber sees the corrections of its own tenant only.

A subscriber that reads too slowly loses pushes rather than holding the writers: each has a
bounded queue (``QUEUE_LIMIT``); when it is full, new pushes for it are dropped and counted.
Like the rest of the demo it imports nothing from surge.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

QUEUE_LIMIT = 256
TOPICS = ("corrections",)


class Feed:
    """The subscribers of the corrections feed by tenant, one bounded queue each."""

    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue]] = {}
        self.dropped = 0

    def publish(self, tenant: str, message: dict[str, Any]) -> None:
        for queue in self._queues.get(tenant, ()):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped += 1

    def subscribe(self, tenant: str) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self._queues.setdefault(tenant, set()).add(queue)
        return queue

    def unsubscribe(self, tenant: str, queue: asyncio.Queue) -> None:
        queues = self._queues.get(tenant)
        if queues is not None:
            queues.discard(queue)
            if not queues:
                del self._queues[tenant]


def feed_of(app) -> Feed:
    """The app's feed (made on first use: the app's lifespan needs no change for it)."""
    feed = getattr(app.state, "feed", None)
    if feed is None:
        feed = app.state.feed = Feed()
    return feed


def _reply(message: Any) -> dict[str, Any] | str:
    """The answer to one client message, or ``"subscribe"``."""
    if not isinstance(message, dict):
        return {"error": "send a JSON object"}
    if "subscribe" in message:
        if message["subscribe"] not in TOPICS:
            return {"error": f"unknown topic {message['subscribe']!r}; topics: {', '.join(TOPICS)}"}
        return "subscribe"
    if message.get("op") == "ping":
        return {"op": "pong", "id": message.get("id")}
    return {"error": "unknown message; send {'subscribe': 'corrections'} or {'op': 'ping', 'id': ...}"}


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    feed = feed_of(websocket.app)
    tenant = websocket.headers.get("x-tenant-id", "")
    queue: asyncio.Queue | None = None
    pusher: asyncio.Task | None = None
    send_lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with send_lock:
            await websocket.send_text(json.dumps(message, separators=(",", ":")))

    async def push(q: asyncio.Queue) -> None:
        while True:
            correction = await q.get()
            await send({"event": "correction", "correction": correction})

    try:
        while True:
            text = await websocket.receive_text()
            try:
                message = json.loads(text)
            except ValueError:
                message = None
            reply = _reply(message)
            if reply == "subscribe":
                if queue is None:
                    queue = feed.subscribe(tenant)
                    pusher = asyncio.create_task(push(queue))
                await send({"subscribed": message["subscribe"]})
            else:
                await send(reply)
    except (WebSocketDisconnect, RuntimeError):  # the client went away
        pass
    finally:
        if queue is not None:
            feed.unsubscribe(tenant, queue)
        if pusher is not None:
            pusher.cancel()
