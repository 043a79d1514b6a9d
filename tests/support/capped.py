"""A target of known capacity: it serves at most ``slots`` requests at once, each for ``ms``
milliseconds; the rest wait in one queue, first come first served. Its capacity is exactly
``slots / ms`` per millisecond (4 slots at 10 ms: 400 requests/s) however many clients come.

Like ``target.py`` it runs in its own process (``python capped.py --port 0 --slots 4 --ms 10
--watch-stdin``; prints ``PORT=<n>``, exits when its stdin closes). Every path but the control
ones answers ``200 ok`` when its time in a slot is over. ``GET /__stats`` (not counted):
``{"requests_total", "responses", "in_service_max", "queued_max"}``; ``POST /__reset_stats``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections import deque

import httptools

try:
    from .target import TargetServer, stdin_closed
except ImportError:  # run as a script (python capped.py): its folder is on sys.path
    from target import TargetServer, stdin_closed

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Capacity:
    """The slots and the queue shared by every connection, with the counters."""

    def __init__(self, slots: int, ms: float) -> None:
        self.slots, self.service_s = slots, ms / 1000.0
        self.busy = 0
        #: when each free slot's last request ended, as scheduled: the next one queued starts
        #: then, not when a late timer fired, so the capacity is exact whatever the timer lag
        self.free_at: list[float] = []
        self.queue: deque[Conn] = deque()
        self.reset()

    def reset(self) -> None:
        self.requests = self.responses = self.in_service_max = self.queued_max = 0

    def stats(self) -> bytes:
        return json.dumps({"requests_total": self.requests, "responses": self.responses,
                           "in_service_max": self.in_service_max, "queued_max": self.queued_max}).encode()

    def arrive(self, conn: Conn) -> None:
        self.requests += 1
        conn.arrived = asyncio.get_running_loop().time()
        self.queue.append(conn)
        self.queued_max = max(self.queued_max, len(self.queue) - (self.slots - self.busy))
        self.admit()

    def admit(self) -> None:
        loop = asyncio.get_running_loop()
        while self.busy < self.slots and self.queue:
            conn = self.queue.popleft()
            if conn.closed:
                continue
            self.busy += 1
            self.in_service_max = max(self.in_service_max, self.busy)
            start = max(conn.arrived, self.free_at.pop() if self.free_at else 0.0)
            loop.call_at(start + self.service_s, self.done, conn, start + self.service_s)

    def done(self, conn: Conn, end: float) -> None:
        self.busy -= 1
        self.free_at.append(end)
        if not conn.closed:
            self.responses += 1
            conn.transport.write(OK)
        self.admit()


class Conn(asyncio.Protocol):
    """One connection; the client sends one request at a time (no pipelining needed)."""

    def __init__(self, capacity: Capacity) -> None:
        self.capacity = capacity
        self.parser = httptools.HttpRequestParser(self)
        self.closed = False
        self.url = b""
        self.arrived = 0.0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        path = self.url.split(b"?")[0]
        if path == b"/__stats":
            self._reply(self.capacity.stats())
        elif path == b"/__reset_stats":
            self.capacity.reset()
            self._reply(b"{}")
        else:
            self.capacity.arrive(self)

    def _reply(self, body: bytes) -> None:
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))


async def serve(port: int, slots: int, ms: float) -> None:
    loop = asyncio.get_running_loop()
    capacity = Capacity(slots, ms)
    server = await loop.create_server(lambda: Conn(capacity), "127.0.0.1", port, backlog=4096)
    stop = stdin_closed(loop)
    print(f"PORT={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop


class CappedServer(TargetServer):
    """``with CappedServer(slots=4, ms=10) as srv: srv.url ... srv.stats()["requests_total"]``."""

    script = os.path.abspath(__file__)

    def __init__(self, *, slots: int = 4, ms: float = 10.0, startup_timeout_s: float = 10.0) -> None:
        super().__init__(startup_timeout_s=startup_timeout_s)
        self.args = ["--slots", str(slots), "--ms", str(ms), "--watch-stdin"]
        self.capacity_per_s = slots * 1000.0 / ms


def main() -> None:
    parser = argparse.ArgumentParser(description="a loopback target of known capacity (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--ms", type=float, default=10.0)
    parser.add_argument("--watch-stdin", action="store_true", help="accepted for TargetServer's handle; always on")
    args = parser.parse_args()
    try:
        import uvloop  # less CPU per request: its timers fire closer to their time on a busy machine
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(serve(args.port, args.slots, args.ms))


if __name__ == "__main__":
    main()
