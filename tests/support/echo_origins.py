"""Two HTTP origins on loopback that record what they receive, for redirect, cookie and header tests.

What a test needs to check that a credential does not cross origins is the far side's view: every
request each origin received, with its header lines exactly as they arrived (a repeated header
shows twice). Each :class:`Origin` is a small threaded ``http.server`` on 127.0.0.1 in the test
process (the load generator under test runs elsewhere: in a ``surge`` subprocess, or on an event
loop in the main thread), with keep-alive (HTTP/1.1) and these routes:

=============================  ================================================================
``/redirect?to=URL``           302 (or ``&status=301|303|307|308``) to ``URL`` (absolute or not)
``/set-cookie?c=SET-COOKIE``   200 with one ``Set-Cookie: SET-COOKIE`` per ``c`` (URL-encoded,
                               so attributes travel too: ``c=s%3D1%3B%20Path%3D%2F``)
``/echo``                      200, JSON ``{"headers": [[name, value], ...]}`` as received
anything else                  200 ``ok``
=============================  ================================================================

Two origins are two ports on 127.0.0.1; ``Origin(hostname="localhost")`` names the same
loopback address by another host name, which is a different host for cookies as well.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with its query string
    headers: tuple[tuple[str, str], ...]  # as they arrived, repeats kept

    def values(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case), in arrival order."""
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real target
    server: "_Server"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer()

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._answer()

    def _answer(self) -> None:
        self.server.received.append(Received(self.command, self.path, tuple(self.headers.items())))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/redirect":
            self._reply(int(query.get("status", ["302"])[0]), b"", [("Location", query["to"][0])])
        elif parts.path == "/set-cookie":
            self._reply(200, b"ok", [("Set-Cookie", c) for c in query.get("c", [])])
        elif parts.path == "/echo":
            body = json.dumps({"headers": list(self.headers.items())}).encode()
            self._reply(200, body, [("Content-Type", "application/json")])
        else:
            self._reply(200, b"ok", [])

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet: tests read .received instead
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []


class Origin:
    """One origin: ``with Origin() as o: o.url ... o.received``. Stops its thread on exit."""

    def __init__(self, hostname: str = "127.0.0.1") -> None:
        self.hostname = hostname
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.hostname}:{self.port}"

    @property
    def received(self) -> list[Received]:
        assert self._server is not None, "not started"
        return list(self._server.received)

    def requests_to(self, path: str) -> list[Received]:
        """What arrived for ``path`` (compared without the query string)."""
        return [r for r in self.received if r.path.split("?", 1)[0] == path]

    def start(self) -> Origin:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"origin-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> Origin:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
