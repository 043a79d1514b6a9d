"""One HTTP/1.1 keep-alive connection: an ``asyncio.Protocol`` fed to the ``httptools`` parser.

Callback-driven on purpose, and with as few callbacks as possible: the parser calls back once
per body chunk and once at the end of the message, where the waiting request is resolved with
the end timestamp taken right there (the latency excludes the event loop's wake-up of the
awaiting coroutine). Headers are not handed over one by one: the raw bytes of the head are kept
and read on demand (``head.py``), which took ~5 Python calls out of every nginx response.

The deadline of the request in flight lives on the connection; the worker's sweeper
(``ClientContext``) walks the open connections and fails the ones past it.

A connection never raises into the request: a send on a connection that closed before the
request could be written (uvloop raises ``RuntimeError`` writing to a transport it closed
before ``connection_lost`` reached us) fails the request like any other loss, marked
``unsent``; a connection that had served a response and dies before any byte of the next one
marks that failure ``early``; with ``served`` the client knows a reused connection died under
it (see ``RequestFailure`` and the client's one retry).
"""
from __future__ import annotations

import asyncio
import time

import httptools

from .errors import CONNECT, PROTOCOL, RESET, TIMEOUT, RequestFailure
from .head import has_length, head_span

_perf_ns = time.perf_counter_ns
#: raw bytes kept with a response beyond this are cut to its head (a large first body chunk)
_KEEP_RAW = 1024


class Connection(asyncio.Protocol):
    """Serves one request at a time. ``closed`` turns True as soon as the peer closes or fails.

    A completed response resolves the request's future with ``(status, raw, body, end_ns)``:
    ``raw`` holds the response head (possibly after interim 1xx heads, possibly followed by
    the start of the body), ``end_ns`` the ``perf_counter_ns`` of its last byte. ``served``
    turns True with the first response: from then on the connection is a reused one.
    """

    __slots__ = ("transport", "_parser", "_fut", "closed", "_raw", "_body", "origin", "_open",
                 "sent_ns", "timeout_ns", "served")

    def __init__(self, origin: tuple, open_connections: list) -> None:
        self.origin = origin
        self._open = open_connections  # the worker's connections, walked by the sweeper
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(_CALLBACKS)
        self._fut: asyncio.Future | None = None
        self.closed = False
        self._raw = b""  # the response's bytes until its body starts: the head, read on demand
        self._body = None  # None, one bytes chunk, or a list of chunks
        self.sent_ns = 0  # perf_counter_ns of the request in flight's send, and its timeout
        self.timeout_ns = 0
        self.served = False

    # -- used by the client -----------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._fut is not None

    def send(self, data: bytes, fut: asyncio.Future, head: bool = False) -> None:
        """Send a request; its response (or failure) resolves ``fut``. A connection closed before
        the request could be written fails it ``unsent`` at once, never raising.

        ``head``: a HEAD request, whose response has no body whatever its headers say, which the
        parser cannot be told, so a parser that finishes at the end of the head takes over."""
        if head:
            self._parser = httptools.HttpResponseParser(_HeadEnd(self))
        self._fut = fut
        if self.closed or self.transport.is_closing():
            self._unsent()
            return
        try:
            self.transport.write(data)
        except RuntimeError:  # uvloop: the transport closed before connection_lost reached us
            self._unsent()

    def expire(self) -> None:
        """The request in flight is past its deadline (called by the sweeper)."""
        self._fail(RequestFailure(TIMEOUT, f"no response within {self.timeout_ns / 1e9:g}s"))

    def abort(self) -> None:
        """Drop the connection (timeout, cancel): its state is unknown, it cannot be reused."""
        self.closed = True
        self._fut = None
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self.transport = transport
        self._open.append(self)  # the sweeper drops it once it is closed

    def data_received(self, data: bytes) -> None:
        global _feeding
        if self._body is None:  # the body has not started: these bytes may carry the head
            self._raw = self._raw + data if self._raw else data
        _feeding = self  # the connection the shared parser callbacks act on (see _Callbacks)
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
        span = head_span(self._raw)
        if span is not None and not has_length(self._raw[span[0]:span[1]]):
            self._complete(self._parser.get_status_code(), False)  # unframed: the body ends with the close
            return
        if isinstance(exc, ConnectionResetError):
            msg = "connection reset by peer"
        elif span is not None:
            msg = "connection closed before the response body ended"
        else:
            msg = "connection closed without a response" if exc is None else f"connection lost: {exc}"
        failure = RequestFailure(RESET, msg)
        failure.early = not self._raw  # not one byte of a response came
        self._fail(failure)

    def _unsent(self) -> None:
        """Fail the request about to be sent: the connection had closed, nothing was written."""
        self.closed = True
        if self.served:  # a keep-alive connection the server closed as the request went out
            failure = RequestFailure(RESET, "connection closed by the server before the request was sent")
        else:  # accepted, then closed at once: the server never had the request, as with a refused connect
            _, host, port = self.origin
            failure = RequestFailure(CONNECT, f"connection to {host}:{port} closed by the server before "
                                              "the request was sent")
        failure.early = failure.unsent = True
        self._fail(failure)

    def _fail(self, failure: RequestFailure) -> None:
        fut, self._fut = self._fut, None
        if fut is not None and not fut.done():
            fut.set_exception(failure)

    def _complete(self, status: int, keep_alive: bool) -> None:
        """Resolve the request with the response received so far (see the class docstring)."""
        end = _perf_ns()
        fut, self._fut = self._fut, None
        raw, body = self._raw, self._body
        self._raw, self._body = b"", None
        if body is None:
            body = b""
        elif type(body) is list:
            body = b"".join(body)
        if len(raw) > _KEEP_RAW:
            span = head_span(raw)
            if span is not None:
                raw = raw[span[0]:span[1]]
        if not keep_alive:
            self.closed = True
        self.served = True
        if fut is not None and not fut.done():
            fut.set_result((status, raw, body, end))


