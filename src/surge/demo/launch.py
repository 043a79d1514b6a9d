"""Start and stop the demo API in a child process (used by ``surge demo`` and the tests).

The API runs in its own process so that it never shares a CPU-bound event loop or a GIL with
the load generator measuring it. :func:`start_in_subprocess` returns only once ``/health``
answers 200, so the first measured request never meets a server that is still starting.

The child's stdout and stderr are drained by daemon threads into short buffers: an undrained
pipe would eventually block the server on a write, and the buffers give a clear error message
when the server fails to start.
"""
from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Deque

START_TIMEOUT_S = 20.0
STOP_GRACE_S = 5.0
_POLL_S = 0.05
_LISTENING = re.compile(r"listening on (http://\S+)")
# The ``src`` directory holding the ``surge`` package, for a child that runs from elsewhere.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class DemoStartError(RuntimeError):
    """The demo API did not become healthy in time; the message carries its last output."""


class _Drain:
    """Read a pipe to its end on a daemon thread, keeping the last lines."""

    def __init__(self, pipe: IO[str], keep_lines: int = 50) -> None:
        self.lines: Deque[str] = collections.deque(maxlen=keep_lines)
        self._thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self._thread.start()

    def _run(self, pipe: IO[str]) -> None:
        with pipe:
            for line in pipe:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = [_PACKAGE_ROOT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=1.0) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_in_subprocess(
    port: int = 0, db: str | None = None, timeout_s: float = START_TIMEOUT_S
) -> tuple[subprocess.Popen[str], str]:
    """Launch ``python -m surge.demo`` on 127.0.0.1 and wait until ``/health`` answers.

    ``port`` 0 picks a free port; ``db`` is a SQLite path, ``:memory:`` or a ``postgresql://``
    URL (None: the child's ``DATABASE_URL``, else in-memory SQLite). Returns the process and
    the base URL, e.g. ``http://127.0.0.1:40123``. Raises :class:`DemoStartError` (after
    stopping the child) if it exits or is not healthy within ``timeout_s``.
    """
    cmd = [sys.executable, "-m", "surge.demo", "--host", "127.0.0.1", "--port", str(port)]
    if db is not None:
        cmd += ["--db", db]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env()
    )
    out, err = _Drain(proc.stdout), _Drain(proc.stderr)  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout_s
    base_url: str | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _fail(proc, err, f"the demo API exited with code {proc.returncode} while starting")
        if base_url is None:
            found = _LISTENING.search(out.text())
            base_url = found.group(1) if found else None
        if base_url is not None and _healthy(base_url):
            return proc, base_url
        time.sleep(_POLL_S)
    _fail(proc, err, f"the demo API was not healthy within {timeout_s:g} s")
    raise AssertionError("unreachable")


def _fail(proc: subprocess.Popen[str], err: _Drain, reason: str) -> None:
    stop(proc)
    time.sleep(_POLL_S)  # let the drain thread catch the last stderr lines
    tail = err.text().strip()
    raise DemoStartError(f"{reason}" + (f"; its stderr:\n{tail}" if tail else ""))


def stop(proc: subprocess.Popen[str]) -> int:
    """Stop the child: SIGTERM (graceful: in-flight requests finish, the DB closes), then
    SIGKILL if it is still alive after 5 s. Returns the exit code; safe to call twice."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
