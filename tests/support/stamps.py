"""A loopback HTTP/1.1 server that notes when each request arrived (``time.monotonic()``).

For tests of arrival processes: every request gets ``200 ok`` at once (keep-alive), and the
server keeps the arrival time of each, in order. Runs on its own event loop in a thread of the
test process (the load generator under test is a subprocess, so they share no GIL).
"""
from __future__ import annotations

import asyncio
import threading
import time

_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class StampingServer:
    def __init__(self) -> None:
        self.stamps: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stamping-server", daemon=True)
        self.port = 0

    def __enter__(self) -> "StampingServer":
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the stamping server did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.stamps.append(time.monotonic())
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                writer.write(_REPLY)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
