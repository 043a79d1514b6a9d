"""Real WebSocket servers on loopback for the client tests, each in a thread with its own loop.

``WsServer``: the ``websockets`` library's asyncio server with a few paths:

- ``/echo``: every message back;
- ``/delay?ms=N``: every message back after N ms, the time each was held kept (the truth
  the client's round trips are compared with);
- ``/push?n=K``: K messages pushed at once, then echo;
- ``/drop``: echo, but every 10th connection is closed by the server (code 4000) after its
  first message;
- ``/refuse``: the handshake answered 403.

It counts what it saw: connections opened, messages received and sent (per path). ``RawServer``
speaks raw TCP for the hostile cases (never answering the handshake, closing mid-frame, a huge
frame header).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import threading
import time
from collections import Counter
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

import websockets.asyncio.server as ws_server

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class _Threaded:
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop or asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.port = 0

    def __enter__(self):
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        asyncio.run_coroutine_threadsafe(self._cancel_rest(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    async def _cancel_rest(self) -> None:
        """Handlers still running (a peer that never closed) end before the loop does."""
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class WsServer(_Threaded):
    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(loop)
        self.connections: Counter[str] = Counter()
        self.received: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self.bytes_received: Counter[str] = Counter()
        self.holds_us: list[int] = []
        self.dropped = 0
        self._drop_seq = 0
        self.open_now = 0  # connections whose handler has not ended

    async def _start(self) -> None:
        self._server = await ws_server.serve(self._handle, "127.0.0.1", 0, process_request=self._gate,
                                             compression=None, ping_interval=None, max_size=None)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    on_request = None  # a test's look at each handshake request

    def _gate(self, connection, request):
        if self.on_request is not None:
            self.on_request(connection, request)
        if urlsplit(request.path).path == "/refuse":
            return connection.respond(HTTPStatus.FORBIDDEN, "forbidden\n")
        return None

    async def _send(self, ws, path: str, msg) -> None:
        await ws.send(msg)
        self.sent[path] += 1

    async def _handle(self, ws) -> None:
        parts = urlsplit(ws.request.path)
        path, query = parts.path, parse_qs(parts.query)
        self.connections[path] += 1
        self.open_now += 1
        try:
            await self._converse(ws, path, query)
        finally:
            self.open_now -= 1

    async def _converse(self, ws, path: str, query: dict) -> None:
        drop = False
        if path == "/drop":
            self._drop_seq += 1
            drop = self._drop_seq % 10 == 0
        if path == "/push":
            for i in range(int(query["n"][0])):
                await self._send(ws, path, f"push {i}")
        delay_s = int(query.get("ms", ["0"])[0]) / 1000
        try:
            async for msg in ws:
                got = time.perf_counter_ns()
                if path == "/hold":  # the message says how long to hold it: {"ms": N, ...}
                    delay_s = json.loads(msg)["ms"] / 1000
                self.received[path] += 1
                self.bytes_received[path] += len(msg.encode() if isinstance(msg, str) else msg)
                if drop:
                    self.dropped += 1
                    await ws.close(4000, "dropped on purpose")
                    return
                if delay_s:
                    await asyncio.sleep(delay_s)
                    self.holds_us.append((time.perf_counter_ns() - got) // 1000)
                await self._send(ws, path, msg)
        except Exception:  # the client went away mid-conversation
            pass


class RawServer(_Threaded):
    """A TCP server whose behaviour after accepting is ``mode``: ``silent`` (never answers the
    handshake), ``midframe`` (accepts, then sends half a frame and closes), ``huge`` (accepts,
    then sends the header of a 64 MiB text frame), ``accept_close`` (accepts and closes at once
    with a close frame in the same write)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.accepted = 0

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader, writer) -> None:
        self.accepted += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if self.mode == "silent":
                await asyncio.sleep(30)
                return
            key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            if self.mode == "accept_close":
                writer.write(b"\x88\x02\x0f\xa1")  # close 4001
            elif self.mode == "midframe":
                await reader.read(1)  # the client's first message
                writer.write(b"\x81\x7e\x01\x00" + b"x" * 10)  # a 256-byte text frame, cut after 10
                await writer.drain()
                await asyncio.sleep(0.05)
            elif self.mode == "huge":
                await reader.read(1)
                writer.write(b"\x81\x7f" + (64 * 2**20).to_bytes(8, "big"))  # 64 MiB announced
                await writer.drain()
                await asyncio.sleep(1)
            await writer.drain()
            await asyncio.sleep(0.2)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_in_child(conn) -> None:
    import uvloop
    with WsServer(uvloop.new_event_loop()) as server:
        conn.send(server.port)
        while conn.recv() == "holds":
            conn.send(list(server.holds_us))


