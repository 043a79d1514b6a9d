"""WebSocket connections in scenarios: ``async with self.client.websocket("/v1/stream") as ws``.

Recorded through the worker's recorder as series of method ``WS`` (DESIGN.md, Protocols):

- ``WS <name>`` (the connection): one request per connect, timed from the TCP connect to the
  handshake's 101 (failures: ``connect``, ``status`` for a refused handshake such as 403,
  ``timeout`` recorded at its timeout, ``reset``/``protocol``); the messages sent and received
  on it and their payload bytes; and a **drop** (the server closed, or the connection broke,
  while the scenario still wanted it) as one failure of kind ``closed`` whose message carries
  the close code. So a connection counts at most one failure: its connect or its drop.
- ``WS <request name>``: the round trips of :meth:`WebSocket.request`, timed from the send to
  the arrival of the matching reply (HDR like any request); one cut short by a drop fails with
  ``closed`` and returns None, one without a reply in time is recorded at its timeout.

The protocol is the ``websockets`` library's Sans-I/O ``ClientProtocol`` driven by this
module's own ``asyncio.Protocol``: its frame parser, masking and handshake checks, without the
library's per-connection tasks and locks. Chosen by measurement (``benchmarks/websocket_clients.py``,
echo round trips per second of client CPU, 50 connections on uvloop, two sittings): Sans-I/O
driven this way 15,300-16,000 msg/s per core, the ``websockets`` asyncio client 10,500-13,700,
``wsproto`` 10,800-12,400 (aiohttp's client, a reference outside the three: ~22,500).
"""
from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ...model.events import RequestEvent
from ...model.kinds import FailureKind
from .errors import CountedFailure, stable_message

try:  # the optional extra: surge[ws]
    from websockets.client import ClientProtocol
    from websockets.exceptions import InvalidStatus
    from websockets.frames import Close, Opcode
    from websockets.http11 import Response as _HandshakeResponse
    from websockets.protocol import State
    from websockets.uri import parse_uri
except ImportError:  # pragma: no cover - exercised only without the extra
    ClientProtocol = None  # type: ignore[assignment,misc]

__all__ = ["WebSocket", "WebSocketClosed", "WebSocketError", "WebSocketTimeout", "METHOD"]

METHOD = "WS"
INSTALL_HINT = "WebSocket scenarios need the 'ws' extra: pip install 'surge[ws]'"
_perf_ns = time.perf_counter_ns
#: messages kept unread before the oldest are discarded (a stream the scenario never reads)
INBOX_LIMIT = 10_000
#: the largest message accepted; a bigger one fails the connection (close code 1009, a drop)
MAX_MESSAGE_BYTES = 16 * 2**20
_CLOSE_WAIT_S = 2.0  # how long close() waits for the server's closing handshake
_ABNORMAL = 1006  # RFC 6455: closed without a close frame


class WebSocketError(CountedFailure):
    """A WebSocket failure the client already counted under its series; ``counted`` tells the
    virtual user not to count it again as a task exception."""

    counted = True


class WebSocketClosed(WebSocketError):
    """The connection is closed: ``code`` and ``reason`` of the close (1006: no close frame)."""

    def __init__(self, message: str, code: int = _ABNORMAL, reason: str = "", counted: bool = True) -> None:
        super().__init__(message)
        self.code, self.reason, self.counted = code, reason, counted


class WebSocketTimeout(WebSocketError, TimeoutError):
    """No message came within ``receive(timeout=...)``. Not counted by the client: the scenario
    may catch it; uncaught, it fails the task like any exception of the task's own."""

    counted = False


def require() -> None:
    if ClientProtocol is None:
        raise ImportError(INSTALL_HINT)


def count(events, series, latency_us: int | None = None, kind: FailureKind | None = None, message: str = "",
          status: int = 0) -> None:
    """One request of a WebSocket or Socket.IO series (a connect, a round trip): counted, its
    latency and failure recorded, and handed to the worker's ``on_request`` hooks when it has any
    (as HttpClient's counting points hand HTTP requests). A drop is a failure, not a request: no event."""
    series.requests += 1
    if latency_us is not None:
        series.latencies_us.append(latency_us)
    if kind is not None:
        series.fail(kind, stable_message(message))
    if events is not None and events.request:
        events.request_done(RequestEvent(series.method, series.name, None if latency_us is None else latency_us / 1000,
                                         status, None if kind is None else str(kind), 0, 0))


