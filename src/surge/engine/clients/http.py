"""The HTTP/1.1 client behind ``self.client``: one per virtual user, keep-alive per origin.

Cost model (research/load-generators.md): a request should cost ~15 µs of CPU in total, so the
path avoids per-request objects beyond the future and the Response, caches request bytes for
plain requests, and records latency as an int appended to the series' list; histograms are
built once per interval. Errors are translated once, here, into the failure kinds.
"""
from __future__ import annotations

import asyncio
import json as _json
import socket
import ssl
import time
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from ...metrics.recorder import Recorder
from .connection import Connection
from .errors import CONNECT, TIMEOUT, RequestFailure
from .response import Response, status_failed

_perf_ns = time.perf_counter_ns
USER_AGENT = "surge/0.1"
_MAX_REDIRECTS = 10


class ClientContext:
    """What all clients of one worker share: the target, TLS, timeouts and the recorder."""

    def __init__(self, base_url: str, recorder: Recorder, *, timeout_s: float = 30.0,
                 connect_timeout_s: float = 10.0, insecure: bool = False, follow_redirects: bool = False,
                 headers: dict[str, str] | None = None, open_workload: bool = False) -> None:
        parts = urlsplit(base_url)
        self.origin = _origin(parts)
        self.base_path = parts.path.rstrip("/")
        self.recorder = recorder
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.follow_redirects = follow_redirects
        self.default_headers = dict(headers or {})
        self.open_workload = open_workload
        self._ssl: ssl.SSLContext | None = None
        self._insecure = insecure
        self.loop = asyncio.get_event_loop()
        #: requests in flight: future -> (deadline in perf_counter_ns, timeout_s). One sweeper task
        #: expires them; a loop timer per request (call_later + cancel) costs ~2.8 µs, this ~0.2 µs.
        self.inflight: dict[asyncio.Future, tuple[int, float]] = {}
        self._sweeper: asyncio.Task | None = None
        self._sweep_s = min(0.1, max(0.01, timeout_s / 10))

    def watch(self, fut: asyncio.Future, timeout_s: float) -> None:
        self.inflight[fut] = (_perf_ns() + int(timeout_s * 1e9), timeout_s)
        if self._sweeper is None:
            self._sweeper = self.loop.create_task(self._sweep())
            self._sweep_s = min(self._sweep_s, max(0.01, timeout_s / 10))

    async def _sweep(self) -> None:
        """Fail requests past their deadline; ends by itself once nothing is in flight."""
        try:
            while self.inflight:
                await asyncio.sleep(self._sweep_s)
                now = _perf_ns()
                expired = [(f, t) for f, (deadline, t) in self.inflight.items() if deadline <= now]
                for fut, timeout_s in expired:
                    del self.inflight[fut]
                    if not fut.done():
                        fut.set_exception(RequestFailure(TIMEOUT, f"no response within {timeout_s:g}s"))
        finally:
            self._sweeper = None

    def close(self) -> None:
        """Stop the timeout sweeper (the worker's clients are done)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self._insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self._ssl = ctx
        return self._ssl


def _origin(parts) -> tuple[str, str, int]:
    scheme = parts.scheme or "http"
    port = parts.port or (443 if scheme == "https" else 80)
    return (scheme, parts.hostname or "127.0.0.1", port)


def _host_header(origin: tuple[str, str, int]) -> str:
    scheme, host, port = origin
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return host if port == default else f"{host}:{port}"


class HttpClient:
    """``get/post/put/patch/delete/head/request``. Cookies are kept per client (per virtual user)."""

    def __init__(self, ctx: ClientContext, headers: dict[str, str] | None = None) -> None:
        self._ctx = ctx
        self.headers: dict[str, str] = {**ctx.default_headers, **(headers or {})}
        self.cookies: dict[str, str] = {}
        self._idle: dict[tuple, list[Connection]] = {}
        self._cache: dict[tuple[str, str], bytes] = {}
        self._plain: dict[tuple, tuple] = {}  # (method, path, name) -> (origin, target, series, bytes)
        self._cache_headers: dict[str, str] = dict(self.headers)  # what the cached bytes carry
        #: open workloads: the scheduled start of the current iteration, for its first request
        self.intended_ns = 0
        #: the task whose connect is under way (cancelled then, its request was never sent)
        self._connecting: asyncio.Task | None = None
        #: requests created and requests that began: a task that never awaits its request leaves
        #: them apart, and the virtual user reports it (a request that is never awaited is never sent)
        self.created = 0
        self.started = 0

    # -- verbs ------------------------------------------------------------------------------
    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw):
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    def head(self, path: str, **kw):
        return self.request("HEAD", path, **kw)

    def options(self, path: str, **kw):
        return self.request("OPTIONS", path, **kw)

    def request(self, method: str, path: str, **kw):
        """Send one request; ``await`` it for the :class:`Response`. Keywords: ``params``, ``json``,
        ``data``, ``headers``, ``name``, ``timeout``, ``expect_status``, ``catch_response``,
        ``allow_redirects``. With ``catch_response=True`` it is also an async context manager
        (``async with client.get(..., catch_response=True) as resp:``): the verdict is committed
        at exit. Plain requests stay a bare coroutine (no extra object on the hot path)."""
        self.created += 1
        coro = self._request(method, path, **kw)
        return _CaughtRequest(coro) if kw.get("catch_response") else coro

    async def _request(self, method: str, path: str, *, params=None, json=None, data=None, headers=None,
                       name: str | None = None, timeout: float | None = None, expect_status=None,
                       catch_response: bool = False, allow_redirects: bool | None = None) -> Response:
        self.started += 1
        ctx = self._ctx
        if params is None and json is None and data is None and headers is None and not self.cookies:
            # the common case: one dict lookup gives the target, the series and the request bytes
            if self.headers != self._cache_headers:  # mutated in place (a token set after login)
                self._plain.clear()
                self._cache.clear()
                self._cache_headers = dict(self.headers)
            plain = self._plain.get((method, path, name))
            if plain is None:
                plain = self._plain_request(method, path, name)
            origin, target, series, payload = plain
        else:
            origin, target = self._resolve(path, params)
            series = ctx.recorder.series(method, name or target.partition("?")[0])
            payload = self._build(method, origin, target, json, data, headers)
        timeout_s = ctx.timeout_s if timeout is None else timeout
        follow = ctx.follow_redirects if allow_redirects is None else allow_redirects
        start = self.intended_ns
        self.intended_ns = 0
        sent = _perf_ns()
        if not start:
            start = sent
        # counted when they end (answered, failed or cancelled), never undone later: a request
        # counted at its send and taken back at its cancel could make an interval's rate negative
        try:
            status, raw_headers, body, end_ns, set_cookies = await self._exchange(
                origin, payload, method == "HEAD", timeout_s)
            for _ in range(_MAX_REDIRECTS if follow else 0):
                if status not in (301, 302, 303, 307, 308):
                    break
                location = _header(raw_headers, b"location")
                if location is None:
                    break
                if set_cookies:
                    self._store_cookies(set_cookies)
                method2 = "GET" if status == 303 or (status in (301, 302) and method == "POST") else method
                origin, target = self._resolve(urljoin(target, location), None)
                content = (json, data) if method2 == method else (None, None)
                status, raw_headers, body, end_ns, set_cookies = await self._exchange(
                    origin, self._build(method2, origin, target, *content, headers), method2 == "HEAD", timeout_s)
        except RequestFailure as failure:
            series.requests += 1
            series.bytes_sent += len(payload)
            if failure.kind == TIMEOUT:
                series.latencies_us.append(int(timeout_s * 1_000_000))
            series.fail(failure.kind, failure.message)
            return Response(method, target, series.name, series, 0, None, b"", 0.0,
                            f"{failure.kind}: {failure.message}", True)
        except asyncio.CancelledError:
            if self._connecting is not None and self._connecting is asyncio.current_task():
                self._connecting = None  # cancelled while connecting: nothing was sent, nothing to count
            else:
                series.cancelled += 1
                series.bytes_sent += len(payload)
            raise
        series.requests += 1
        series.bytes_sent += len(payload)
        latency_us = (end_ns - start) // 1000
        series.latencies_us.append(latency_us)
        if ctx.open_workload:
            series.service_us.append((end_ns - sent) // 1000)
        series.bytes_received += len(body)
        if set_cookies:
            self._store_cookies(set_cookies)
        resp = Response(method, target, series.name, series, status, raw_headers, body,
                        latency_us / 1000.0, None, False, catch_response)
        if (status >= 400) if expect_status is None else status_failed(status, expect_status):
            resp.failure(f"HTTP {status}", "status")
        return resp

    # -- internals --------------------------------------------------------------------------
    def _plain_request(self, method: str, path: str, name: str | None) -> tuple:
        origin, target = self._resolve(path, None)
        series = self._ctx.recorder.series(method, name or target.partition("?")[0])
        entry = (origin, target, series, self._build(method, origin, target, None, None, None))
        if len(self._plain) < 256:
            self._plain[(method, path, name)] = entry
        return entry

    def _resolve(self, path: str, params) -> tuple[tuple, str]:
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            origin = _origin(parts)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        else:
            origin = self._ctx.origin
            target = self._ctx.base_path + (path if path.startswith("/") else "/" + path)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params, doseq=True)
        return origin, target

    def _build(self, method: str, origin: tuple, target: str, json, data, headers) -> bytes:
        plain = json is None and data is None and not headers and not self.cookies
        if plain:
            if self.headers != self._cache_headers:  # mutated in place (a token set after login)
                self._cache.clear()
                self._cache_headers = dict(self.headers)
            cached = self._cache.get((method, target)) if origin == self._ctx.origin else None
            if cached is not None:
                return cached
        body = b""
        extra: dict[str, str] = {}
        if json is not None:
            body = _json.dumps(json, separators=(",", ":")).encode()
            extra["Content-Type"] = "application/json"
        elif data is not None:
            if isinstance(data, dict):
                body = urlencode(data, doseq=True).encode()
                extra["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = data.encode() if isinstance(data, str) else bytes(data)
        # header names are case-insensitive: a later source replaces an earlier one however spelt
        merged = {"host": ("Host", _host_header(origin)), "user-agent": ("User-Agent", USER_AGENT)}
        for source in (self.headers, extra, headers):
            if source:
                for key, value in source.items():
                    merged[key.lower()] = (key, value)
        lines = [f"{method} {target} HTTP/1.1"]
        lines.extend(f"{key}: {value}" for key, value in merged.values())
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        if plain and origin == self._ctx.origin and len(self._cache) < 256:
            self._cache[(method, target)] = payload
        return payload

    async def _exchange(self, origin: tuple, payload: bytes, head: bool, timeout_s: float) -> tuple:
        """Send one request on an idle (or new) connection; the response as a RESPONSE tuple."""
        conn = self._idle_connection(origin) or await self._connect(origin, timeout_s)
        ctx = self._ctx
        fut = ctx.loop.create_future()
        conn.send(payload, fut, head)
        # the clock runs from the send: connect time is bounded separately by the connect timeout
        ctx.watch(fut, timeout_s)
        try:
            raw = await fut
        except BaseException:  # failed, timed out or cancelled: the connection's state is unknown
            conn.abort()
            raise
        finally:
            ctx.inflight.pop(fut, None)
        if conn.closed:
            conn.abort()
        else:
            idle = self._idle.get(origin)
            if idle is None:
                idle = self._idle[origin] = []
            idle.append(conn)
        return raw

    def _idle_connection(self, origin: tuple) -> Connection | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    async def _connect(self, origin: tuple, timeout_s: float) -> Connection:
        ctx = self._ctx
        scheme, host, port = origin
        tls = scheme == "https"
        self._connecting = asyncio.current_task()
        try:
            _, conn = await asyncio.wait_for(
                ctx.loop.create_connection(lambda: Connection(origin), host, port,
                                           ssl=ctx.ssl_context() if tls else None,
                                           server_hostname=host if tls else None),
                min(ctx.connect_timeout_s, timeout_s))
            self._connecting = None
        except asyncio.TimeoutError:
            self._connecting = None
            raise RequestFailure(CONNECT, f"connect to {host}:{port} timed out") from None
        except ssl.SSLCertVerificationError as exc:
            self._connecting = None
            why = f"{exc.reason}: {exc.verify_message}" if exc.verify_message else (exc.reason or str(exc))
            raise RequestFailure(CONNECT, f"TLS certificate of {host}:{port} not trusted ({why}); "
                                          "--insecure skips verification") from exc
        except ssl.SSLError as exc:
            self._connecting = None
            raise RequestFailure(CONNECT, f"TLS handshake with {host}:{port} failed: {exc.reason or exc}") from exc
        except OSError as exc:
            self._connecting = None
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise RequestFailure(CONNECT, f"cannot connect to {host}:{port}: {reason}") from exc
        sock = conn.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        return conn

    def _store_cookies(self, raw_cookies: list[bytes]) -> None:
        for raw in raw_cookies:
            jar = SimpleCookie()
            try:
                jar.load(raw.decode("latin-1"))
            except Exception:  # a malformed cookie is the server's problem, not a crash of ours
                continue
            for key, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value

    async def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.abort()
        self._idle.clear()


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


def _header(headers: list, name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None
