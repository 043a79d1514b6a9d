"""WebSocket client libraries side by side: echo round trips per second of client CPU.

The candidates for surge's WebSocket client (issue 12), each driving the same load against the
same loopback echo server (the ``websockets`` asyncio server, in a process of its own, so its
CPU is not the client's): ``--connections`` connections each doing ``--messages`` sequential
round trips of a 32-byte text message, on uvloop. The figure is messages (round trips) per
second of the client process's CPU (user + system), i.e. per core, plus the wall rate.

- ``websockets-asyncio``: the ``websockets`` library's asyncio client (``connect``, ``send``, ``recv``)
- ``websockets-sansio``: its Sans-I/O ``ClientProtocol`` driven by our own ``asyncio.Protocol``
- ``wsproto``: ``wsproto.WSConnection`` driven by our own ``asyncio.Protocol``
- ``aiohttp``: ``ClientSession.ws_connect`` (what python-socketio's asyncio client rides on)

Measured on the shared 2-core development machine (AMD EPYC, load average 3.5-5.5 from other
work), two sittings, 50 connections x 1,000 round trips, best of 2 and of 3
(``python benchmarks/websocket_clients.py --messages 1000``), msg/s per core of client CPU:

    websockets-sansio    16,026 | 15,291
    websockets-asyncio   13,708 | 10,501
    wsproto              12,379 | 10,848
    aiohttp              22,377 | 22,511   (its frame reader is compiled with Cython)

Of the three candidates the issue names, ``websockets``' Sans-I/O protocol driven from our own
transport costs the least CPU per message (1.2-1.5x the others), so surge's client
(``surge.engine.clients.websocket``) is built on it: the same frame parser and handshake checks
as the library's asyncio client (well kept, RFC 6455 complete, C speedup for masking), without
its per-connection tasks and locks. aiohttp's client, measured as a reference, is ~1.45x
cheaper still; using it would put aiohttp's HTTP stack and a ClientSession per user beside
ours (a possible follow-up: drive its reader/writer from our transport). The wall rates this
prints are not comparable (they depend on the shared server process and the machine's load).
Everything binds to 127.0.0.1; the server process is stopped by its PID.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import signal
import socket
import time

MESSAGE = "x" * 32


def _serve(port: int, ready) -> None:
    import websockets.asyncio.server as server

    async def echo(ws):
        async for msg in ws:
            await ws.send(msg)

    async def main():
        async with server.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None):
            ready.set()
            await asyncio.Future()

    _use_uvloop()
    asyncio.run(main())


def _use_uvloop() -> None:
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass


# -- candidates: each returns an async function (port, messages) -> None doing one connection --
async def _websockets_asyncio(port: int, messages: int) -> None:
    from websockets.asyncio.client import connect
    async with connect(f"ws://127.0.0.1:{port}/", compression=None, ping_interval=None) as ws:
        for _ in range(messages):
            await ws.send(MESSAGE)
            await ws.recv()


class _Driver(asyncio.Protocol):
    """What both Sans-I/O drivers share: the events a protocol parsed, handed to ``next_event``."""

    def __init__(self) -> None:
        self.waiter: asyncio.Future | None = None
        self.pending: list = []
        self.transport = None

    def arrived(self, events: list) -> None:
        self.pending += events
        if self.pending and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.pending.pop())

    async def next_event(self):
        if self.pending:  # it came before we asked (uvloop delivers the handshake reply early)
            return self.pending.pop()
        self.waiter = asyncio.get_running_loop().create_future()
        return await self.waiter


class _SansIO(_Driver):
    """A minimal driver of ``websockets.client.ClientProtocol`` (what surge's client does, bare)."""

    def __init__(self, uri: str) -> None:
        from websockets.client import ClientProtocol
        from websockets.uri import parse_uri
        super().__init__()
        self.proto = ClientProtocol(parse_uri(uri))

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.proto.send_request(self.proto.connect())
        transport.write(b"".join(self.proto.data_to_send()))

    def data_received(self, data: bytes) -> None:
        self.proto.receive_data(data)
        self.arrived(self.proto.events_received())


async def _websockets_sansio(port: int, messages: int) -> None:
    loop = asyncio.get_running_loop()
    _, p = await loop.create_connection(lambda: _SansIO(f"ws://127.0.0.1:{port}/"), "127.0.0.1", port)
    await p.next_event()  # the handshake response
    proto, write = p.proto, p.transport.write
    for _ in range(messages):
        proto.send_text(MESSAGE.encode())
        write(b"".join(proto.data_to_send()))
        await p.next_event()
    proto.send_close()
    write(b"".join(proto.data_to_send()))
    p.transport.close()


class _WsprotoDriver(_Driver):
    def __init__(self) -> None:
        from wsproto import ConnectionType, WSConnection
        super().__init__()
        self.conn = WSConnection(ConnectionType.CLIENT)

    def connection_made(self, transport) -> None:
        from wsproto.events import Request
        self.transport = transport
        transport.write(self.conn.send(Request(host="127.0.0.1", target="/")))

    def data_received(self, data: bytes) -> None:
        self.conn.receive_data(data)
        self.arrived(self.conn.events())


async def _wsproto(port: int, messages: int) -> None:
    from wsproto.events import CloseConnection, TextMessage
    loop = asyncio.get_running_loop()
    _, p = await loop.create_connection(_WsprotoDriver, "127.0.0.1", port)
    await p.next_event()
    send, write = p.conn.send, p.transport.write
    for _ in range(messages):
        write(send(TextMessage(data=MESSAGE)))
        await p.next_event()
    write(send(CloseConnection(code=1000)))
    p.transport.close()


async def _aiohttp(port: int, messages: int) -> None:
    import aiohttp
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/", autoping=False) as ws:
            for _ in range(messages):
                await ws.send_str(MESSAGE)
                await ws.receive()


CANDIDATES = {"websockets-sansio": _websockets_sansio, "websockets-asyncio": _websockets_asyncio,
              "wsproto": _wsproto, "aiohttp": _aiohttp}


def _measure(name: str, port: int, connections: int, messages: int, out) -> None:
    """In a fresh process (imports and loop of one candidate only): CPU and wall of the load."""
    _use_uvloop()
    fn = CANDIDATES[name]

    async def main():
        await asyncio.gather(*(fn(port, 10) for _ in range(2)))  # warm-up: imports, first handshakes
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        await asyncio.gather(*(fn(port, messages) for _ in range(connections)))
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        out.put((cpu, t1 - t0))

    asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--messages", type=int, default=2000, help="round trips per connection")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", nargs="*", choices=sorted(CANDIDATES))
    args = ap.parse_args()
    ctx = multiprocessing.get_context("spawn")
    port, ready = _free_port(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(10):
            raise SystemExit("the echo server did not start")
        total = args.connections * args.messages
        results = {}
        for name in args.only or CANDIDATES:
            best = None
            for _ in range(args.repeat):
                out = ctx.Queue()
                p = ctx.Process(target=_measure, args=(name, port, args.connections, args.messages, out))
                p.start()
                try:
                    cpu, wall = out.get(timeout=300)
                except Exception as exc:  # a candidate that is not installed or failed
                    print(f"{name:20s} failed: {type(exc).__name__}")
                    cpu = None
                p.join(30)
                if cpu is None:
                    break
                best = (cpu, wall) if best is None or cpu < best[0] else best
            if best:
                results[name] = total / best[0]
                print(f"{name:20s} {total / best[0]:>9,.0f} msg/s per core   {total / best[1]:>9,.0f} msg/s wall"
                      f"   ({best[0]:.2f} s CPU for {total:,} round trips)", flush=True)
        if results:
            ref = max(results.values())
            print("ratios to the best:", ", ".join(f"{k} {v / ref:.2f}" for k, v in results.items()))
    finally:
        if server.pid:
            os.kill(server.pid, signal.SIGTERM)
        server.join(5)


if __name__ == "__main__":
    main()
