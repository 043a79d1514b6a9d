"""Launchers host workers: in this process, or one child process per worker.

Both speak the snapshot protocol to the coordinator through two callbacks, so the run does
not know which one it has; a Ray launcher later implements the same four methods.

What every launcher guarantees: each worker ends in exactly one of two ways, reported once —
its final snapshot followed by a clean end, or ``on_lost(worker_id, why)`` (it raised, its
process died, it sent something that is not a snapshot). A worker that raised after its final
snapshot is still reported lost, with its error: the run must not pass on a worker that failed.
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import os
import pickle
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..metrics.snapshot import Snapshot
from ..model.errors import ScenarioError, SurgeError
from ..model.plan import TestPlan
from . import wire
from .guard import LoopGuard
from .worker import ANSWER_S, Worker

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
        """Return when every worker has ended (final snapshot sent, or reported lost)."""

    def escalate(self) -> None:
        """Workers that did not end after a hard stop: interrupt the code holding their loop."""

    def kill(self, why: str) -> None:
        """Workers that still did not end: end them now, each reported lost with ``why``."""


def describe_error(exc: BaseException) -> str:
    """``TypeError: ... (at shape.py:12)``: the error and the innermost frame outside surge."""
    if isinstance(exc, SurgeError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    surge_dir = Path(__file__).resolve().parents[1]
    own = [f for f in frames if surge_dir not in Path(f.filename).resolve().parents]
    where = f" (at {Path(own[-1].filename).name}:{own[-1].lineno})" if own else ""
    return f"{type(exc).__name__}: {exc}{where}"


class InProcessLauncher:
    """Workers as tasks in the coordinator's event loop (tests, and runs with one process)."""

    def __init__(self, workers: int | None = None) -> None:
        self._n = workers
        self._workers: list[Worker] = []
        self._tasks: list[asyncio.Task] = []

    async def start(self, plan: TestPlan, data: Any, on_snapshot: OnSnapshot, on_lost: OnLost) -> None:
        n = self._n or plan.processes
        self._workers = [Worker(plan, i, n, data) for i in range(n)]
        self._on_snapshot = on_snapshot
        self._on_lost = on_lost

    def begin(self, t0_wall: float) -> None:
        self._tasks = [asyncio.ensure_future(self._run(w, t0_wall)) for w in self._workers]

    async def _run(self, worker: Worker, t0_wall: float) -> None:
        def emit(snap: Snapshot) -> None:
            try:
                self._on_snapshot(snap)
            except Exception as exc:  # our bug, but never a silent one: the worker's figures are incomplete
                self._on_lost(worker.worker_id, f"the coordinator could not merge its snapshot: {describe_error(exc)}")

        try:
            await worker.run(t0_wall, emit)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a worker that dies is reported lost; the run goes on
            self._on_lost(worker.worker_id, describe_error(exc))

    def stop(self, hard: bool = False) -> None:
        for w in self._workers:
            w.request_stop(hard)

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks)

    def escalate(self) -> None:
        """Nothing to do from the loop: a loop held by a task is the coordinator's guard's business."""

    def kill(self, why: str) -> None:
        for worker, task in zip(self._workers, self._tasks):
            if not task.done():
                task.cancel()  # the worker's final snapshot is still emitted as it unwinds
                self._on_lost(worker.worker_id, why)


# -- child processes --------------------------------------------------------------------------
def _die_with(parent_pid: int) -> None:
    """End this process when the coordinator is gone, even if its event loop is stuck (a task in
    a CPU loop, a million users being made): the kernel's parent-death signal on Linux, a
    watchdog thread elsewhere. (Workers once ran on at 70-90% CPU after a kill -9 of the
    coordinator: the socket's EOF is only seen by a loop that gets a turn.)"""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        armed = False
    if os.getppid() != parent_pid:  # it died before the signal was armed
        os._exit(1)
    if not armed:  # pragma: no cover - not Linux
        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(0.5)
            os._exit(1)

        threading.Thread(target=watch, name="surge-parent-watch", daemon=True).start()


_PR_SET_PDEATHSIG = 1