class WebSocket(asyncio.Protocol):
    """One WebSocket connection of a virtual user (made by ``HttpClient.websocket``).

    ``send``/``receive`` (text as str, binary as bytes), ``send_json``/``receive_json``,
    ``request`` (a timed round trip), ``close``, and ``async for message in ws`` (ends when the
    connection closes). Messages that arrive are counted at once, read or not.
    """

    def __init__(self, ctx, url: str, series, headers: dict[str, str], timeout_s: float | None,
                 events=None) -> None:
        require()
        self._ctx = ctx
        self._events = events
        self.url = url
        self.name = series.name
        self._series = series
        self._headers = headers
        self._timeout_s = ctx.timeout_s if timeout_s is None else timeout_s
        self._proto = ClientProtocol(parse_uri(url), max_size=MAX_MESSAGE_BYTES)
        self._transport: asyncio.Transport | None = None
        self._handshake: asyncio.Future | None = None
        self._inbox: deque = deque()
        self._waiter: asyncio.Future | None = None
        self._pending: list[list] = []  # request() round trips awaiting a reply: [match, future, json]
        self._fragments: list[bytes] | None = None
        self._fragment_text = False
        self._closed_event: asyncio.Future | None = None
        self.open = False
        self.closing = False  # the scenario asked to close (the end is not a drop)
        self.close_code: int | None = None
        self.close_reason = ""
        self._on_close: Callable[["WebSocket"], None] | None = None

    # -- connecting ---------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the connection and do the handshake; counted and timed on the connection's series.
        Raises :class:`WebSocketError` (already counted) when either fails."""
        ctx, series = self._ctx, self._series
        loop = ctx.loop
        parts = urlsplit(self.url)
        host, secure = parts.hostname or "127.0.0.1", parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        start = _perf_ns()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, host, port, ssl=ctx.ssl_context() if secure else None,
                                       server_hostname=host if secure else None),
                min(ctx.connect_timeout_s, self._timeout_s))
        except asyncio.TimeoutError:
            self._connect_failed(FailureKind.CONNECT, f"connect to {host}:{port} timed out")
        except ssl.SSLError as exc:
            self._connect_failed(FailureKind.CONNECT, f"TLS handshake with {host}:{port} failed: {exc.reason or exc}")
        except OSError as exc:
            self._connect_failed(FailureKind.CONNECT,
                                 f"cannot connect to {host}:{port}: {exc.strerror or exc or type(exc).__name__}")
        try:
            response = await asyncio.wait_for(asyncio.shield(self._handshake), self._timeout_s)
        except asyncio.TimeoutError:
            self._connect_failed(FailureKind.TIMEOUT, f"no handshake response within {self._timeout_s:g} s",
                                 round(self._timeout_s * 1e6))
        except asyncio.CancelledError:
            self.abort()
            series.cancelled += 1
            raise
        if isinstance(response, BaseException):  # the connection ended before the 101
            self._connect_failed(FailureKind.RESET, "connection closed during the WebSocket handshake")
        status = response.status_code
        exc = self._proto.handshake_exc
        if exc is not None:
            if status != 101 or isinstance(exc, InvalidStatus):
                self._connect_failed(FailureKind.STATUS, f"handshake refused: HTTP {status}",
                                     (_perf_ns() - start) // 1000, status)
            self._connect_failed(FailureKind.PROTOCOL, f"bad handshake response: {exc}", status=status)
        count(self._events, series, (_perf_ns() - start) // 1000, status=status)
        if not self.open:  # accepted, then closed at once: the drop is counted already
            raise self._closed_error()

    def _connect_failed(self, kind: FailureKind, message: str, latency_us: int | None = None, status: int = 0) -> None:
        self.abort()  # done with it (and the client no longer tracks it)
        count(self._events, self._series, latency_us, kind, message, status)
        raise WebSocketError(f"{kind}: {message}")

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport) -> None:
        self._transport = transport
        self._handshake = self._ctx.loop.create_future()
        self._closed_event = self._ctx.loop.create_future()
        request = self._proto.connect()
        for key, value in self._headers.items():
            request.headers[key] = value
        self._proto.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        self._proto.receive_data(data)
        self._feed_events()
        self._flush()

    def eof_received(self) -> bool:
        self._proto.receive_eof()
        self._feed_events()
        self._flush()
        return False

    def connection_lost(self, exc) -> None:
        self._transport = None
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_result(ConnectionError("closed"))
        self._ended()

    def _flush(self) -> None:
        transport = self._transport
        if transport is None:
            return
        for chunk in self._proto.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # the protocol's signal to half-close (after a close frame)
                if transport.can_write_eof():
                    transport.write_eof()
        if self._proto.state is State.CLOSED and not self._proto.close_expected():
            transport.close()

    def _feed_events(self) -> None:
        events = self._proto.events_received()
        if not events:
            return
        now = _perf_ns()
        for event in events:
            if isinstance(event, _HandshakeResponse):
                if not self._handshake.done():
                    self.open = self._proto.handshake_exc is None
                    self._handshake.set_result(event)
            elif self._handshake.done():
                self._frame(event, now)
        if self._proto.state is not State.OPEN and self.open:
            self._ended()

    def _frame(self, frame, now: int) -> None:
        op = frame.opcode
        if op is Opcode.TEXT or op is Opcode.BINARY:
            if frame.fin:
                self._message(frame.data.decode() if op is Opcode.TEXT else bytes(frame.data), len(frame.data), now)
            else:
                self._fragments, self._fragment_text = [bytes(frame.data)], op is Opcode.TEXT
        elif op is Opcode.CONT and self._fragments is not None:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), None
                self._message(data.decode() if self._fragment_text else data, len(data), now)

    def _message(self, msg, size: int, now: int) -> None:
        series = self._series
        series.messages_received += 1
        series.bytes_received += size
        for i, (match, fut, decode) in enumerate(self._pending):
            if fut.done():
                continue
            value = _decoded(msg) if decode else msg
            try:
                hit = match is None or match(value)
            except Exception:  # a matcher that cannot read this message: not its reply
                hit = False
            if hit:
                fut.set_result((value, now))
                del self._pending[i]
                return
        inbox = self._inbox
        if len(inbox) >= INBOX_LIMIT:
            inbox.popleft()
            self._ctx.recorder.warn(f"WS {self.name}: more than {INBOX_LIMIT} unread messages; the oldest "
                                    "are discarded (read them with receive() or async for)")
        inbox.append(msg)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ended(self) -> None:
        """The connection closed (a close frame, or lost): a drop unless the scenario closed it.
        Its code: the peer's close frame's, else the one this side sent when it failed the
        connection (1009: a message too big), else 1006 (no close frame at all)."""
        if self.close_code is not None:
            return
        proto = self._proto
        close = proto.close_rcvd or proto.close_sent
        self.close_code = _ABNORMAL if close is None else int(close.code)
        self.close_reason = "" if close is None else close.reason
        was_open, self.open = self.open, False
        if was_open and not self.closing:
            self._series.fail(FailureKind.CLOSED, self._close_words())
        for _, fut, _ in self._pending:
            if not fut.done():
                fut.set_result(None)
        self._pending.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._closed_event is not None and not self._closed_event.done():
            self._closed_event.set_result(None)
        if self._transport is not None:  # the server's TCP close is due: not waited for forever
            self._ctx.loop.call_later(_CLOSE_WAIT_S, self._drop_transport)
        if self._on_close is not None:
            self._on_close(self)

    def _drop_transport(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()

    def _close_words(self) -> str:
        if self.close_code == _ABNORMAL:
            return "connection lost (close code 1006)"
        reason = f" {self.close_reason}" if self.close_reason else ""
        return f"closed by the server (close code {self.close_code}{reason})"

    # -- the scenario's API ---------------------------------------------------------------------
    async def send(self, message: str | bytes) -> None:
        """Send a text (str) or binary (bytes) message."""
        self._check_open()
        if isinstance(message, str):
            data = message.encode()
            self._proto.send_text(data)
        else:
            data = bytes(message)
            self._proto.send_binary(data)
        self._series.messages_sent += 1
        self._series.bytes_sent += len(data)
        self._flush()

    async def send_json(self, obj: Any) -> None:
        await self.send(json.dumps(obj, separators=(",", ":")))

    async def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message (str for text, bytes for binary). Raises :class:`WebSocketTimeout`
        when none comes within ``timeout`` seconds, :class:`WebSocketClosed` once closed."""
        while not self._inbox:
            if not self.open:
                raise self._closed_error()
            self._waiter = self._ctx.loop.create_future()
            try:
                await asyncio.wait_for(self._waiter, timeout)
            except asyncio.TimeoutError:
                raise WebSocketTimeout(f"WS {self.name}: no message within {timeout:g} s") from None
            finally:
                self._waiter = None
        return self._inbox.popleft()

    async def receive_json(self, timeout: float | None = None) -> Any:
        return json.loads(await self.receive(timeout))

    async def request(self, message: Any, match: Callable[[Any], bool] | None = None, *, name: str | None = None,
                      timeout: float | None = None, raise_closed: bool = False) -> Any:
        """Send ``message`` (a dict or list goes as JSON) and wait for the first message after it
        that ``match(reply)`` accepts (any, without ``match``); replies to JSON requests are
        decoded. Timed on the series ``WS <name>`` (default ``<connection name> request``).
        Returns the reply, or None when none came in time (recorded at the timeout) or the
        connection closed first (``closed``; raised as :class:`WebSocketClosed` with ``raise_closed``)."""
        series = self._ctx.recorder.series(METHOD, name or f"{self.name} request")
        decode = isinstance(message, (dict, list))
        self._check_open()
        fut = self._ctx.loop.create_future()
        entry = [match, fut, decode]
        self._pending.append(entry)
        start = _perf_ns()
        await (self.send_json(message) if decode else self.send(message))
        timeout_s = self._timeout_s if timeout is None else timeout
        try:
            got = await asyncio.wait_for(fut, timeout_s)
        except asyncio.TimeoutError:
            if entry in self._pending:
                self._pending.remove(entry)
            count(self._events, series, round(timeout_s * 1e6), FailureKind.TIMEOUT, f"no reply within {timeout_s:g} s")
            return None
        except asyncio.CancelledError:
            if entry in self._pending:
                self._pending.remove(entry)
            series.cancelled += 1
            raise
        if got is None:  # the connection closed before the reply
            count(self._events, series, None, FailureKind.CLOSED, self._close_words())
            if raise_closed:
                raise self._closed_error()
            return None
        value, end_ns = got
        count(self._events, series, (end_ns - start) // 1000)
        return value

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection: the closing handshake, waited for up to 2 s. Idempotent."""
        self.closing = True
        if self._transport is None:
            self._ended()
            return
        if self._proto.state is State.OPEN:
            self._proto.send_close(code, reason)
            self._flush()
        try:
            await asyncio.wait_for(asyncio.shield(self._closed_event), _CLOSE_WAIT_S)
        except asyncio.TimeoutError:
            pass
        self.abort()

    def abort(self) -> None:
        """Close at once (no closing handshake waited for): the user stopped, or a failed connect."""
        self.closing = True
        transport, self._transport = self._transport, None
        if transport is not None:
            if self._proto.state is State.OPEN:
                self._proto.send_close(1001, "going away")
                for chunk in self._proto.data_to_send():
                    if chunk:
                        transport.write(chunk)
            transport.close()
        self._ended()

    async def shutdown(self) -> None:
        """The user stopped with this connection open: closed at once (not a drop, not leaked)."""
        self.abort()

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await self.receive()
        except WebSocketClosed:
            raise StopAsyncIteration from None

    def _check_open(self) -> None:
        if not self.open:
            raise self._closed_error()

    def _closed_error(self) -> WebSocketClosed:
        if self.closing:  # the scenario closed it and used it again: its own mistake
            return WebSocketClosed(f"WS {self.name}: used after close()", self.close_code or 1000,
                                   counted=False)
        return WebSocketClosed(f"WS {self.name}: {self._close_words()}", self.close_code or _ABNORMAL,
                               self.close_reason)


def _decoded(msg):
    try:
        return json.loads(msg)
    except (ValueError, TypeError):
        return msg


def websocket_url(origin: tuple, base_path: str, path: str) -> str:
    """``ws://`` or ``wss://`` for ``path`` on the run's host (an absolute URL is kept)."""
    if path.startswith(("ws://", "wss://")):
        return path
    if path.startswith(("http://", "https://")):
        return "ws" + path[4:]
    scheme, host, port = origin
    ws = "wss" if scheme == "https" else "ws"
    return f"{ws}://{host}:{port}{base_path}{path if path.startswith('/') else '/' + path}"


class Connecting:
    """What ``client.websocket(...)`` returns: ``async with`` it (closed at the block's end), or
    ``await`` it for a :class:`WebSocket` the scenario closes itself (else at the user's stop)."""

    __slots__ = ("_make", "_ws")

    def __init__(self, make: Callable[[], WebSocket]) -> None:
        self._make = make
        self._ws: WebSocket | None = None

    async def _open(self) -> WebSocket:
        ws = self._make()
        await ws.connect()
        return ws

    def __await__(self):
        return self._open().__await__()

    async def __aenter__(self) -> WebSocket:
        self._ws = await self._open()
        return self._ws

    async def __aexit__(self, exc_type, exc, tb) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            ws.abort()  # the run is ending: no closing handshake to wait for
        else:
            await ws.close()
