"""The target process and its children: memory, CPU, threads, descriptors, connections; the leak verdict.

What a sample adds up over the process and all its descendants (a pre-fork server's workers
are children of its master):

* ``rss_mb`` / ``vms_mb``: resident and virtual size, MB of 10^6 bytes. Summed over the tree,
  so pages that forked workers share are counted once per process (USS/PSS would be exact but
  read all of ``/proc/<pid>/smaps``: too slow to sample every second);
* ``cpu_percent``: CPU (user + system) of the tree since the previous sample, 100 = one core;
  none in the first sample. A child that started and ended between two samples is not seen;
* ``threads``, ``fds`` (open file descriptors; inherited ones count in each process that holds
  them, as the per-process limit does), ``connections`` (TCP sockets not listening, counted
  once however many processes share them: a growing count in ``CLOSE_WAIT`` is a leak too),
  ``processes`` (the tree's size).

The verdict (:func:`summarise_target`): RSS growth in MB/min fitted by Theil–Sen
(:mod:`surge.metrics.trend`: a GC pause or an arena mapped once does not move it) over the
samples after a warm-up (by default the first 10% of the run or 60 s, whichever is shorter:
caches fill and pools open at the start): ``healthy`` below 5 MB/min, ``warning`` from 5 to 10,
``leak`` above 10 (the bands the teams' guides use).

How the process is chosen: a pid, the one listening on a port (:func:`pid_listening_on`), or a
command surge starts itself (:class:`StartedTarget`).
"""
from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import psutil

from ..metrics.trend import theil_sen
from ..model.events import MonitorSample
from ._descriptors import descriptors
from .base import MonitorUnavailable, Row, SourceLost

MB = 1_000_000
HEALTHY_BELOW_MB_PER_MIN = 5.0
LEAK_ABOVE_MB_PER_MIN = 10.0
WARMUP_SHARE = 0.10
WARMUP_CAP_S = 60.0
STOP_GRACE_S = 10.0

COLUMNS = ("rss_mb", "vms_mb", "cpu_percent", "threads", "fds", "connections", "processes")


def default_warmup_s(duration_s: float) -> float:
    """The first 10% of the run or 60 s, whichever is shorter."""
    return min(WARMUP_SHARE * max(0.0, duration_s), WARMUP_CAP_S)


def verdict(growth_mb_per_min: float | None) -> str:
    """``healthy`` (< 5 MB/min), ``warning`` (5 to 10), ``leak`` (> 10); ``unknown`` without a fit."""
    if growth_mb_per_min is None:
        return "unknown"
    if growth_mb_per_min < HEALTHY_BELOW_MB_PER_MIN:
        return "healthy"
    return "warning" if growth_mb_per_min <= LEAK_ABOVE_MB_PER_MIN else "leak"


class TargetMonitor:
    """Samples process ``pid`` and its descendants (see the module's docstring).

    ``warmup_s``: samples before this elapsed time are left out of the growth fits (None: the
    default share of the run, from the rows). ``name``: the series' name (``target``).
    """

    columns = COLUMNS

    def __init__(self, pid: int, warmup_s: float | None = None, *, name: str = "target") -> None:
        self.pid = int(pid)
        self.warmup_s = warmup_s
        self.name = name
        self.process_name: str | None = None
        self.exited_at: float | None = None  # unix time the process was first found gone
        self._root: psutil.Process | None = None
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> CPU seconds so far
        self._cpu_taken: float | None = None

    def start(self) -> None:
        self._root = watchable(self.pid)
        try:
            self.process_name = self._root.name()
        except psutil.Error:
            self.process_name = None

    def sample(self) -> Row:
        root = self._root
        if root is None:
            raise RuntimeError("sample() before start()")
        tree = _tree(root)
        if tree is None:
            return self._lost()
        now = time.monotonic()
        rss = vms = threads = 0
        cpu: dict[tuple[int, float], float] = {}
        for proc in tree:
            try:
                with proc.oneshot():
                    memory, times = proc.memory_info(), proc.cpu_times()
                    key, proc_threads = (proc.pid, proc.create_time()), proc.num_threads()
            except psutil.NoSuchProcess:
                if proc is root:
                    return self._lost()
                continue  # a child that ended just now
            rss, vms, threads = rss + memory.rss, vms + memory.vms, threads + proc_threads
            cpu[key] = times.user + times.system
        fds, connections = descriptors([pid for pid, _ in cpu], root.pid)
        return {
            "rss_mb": round(rss / MB, 3), "vms_mb": round(vms / MB, 3), "cpu_percent": self._cpu_percent(cpu, now),
            "threads": threads, "fds": fds, "connections": connections, "processes": len(cpu),
        }

    def _lost(self) -> Row:
        if self.exited_at is None:
            self.exited_at = time.time()
        raise SourceLost(f"process {self.pid} exited", final=True)

    def _cpu_percent(self, cpu: dict[tuple[int, float], float], now: float) -> float | None:
        previous, taken = self._cpu, self._cpu_taken
        self._cpu, self._cpu_taken = cpu, now
        if taken is None or now <= taken:
            return None
        used = sum(seconds - previous.get(key, 0.0) for key, seconds in cpu.items())  # a new child: all of it
        return round(100.0 * max(0.0, used) / (now - taken), 1)

    def summarise(self, rows: Sequence[MonitorSample]) -> dict[str, Any]:
        exited_at_s = None
        if self.exited_at is not None and rows:
            t0 = rows[0].timestamp - rows[0].elapsed_s
            exited_at_s = round(max(0.0, self.exited_at - t0), 3)
        section = summarise_target(rows, pid=self.pid, warmup_s=self.warmup_s, exited_at_s=exited_at_s)
        section["process_name"] = self.process_name
        return section

    def close(self) -> None:
        self._root = None


