"""What the HTTP clients of one worker share (``ClientContext``): the target, TLS, timeouts,
the default headers, the recorder, the open connections with the sweeper that times them out,
and the caches of request bytes shared by clients whose headers are the same."""
from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlsplit

from ...metrics.recorder import Recorder
from .codings import ACCEPT_ENCODING
from .connection import Connection

_perf_ns = time.perf_counter_ns
_SHARED_HEADER_SETS = 16


class ClientContext:
    """What all clients of one worker share: the target, TLS, timeouts, the recorder, the open
    connections with the sweeper that times them out, and the request-bytes caches."""

    def __init__(self, base_url: str, recorder: Recorder, *, timeout_s: float = 30.0,
                 connect_timeout_s: float = 10.0, insecure: bool = False, follow_redirects: bool = False,
                 headers: dict[str, str] | None = None, open_workload: bool = False,
                 compression: bool = True) -> None:
        parts = urlsplit(base_url)
        self.origin = origin_of(parts)
        self.base_path = parts.path.rstrip("/")
        self.recorder = recorder
        self.timeout_s = timeout_s
        self.timeout_ns = ns(timeout_s)
        self.connect_timeout_s = connect_timeout_s
        self.follow_redirects = follow_redirects
        #: what every request carries unless the class or the request sets its own, and the
        #: run's headers (--header, the config file), which go over the class's
        self.builtin_headers = {"Accept-Encoding": ACCEPT_ENCODING} if compression else {}
        self.default_headers = dict(headers or {})
        self.open_workload = open_workload
        self._ssl: ssl.SSLContext | None = None
        self._insecure = insecure
        self.loop = asyncio.get_event_loop()
        #: every connection the worker's clients opened and the sweeper has not yet seen closed.
        #: The sweeper walks them and fails a request past its deadline: a loop timer per request
        #: (call_later + cancel) costs ~2.8 µs, a dict entry per request in flight ~0.2 µs and ~200
        #: bytes, the deadline on the connection ~0. A list, not a set: a set's table costs ~100
        #: bytes per connection at 10,000, a list 8; closed ones are dropped at each sweep.
        self.connections: list[Connection] = []
        self._sweeper: asyncio.Task | None = None
        self._closed = False
        self._sweep_s = _sweep_interval_s(timeout_s)
        #: request-bytes caches shared by the clients whose headers are the same (and no cookies):
        #: tuple(headers.items()) -> (that headers dict, {key: entry})
        self._shared: dict[tuple, tuple[dict, dict]] = {}

    # -- timeouts ---------------------------------------------------------------------------
    def connection_opened(self) -> None:
        if self._sweeper is None and not self._closed:
            self._sweeper = self.loop.create_task(self._sweep())

    def expect_timeout(self, timeout_s: float) -> None:
        """A request with its own timeout: sweep often enough for it (a tenth of it, >= 10 ms)."""
        self._sweep_s = min(self._sweep_s, _sweep_interval_s(timeout_s))

    async def _sweep(self) -> None:
        """Fail requests past their deadline; ends by itself once no connection is open. A
        timed-out request is recorded at exactly its timeout; detection lags by <= one sweep."""
        try:
            while self.connections:
                await asyncio.sleep(self._sweep_s)
                now = _perf_ns()
                conns = self.connections
                conns[:] = [c for c in conns if not c.closed]  # a closed connection has nothing in flight
                for conn in [c for c in conns if c._fut is not None and now - c.sent_ns >= c.timeout_ns]:
                    conn.expire()
        finally:
            self._sweeper = None

    async def close(self) -> None:
        """Stop the timeout sweeper and wait until it has stopped (the worker's clients are done).

        Awaited, not only cancelled: a one-process run closes its event loop soon after, and a
        task still pending then is reported as destroyed (``Task was destroyed but it is pending!``).
        No sweeper starts after this (a connection opened later has no deadline enforced)."""
        self._closed = True
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None and not sweeper.done():
            sweeper.cancel()
            await asyncio.wait({sweeper})  # raises only if the caller itself is cancelled

    # -- shared state -----------------------------------------------------------------------
    def shared_cache(self, headers: dict[str, str]) -> tuple[dict, dict] | None:
        """The request-bytes cache of clients with these headers (and no cookies), with a copy of
        the headers that nobody changes: the bytes of a plain request depend only on method,
        target, origin and headers. None past 16 header sets (a client then keeps its own)."""
        key = tuple(headers.items())
        try:
            shared = self._shared.get(key)
        except TypeError:  # a value that cannot be hashed (a list): the client keeps its own cache
            return None
        if shared is None and len(self._shared) < _SHARED_HEADER_SETS:
            shared = self._shared[key] = (dict(headers), {})
        return shared

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self._insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        return self._ssl


def ns(seconds: float) -> int:
    return round(seconds * 1e9)


def _sweep_interval_s(timeout_s: float) -> float:
    return min(0.1, max(0.01, timeout_s / 10))


def origin_of(parts) -> tuple[str, str, int]:
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    return (scheme, parts.hostname or "127.0.0.1", port)
