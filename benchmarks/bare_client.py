"""The reference for surge's hot path: a bare, callback-only HTTP/1.1 load loop.

N keep-alive connections to one URL, each an ``asyncio.Protocol`` fed to an ``httptools``
response parser on uvloop. On every complete response the protocol appends one latency (an int,
µs) to a list and at once writes the next request: no coroutine, no future, no scenario layer.
What surge costs per request beyond this is the price of its scenario API and bookkeeping.

    .venv/bin/python benchmarks/bare_client.py --url http://127.0.0.1:8080/ --connections 50 --duration 10s
    .venv/bin/python benchmarks/bare_client.py --url http://127.0.0.1:PORT/ --connections 10000 --duration 20s
    .venv/bin/python benchmarks/bare_client.py --url http://127.0.0.1:8080/ --awaitable   # the "minimal" tool

``--awaitable`` measures the floor of any awaitable client API instead: one coroutine per
connection that, per request, calls one more coroutine which writes and awaits one future
(resolved from on_message_complete). Still no scenario layer, no response object, no accounting.

Prints one JSON line: {"requests", "duration_s", "connections", "connected", "connect_s", "errors"}.
The URL must be on 127.0.0.1 (the benchmarks only ever load loopback); the run stops by itself.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import httptools
import uvloop

from common import parse_duration_s

_perf_ns = time.perf_counter_ns
CONNECT_BATCH = 500


class BareConnection(asyncio.Protocol):
    __slots__ = ("request", "latencies", "parser", "transport", "sent_ns", "state")

    def __init__(self, request: bytes, latencies: list[int], state: dict) -> None:
        self.request, self.latencies, self.state = request, latencies, state
        self.parser = httptools.HttpResponseParser(self)
        self.transport = None
        self.sent_ns = 0

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        self.sent_ns = _perf_ns()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.state["errors"] += 1
            self.transport.abort()

    def on_message_complete(self) -> None:
        self.latencies.append((_perf_ns() - self.sent_ns) // 1000)
        if not self.state["stopping"]:
            self.send()

    def connection_lost(self, exc) -> None:
        if not self.state["stopping"]:
            self.state["errors"] += 1


class AwaitedConnection(BareConnection):
    """The same protocol, but the response resolves a future that a coroutine awaits."""

    __slots__ = ("fut",)

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.fut = None

    def on_message_complete(self) -> None:
        fut, self.fut = self.fut, None
        if fut is not None and not fut.done():
            fut.set_result(_perf_ns())


async def awaited_user(protocol: AwaitedConnection, state: dict) -> None:
    loop = asyncio.get_running_loop()

    async def get() -> None:
        protocol.fut = fut = loop.create_future()
        sent = _perf_ns()
        protocol.transport.write(protocol.request)
        protocol.latencies.append((await fut - sent) // 1000)

    while not state["stopping"]:
        await get()


async def run(url: str, connections: int, duration_s: float, awaitable: bool = False) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    if host not in ("127.0.0.1", "localhost"):
        raise SystemExit(f"bare_client only loads 127.0.0.1, not {host!r}")
    request = (f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               f"User-Agent: bare/0.1\r\n\r\n").encode("latin-1")
    loop = asyncio.get_running_loop()
    latencies: list[int] = []
    state = {"stopping": False, "errors": 0}
    protocol_class = AwaitedConnection if awaitable else BareConnection
    started = time.perf_counter()
    protocols, connect_errors = [], 0
    for batch in range(0, connections, CONNECT_BATCH):  # in batches: no transient 10,000-task peak
        results = await asyncio.gather(
            *(loop.create_connection(lambda: protocol_class(request, latencies, state), host, port)
              for _ in range(min(CONNECT_BATCH, connections - batch))), return_exceptions=True)
        protocols += [r[1] for r in results if not isinstance(r, BaseException)]
        connect_errors += sum(1 for r in results if isinstance(r, BaseException))
    connected_s = time.perf_counter() - started
    users = [asyncio.ensure_future(awaited_user(p, state)) for p in protocols] if awaitable else []
    # the run lasts duration_s from the start, connecting included (as surge's duration does)
    await asyncio.sleep(max(0.0, duration_s - connected_s))
    state["stopping"] = True
    duration = time.perf_counter() - started
    requests = len(latencies)
    for protocol in protocols:
        if protocol.transport is not None:
            protocol.transport.abort()
    for user in users:
        user.cancel()
    await asyncio.sleep(0)  # let connection_lost run before the loop closes
    # no percentiles: sorting a million latencies would cost more CPU than it tells here
    return {"requests": requests, "duration_s": round(duration, 4), "connections": connections,
            "connected": len(protocols), "connect_s": round(connected_s, 4),
            "errors": state["errors"] + connect_errors}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT/path")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", default="10s", help="10s, 500ms, 2m (default 10s)")
    parser.add_argument("--awaitable", action="store_true",
                        help="a coroutine per connection awaiting a future per request (the floor of an async API)")
    args = parser.parse_args()
    result = uvloop.run(run(args.url, args.connections, parse_duration_s(args.duration), args.awaitable))
    print(json.dumps(result), flush=True)
    return 0 if result["connected"] else 1


if __name__ == "__main__":
    sys.exit(main())
