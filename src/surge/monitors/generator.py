"""The load generator watching itself from outside: CPU and RSS of the coordinator and of each
worker process, as a monitor series (``monitors/generator.csv``).

The workers measure their own CPU over full intervals too (that is what the saturation flag
and ``generator.workers[]`` in summary.json use, and it covers Ray actors later); this series
is the same quantity read by the coordinator with psutil, on the monitors' clock, so the
report can draw the generator beside the target and the host, and a worker that stops sending
snapshots is still seen. Worker processes are the coordinator's children that
``multiprocessing`` spawned, numbered in the order they were started.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

import psutil

from ..model.events import MonitorSample

_MB = 1e6


class GeneratorMonitor:
    name = "generator"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.columns = ("coordinator_cpu_percent", "coordinator_rss_mb",
                        *(f"worker{i}_{what}" for i in range(workers) for what in ("cpu_percent", "rss_mb")))
        self._me: psutil.Process | None = None
        self._last: dict[int, tuple[float, float]] = {}  # pid -> (cpu seconds, wall) at the last sample
        self._workers: list[psutil.Process] = []

    def start(self) -> None:
        self._me = psutil.Process(os.getpid())

    def sample(self) -> dict[str, float | None]:
        assert self._me is not None
        if len(self._workers) < self.workers:
            self._workers = _spawned_children(self._me)[: self.workers]
        row: dict[str, float | None] = {}
        for label, proc in (("coordinator", self._me), *((f"worker{i}", p) for i, p in enumerate(self._workers))):
            try:
                cpu, rss = self._usage(proc)
            except psutil.Error:
                cpu, rss = None, None
            row[f"{label}_cpu_percent"], row[f"{label}_rss_mb"] = cpu, rss
        return row

    def _usage(self, proc: psutil.Process) -> tuple[float | None, float]:
        with proc.oneshot():
            times = proc.cpu_times()
            rss = proc.memory_info().rss / _MB
        cpu_s, wall = times.user + times.system, time.monotonic()
        last = self._last.get(proc.pid)
        self._last[proc.pid] = (cpu_s, wall)
        if last is None or wall <= last[1]:
            return None, round(rss, 3)
        return round(100.0 * (cpu_s - last[0]) / (wall - last[1]), 1), round(rss, 3)

    def summarise(self, rows: Sequence[MonitorSample]) -> dict[str, Any]:
        def usage(label: str) -> dict[str, Any]:
            cpu = [r.values.get(f"{label}_cpu_percent") for r in rows]
            cpu = [c for c in cpu if c is not None]
            rss = [r.values.get(f"{label}_rss_mb") for r in rows]
            rss = [m for m in rss if m is not None]
            return {"cpu_percent_mean": round(sum(cpu) / len(cpu), 1) if cpu else None,
                    "cpu_percent_max": max(cpu) if cpu else None, "rss_mb_max": max(rss) if rss else None}

        return {"coordinator": usage("coordinator"), "workers": [usage(f"worker{i}") for i in range(self.workers)]}

    def close(self) -> None:
        self._workers = []


def _spawned_children(me: psutil.Process) -> list[psutil.Process]:
    out = []
    for child in me.children():
        try:
            if "multiprocessing.spawn" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            continue
    return sorted(out, key=lambda p: (p.create_time(), p.pid))
