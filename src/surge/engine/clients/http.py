"""The HTTP/1.1 client behind ``self.client``: one per virtual user, keep-alive per origin.

Cost model: the bare callback-only client (``benchmarks/bare_client.py``) is the reference, and
every Python call on the way of a request shows in CPU per request. So a plain request (no
keywords) is one coroutine from ``get()`` to the ``Response``: one dict lookup gives its target,
series and request bytes (shared by the worker's clients whose headers are the same), the
connection is the client's idle one, the deadline is two attributes on the connection, and the
latency is an int appended to the series' list. Requests with keywords take the same coroutine
after a preparation step. Errors are translated once, here, into the failure kinds.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from urllib.parse import urlencode, urljoin, urlsplit

from .connection import Connection
from .context import ClientContext, ns, origin_of
from .cookies import CookieDict, CookieJar
from .errors import CONNECT, STATUS, TIMEOUT, RequestFailure
from .head import header_values, may_set_cookie
from .headers import layered, without_credentials
from .request import build_request
from .response import Response, status_failed

__all__ = ["ClientContext", "HttpClient", "KEYWORDS"]  # ClientContext: where the engine imports it from

_perf_ns = time.perf_counter_ns
_time = time.time
_new_response = object.__new__
_MAX_REDIRECTS = 10
_REDIRECTS = frozenset((301, 302, 303, 307, 308))
#: the keywords of ``request()`` (an unknown one is a TypeError at the call, as for any function)
KEYWORDS = frozenset(("params", "json", "data", "headers", "name", "timeout", "expect_status",
                      "catch_response", "allow_redirects"))
#: entries of a request-bytes cache (shared by the clients of one header set, or one client's own)
_CACHE_ENTRIES = 256


class _Options:
    """What a request with keywords carries beyond a plain one."""

    __slots__ = ("timeout_ns", "follow", "expect_status", "deferred", "json", "data", "headers")

    def __init__(self, timeout_s, follow, expect_status, deferred, json, data, headers) -> None:
        self.timeout_ns = ns(timeout_s)
        self.follow, self.expect_status, self.deferred = follow, expect_status, deferred
        self.json, self.data, self.headers = json, data, headers


class HttpClient:
    """``get/post/put/patch/delete/head/options/request``. Cookies are kept per client (per user)
    in a jar scoped by domain and path (``cookies.py``).

    ``headers`` is a plain dict and ``cookies`` a dict view of the jar; a scenario may change
    either at any time (a token set after login): the next request carries the change.
    """

    __slots__ = ("_ctx", "_base", "_headers", "_jar", "_conn", "_pool", "_plain", "_plain_headers",
                 "_plain_version", "_learnt", "intended_ns", "created", "started", "_sockets")

    def __init__(self, ctx: ClientContext, headers: dict[str, str] | None = None) -> None:
        self._ctx = ctx
        # the built-in ones (Accept-Encoding), the class's over them, then the run's (--header,
        # the config file): the command line is the later, more specific layer, and a token
        # passed there must be the one sent
        merged = layered(ctx.builtin_headers, headers, ctx.default_headers)
        shared = ctx.shared_cache(merged)
        #: the headers until the scenario reads ``client.headers`` (then its own copy, _headers),
        #: and the request-bytes cache in use with the headers and cookies its bytes carry: most
        #: users of a class never change their headers and share both with the others
        self._base, self._plain = shared if shared is not None else (merged, {})
        self._plain_headers: dict = self._base
        self._headers: dict[str, str] | None = None
        #: the cookies, from the first one on (a client that never gets one has none: no cost),
        #: and the jar's version that the request bytes in use carry
        self._jar: CookieJar | None = None
        self._plain_version = 0
        #: the client's own headers as the redactor last learnt them (their secrets are scrubbed
        #: from failure messages: a token set after login that a task's exception repeats)
        self._learnt: dict | None = None
        self._conn: Connection | None = None  # the idle connection to the context's origin
        self._pool: dict[tuple, list[Connection]] | None = None  # further idle connections
        #: open workloads: the scheduled start of the current iteration, for its first request
        self.intended_ns = 0
        #: requests created and requests that began: a task that never awaits its request leaves
        #: them apart, and the virtual user reports it (a request that is never awaited is never sent)
        self.created = 0
        self.started = 0
        #: the WebSocket / Socket.IO connections still open, closed at the user's stop
        self._sockets: set | None = None

    @property
    def headers(self) -> dict[str, str]:
        """The headers sent with every request of this client (a dict it may change)."""
        if self._headers is None:
            self._headers = dict(self._base)
        return self._headers

    @headers.setter
    def headers(self, value: dict[str, str]) -> None:
        self._headers = value

    @property
    def cookies(self) -> CookieDict:
        """The cookies as a dict of name -> value. ``cookies[k] = v`` sets a cookie for the base
        origin (host-only, path ``/``); server-set cookies go where their domain and path say."""
        return CookieDict(self._cookie_jar())

    @cookies.setter
    def cookies(self, value: dict[str, str]) -> None:
        jar = self._cookie_jar()
        jar.clear()
        for name, text in dict(value).items():
            jar.put(name, text)

    def _cookie_jar(self) -> CookieJar:
        if self._jar is None:
            self._jar = CookieJar(self._ctx.origin)
        return self._jar

    # -- verbs ------------------------------------------------------------------------------
    def get(self, path: str, **kw):
        self.created += 1
        return self._send("GET", path, None) if not kw else self._with_options("GET", path, kw)

    def post(self, path: str, **kw):
        self.created += 1
        return self._send("POST", path, None) if not kw else self._with_options("POST", path, kw)

    def put(self, path: str, **kw):
        self.created += 1
        return self._send("PUT", path, None) if not kw else self._with_options("PUT", path, kw)

    def patch(self, path: str, **kw):
        self.created += 1
        return self._send("PATCH", path, None) if not kw else self._with_options("PATCH", path, kw)

    def delete(self, path: str, **kw):
        self.created += 1
        return self._send("DELETE", path, None) if not kw else self._with_options("DELETE", path, kw)

    def head(self, path: str, **kw):
        self.created += 1
        return self._send("HEAD", path, None) if not kw else self._with_options("HEAD", path, kw)

    def options(self, path: str, **kw):
        self.created += 1
        return self._send("OPTIONS", path, None) if not kw else self._with_options("OPTIONS", path, kw)

    def request(self, method: str, path: str, **kw):
        """Send one request; ``await`` it for the :class:`Response`. Keywords: ``params``, ``json``,
        ``data``, ``headers``, ``name``, ``timeout``, ``expect_status``, ``catch_response``,
        ``allow_redirects``. With ``catch_response=True`` it is also an async context manager
        (``async with client.get(..., catch_response=True) as resp:``): the verdict is committed
        at exit. Other requests are a bare coroutine (no extra object on the hot path)."""
        self.created += 1
        return self._send(method, path, None) if not kw else self._with_options(method, path, kw)

    def _with_options(self, method: str, path: str, kw: dict):
        unknown = kw.keys() - KEYWORDS
        if unknown:
            self.created -= 1
            raise TypeError(f"{method.lower()}() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        coro = self._send(method, path, kw)
        return _CaughtRequest(coro) if kw.get("catch_response") else coro

    # -- the request ------------------------------------------------------------------------
    async def _send(self, method: str, path: str, kw: dict | None) -> Response:
        # every local of this coroutine is held by each waiting user (8 bytes each): what happens
        # after the response is in _answered(), a plain call
        self.started += 1
        ctx = self._ctx
        if kw is None:
            jar = self._jar
            if (self._headers is not None and self._headers != self._plain_headers) or (jar is not None and (
                    jar.version != self._plain_version or 0 < jar.expires_at <= _time())):
                self._rebind()  # headers or cookies changed (a token set after login, a cookie stored)
            entry = self._plain.get(path if method == "GET" else (method, path)) or self._plain_entry(method, path)
            opts = None
        else:
            entry, opts = self._prepare(method, path, **kw)
        # entry: (method, target, series, origin, request bytes)
        conn = self._conn
        if conn is not None and not conn.closed and entry[3] is ctx.origin:
            self._conn = None
        else:
            conn = self._idle_connection(entry[3])
            if conn is None:
                try:
                    conn = await self._connect(entry[3], (ctx.timeout_s if opts is None else opts.timeout_ns / 1e9))
                except RequestFailure as failure:  # nothing was sent: counted, not timed
                    return self._failed(entry, failure, 0)
                # cancelled while connecting: nothing was sent, nothing to count
        fut = ctx.loop.create_future()
        start = self.intended_ns  # open workloads: the first request is timed from the arrival
        if start:
            self.intended_ns = 0
        conn.sent_ns = _perf_ns()  # the deadline runs from the send (connect has its own)
        conn.timeout_ns = ctx.timeout_ns if opts is None else opts.timeout_ns
        conn.send(entry[4], fut, method == "HEAD")
        # counted when they end (answered, failed or cancelled), never undone later: a request
        # counted at its send and taken back at its cancel could make an interval's rate negative
        try:
            fut = await fut  # (status, raw, body, end_ns)
        except RequestFailure as failure:  # failed or timed out: the connection's state is unknown
            conn.abort()
            if failure.early and conn.served and (failure.unsent or _replayable(entry)):
                return await self._resend(entry, opts, start, failure)
            return self._failed(entry, failure, conn.timeout_ns)
        except BaseException as exc:  # cancelled (counted as such), or worse
            self._dropped(conn, entry, exc)
            raise
        if conn.closed:
            conn.abort()
        elif self._conn is None and conn.origin is ctx.origin:
            self._conn = conn
        else:
            self._keep(conn)
        if fut[0] in _REDIRECTS and (ctx.follow_redirects if opts is None else opts.follow):
            return await self._redirected(entry, opts, fut, start, conn.sent_ns, conn.timeout_ns)
        return self._answered(entry, opts, fut, start, conn.sent_ns)

    def _answered(self, entry: tuple, opts: _Options | None, result: tuple, start_ns: int, sent_ns: int) -> Response:
        """Count and time an answered request (from ``start_ns`` if set, else from its send); its Response."""
        status, raw, body, end_ns = result
        series = entry[2]
        series.requests += 1
        series.bytes_sent += len(entry[4])
        latency_us = (end_ns - (start_ns or sent_ns)) // 1000
        series.latencies_us.append(latency_us)
        if self._ctx.open_workload:
            series.service_us.append((end_ns - sent_ns) // 1000)
        series.bytes_received += len(body)
        if raw.lower().partition(b"set-cookie")[1]:  # head.may_set_cookie() written out (a call less)
            self._store_cookies(entry[3], entry[1], raw)
        resp = _new_response(Response)  # Response.__init__ written out: ~0.1 µs less per request
        resp._request = entry
        resp.status = status
        resp._raw = raw
        resp._body = body
        resp.elapsed_ms = latency_us / 1000.0
        if opts is None:
            if status >= 400:
                resp.failure(f"HTTP {status}", STATUS)
        else:
            if opts.deferred:
                resp._deferred = True  # catch_response: the verdict is committed on exit
            if status_failed(status, opts.expect_status):
                resp.failure(f"HTTP {status}", STATUS)
        return resp

    def _failed(self, entry: tuple, failure: RequestFailure, timeout_ns: int) -> Response:
        """Count a request that got no response; a timed-out one is timed at exactly its timeout."""
        series = entry[2]
        series.requests += 1
        series.bytes_sent += len(entry[4])
        if failure.kind == TIMEOUT:
            series.latencies_us.append(timeout_ns // 1000)
        series.fail(failure.kind, failure.message)
        resp = Response(entry, 0, b"", b"", 0.0)
        resp.error = f"{failure.kind}: {failure.message}"
        resp._failed = True
        return resp

    async def _resend(self, entry: tuple, opts: _Options | None, start_ns: int, dead: RequestFailure) -> Response:
        """Send the request once more, on a new connection: it met a keep-alive connection the
        server closed as the request went out (no byte of a response came), the race every
        keep-alive client meets with a server that closes after a response without saying so.
        Browsers, urllib3 and Go's net/http retry such a request; surge does, once, when nothing
        was written or the request is replayable (see :func:`_replayable`). The dead attempt is
        not counted: the server closed that connection without reading it. If the new attempt
        dies the same way, the server drops this request even on a fresh connection, so the first
        one reached it too: both are counted (``requests + cancelled`` stays what it received)."""
        ctx = self._ctx
        timeout_ns = ctx.timeout_ns if opts is None else opts.timeout_ns
        try:
            conn = await self._connect(entry[3], timeout_ns / 1e9)
        except RequestFailure as failure:
            return self._failed(entry, failure, 0)
        fut = ctx.loop.create_future()
        conn.sent_ns = _perf_ns()
        conn.timeout_ns = timeout_ns
        conn.send(entry[4], fut, entry[0] == "HEAD")
        try:
            result = await fut
        except RequestFailure as failure:
            conn.abort()
            if failure.early and not failure.unsent and not dead.unsent:
                self._failed(entry, dead, 0)
            return self._failed(entry, failure, timeout_ns)
        except BaseException as exc:
            self._dropped(conn, entry, exc)
            raise
        if conn.closed:
            conn.abort()
        else:
            self._keep(conn)
        if result[0] in _REDIRECTS and (ctx.follow_redirects if opts is None else opts.follow):
            return await self._redirected(entry, opts, result, start_ns, conn.sent_ns, timeout_ns)
        return self._answered(entry, opts, result, start_ns, conn.sent_ns)

    @staticmethod
    def _dropped(conn: Connection, entry: tuple, exc: BaseException) -> None:
        """A request given up while its response was awaited: the connection's state is unknown;
        a cancelled request (the end of the run) is counted as such, as it may have reached the server."""
        conn.abort()
        if isinstance(exc, asyncio.CancelledError):
            entry[2].cancelled += 1
            entry[2].bytes_sent += len(entry[4])

    # -- request bytes ------------------------------------------------------------------------
    def _rebind(self) -> None:
        """Pick the request-bytes cache for the client's current headers and cookies: the one
        shared by clients with the same headers (when it has no cookies), else its own."""
        jar = self._jar
        if jar is not None:
            if 0 < jar.expires_at <= _time():
                jar.expire()
            self._plain_version = jar.version
        headers = self._base if self._headers is None else self._headers
        if self._headers is not None and self._headers != self._learnt:
            self._learn_headers()
        shared = None if jar else self._ctx.shared_cache(headers)
        if shared is not None:
            self._plain_headers, self._plain = shared
        else:
            self._plain_headers = dict(headers)
            self._plain = {}

    def _learn_headers(self) -> None:
        """Tell the redactor the client's own headers (changed since it last learnt them)."""
        self._ctx.recorder.redactor.learn_headers(self._headers)
        self._learnt = dict(self._headers)

    def _plain_entry(self, method: str, path: str) -> tuple:
        origin, target = self._resolve(path, None)
        series = self._ctx.recorder.series(method, target.partition("?")[0])
        entry = (method, target, series, origin, self._build(method, origin, target, None, None, None))
        if len(self._plain) < _CACHE_ENTRIES:
            self._plain[path if method == "GET" else (method, path)] = entry
        return entry

    def _prepare(self, method: str, path: str, *, params=None, json=None, data=None, headers=None,
                 name: str | None = None, timeout: float | None = None, expect_status=None,
                 catch_response: bool = False, allow_redirects: bool | None = None) -> tuple[tuple, _Options]:
        ctx = self._ctx
        if headers:
            ctx.recorder.redactor.learn_headers(headers)
        if self._headers is not None and self._headers != self._learnt:
            self._learn_headers()
        origin, target = self._resolve(path, params)
        series = ctx.recorder.series(method, name or target.partition("?")[0])
        entry = (method, target, series, origin, self._build(method, origin, target, json, data, headers))
        if timeout is not None:
            ctx.expect_timeout(timeout)
        opts = _Options(ctx.timeout_s if timeout is None else timeout,
                        ctx.follow_redirects if allow_redirects is None else allow_redirects,
                        expect_status, catch_response, json, data, headers)
        return entry, opts

    def _resolve(self, path: str, params) -> tuple[tuple, str]:
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            origin = origin_of(parts)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        else:
            origin = self._ctx.origin
            target = self._ctx.base_path + (path if path.startswith("/") else "/" + path)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)
        return origin, target

    def _build(self, method: str, origin: tuple, target: str, json, data, extra, crossed: bool = False) -> bytes:
        """The bytes of a request: the client's headers, then the request's ``extra`` ones, and
        one ``Cookie`` line (a scenario's Cookie header first, then the jar's cookies for this
        origin and path). ``crossed``: a redirect left the request's origin, so no credential
        header of the scenario goes along (cookies still do: the jar's, for the new origin)."""
        headers = self._base if self._headers is None else self._headers
        if crossed:
            headers, extra = without_credentials(headers), without_credentials(extra)
        jar = self._jar
        return build_request(method, origin, target, headers, jar.header(origin, target) if jar else None,
                             json, data, extra)

    # -- redirects ----------------------------------------------------------------------------
    async def _redirected(self, entry: tuple, opts: _Options | None, result: tuple, start_ns: int,
                          sent_ns: int, timeout_ns: int) -> Response:
        """A 3xx to follow: one request under the original name, timed to the last response."""
        try:
            result, entry = await self._follow(entry, opts, result, timeout_ns)
        except RequestFailure as failure:
            return self._failed(entry, failure, timeout_ns)
        except asyncio.CancelledError:
            entry[2].cancelled += 1
            entry[2].bytes_sent += len(entry[4])
            raise
        return self._answered(entry, opts, result, start_ns, sent_ns)

    async def _follow(self, entry: tuple, opts: _Options | None, result: tuple, timeout_ns: int) -> tuple:
        """Follow redirects from a 3xx response: the last response's result and its entry."""
        method, target, series, origin, _ = entry
        json, data, headers = (None, None, None) if opts is None else (opts.json, opts.data, opts.headers)
        status, raw, body, end_ns = result
        first, crossed = origin, False
        for _ in range(_MAX_REDIRECTS):
            locations = header_values(raw, b"location")
            if status not in _REDIRECTS or not locations:
                break
            if may_set_cookie(raw):
                self._store_cookies(origin, target, raw)
            method2 = "GET" if status == 303 or (status in (301, 302) and method == "POST") else method
            if method2 != method:
                json = data = None
            method = method2
            origin, target = self._resolve(urljoin(target, locations[-1].decode("latin-1")), None)
            # as browsers and curl: credentials stay with the origin they were meant for, also
            # when a later hop comes back to it (a redirect chain is not to be trusted)
            crossed = crossed or origin != first
            payload = self._build(method, origin, target, json, data, headers, crossed)
            status, raw, body, end_ns = await self._exchange(origin, payload, method == "HEAD", timeout_ns)
        return (status, raw, body, end_ns), (entry[0], target, series, origin, entry[4])

    async def _exchange(self, origin: tuple, payload: bytes, head: bool, timeout_ns: int) -> tuple:
        """Send one request of a redirect chain on an idle (or new) connection."""
        conn = self._idle_connection(origin) or await self._connect(origin, timeout_ns / 1e9)
        fut = self._ctx.loop.create_future()
        conn.sent_ns = _perf_ns()
        conn.timeout_ns = timeout_ns
        conn.send(payload, fut, head)
        try:
            result = await fut
        except BaseException:
            conn.abort()
            raise
        if conn.closed:
            conn.abort()
        else:
            self._keep(conn)
        return result

    # -- connections --------------------------------------------------------------------------
    def _idle_connection(self, origin: tuple) -> Connection | None:
        conn = self._conn
        if conn is not None and conn.origin == origin:
            self._conn = None
            if not conn.closed:
                return conn
            conn.abort()
        idle = self._pool.get(origin) if self._pool else None
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
            conn.abort()
        return None

    def _keep(self, conn: Connection) -> None:
        if self._conn is None and conn.origin == self._ctx.origin:
            self._conn = conn
            return
        if self._pool is None:
            self._pool = {}
        self._pool.setdefault(conn.origin, []).append(conn)

    async def _connect(self, origin: tuple, timeout_s: float) -> Connection:
        ctx = self._ctx
        scheme, host, port = origin
        tls = scheme == "https"
        try:
            # uvloop sets TCP_NODELAY on every TCP transport itself (a test checks it)
            _, conn = await asyncio.wait_for(
                ctx.loop.create_connection(lambda: Connection(origin, ctx.connections), host, port,
                                           ssl=ctx.ssl_context() if tls else None,
                                           server_hostname=host if tls else None),
                min(ctx.connect_timeout_s, timeout_s))
        except asyncio.TimeoutError:
            raise RequestFailure(CONNECT, f"connect to {host}:{port} timed out") from None
        except ssl.SSLCertVerificationError as exc:
            why = f"{exc.reason}: {exc.verify_message}" if exc.verify_message else (exc.reason or str(exc))
            raise RequestFailure(CONNECT, f"TLS certificate of {host}:{port} not trusted ({why}); "
                                          "--insecure skips verification") from exc
        except ssl.SSLError as exc:
            raise RequestFailure(CONNECT, f"TLS handshake with {host}:{port} failed: {exc.reason or exc}") from exc
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise RequestFailure(CONNECT, f"cannot connect to {host}:{port}: {reason}") from exc
        ctx.connection_opened()
        return conn

    def _store_cookies(self, origin: tuple, target: str, raw: bytes) -> None:
        """Keep the cookies a response (to ``target`` on ``origin``) sets; the jar comes with the first."""
        if self._jar is None and not header_values(raw, b"set-cookie"):
            return  # "set-cookie" was only some text in the head: no jar for nothing
        self._cookie_jar().store(origin, target, raw)

    # -- WebSocket and Socket.IO (websocket.py, socketio.py) ------------------------------------
    #: the worker's RunEvents (set on its client class, engine/hooks.py): WebSocket and Socket.IO
    #: connections hand it their counted requests; None for a client made outside a run
    events = None

    def websocket(self, path: str, *, name: str | None = None, headers: dict[str, str] | None = None,
                  timeout: float | None = None):
        """A WebSocket to ``path`` on the host (ws:// or wss:// from its scheme), with this
        client's headers and cookies plus ``headers``: ``async with client.websocket(path) as ws``
        (closed at the block's end) or ``ws = await client.websocket(path)``. Recorded as the
        series ``WS <name>`` (default: the path without its query); see ``websocket.py``."""
        from .websocket import Connecting, WebSocket, websocket_url

        ctx = self._ctx
        url = websocket_url(ctx.origin, ctx.base_path, path)
        series = ctx.recorder.series("WS", name or urlsplit(url).path or "/")

        def make() -> WebSocket:
            ws = WebSocket(ctx, url, series, self._handshake_headers(url, headers), timeout, self.events)
            self._track(ws)
            return ws

        return Connecting(make)

    async def socketio(self, path: str = "/socket.io", *, name: str | None = None,
                       headers: dict[str, str] | None = None, namespaces: list[str] | None = None,
                       timeout: float | None = None):
        """A connected Socket.IO client (python-socketio's asyncio client, websocket transport)
        to the host, recorded as the series ``SIO <name>`` (default: the path); see ``socketio.py``."""
        from .socketio import SocketIO

        ctx = self._ctx
        sio = SocketIO(ctx, path, name or path, self._handshake_headers(path, headers), namespaces, timeout,
                       self.events)
        self._track(sio)
        await sio.connect()
        return sio

    def _handshake_headers(self, url: str, extra: dict[str, str] | None) -> dict[str, str]:
        """The client's headers (without Accept-Encoding: no body to decode) and ``extra`` over them."""
        if extra:
            self._ctx.recorder.redactor.learn_headers(extra)
        base = self._base if self._headers is None else self._headers
        out = {k: v for k, v in base.items() if k.lower() != "accept-encoding"}
        out.update(extra or {})
        if self._jar is not None:
            target = urlsplit(url).path or "/"
            cookie = self._jar.header(self._ctx.origin, target)
            if cookie:
                out["Cookie"] = cookie
        return out

    def _track(self, sock) -> None:
        if self._sockets is None:
            self._sockets = set()
        self._sockets.add(sock)
        sock._on_close = self._sockets.discard

    async def close(self) -> None:
        for sock in list(self._sockets or ()):  # the scenario left them open: closed, not leaked
            await sock.shutdown()
        self._sockets = None
        if self._conn is not None:
            self._conn.abort()
            self._conn = None
        for conns in (self._pool or {}).values():
            for conn in conns:
                conn.abort()
        self._pool = None


#: methods a client may send again after a connection failed under them (RFC 9110 section 9.2.2)
_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"))


def _replayable(entry: tuple) -> bool:
    """Whether a request may be sent again: an idempotent method, or one that carries an
    ``Idempotency-Key`` header (the server deduplicates it; Go's net/http treats it the same)."""
    if entry[0] in _IDEMPOTENT:
        return True
    head = entry[4].partition(b"\r\n\r\n")[0].lower()
    return b"\nidempotency-key:" in head or b"\nx-idempotency-key:" in head


class _CaughtRequest:
    """A ``catch_response=True`` request: awaitable, and ``async with``-able as the README shows."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro) -> None:
        self._coro = coro
        self._resp: Response | None = None

    def __await__(self):
        return self._now().__await__()

    async def _now(self) -> Response:
        """Awaited without ``async with``: nothing would commit the verdict later, so commit it now."""
        resp = await self._coro
        await resp.__aexit__(None, None, None)
        return resp

    async def __aenter__(self) -> Response:
        self._resp = await self._coro
        return await self._resp.__aenter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return await self._resp.__aexit__(exc_type, exc, tb)