def _child_main(plan: TestPlan, worker_id: int, workers: int, data: Any, sock: socket.socket,
                parent_pid: int = 0) -> None:
    """Entry point of a worker process. Ctrl-C and SIGTERM are the coordinator's business, not ours:
    sent to the whole process group (a terminal, ``timeout``, a CI runner), they must not kill the
    worker and its unsent interval, so the worker leaves the group. The coordinator stops it over
    the socket (if the coordinator dies, the socket's EOF does); a signal sent to the worker's own
    pid (``Process.terminate()``) still ends it."""
    if parent_pid:
        _die_with(parent_pid)
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import uvloop
        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    asyncio.run(_child_async(plan, worker_id, workers, data, sock))


async def _child_async(plan: TestPlan, worker_id: int, workers: int, data: Any, sock: socket.socket) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)

    def send(kind: bytes, payload: bytes = b"") -> None:
        writer.write(wire.frame(kind, payload))

    try:
        worker = Worker(plan, worker_id, workers, data)
    except BaseException as exc:  # the scenario failed to import here, or worse
        send(wire.ERROR, describe_error(exc).encode())
        await wire.close_writer(writer)
        return
    loop = asyncio.get_running_loop()
    begun: asyncio.Future = loop.create_future()
    running = [False]
    guard = LoopGuard(loop, deadline=lambda: worker.deadline, armed=lambda: running[0], signals=False).install()
    control = asyncio.ensure_future(_obey(reader, worker, begun))
    send(wire.READY)
    t0 = await begun
    if t0 is not None:
        running[0] = True
        try:
            await worker.run(t0, lambda snap: send(wire.SNAPSHOT, snap.to_bytes()))
        except BaseException as exc:  # reported after the final snapshot: the coordinator calls it lost
            send(wire.ERROR, describe_error(exc).encode())
        else:
            send(wire.DONE)
        finally:
            running[0] = False
    else:  # stopped before it began: a clean end, with nothing to report
        send(wire.DONE)
    guard.uninstall()
    control.cancel()
    await wire.close_writer(writer)


async def _obey(reader: asyncio.StreamReader, worker: Worker, begun: asyncio.Future) -> None:
    """The coordinator's control frames: begin at t0, stop, kill. Its absence (EOF) means kill."""
    while True:
        try:
            kind, payload = await wire.read_frame(reader)
        except (EOFError, ValueError, ConnectionError, OSError):
            kind, payload = None, b""
        if kind == wire.BEGIN and not begun.done():
            begun.set_result(float(payload))
        elif kind in (wire.STOP, wire.KILL, None):
            worker.request_stop(hard=kind != wire.STOP)
            answer = (worker.plan.graceful_stop_s if kind == wire.STOP else 0.0) + ANSWER_S
            worker.deadline = min(worker.deadline or math.inf, time.perf_counter() + answer)
            if not begun.done():
                begun.set_result(None)
            if kind is None:
                return


