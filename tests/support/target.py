"""A controllable HTTP/1.1 target server for surge's integration tests.

Integration tests need a real server on loopback whose behaviour is known exactly, and that
does not share the GIL with the load generator under test. This module is both:

* the server, run as a script in its own process (``python target.py --port 0``); it prints
  ``PORT=<n>`` on its first stdout line, and exits when its stdin closes (so it never outlives
  the test process that started it);
* the test-side handle, :class:`TargetServer`, which starts that process and talks to its
  control endpoints; plus pure helpers that compute ground truth (:func:`dist_sequence`,
  :func:`expected_delays_ms`, :func:`nearest_rank`, :func:`stall_delay_s`).

Behaviour is chosen by the first path segment, so one server covers a whole test session:

==========================  ===================================================================
``/ok``                      200 ``ok``
``/status/<code>``           that status
``/delay/<ms>``              200 after ``ms`` milliseconds (timer, never blocking)
``/dist?ms=5:50,10:45,...``  200 after a delay drawn deterministically from a weighted list;
                             see :func:`dist_sequence` (``?ms=5,10,20`` weighs them equally);
                             alias ``/delay-dist``
``/stall``                   200 at once, except inside the stall window: the last ``stall_s``
                             of every ``stall_period_s`` from the epoch; a request arriving
                             there is answered at the window's end (see :func:`stall_delay_s`);
                             ``?period_ms=&stall_ms=`` override the server's settings
``/reset``                   reads the request, then closes with RST (SO_LINGER 0), no response
``/garbage``                 writes ``GARBAGE`` (not HTTP), then closes
``/hang``                    never answers (until the client closes)
``/close``                   200 with ``Connection: close``, then closes
``/echo``                    200, JSON of method, path, query, headers and body
``/set-cookie?a=1&b=2``      200, one ``Set-Cookie`` per pair (default ``session=surge``)
``/redirect?to=/ok``         302 (or ``&status=301|303|307|308``) to ``to``
``/chunked?chunks=3``        200 with ``Transfer-Encoding: chunked``
``/idle-close?ms=200``       200; this connection is then closed after 200 ms idle
``/bytes/<n>``               200 with ``n`` bytes of ``x``
``/gate?n=5&ms=20``          200 after ``ms``, but 503 at once when ``n`` are already in flight
``/drift?base=5&per_s=10``   200 after ``base`` ms plus ``per_s`` ms for every second since the
                             first ``/drift`` request after the counters were reset
anything else                404
==========================  ===================================================================

Every delayed response carries ``X-Delay-Ms``. With ``idle_close_ms`` set, every keep-alive
connection is closed after that long idle. Requests on one connection are answered in order
(pipelining works; a delayed or hanging request holds back the ones behind it).

Control endpoints (not counted): ``GET /__stats`` (JSON, see :meth:`TargetServer.stats`),
``POST /__reset_stats``, ``POST /__config`` (JSON body of config keys; ``"defaults": true``
first restores the settings the server started with).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qsl

import httptools

GARBAGE = b"\x00\x01garbage\r\n\r\n"
CONFIG_KEYS = ("stall_period_s", "stall_s", "stall_epoch", "idle_close_ms")
OUTCOMES = ("reset", "garbage", "hang", "close", "unanswered", "bad_request", "idle_close")


# --------------------------------------------------------------------------- ground truth


def dist_sequence(spec: str) -> list[float]:
    """The cycle of delays (ms) that ``/dist?ms=SPEC`` hands out, in order.

    ``SPEC`` is ``value[:weight],...``; e.g. ``5:50,10:45,20:4,100:1`` is a cycle of 100 delays
    in which 5 ms occurs 50 times. Values are spread evenly through the cycle (value ``v`` with
    weight ``w`` sits at positions ``(j + 0.5) / w``), so any prefix is close to the mix and
    every whole number of cycles is exactly it. The n-th request to the same spec (counted
    across connections, zeroed by ``/__reset_stats``) gets ``cycle[n % len(cycle)]``.
    """
    keyed = []
    for index, item in enumerate(part for part in spec.split(",") if part.strip()):
        value, _, weight = item.partition(":")
        count = int(weight) if weight else 1
        if count < 1:
            raise ValueError(f"weight must be >= 1 in {item!r}")
        keyed.extend(((j + 0.5) / count, index, float(value)) for j in range(count))
    if not keyed:
        raise ValueError("empty delay spec")
    return [value for _, _, value in sorted(keyed)]


def expected_delays_ms(spec: str, n: int) -> list[float]:
    """The delays the first ``n`` requests to ``/dist?ms=SPEC`` got (after a stats reset)."""
    cycle = dist_sequence(spec)
    return [cycle[i % len(cycle)] for i in range(n)]


def nearest_rank(values: list[float], percentile: float) -> float:
    """Percentile by nearest rank: the smallest value with at least ``percentile``% at or below
    it (the definition HDR histograms use)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100.0 * len(ordered)))
    return ordered[rank - 1]


