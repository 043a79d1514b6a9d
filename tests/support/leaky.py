"""A small HTTP target that leaks memory on purpose, for the monitor tests.

Run as a script in its own process::

    python leaky.py [--leak-bytes N] [--forks N] [--exit-after S]

It listens on 127.0.0.1 (a free port), prints ``PORT=<n>`` on its first stdout line, answers
``GET /`` with ``ok`` and keeps ``N`` bytes per request in a list (written, so the pages are
resident), and ``GET /count`` with the number of ``/`` requests served. ``--forks N`` forks N
idle children after binding (they hold the listening socket, as a pre-fork server's workers
do); ``--exit-after S`` exits after S seconds. It exits when its stdin closes, so it never
outlives the test that started it; its children exit when it is gone.

:class:`Leaky` is the test-side handle: it starts the script, reads the port, drives it at a
fixed rate (:meth:`Leaky.drive`) and stops it by its PID.
"""
from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEPT: list[bytes] = []
SERVED = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for the whole drive
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    leak_bytes = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/count":
            self._answer(str(SERVED[0]).encode())
            return
        if self.leak_bytes:
            KEPT.append(b"\x01" * self.leak_bytes)
        SERVED[0] += 1
        self._answer(b"ok")

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _exit_when_stdin_closes() -> None:
    sys.stdin.buffer.read()
    os._exit(0)


def _idle_child(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.1)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leak-bytes", type=int, default=0)
    parser.add_argument("--forks", type=int, default=0)
    parser.add_argument("--exit-after", type=float, default=None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-stdin", action="store_true",
                        help="do not exit when stdin closes (started by surge --monitor-cmd; bound it with --exit-after)")
    args = parser.parse_args()
    Handler.leak_bytes = args.leak_bytes
    server = HTTPServer(("127.0.0.1", args.port), Handler)
    me = os.getpid()
    for _ in range(args.forks):
        if os.fork() == 0:
            _idle_child(me)
    if not args.no_stdin:
        threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    if args.exit_after is not None:
        threading.Timer(args.exit_after, os._exit, (0,)).start()
    print(f"PORT={server.server_address[1]}", flush=True)
    server.serve_forever()


class Leaky:
    """The script in a process of its own: ``with Leaky(leak_bytes=50_000) as target: ...``."""

    def __init__(self, *args: str, leak_bytes: int = 0) -> None:
        argv = [sys.executable, os.path.abspath(__file__), "--leak-bytes", str(leak_bytes), *args]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("PORT="):
            self.stop()
            raise RuntimeError(f"leaky.py did not start: {line!r}")
        self.port = int(line.removeprefix("PORT="))
        self.pid = self.proc.pid

    def drive(self, rate_per_s: float, duration_s: float) -> float:
        """GET / at ``rate_per_s`` for ``duration_s`` (bounded: rate x duration requests at most)
        over one keep-alive connection; returns the rate the target actually served."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        began = time.monotonic()
        for k in range(int(rate_per_s * duration_s)):
            delay = began + k / rate_per_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            conn.request("GET", "/")
            conn.getresponse().read()
        elapsed = time.monotonic() - began
        conn.request("GET", "/count")
        served = int(conn.getresponse().read())
        conn.close()
        return served / elapsed

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()  # it exits by itself; the kill is for a stuck one
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self) -> "Leaky":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