def summarise_target(rows: Sequence[MonitorSample], *, pid: int, warmup_s: float | None = None,
                     exited_at_s: float | None = None) -> dict[str, Any]:
    """The ``monitors.target`` section from a target's rows. Pure (a results folder read later
    gives the same answer); ``exited_at_s``: when the process was found gone, if it was."""
    span_s = rows[-1].elapsed_s if rows else 0.0
    warm_s = default_warmup_s(span_s) if warmup_s is None else warmup_s
    fit = [r for r in rows if r.elapsed_s >= warm_s]
    rss = _values(rows, "rss_mb")
    cpu = _values(rows, "cpu_percent")
    return {
        "pid": pid,
        "rss_mb_start": rss[0] if rss else None,
        "rss_mb_peak": max(rss, default=None),
        "rss_mb_final": rss[-1] if rss else None,
        "rss_growth_mb_per_min": (growth := growth_per_min(fit, "rss_mb")),
        "verdict": verdict(growth),
        "vms_mb_peak": max(_values(rows, "vms_mb"), default=None),
        "threads_max": max(_values(rows, "threads"), default=None),
        "threads_growth_per_min": growth_per_min(fit, "threads"),
        "fds_max": max(_values(rows, "fds"), default=None),
        "fds_growth_per_min": growth_per_min(fit, "fds"),
        "connections_max": max(_values(rows, "connections"), default=None),
        "processes_max": max(_values(rows, "processes"), default=None),
        "cpu_percent_mean": round(sum(cpu) / len(cpu), 1) if cpu else None,
        "cpu_percent_max": max(cpu, default=None),
        "exited_at_s": exited_at_s,
        "warmup_s": round(warm_s, 3),
        "fit_samples": len(fit),
        "fit_span_s": round(fit[-1].elapsed_s - fit[0].elapsed_s, 3) if fit else 0.0,
    }


def growth_per_min(rows: Sequence[MonitorSample], column: str) -> float | None:
    """The Theil–Sen slope of ``column`` over ``elapsed_s``, per minute (None: fewer than 2 values)."""
    points = [(r.elapsed_s, r.values.get(column)) for r in rows]
    points = [(x, y) for x, y in points if y is not None]
    slope = theil_sen([x for x, _ in points], [y for _, y in points])
    return None if slope is None else round(slope * 60.0, 3)


def _values(rows: Sequence[MonitorSample], column: str) -> list:
    return [v for r in rows if (v := r.values.get(column)) is not None]