def stall_delay_s(now: float, epoch: float, period_s: float, stall_s: float) -> float:
    """How long ``/stall`` holds a request arriving at ``now`` (``time.monotonic()`` seconds;
    CLOCK_MONOTONIC is shared by all processes on the machine, so tests can compute this)."""
    if period_s <= 0 or stall_s <= 0:
        return 0.0
    phase = (now - epoch) % period_s
    return period_s - phase if phase >= period_s - stall_s else 0.0


# --------------------------------------------------------------------------- server


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool
    http_version: str


@dataclass(slots=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay_s: float = 0.0
    close: bool = False
    action: str = "respond"  # respond | reset | garbage | hang
    chunks: list[bytes] | None = None  # set: Transfer-Encoding: chunked
    counted: bool = True  # False for control endpoints


class Target:
    """Behaviour, configuration and counters shared by all connections of one server."""

    def __init__(self, config: dict) -> None:
        self.defaults = dict(config)
        self.config = dict(config)
        self.started = time.monotonic()
        self.open_connections = 0
        self.reset_stats()

    def reset_stats(self) -> None:
        self.accepted = 0
        self.requests: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()
        self.outcomes: Counter[str] = Counter({name: 0 for name in OUTCOMES})
        self.body_bytes = 0
        self.dist_counters: Counter[str] = Counter()
        self.gate_ends: dict[str, list[float]] = {}  # /gate: when each request in flight ends
        self.drift_epoch: float | None = None

    def configure(self, options: dict) -> dict:
        if options.pop("defaults", False):
            self.config = dict(self.defaults)
        unknown = set(options) - set(CONFIG_KEYS)
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; known: {CONFIG_KEYS}")
        self.config.update({key: float(value) for key, value in options.items()})
        return self.config

    def stats(self) -> dict:
        return {
            "connections": {"accepted": self.accepted, "open": self.open_connections},
            "requests": dict(self.requests),
            "requests_total": sum(self.requests.values()),
            "responses": {str(status): n for status, n in self.responses.items()},
            "outcomes": dict(self.outcomes),
            "request_body_bytes": self.body_bytes,
            "config": self.config,
            "uptime_s": time.monotonic() - self.started,
        }

    # ---- routing

    def handle(self, req: Request, conn: Connection) -> Reply:
        if req.path.startswith("/__"):
            reply = self.control(req)
            reply.counted = False
            return reply
        self.requests[f"{req.method} {req.path}"] += 1
        self.body_bytes += len(req.body)
        head, _, rest = req.path[1:].partition("/")
        route = ROUTES.get(head)
        if route is None:
            return Reply(404, b"not found")
        try:
            return route(self, req, rest, conn)
        except (ValueError, KeyError) as exc:
            return Reply(400, f"bad request: {exc}".encode())

    def control(self, req: Request) -> Reply:
        if req.path == "/__stats":
            return json_reply(self.stats())
        if req.path == "/__reset_stats" and req.method == "POST":
            self.reset_stats()
            return json_reply({"reset": True})
        if req.path == "/__config" and req.method == "POST":
            try:
                return json_reply(self.configure(json.loads(req.body or b"{}")))
            except ValueError as exc:
                return Reply(400, str(exc).encode())
        return Reply(404, b"no such control endpoint")

    def route_ok(self, req, rest, conn):
        return Reply()

    def route_status(self, req, rest, conn):
        status = int(rest)
        if not 200 <= status <= 599:
            raise ValueError(f"status {status} out of range")
        return Reply(status, f"status {status}".encode())

    def route_delay(self, req, rest, conn):
        return delayed(float(rest))

    def route_dist(self, req, rest, conn):
        spec = query(req)["ms"]
        cycle = dist_sequence(spec)
        n = self.dist_counters[spec]
        self.dist_counters[spec] = n + 1
        return delayed(cycle[n % len(cycle)])

    def route_stall(self, req, rest, conn):
        q = query(req)
        period_s = float(q["period_ms"]) / 1000 if "period_ms" in q else self.config["stall_period_s"]
        stall_s = float(q["stall_ms"]) / 1000 if "stall_ms" in q else self.config["stall_s"]
        wait_s = stall_delay_s(time.monotonic(), self.config["stall_epoch"], period_s, stall_s)
        return delayed(wait_s * 1000)

    def route_reset(self, req, rest, conn):
        return Reply(action="reset")

    def route_garbage(self, req, rest, conn):
        return Reply(action="garbage")

    def route_hang(self, req, rest, conn):
        return Reply(action="hang")

    def route_close(self, req, rest, conn):
        return Reply(close=True)

    def route_echo(self, req, rest, conn):
        return json_reply({
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "args": dict(parse_qsl(req.query, keep_blank_values=True)),
            "http_version": req.http_version,
            "headers": req.headers,  # [name, value] pairs in arrival order
            "header_map": {name.lower(): value for name, value in req.headers},
            "body": req.body.decode("utf-8", "replace"),
            "body_b64": base64.b64encode(req.body).decode(),
            "body_length": len(req.body),
        })

    def route_set_cookie(self, req, rest, conn):
        pairs = parse_qsl(req.query) or [("session", "surge")]
        return Reply(headers=[("Set-Cookie", f"{name}={value}; Path=/") for name, value in pairs])

    def route_redirect(self, req, rest, conn):
        q = query(req)
        status = int(q.get("status", 302))
        return Reply(status, b"", headers=[("Location", q.get("to", "/ok"))])

    def route_chunked(self, req, rest, conn):
        count = int(query(req).get("chunks", 3))
        return Reply(chunks=[f"chunk{i}\n".encode() for i in range(count)])

    def route_idle_close(self, req, rest, conn):
        conn.idle_close_s = float(query(req).get("ms", 200)) / 1000
        return Reply()

    def route_bytes(self, req, rest, conn):
        return Reply(body=b"x" * int(rest))

    def route_gate(self, req, rest, conn):
        q = query(req)
        limit, ms = int(q.get("n", 5)), float(q.get("ms", 20))
        now = time.monotonic()
        ends = [t for t in self.gate_ends.get(req.query, []) if t > now]
        if len(ends) >= limit:
            self.gate_ends[req.query] = ends
            return Reply(503, b"busy")
        self.gate_ends[req.query] = [*ends, now + ms / 1000]
        return delayed(ms)

    def route_drift(self, req, rest, conn):
        q = query(req)
        now = time.monotonic()
        if self.drift_epoch is None:
            self.drift_epoch = now
        return delayed(float(q.get("base", 5)) + float(q.get("per_s", 10)) * (now - self.drift_epoch))


ROUTES = {
    name.removeprefix("route_").replace("_", "-"): function
    for name, function in vars(Target).items()
    if name.startswith("route_")
}
ROUTES["delay-dist"] = ROUTES["dist"]


def query(req: Request) -> dict[str, str]:
    return dict(parse_qsl(req.query, keep_blank_values=True))


def delayed(delay_ms: float) -> Reply:
    return Reply(delay_s=delay_ms / 1000, headers=[("X-Delay-Ms", f"{delay_ms:g}")])


def json_reply(data) -> Reply:
    return Reply(body=json.dumps(data).encode(), headers=[("Content-Type", "application/json")])


def encode_reply(reply: Reply, keep_alive: bool, head_only: bool) -> bytes:
    try:
        reason = HTTPStatus(reply.status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {reply.status} {reason}"]
    if reply.chunks is None:
        lines.append(f"Content-Length: {len(reply.body)}")
    else:
        lines.append("Transfer-Encoding: chunked")
    if not any(name == "Content-Type" for name, _ in reply.headers):
        lines.append("Content-Type: text/plain")
    lines.extend(f"{name}: {value}" for name, value in reply.headers)
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if head_only:
        return head
    if reply.chunks is None:
        return head + reply.body
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in reply.chunks)
    return head + body + b"0\r\n\r\n"


OK_KEEP_ALIVE = encode_reply(Reply(), keep_alive=True, head_only=False)


class Connection(asyncio.Protocol):
    """One client connection: parses requests, answers them in order, counts what happened."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[Request] = deque()
        self.awaiting = False  # a delayed or hanging request holds the connection
        self.closed = False
        self.control = False
        self.seen_request = False
        self.timer: asyncio.TimerHandle | None = None
        self.idle_timer: asyncio.TimerHandle | None = None
        self.idle_close_s = target.config["idle_close_ms"] / 1000

    # ---- transport callbacks

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.target.accepted += 1
        self.target.open_connections += 1
        self.arm_idle_timer()

    def data_received(self, data: bytes) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass
        except httptools.HttpParserError:
            if not self.closed:
                self.target.outcomes["bad_request"] += 1
                self.send(Reply(400, b"bad request", close=True), keep_alive=False, head_only=False)

    def connection_lost(self, exc) -> None:
        if not self.closed and not self.control:
            self.target.outcomes["unanswered"] += len(self.queue) + (1 if self.awaiting else 0)
        self.closed = True
        if not self.control:
            self.target.open_connections -= 1
        for timer in (self.timer, self.idle_timer):
            if timer is not None:
                timer.cancel()

    # ---- parser callbacks

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        if any(n.lower() == "expect" and v.lower() == "100-continue" for n, v in self.headers):
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if self.closed:  # pipelined behind a response that closed the connection
            self.target.outcomes["unanswered"] += not self.control
            return
        url = httptools.parse_url(self.url)
        self.queue.append(Request(
            method=self.parser.get_method().decode(),
            path=url.path.decode("latin-1"),
            query=(url.query or b"").decode("latin-1"),
            headers=self.headers,
            body=b"".join(self.body),
            keep_alive=self.parser.should_keep_alive(),
            http_version=self.parser.get_http_version(),
        ))
        if not self.awaiting:
            self.process()

    # ---- answering

    def process(self) -> None:
        while self.queue and not self.closed:
            req = self.queue.popleft()
            if not self.seen_request:
                self.seen_request = True
                if req.path.startswith("/__"):  # a control connection: not part of the test
                    self.control = True
                    self.target.accepted -= 1
                    self.target.open_connections -= 1
            reply = self.target.handle(req, self)
            head_only = req.method == "HEAD"
            if reply.action == "hang":
                self.target.outcomes["hang"] += 1
                self.awaiting = True
                return
            if reply.delay_s > 0:
                self.awaiting = True
                self.timer = asyncio.get_running_loop().call_later(
                    reply.delay_s, self.finish, reply, req.keep_alive, head_only)
                return
            self.send(reply, req.keep_alive, head_only)
        self.arm_idle_timer()

    def finish(self, reply: Reply, keep_alive: bool, head_only: bool) -> None:
        self.timer = None
        self.awaiting = False
        self.send(reply, keep_alive, head_only)
        self.process()

    def send(self, reply: Reply, keep_alive: bool, head_only: bool) -> None:
        if self.closed:
            return
        counted = reply.counted and not self.control
        if reply.action == "reset":
            self.target.outcomes["reset"] += counted
            sock = self.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close(abort=True)
            return
        if reply.action == "garbage":
            self.target.outcomes["garbage"] += counted
            self.transport.write(GARBAGE)
            self.close()
            return
        keep_alive = keep_alive and not reply.close
        if counted:
            self.target.responses[reply.status] += 1
        if keep_alive and reply.status == 200 and reply.body == b"ok" and not reply.headers \
                and reply.chunks is None and not head_only:
            self.transport.write(OK_KEEP_ALIVE)  # the hot path: /ok under load
        else:
            self.transport.write(encode_reply(reply, keep_alive, head_only))
        if not keep_alive:
            self.target.outcomes["close"] += counted
            self.close()

    def arm_idle_timer(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        if self.idle_close_s > 0 and not self.closed and not self.awaiting:
            self.idle_timer = asyncio.get_running_loop().call_later(self.idle_close_s, self.idle_close)

    def idle_close(self) -> None:
        self.idle_timer = None
        if not self.closed and not self.awaiting and not self.queue:
            self.target.outcomes["idle_close"] += not self.control
            self.close()

    def close(self, abort: bool = False) -> None:
        if not self.control:
            self.target.outcomes["unanswered"] += len(self.queue)
        self.closed = True
        self.queue.clear()
        self.transport.abort() if abort else self.transport.close()


async def serve(port: int, config: dict, watch_stdin: bool) -> None:
    loop = asyncio.get_running_loop()
    target = Target(config)
    server = await loop.create_server(
        lambda: Connection(target), "127.0.0.1", port, backlog=8192, reuse_address=True)
    stop = stdin_closed(loop) if watch_stdin else loop.create_future()
    print(f"PORT={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop


def stdin_closed(loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """A future that is done when stdin reaches EOF: the parent's end closes when it exits, so a
    server that awaits it never outlives the test process that started it."""
    stop = loop.create_future()

    def on_stdin() -> None:
        if not os.read(sys.stdin.fileno(), 4096) and not stop.done():
            stop.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    return stop


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="surge's controllable test target (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--stall-period-s", type=float, default=5.0)
    parser.add_argument("--stall-s", type=float, default=1.0)
    parser.add_argument("--stall-epoch", type=float, default=None,
                        help="time.monotonic() origin of the stall cycle (default: server start)")
    parser.add_argument("--idle-close-ms", type=float, default=0.0)
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin reaches EOF")
    args = parser.parse_args(argv)
    config = {
        "stall_period_s": args.stall_period_s,
        "stall_s": args.stall_s,
        "stall_epoch": time.monotonic() if args.stall_epoch is None else args.stall_epoch,
        "idle_close_ms": args.idle_close_ms,
    }
    if args.loop != "asyncio":
        try:
            import uvloop
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            if args.loop == "uvloop":
                raise
    asyncio.run(serve(args.port, config, args.watch_stdin))


# --------------------------------------------------------------------------- test-side handle


class TargetServer:
    """Runs the target in a child process. ``with TargetServer() as srv: srv.url ...``

    Options are the server's config: ``stall_period_s``, ``stall_s``, ``stall_epoch`` (a
    ``time.monotonic()`` value; default the server's start), ``idle_close_ms`` (0: never).
    """

    host = "127.0.0.1"
    #: the server script this handle starts (a subclass may start another one that prints PORT=)
    script = os.path.abspath(__file__)

    def __init__(self, *, stall_period_s: float = 5.0, stall_s: float = 1.0,
                 stall_epoch: float | None = None, idle_close_ms: float = 0.0,
                 loop: str = "auto", startup_timeout_s: float = 10.0) -> None:
        self.args = ["--stall-period-s", str(stall_period_s), "--stall-s", str(stall_s),
                     "--idle-close-ms", str(idle_close_ms), "--loop", loop, "--watch-stdin"]
        if stall_epoch is not None:
            self.args += ["--stall-epoch", repr(stall_epoch)]
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def url_for(self, path: str) -> str:
        return self.url + path

    def start(self) -> TargetServer:
        self.process = subprocess.Popen(
            [sys.executable, self.script, "--port", "0", *self.args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = b""
        deadline = time.monotonic() + self.startup_timeout_s
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            chunk = os.read(self.process.stdout.fileno(), 64) if ready else b""
            if not chunk:
                self.stop()
                raise RuntimeError(f"target server did not report its port (got {line!r})")
            line += chunk
        self.port = int(line.decode().strip().removeprefix("PORT="))
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdin.close()
        process.stdout.close()

    def __enter__(self) -> TargetServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _control(self, method: str, path: str, body: dict | None = None) -> dict:
        import http.client

        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=payload)
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status} {data!r}")
            return json.loads(data)
        finally:
            conn.close()

    def stats(self) -> dict:
        """Counters since the last reset::

            {"connections": {"accepted": int, "open": int},
             "requests": {"GET /ok": int, ...},          # method + path without query
             "requests_total": int,
             "responses": {"200": int, "503": int, ...}, # responses written, by status
             "outcomes": {"reset", "garbage", "hang", "close", "unanswered",
                          "bad_request", "idle_close": int},
             "request_body_bytes": int, "config": {...}, "uptime_s": float}

        ``requests`` counts requests the server acted on. ``close`` counts connections the server
        closed after a response; ``unanswered`` requests received that got no response because
        the connection closed first (hangs, cut-short delays, requests pipelined behind a close;
        these last are not in ``requests``).
        Control requests and their connections are never counted; ``open`` is a gauge.
        """
        return self._control("GET", "/__stats")

    def reset_stats(self) -> None:
        self._control("POST", "/__reset_stats")

    def configure(self, *, defaults: bool = False, **options: float) -> dict:
        """Change config keys (``stall_period_s``, ``stall_s``, ``stall_epoch``,
        ``idle_close_ms``); ``defaults=True`` first restores the start-up settings. Returns the
        new config. ``idle_close_ms`` applies to connections accepted afterwards."""
        return self._control("POST", "/__config", {"defaults": defaults, **options})


if __name__ == "__main__":
    main()
