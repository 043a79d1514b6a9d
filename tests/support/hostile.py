"""A hostile HTTP/1.1 server for surge's client tests: it misbehaves on purpose, and counts.

The well-behaved target (``target.py``) answers every request it reads; this one does what
real servers and middleboxes do to a load generator, each mode on its own port:

==========  =====================================================================================
``rst``     closes every connection with RST (SO_LINGER 0) right after accepting it; reads nothing
``close``   answers each request ``200 ok`` *without* ``Connection: close``, then closes (FIN):
            a keep-alive client that reuses the connection races the close
``hang``    reads requests and never answers
``encoded`` ``GET /<coding>`` answers :data:`PAYLOAD` (JSON) encoded with ``Content-Encoding:
            <coding>``: ``gzip``, ``deflate`` (zlib-wrapped), ``deflate-raw`` (sent as
            ``deflate``, no zlib wrapper), ``br``, ``zstd`` (when their libraries are installed
            here), ``identity``, or any other name (sent as is, body not encoded).
            ``?corrupt=1`` sends bytes that are not valid in that coding; ``?chunked=1`` sends
            the body in several chunks. Keep-alive.
==========  =====================================================================================

Like the target it runs in its own process (``python hostile.py``; it prints ``PORTS={json}``
and exits when its stdin closes), so its timing does not share the GIL with the client under
test. Its counters are read over the same pipe: the parent writes ``stats`` or ``reset`` and
reads one JSON line back; :class:`HostileServer` is that handle.

Counted per mode: ``accepted`` connections, ``requests`` (complete requests the server read
and acted on: a request still unread in the socket when the server closes is not received),
``bytes_received``.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import os
import select
import socket
import struct
import subprocess
import sys
import zlib
from collections import Counter

import httptools

MODES = ("rst", "close", "hang", "encoded")
#: what ``encoded`` mode sends for every coding, before encoding it
PAYLOAD = {"hello": "wörld", "numbers": list(range(200)), "note": "compressible " * 40}
PAYLOAD_BYTES = json.dumps(PAYLOAD).encode()
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class Counts:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.accepted = 0
        self.requests = 0
        self.bytes_received = 0
        self.paths: Counter[str] = Counter()

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "requests": self.requests,
                "bytes_received": self.bytes_received, "paths": dict(self.paths)}


def encode(coding: str, body: bytes) -> tuple[str, bytes]:
    """The ``Content-Encoding`` value and the body encoded with ``coding`` (see the module table)."""
    if coding == "gzip":
        return "gzip", gzip.compress(body)
    if coding == "deflate":
        return "deflate", zlib.compress(body)
    if coding == "deflate-raw":
        raw = zlib.compressobj(wbits=-15)
        return "deflate", raw.compress(body) + raw.flush()
    if coding == "br":
        try:
            import brotli
        except ImportError:
            import brotlicffi as brotli
        return "br", brotli.compress(body)
    if coding == "zstd":
        import zstandard
        return "zstd", zstandard.ZstdCompressor().compress(body)
    return coding, body


class Hostile(asyncio.Protocol):
    def __init__(self, mode: str, counts: Counts) -> None:
        self.mode = mode
        self.counts = counts
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.counts.accepted += 1
        if self.mode == "rst":
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.closed = True
            transport.abort()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.counts.bytes_received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.closed = True
            self.transport.abort()

    def connection_lost(self, exc) -> None:
        self.closed = True

    # -- parser callbacks
    def on_message_begin(self) -> None:
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        if self.closed:
            return
        self.counts.requests += 1
        url = httptools.parse_url(self.url)
        path = url.path.decode("latin-1")
        self.counts.paths[path] += 1
        if self.mode == "close":
            self.transport.write(OK)
            self.closed = True
            self.transport.close()  # FIN once written: no Connection: close said it was coming
        elif self.mode == "encoded":
            self.transport.write(encoded_reply(path, (url.query or b"").decode("latin-1")))
        # hang: never answer


def encoded_reply(path: str, query: str) -> bytes:
    options = dict(pair.partition("=")[::2] for pair in query.split("&") if pair)
    coding, body = encode(path.strip("/"), PAYLOAD_BYTES)
    if options.get("corrupt"):
        body = b"\x1f\x8b\x08\x00not-compressed-at-all" if coding == "gzip" else b"\xff\xfenot " + coding.encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\n"
    if options.get("chunked"):
        pieces = [body[i:i + 64] for i in range(0, len(body), 64)]
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def serve() -> None:
    loop = asyncio.get_running_loop()
    counts = {mode: Counts() for mode in MODES}
    servers = {}
    for mode in MODES:
        servers[mode] = await loop.create_server(lambda mode=mode: Hostile(mode, counts[mode]),
                                                 "127.0.0.1", 0, backlog=4096)
    stop = loop.create_future()
    pending = b""

    def on_stdin() -> None:
        nonlocal pending
        data = os.read(sys.stdin.fileno(), 4096)
        if not data:
            if not stop.done():
                stop.set_result(None)
            return
        pending += data
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            if line.strip() == b"reset":
                for c in counts.values():
                    c.reset()  # in place: open connections hold their mode's Counts
            reply = {mode: c.as_dict() for mode, c in counts.items()}
            sys.stdout.write(json.dumps(reply) + "\n")
            sys.stdout.flush()

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    ports = {mode: server.sockets[0].getsockname()[1] for mode, server in servers.items()}
    print("PORTS=" + json.dumps(ports), flush=True)
    await stop
    for server in servers.values():
        server.close()


class HostileServer:
    """The test-side handle: starts the server process, reads its counters, stops it by PID.

    ``with HostileServer() as srv: srv.url("close") ... srv.stats("close")["requests"]``
    """

    def __init__(self, startup_timeout_s: float = 10.0) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.ports: dict[str, int] = {}

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.ports[mode]}"

    def start(self) -> HostileServer:
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.ports = json.loads(self._line().removeprefix("PORTS="))
        return self

    def _line(self) -> str:
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([self.process.stdout], [], [], self.startup_timeout_s)
            chunk = os.read(self.process.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                self.stop()
                raise RuntimeError(f"hostile server did not answer (got {line!r})")
            line += chunk
        return line.decode().strip()

    def _ask(self, command: str) -> dict:
        self.process.stdin.write(command.encode() + b"\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def stats(self, mode: str) -> dict:
        """``{"accepted", "requests", "bytes_received", "paths": {path: n}}`` of ``mode`` since the last reset."""
        return self._ask("stats")[mode]

    def reset(self) -> None:
        self._ask("reset")

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        process.stdin.close()  # the server exits at its stdin's EOF
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


if __name__ == "__main__":
    asyncio.run(serve())
