"""One HTTP/1.1 keep-alive connection: an ``asyncio.Protocol`` fed to the ``httptools`` parser.

Callback-driven on purpose: the parser calls us back per header/body chunk, and the waiting
request is resolved from ``on_message_complete`` with the end timestamp taken right there, so
the latency excludes the event loop's wake-up of the awaiting coroutine.
"""
from __future__ import annotations

import asyncio
import time

import httptools

from .errors import PROTOCOL, RESET, RequestFailure

_perf_ns = time.perf_counter_ns


#: what a completed response resolves its future with (a tuple: cheaper than an object per request)
RESPONSE = ("status", "headers", "body", "end_ns", "set_cookies")


class Connection(asyncio.Protocol):
    """Serves one request at a time. ``closed`` turns True as soon as the peer closes or fails."""

    __slots__ = ("transport", "_parser", "_fut", "closed", "_headers", "_body", "_status", "_head",
                 "_got_headers", "_set_cookies", "_has_length", "origin")

    def __init__(self, origin: tuple) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._fut: asyncio.Future | None = None
        self.closed = False
        self._reset_message()

    def _reset_message(self) -> None:
        self._headers: list = []
        self._body: list = []
        self._status = 0
        self._got_headers = False
        self._set_cookies = None
        self._has_length = False

    # -- used by the client -----------------------------------------------------------------
    def send(self, data: bytes, fut: asyncio.Future, head: bool = False) -> None:
        self._fut = fut
        self._head = head
        self.transport.write(data)

    def abort(self) -> None:
        """Drop the connection (timeout, cancel): its state is unknown, it cannot be reused."""
        self.closed = True
        self._fut = None
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(RequestFailure(PROTOCOL, f"invalid HTTP response: {exc}"))
            self.abort()

    def eof_received(self) -> bool:
        self._peer_closed(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._peer_closed(exc)

    def _peer_closed(self, exc: Exception | None) -> None:
        self.closed = True
        if self._fut is None:
            return
        if self._got_headers and not self._has_length:
            self.on_message_complete(keep_alive=False)  # body delimited by the close
            return
        if isinstance(exc, ConnectionResetError):
            msg = "connection reset by peer"
        elif self._got_headers:
            msg = "connection closed before the response body ended"
        else:
            msg = "connection closed without a response" if exc is None else f"connection lost: {exc}"
        self._fail(RequestFailure(RESET, msg))

    def _fail(self, failure: RequestFailure) -> None:
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_exception(failure)

    # -- httptools callbacks ----------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        first = name[0] | 0x20
        if first == 0x63 and name.lower() == b"content-length":  # 'c'
            self._has_length = True
        elif first == 0x74 and name.lower() == b"transfer-encoding":  # 't'
            self._has_length = True
        elif first == 0x73 and name.lower() == b"set-cookie":  # 's'
            if self._set_cookies is None:
                self._set_cookies = []
            self._set_cookies.append(value)

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()
        self._got_headers = True
        if self._head or self._status in (204, 304) or 100 <= self._status < 200:
            self._has_length = True
            if self._head:
                # httptools cannot be told the request was HEAD: finish here and start a fresh parser
                self.on_message_complete()
                self._parser = httptools.HttpResponseParser(self)

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self, keep_alive: bool | None = None) -> None:
        if 100 <= self._status < 200 and self._status != 101:
            self._reset_message()  # an interim response (100 Continue): the final one follows
            return
        end = _perf_ns()
        fut, self._fut = self._fut, None
        if keep_alive is None:
            keep_alive = self._parser.should_keep_alive()
        chunks = self._body
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        raw = (self._status, self._headers, body, end, self._set_cookies)  # see RESPONSE
        self._reset_message()
        if not keep_alive:
            self.closed = True
        if fut is not None and not fut.done():
            fut.set_result(raw)
