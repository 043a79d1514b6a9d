"""The fastest HTTP target we can start ourselves when nginx is absent.

A keep-alive HTTP/1.1 server on uvloop + httptools that answers ``200 ok`` to every request,
bound to 127.0.0.1 only. Pipelined requests are answered with one write per read. With
``--delay-ms`` every response waits that long (a slow target for the memory benchmark: it
keeps every virtual user's request in flight, so the generator holds all its connections).

    python benchmarks/fast_target.py --port 0            # prints PORT=<n>, serves until killed
    python benchmarks/fast_target.py --delay-ms 2000

Exits when stdin reaches EOF if started with ``--watch-stdin`` (so it cannot outlive the
benchmark that started it).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections import deque

import httptools

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
RESPONSE_CLOSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n"
                  b"Connection: close\r\n\r\nok")


class FastProtocol(asyncio.Protocol):
    """Counts complete requests while parsing a read, then answers them all in one write."""

    __slots__ = ("parser", "transport", "pending", "close_after")

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.pending = 0
        self.close_after = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()
            return
        if self.pending:
            if self.close_after:
                self.transport.write(RESPONSE * (self.pending - 1) + RESPONSE_CLOSE)
                self.transport.close()
            else:
                self.transport.write(RESPONSE * self.pending)
            self.pending = 0

    def on_message_complete(self) -> None:
        self.pending += 1
        if not self.parser.should_keep_alive():
            self.close_after = True


class SlowProtocol(asyncio.Protocol):
    """Answers each request ``delay_s`` after it arrived; equal delays fire in order, so the
    pending timers form a FIFO."""

    def __init__(self, delay_s: float) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.delay_s = delay_s
        self.timers: deque[asyncio.TimerHandle] = deque()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        close = not self.parser.should_keep_alive()
        loop = asyncio.get_running_loop()
        self.timers.append(loop.call_later(self.delay_s, self.respond, close))

    def respond(self, close: bool) -> None:
        self.timers.popleft()
        if self.transport.is_closing():
            return
        self.transport.write(RESPONSE_CLOSE if close else RESPONSE)
        if close:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


async def serve(port: int, delay_ms: float, watch_stdin: bool) -> None:
    loop = asyncio.get_running_loop()
    factory = (lambda: SlowProtocol(delay_ms / 1000)) if delay_ms > 0 else FastProtocol
    server = await loop.create_server(factory, "127.0.0.1", port, backlog=16384, reuse_address=True)
    stop = loop.create_future()
    if watch_stdin:
        def on_stdin() -> None:
            if not os.read(sys.stdin.fileno(), 4096) and not stop.done():
                stop.set_result(None)
        loop.add_reader(sys.stdin.fileno(), on_stdin)
    print(f"PORT={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="hold every response this long")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches EOF")
    args = parser.parse_args()
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        print("uvloop not installed: using the default asyncio loop (slower)", file=sys.stderr)
    try:
        asyncio.run(serve(args.port, args.delay_ms, args.watch_stdin))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
