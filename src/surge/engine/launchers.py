"""Launchers host workers: in this process, or one child process per worker.

Both speak the snapshot protocol to the coordinator through two callbacks, so the run does
not know which one it has; a Ray launcher later implements the same four methods.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import pickle
import signal
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from ..metrics.snapshot import Snapshot
from ..model.errors import ScenarioError, SurgeError
from ..model.plan import TestPlan
from .worker import Worker

OnSnapshot = Callable[[Snapshot], None]
OnLost = Callable[[int, str], None]


class Launcher(Protocol):
    async def start(self, plan: TestPlan, data: Any, on_snapshot: OnSnapshot, on_lost: OnLost) -> None:
        """Bring up ``plan.processes`` workers and return once they are ready to begin."""

    def begin(self, t0_wall: float) -> None:
        """Tell every worker the plan's time 0 (wall clock)."""

    def stop(self, hard: bool = False) -> None:
        """End the load: graceful (in-flight work gets --graceful-stop) or hard (cancel now)."""

    async def wait(self) -> None:
        """Return when every worker has sent its final snapshot or is lost."""


class InProcessLauncher:
    """Workers as tasks in the coordinator's event loop (tests, and runs with one process)."""

    def __init__(self, workers: int | None = None) -> None:
        self._n = workers
        self._workers: list[Worker] = []
        self._tasks: list[asyncio.Task] = []

    async def start(self, plan: TestPlan, data: Any, on_snapshot: OnSnapshot, on_lost: OnLost) -> None:
        n = self._n or plan.processes
        self._workers = [Worker(plan, i, n, data) for i in range(n)]
        self._emit = on_snapshot
        self._on_lost = on_lost

    def begin(self, t0_wall: float) -> None:
        self._tasks = [asyncio.ensure_future(self._run(w, t0_wall)) for w in self._workers]

    async def _run(self, worker: Worker, t0_wall: float) -> None:
        try:
            await worker.run(t0_wall, self._emit)
        except Exception as exc:  # a worker that dies is reported lost; the run goes on
            self._on_lost(worker.worker_id, f"{type(exc).__name__}: {exc}")

    def stop(self, hard: bool = False) -> None:
        for w in self._workers:
            w.request_stop(hard)

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks)


# -- child processes --------------------------------------------------------------------------
_READY, _SNAP, _ERROR = b"R", b"S", b"E"
_BEGIN, _STOP, _KILL = b"B", b"T", b"K"


