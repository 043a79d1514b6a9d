"""Socket.IO in scenarios: ``sio = await self.client.socketio("/socket.io")``.

Built on python-socketio's asyncio client (websocket transport, through aiohttp): Socket.IO's
framing, namespaces, acks and engine.io pings are a protocol of their own, and that client is
the reference implementation's Python twin, kept by the same maintainer as the server most
Python services run. Recorded like the WebSocket client (``websocket.py``), method ``SIO``:

- ``SIO <name>`` (the connection): one request per connect, timed to the namespace's connect
  (failures ``connect`` or ``timeout``); events emitted and received counted as its messages;
  a disconnect the scenario did not ask for is a drop: one failure of kind ``closed``.
- ``SIO <event>`` (or ``name=``): the ack round trips of :meth:`SocketIO.call`, timed; a call
  without an ack in time is recorded at its timeout, one cut short by a drop fails ``closed``.

Payload bytes are not counted (the library does not expose its frames).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ...model.kinds import FailureKind
from .websocket import WebSocketClosed, WebSocketError, count

METHOD = "SIO"
INSTALL_HINT = "Socket.IO scenarios need the 'socketio' extra: pip install 'surge[socketio]'"
_perf_ns = time.perf_counter_ns

try:
    import socketio as _socketio
except ImportError:  # pragma: no cover - exercised only without the extra
    _socketio = None


class SocketIO:
    """A connected Socket.IO client of one virtual user: ``emit``, ``call`` (ack, timed), ``on``,
    ``disconnect``. Reconnection is off: a scenario that wants to reconnect connects again."""

    def __init__(self, ctx, path: str, name: str, headers: dict[str, str], namespaces: list[str] | None,
                 timeout_s: float | None, events=None) -> None:
        if _socketio is None:
            raise ImportError(INSTALL_HINT)
        self._ctx = ctx
        self._events = events
        self.name = name
        self._series = ctx.recorder.series(METHOD, name)
        self._path = path.strip("/") or "socket.io"
        self._headers = headers
        self._namespaces = namespaces
        self._timeout_s = ctx.timeout_s if timeout_s is None else timeout_s
        self._sio = _socketio.AsyncClient(reconnection=False, handle_sigint=False, logger=False,
                                          engineio_logger=False)
        self._sio.on("*", self._any)
        self._sio.on("disconnect", self._disconnected)
        self.closing = False
        self.connected = False
        self._calls: set[asyncio.Future] = set()
        self._on_close: Callable[[Any], None] | None = None

    @property
    def client(self):
        """The underlying ``socketio.AsyncClient`` (for what this wrapper does not offer)."""
        return self._sio

    async def connect(self) -> None:
        series = self._series
        scheme, host, port = self._ctx.origin
        url = f"{scheme}://{host}:{port}{self._ctx.base_path}"
        start = _perf_ns()
        try:
            await asyncio.wait_for(
                self._sio.connect(url, headers=self._headers, transports=["websocket"], namespaces=self._namespaces,
                                  socketio_path=self._path, wait_timeout=self._timeout_s),
                self._timeout_s + 1)
        except asyncio.CancelledError:
            series.cancelled += 1
            await self._quietly_disconnect()
            raise
        except asyncio.TimeoutError:
            await self._quietly_disconnect()
            self._failed(FailureKind.TIMEOUT, f"no Socket.IO connect within {self._timeout_s:g} s",
                         round(self._timeout_s * 1e6))
        except Exception as exc:  # socketio.exceptions.ConnectionError and what aiohttp raises
            await self._quietly_disconnect()
            text = str(exc) or type(exc).__name__
            kind = FailureKind.TIMEOUT if "timed out" in text.lower() else FailureKind.CONNECT
            self._failed(kind, f"Socket.IO connect failed: {text}")
        count(self._events, series, (_perf_ns() - start) // 1000)
        self.connected = True

    def _failed(self, kind: FailureKind, message: str, latency_us: int | None = None) -> None:
        count(self._events, self._series, latency_us, kind, message)
        if self._on_close is not None:  # done with it (and the client no longer tracks it)
            self._on_close(self)
        raise WebSocketError(f"{kind}: {message}")

    async def _any(self, event: str, *args) -> None:
        self._series.messages_received += 1

    async def _disconnected(self, reason: Any = None) -> None:
        was, self.connected = self.connected, False
        if was and not self.closing:
            self._series.fail(FailureKind.CLOSED, f"disconnected by the server ({reason or 'no reason given'})")
        for fut in self._calls:
            if not fut.done():
                fut.cancel()
        if self._on_close is not None:
            self._on_close(self)

    def on(self, event: str, handler: Callable | None = None, namespace: str | None = None):
        """Call ``handler(*args)`` for each ``event`` (counted as a received message). Usable as
        a decorator: ``@sio.on("correction")``."""
        def register(fn: Callable) -> Callable:
            async def counted(*args):
                self._series.messages_received += 1
                result = fn(*args)
                if asyncio.iscoroutine(result):
                    result = await result
                return result
            self._sio.on(event, counted, namespace=namespace)
            return fn
        return register(handler) if handler is not None else register

    async def emit(self, event: str, data: Any = None, namespace: str | None = None) -> None:
        """Send an event (no ack awaited)."""
        self._check()
        await self._sio.emit(event, data, namespace=namespace)
        self._series.messages_sent += 1

    async def call(self, event: str, data: Any = None, *, name: str | None = None, namespace: str | None = None,
                   timeout: float | None = None, raise_closed: bool = False) -> Any:
        """Emit ``event`` and wait for its ack, timed on ``SIO <name or event>``. Returns the ack's
        data, or None when none came in time (recorded at the timeout) or the connection dropped
        first (``closed``; raised as :class:`WebSocketClosed` with ``raise_closed``)."""
        self._check()
        series = self._ctx.recorder.series(METHOD, name or event)
        timeout_s = self._timeout_s if timeout is None else timeout
        start = _perf_ns()
        task = asyncio.ensure_future(self._sio.call(event, data, namespace=namespace, timeout=timeout_s))
        self._calls.add(task)
        self._series.messages_sent += 1
        try:
            reply = await task
        except asyncio.CancelledError:
            if not task.cancelled() or self.connected:  # the run is ending, not a drop
                series.cancelled += 1
                raise
            return self._cut_short(series, raise_closed)
        except _socketio.exceptions.TimeoutError:
            count(self._events, series, round(timeout_s * 1e6), FailureKind.TIMEOUT, f"no ack within {timeout_s:g} s")
            return None
        except _socketio.exceptions.BadNamespaceError:
            return self._cut_short(series, raise_closed)
        finally:
            self._calls.discard(task)
        count(self._events, series, (_perf_ns() - start) // 1000)
        self._series.messages_received += 1
        return reply

    def _cut_short(self, series, raise_closed: bool) -> None:
        """A call the connection's drop cut short: failed ``closed`` (raised with ``raise_closed``)."""
        count(self._events, series, None, FailureKind.CLOSED, "disconnected before the ack")
        if raise_closed:
            raise WebSocketClosed(f"SIO {self.name}: disconnected before the ack") from None
        return None

    async def wait(self, seconds: float) -> None:
        """Stay connected for ``seconds`` (events keep arriving to their handlers)."""
        await asyncio.sleep(seconds)

    async def disconnect(self) -> None:
        """Disconnect (not a drop). Idempotent."""
        self.closing = True
        await self._quietly_disconnect()
        self.connected = False
        if self._on_close is not None:
            self._on_close(self)

    async def shutdown(self) -> None:
        """The user stopped with the connection open: disconnected, not leaked."""
        await self.disconnect()

    async def _quietly_disconnect(self) -> None:
        self.closing = True
        try:
            await asyncio.wait_for(self._sio.disconnect(), 2)
        except (Exception, asyncio.TimeoutError):
            pass
        try:  # the aiohttp session engine.io opened for this client
            http = getattr(self._sio.eio, "http", None)
            if http is not None and not http.closed and getattr(self._sio.eio, "external_http", False) is False:
                await http.close()
        except Exception:
            pass

    def _check(self) -> None:
        if not self.connected:
            if self.closing:
                raise WebSocketClosed(f"SIO {self.name}: used after disconnect()", 1000, counted=False)
            raise WebSocketClosed(f"SIO {self.name}: disconnected by the server")

    async def __aenter__(self) -> "SocketIO":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.disconnect()