def watchable(pid: int) -> psutil.Process:
    """The running process ``pid``, or :class:`MonitorUnavailable` in one line."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            raise MonitorUnavailable(f"process {pid} has already exited")
        proc.memory_info()
    except psutil.NoSuchProcess:
        raise MonitorUnavailable(f"no process {pid} on this machine") from None
    except psutil.AccessDenied:
        raise MonitorUnavailable(f"process {pid} belongs to another user",
                                 "run surge as that user or as root") from None
    return proc


def _tree(root: psutil.Process) -> list[psutil.Process] | None:
    """The root and its descendants; None when the root is gone (or a zombie, or its pid reused)."""
    try:
        if not root.is_running() or root.status() == psutil.STATUS_ZOMBIE:
            return None
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return None


def pid_listening_on(port: int) -> int:
    """The process listening on TCP ``port`` on this machine (the eldest, when a pre-fork server's
    master and workers all hold the socket). :class:`MonitorUnavailable` in one line otherwise."""
    try:
        listening = [c for c in psutil.net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port]
    except psutil.AccessDenied:
        raise MonitorUnavailable(f"cannot see which process listens on port {port}",
                                 "run as root, or pass the process's pid") from None
    if not listening:
        raise MonitorUnavailable(f"nobody listens on port {port} on this machine")
    pids = {c.pid for c in listening if c.pid is not None}
    if not pids:
        raise MonitorUnavailable(f"port {port} is held by a process of another user",
                                 "run as that user or root, or pass the process's pid")
    roots = sorted({_eldest_listening(pid, port) for pid in pids})
    if len(roots) > 1:
        raise MonitorUnavailable(f"several processes listen on port {port} (pids {', '.join(map(str, roots))})",
                                 "pass the pid of the one to watch")
    return roots[0]


def _eldest_listening(pid: int, port: int) -> int:
    """``pid``, or its eldest ancestor that listens on ``port`` too (psutil names one holder of
    a shared socket, which may be a worker of a pre-fork server rather than its master)."""
    eldest = pid
    try:
        parent = psutil.Process(pid).parent()
        while parent is not None and any(c.status == psutil.CONN_LISTEN and c.laddr.port == port
                                         for c in parent.net_connections(kind="tcp")):
            eldest, parent = parent.pid, parent.parent()
    except psutil.Error:
        pass
    return eldest


class StartedTarget:
    """A target command surge starts and stops: split like a shell would (``shlex``) but run
    without one, stdout and stderr into ``log_path``, in a session of its own (so a Ctrl-C
    at the terminal reaches surge, which ends the load first, and not the target as well).

    ``stop()`` sends SIGTERM, waits ``stop_grace_s`` (10 s), then SIGKILLs the command's whole
    process group; call it from a ``finally`` (or use the object as a context manager) so an
    interrupted run stops it too. A command that cannot be started, or exits at once
    (:meth:`check_running`), is :class:`MonitorUnavailable`.
    """

    def __init__(self, command: str, log_path: Path | str, *, cwd: str | None = None,
                 env: dict[str, str] | None = None, stop_grace_s: float = STOP_GRACE_S) -> None:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise MonitorUnavailable(f"--monitor-cmd {command!r} cannot be split into words: {exc}") from None
        if not argv:
            raise MonitorUnavailable("--monitor-cmd is empty")
        self.command = command
        self.log_path = Path(log_path)
        self.stop_grace_s = stop_grace_s
        self._log: IO[bytes] = open(self.log_path, "wb")
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                          cwd=cwd, env=env, start_new_session=True)
        except OSError as exc:
            self._log.close()
            what = "not found" if isinstance(exc, FileNotFoundError) else (exc.strerror or str(exc)).lower()
            raise MonitorUnavailable(f"--monitor-cmd: {argv[0]!r}: {what}") from None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.poll()

    def check_running(self) -> None:
        """:class:`MonitorUnavailable` with the log's last line when the command already exited."""
        code = self._proc.poll()
        if code is not None:
            raise MonitorUnavailable(f"--monitor-cmd exited at once with code {code}: {self.tail() or '(no output)'}",
                                     f"its output is in {self.log_path}")

    def tail(self, max_bytes: int = 4096) -> str:
        """The last non-empty line of the log (for error messages)."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, os.path.getsize(self.log_path) - max_bytes))
                lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines()]
        except OSError:
            return ""
        return next((line for line in reversed(lines) if line), "")

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL to its process group after ``stop_grace_s``; its exit code."""
        proc = self._proc
        try:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(self.stop_grace_s)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)  # still its group: the leader is not reaped
                    except ProcessLookupError:
                        pass
                    proc.wait()
        finally:
            self._log.close()
        return proc.returncode

    def __enter__(self) -> "StartedTarget":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