class ProcessLauncher:
    """One spawned child process per worker, talking over a socket pair in frames (``wire``)."""

    READY_TIMEOUT_S = 60.0
    JOIN_TIMEOUT_S = 5.0

    def __init__(self) -> None:
        self._procs: list = []
        self._writers: list[asyncio.StreamWriter] = []
        self._readers: list[asyncio.Task] = []
        self._ended: set[int] = set()
        self._killed: dict[int, str] = {}  # workers this launcher killed, and why

    async def start(self, plan: TestPlan, data: Any, on_snapshot: OnSnapshot, on_lost: OnLost) -> None:
        try:
            pickle.dumps(data)
        except Exception as exc:  # what setup() returned must travel to every worker process
            raise ScenarioError(f"setup() returned a value worker processes cannot receive: {exc}",
                                "return JSON- or pickle-able data (ids, tokens), not connections or clients") from exc
        ctx = mp.get_context("spawn")
        n = plan.processes
        self._on_snapshot, self._on_lost = on_snapshot, on_lost
        loop = asyncio.get_running_loop()
        ready = [loop.create_future() for _ in range(n)]
        for i in range(n):
            ours, theirs = socket.socketpair()
            proc = ctx.Process(target=_child_main, args=(plan, i, n, data, theirs, os.getpid()), name=f"surge-worker-{i}",
                               daemon=True)
            proc.start()
            theirs.close()
            self._procs.append(proc)
            reader, writer = await asyncio.open_connection(sock=ours)
            self._writers.append(writer)
            self._readers.append(asyncio.ensure_future(self._read(i, reader, ready[i])))
        done, pending = await asyncio.wait(ready, timeout=self.READY_TIMEOUT_S)
        errors = [f.result() for f in done if isinstance(f.result(), str)]
        if errors or pending:
            self.stop(hard=True)
            await self._reap()
            message = errors[0] if errors else "worker processes did not start in time"
            raise ScenarioError(f"worker failed to start: {message.strip().splitlines()[-1]}")

    async def _read(self, i: int, reader: asyncio.StreamReader, ready: asyncio.Future) -> None:
        """Every frame of worker ``i`` until its stream ends; decide how it ended."""
        error: str | None = None
        clean = False
        while True:
            try:
                kind, payload = await wire.read_frame(reader)
            except EOFError:
                break
            except (ValueError, ConnectionError, OSError) as exc:
                error = f"its stream broke: {exc}"
                break
            if kind == wire.SNAPSHOT:
                try:
                    snap = Snapshot.from_bytes(payload)
                except ValueError as exc:
                    error = f"it sent a malformed snapshot: {exc}"
                    break
                try:
                    self._on_snapshot(snap)
                except Exception as exc:  # our bug, but never a silent one
                    error = f"the coordinator could not merge its snapshot: {describe_error(exc)}"
                    break
            elif kind == wire.READY:
                if not ready.done():
                    ready.set_result(True)
            elif kind == wire.ERROR:
                error = payload.decode(errors="replace").strip() or "it reported an error"
            elif kind == wire.DONE:
                clean = True
        if not ready.done():
            ready.set_result(error or "the worker process exited before it was ready")
            self._ended.add(i)
            return
        if i in self._killed:
            error = self._killed[i]
        elif error is None and not clean:
            code = await self._exit_code(i)
            error = "the worker process exited" + (f" (exit code {code})" if code is not None else "")
        self._ended.add(i)
        if error is not None:
            self._writers[i].close()  # a worker we no longer listen to must not go on: EOF stops it
            self._on_lost(i, error)

    async def _exit_code(self, i: int) -> int | None:
        proc = self._procs[i]
        for _ in range(20):  # the socket closes a moment before the process is reaped
            if proc.exitcode is not None:
                return proc.exitcode
            await asyncio.sleep(0.05)
        return proc.exitcode

    def begin(self, t0_wall: float) -> None:
        self._send(wire.frame(wire.BEGIN, repr(t0_wall).encode()))

    def stop(self, hard: bool = False) -> None:
        self._send(wire.frame(wire.KILL if hard else wire.STOP))

    def _send(self, data: bytes) -> None:
        for i, writer in enumerate(self._writers):
            if i not in self._ended and not writer.is_closing():
                writer.write(data)

    async def wait(self) -> None:
        if self._readers:
            await asyncio.wait(self._readers)
        await self._reap()

    def _unended(self) -> list[int]:
        return [i for i, proc in enumerate(self._procs) if i not in self._ended and proc.is_alive()]

    def escalate(self) -> None:
        for i in self._unended():  # its guard raises into the code that holds its loop (guard.py)
            with contextlib.suppress(OSError):
                os.kill(self._procs[i].pid, signal.SIGINT)

    def kill(self, why: str) -> None:
        for i in self._unended():
            self._killed[i] = why
            with contextlib.suppress(OSError):
                os.kill(self._procs[i].pid, signal.SIGKILL)

    async def _reap(self) -> None:
        for writer in self._writers:
            writer.close()
        for proc in self._procs:
            await asyncio.get_running_loop().run_in_executor(None, proc.join, self.JOIN_TIMEOUT_S)
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
                proc.join(timeout=self.JOIN_TIMEOUT_S)