class _ChildServer:
    """A server run by ``child(conn)`` in a process of its own (spawned): its port comes back on
    the pipe, ``holds_us()`` asks for its hold times, leaving the context stops it."""

    child = None  # the function the process runs
    what = "server"

    def __enter__(self):
        import multiprocessing
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=type(self).child, args=(child,), daemon=True)
        self._proc.start()
        if not self._conn.poll(30):
            raise RuntimeError(f"the {self.what} process did not start")
        self.port = self._conn.recv()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def holds_us(self) -> list[int]:
        self._conn.send("holds")
        return self._conn.recv()

    def __exit__(self, *exc) -> None:
        self._conn.send("stop")
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


class WsServerProcess(_ChildServer):
    """A :class:`WsServer` in a process of its own: its hold times are not skewed by the client's
    work on the same interpreter lock (the timing test compares against them)."""

    child = staticmethod(_serve_in_child)
    what = "WebSocket server"


class SioServer(_Threaded):
    """A real python-socketio server (aiohttp) counting what it saw: connects, events received
    (by name), events it emitted; ``ack`` answers after ``delay_s`` and keeps its hold times;
    ``news`` pushes N ``news`` events; ``kick`` disconnects the client."""

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.connects = 0
        self.received: Counter[str] = Counter()
        self.emitted = 0
        self.holds_us: list[int] = []

    async def _start(self) -> None:
        import socketio
        from aiohttp import web
        sio = self.sio = socketio.AsyncServer(async_mode="aiohttp")
        app = web.Application()
        sio.attach(app)

        @sio.event
        async def connect(sid, environ):
            self.connects += 1

        @sio.on("ack")
        async def ack(sid, data):
            got = time.perf_counter_ns()
            self.received["ack"] += 1
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            self.holds_us.append((time.perf_counter_ns() - got) // 1000)
            return {"echo": data}

        @sio.on("news")
        async def news(sid, n):
            self.received["news"] += 1
            for i in range(n):
                await sio.emit("news", {"i": i}, to=sid)
                self.emitted += 1

        @sio.on("kick")
        async def kick(sid, data=None):
            self.received["kick"] += 1
            await sio.disconnect(sid)

        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self._runner.cleanup()


class _HoldProtocol(asyncio.Protocol):
    """A lean WebSocket server connection for the timing truth: each client text frame (JSON with
    ``ms``) is answered with the same text after ``ms``; the time from its arrival (data_received)
    to the reply's write is kept, so nothing but the kernel's loopback is left unmeasured."""

    def __init__(self, holds: list[int]) -> None:
        self.holds = holds
        self.buf = b""
        self.upgraded = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        got = time.perf_counter_ns()
        self.buf += data
        if not self.upgraded:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if not sep:
                return
            key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                       if line.lower().startswith(b"sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
            self.transport.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                 b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.upgraded, self.buf = True, rest
        while len(self.buf) >= 6:
            opcode, length = self.buf[0] & 0x0F, self.buf[1] & 0x7F
            start = 2
            if length == 126:
                length, start = int.from_bytes(self.buf[2:4], "big"), 4
            if len(self.buf) < start + 4 + length:
                return
            mask = self.buf[start:start + 4]
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.buf[start + 4:start + 4 + length]))
            self.buf = self.buf[start + 4 + length:]
            if opcode == 8:  # close: answer it and end
                self.transport.write(b"\x88\x02\x03\xe8")
                self.transport.close()
                return
            ms = json.loads(payload)["ms"]
            asyncio.get_running_loop().call_later(ms / 1000, self._reply, payload, got)

    def _reply(self, payload: bytes, got: int) -> None:
        n = len(payload)
        head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")
        self.transport.write(head + payload)
        self.holds.append((time.perf_counter_ns() - got) // 1000)


def _hold_in_child(conn) -> None:
    import uvloop

    async def main():
        holds: list[int] = []
        server = await asyncio.get_running_loop().create_server(lambda: _HoldProtocol(holds), "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv) == "holds":
            conn.send(list(holds))
        server.close()

    uvloop.run(main())


class HoldServerProcess(_ChildServer):
    """:class:`_HoldProtocol` in a process of its own (not sharing the client's interpreter lock)."""

    child = staticmethod(_hold_in_child)
    what = "hold server"
