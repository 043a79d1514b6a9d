"""Connection against scripted bytes, without a socket: the parser callbacks are shared by every
connection (data_received names the one being fed), so responses arriving in pieces on several
connections at once must each end up on their own request."""
from __future__ import annotations

import asyncio

from surge.engine.clients.connection import Connection
from surge.engine.clients.head import header_values


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data) -> None:
        self.written.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True


def connect(opened: set) -> Connection:
    conn = Connection(("http", "127.0.0.1", 80), opened)
    conn.connection_made(Transport())
    return conn


def response(n: int) -> bytes:
    body = f"body of {n}".encode() * n
    return (f"HTTP/1.1 200 OK\r\nX-N: {n}\r\nTransfer-Encoding: chunked\r\n\r\n"
            f"{len(body):x}\r\n").encode() + body + b"\r\n0\r\n\r\n"


def test_interleaved_pieces_on_several_connections_each_complete_their_own_request():
    async def main():
        loop = asyncio.get_running_loop()
        opened: list = []
        conns = [connect(opened) for _ in range(3)]
        assert opened == conns
        futs = []
        for conn in conns:
            fut = loop.create_future()
            conn._fut = fut
            futs.append(fut)
        wires = [response(n + 1) for n in range(3)]
        for offset in range(0, max(map(len, wires)), 7):  # 7-byte pieces, round robin
            for conn, wire in zip(conns, wires):
                if offset < len(wire):
                    conn.data_received(wire[offset:offset + 7])
        return [await fut for fut in futs], conns

    results, conns = asyncio.run(main())
    for n, (status, raw, body, end_ns) in enumerate(results, start=1):
        assert status == 200 and body == f"body of {n}".encode() * n and end_ns > 0
        assert header_values(raw, b"x-n") == [str(n).encode()]
    assert not any(conn.closed or conn.busy for conn in conns)


def test_a_lost_connection_is_closed():
    conn = connect([])
    conn.connection_lost(None)
    assert conn.closed and not conn.busy


def test_a_large_first_chunk_keeps_only_the_head():
    async def main():
        conn = connect([])
        conn._fut = fut = asyncio.get_running_loop().create_future()
        body = b"x" * 100_000
        conn.data_received(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + body)
        return await fut

    status, raw, body, _ = asyncio.run(main())
    assert status == 200 and len(body) == 100_000
    assert raw == b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