def _child_main(plan: TestPlan, worker_id: int, workers: int, data: Any, conn) -> None:
    """Entry point of a worker process. Ctrl-C and SIGTERM are the coordinator's business, not ours:
    sent to the whole process group (a terminal, ``timeout``, a CI runner), they must not kill the
    worker and its unsent interval, so the worker leaves the group. The coordinator stops it over
    the pipe (if the coordinator dies, the pipe's EOF does); a signal sent to the worker's own pid
    (``Process.terminate()``) still ends it."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    try:
        asyncio.run(_child_async(plan, worker_id, workers, data, conn))
    except SurgeError as exc:
        conn.send_bytes(_ERROR + str(exc).encode())
    except BaseException:
        conn.send_bytes(_ERROR + traceback.format_exc().encode())
    finally:
        conn.close()


async def _child_async(plan: TestPlan, worker_id: int, workers: int, data: Any, conn) -> None:
    worker = Worker(plan, worker_id, workers, data)
    loop = asyncio.get_running_loop()
    begun: asyncio.Future = loop.create_future()

    def on_control() -> None:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):  # the coordinator is gone: stop now
            loop.remove_reader(conn.fileno())
            worker.request_stop(hard=True)
            if not begun.done():
                begun.set_result(None)
            return
        if msg[:1] == _BEGIN and not begun.done():
            begun.set_result(float(msg[1:]))
        elif msg[:1] in (_STOP, _KILL):
            worker.request_stop(hard=msg[:1] == _KILL)
            if not begun.done():
                begun.set_result(None)

    loop.add_reader(conn.fileno(), on_control)
    conn.send_bytes(_READY)
    t0 = await begun
    if t0 is None:
        return
    await worker.run(t0, lambda snap: conn.send_bytes(_SNAP + snap.to_bytes()))
    loop.remove_reader(conn.fileno())


class ProcessLauncher:
    """One spawned child process per worker, talking over a pipe."""

    READY_TIMEOUT_S = 60.0

    def __init__(self) -> None:
        self._procs: list = []
        self._conns: list = []
        self._done: set[int] = set()
        self._finished: asyncio.Event | None = None

    async def start(self, plan: TestPlan, data: Any, on_snapshot: OnSnapshot, on_lost: OnLost) -> None:
        try:
            pickle.dumps(data)
        except Exception as exc:  # what setup() returned must travel to every worker process
            raise ScenarioError(f"setup() returned a value worker processes cannot receive: {exc}",
                                "return JSON- or pickle-able data (ids, tokens), not connections or clients") from exc
        ctx = mp.get_context("spawn")
        n = plan.processes
        self._on_snapshot, self._on_lost = on_snapshot, on_lost
        self._finished = asyncio.Event()
        loop = asyncio.get_running_loop()
        ready = [loop.create_future() for _ in range(n)]
        for i in range(n):
            parent, child = ctx.Pipe(duplex=True)
            proc = ctx.Process(target=_child_main, args=(plan, i, n, data, child), name=f"surge-worker-{i}", daemon=True)
            proc.start()
            child.close()
            self._procs.append(proc)
            self._conns.append(parent)
            loop.add_reader(parent.fileno(), self._on_message, i, ready[i])
        done, pending = await asyncio.wait(ready, timeout=self.READY_TIMEOUT_S)
        errors = [f.result() for f in done if isinstance(f.result(), str)]
        if errors or pending:
            self.stop(hard=True)
            message = errors[0] if errors else "worker processes did not start in time"
            raise ScenarioError(f"worker failed to start: {message.strip().splitlines()[-1]}")

    def _on_message(self, i: int, ready: asyncio.Future) -> None:
        try:
            msg = self._conns[i].recv_bytes()
        except (EOFError, OSError):
            self._lost(i, "worker process exited")
            if not ready.done():
                ready.set_result("worker process exited before it was ready")
            return
        kind, body = msg[:1], msg[1:]
        if kind == _SNAP:
            snap = Snapshot.from_bytes(body)
            self._on_snapshot(snap)
            if snap.final:
                self._mark_done(i)
        elif kind == _READY and not ready.done():
            ready.set_result(True)
        elif kind == _ERROR:
            if not ready.done():
                ready.set_result(body.decode(errors="replace"))
            else:
                self._lost(i, body.decode(errors="replace").strip().splitlines()[-1])

    def _lost(self, i: int, why: str) -> None:
        if i not in self._done:
            code = self._procs[i].exitcode
            self._on_lost(i, why if code is None else f"{why} (exit code {code})")
            self._mark_done(i)

    def _mark_done(self, i: int) -> None:
        if i in self._done:
            return
        self._done.add(i)
        try:
            asyncio.get_running_loop().remove_reader(self._conns[i].fileno())
        except (OSError, ValueError):
            pass
        if len(self._done) == len(self._procs) and self._finished is not None:
            self._finished.set()

    def begin(self, t0_wall: float) -> None:
        self._send(_BEGIN + repr(t0_wall).encode())

    def stop(self, hard: bool = False) -> None:
        self._send(_KILL if hard else _STOP)

    def _send(self, msg: bytes) -> None:
        for i, conn in enumerate(self._conns):
            if i not in self._done:
                try:
                    conn.send_bytes(msg)
                except OSError:
                    pass

    async def wait(self) -> None:
        if self._finished is not None and self._procs:
            await self._finished.wait()
        for proc in self._procs:
            proc.join(timeout=5)
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(timeout=5)
        for conn in self._conns:
            conn.close()