# -- httptools callbacks ------------------------------------------------------------------------
#: the connection whose data the parser is being fed. A parser keeps the callbacks it was made
#: with; bound methods of each connection would be two more objects (128 bytes) per connection,
#: so every parser shares these functions and data_received names its connection first. Parsing
#: is synchronous and callbacks never feed another parser, so one name per process suffices
#: (surge runs one event loop per worker process).
_feeding: Connection | None = None


def _on_body(body: bytes) -> None:
    conn = _feeding
    chunks = conn._body
    if chunks is None:
        conn._body = body
    elif type(chunks) is bytes:
        conn._body = [chunks, body]
    else:
        chunks.append(body)


def _on_message_complete() -> None:
    # Connection._complete() written out (a call less per response)
    end = _perf_ns()
    conn = _feeding
    parser = conn._parser
    status = parser.get_status_code()
    if status < 200 and status >= 100 and status != 101:
        return  # an interim response (100 Continue): the final one follows, its head after this one
    fut, conn._fut = conn._fut, None
    raw, body = conn._raw, conn._body
    conn._raw = b""
    conn._body = None
    if body is None:
        body = b""
    elif type(body) is list:
        body = b"".join(body)
    if len(raw) > _KEEP_RAW:
        span = head_span(raw)
        if span is not None:
            raw = raw[span[0]:span[1]]
    if not parser.should_keep_alive():
        conn.closed = True
    conn.served = True
    if fut is not None and not fut.done():
        fut.set_result((status, raw, body, end))


class _Callbacks:
    on_body = staticmethod(_on_body)
    on_message_complete = staticmethod(_on_message_complete)


_CALLBACKS = _Callbacks()


class _HeadEnd:
    """The parser callbacks for a HEAD response: it is complete at the end of its final head."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def on_headers_complete(self) -> None:
        conn = self.conn
        parser = conn._parser
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return
        keep_alive = parser.should_keep_alive()
        conn._parser = httptools.HttpResponseParser(_CALLBACKS)  # back to bodies for the next request
        conn._body = None
        conn._complete(status, keep_alive)
