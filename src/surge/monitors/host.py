"""The machine the monitor runs on: CPU in total and per core, memory, load, network and disk rates.

Rates and CPU shares are over the time since the previous sample (none in the first sample),
from the kernel's counters, kept by this monitor: nothing else in the process that asks psutil
for ``cpu_percent()`` shifts its figures, or they its. Network bytes are those of every
interface, loopback included (a load test against 127.0.0.1 shows there); disk bytes those of
every disk, when the machine exposes them (a container may not: empty cells).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import psutil

from ..model.events import MonitorSample
from .base import Row

MB = 1_000_000


class _Counters(NamedTuple):
    taken: float  # time.monotonic()
    cpu: list[tuple[float, float]]  # per core: (busy, total) seconds
    net: tuple[int, int] | None  # bytes sent, received
    disk: tuple[int, int] | None  # bytes read, written


class HostMonitor:
    """``name`` ``host``; one ``cpu<i>_percent`` column per core this machine has."""

    name = "host"

    def __init__(self) -> None:
        self.cores = psutil.cpu_count() or 1
        self.columns = ("cpu_percent", *(f"cpu{i}_percent" for i in range(self.cores)),
                        "mem_used_mb", "mem_available_mb", "mem_used_pct", "load1", "load5", "load15",
                        "net_sent_bytes_per_s", "net_recv_bytes_per_s",
                        "disk_read_bytes_per_s", "disk_write_bytes_per_s")
        self._last: _Counters | None = None

    def start(self) -> None:
        self._last = None

    def sample(self) -> Row:
        now = _read()
        last, self._last = self._last, now
        memory = psutil.virtual_memory()
        used = memory.total - memory.available
        row: dict[str, float | int | None] = {
            "mem_used_mb": round(used / MB, 1), "mem_available_mb": round(memory.available / MB, 1),
            "mem_used_pct": round(100.0 * used / memory.total, 1) if memory.total else None,
        }
        row.update(zip(("load1", "load5", "load15"), (round(v, 2) for v in psutil.getloadavg())))
        if last is None or now.taken <= last.taken:
            return row
        cores = [_share(b1 - b0, t1 - t0) for (b0, t0), (b1, t1) in zip(last.cpu, now.cpu)]
        busy = sum(b1 - b0 for (b0, _), (b1, _) in zip(last.cpu, now.cpu))
        total = sum(t1 - t0 for (_, t0), (_, t1) in zip(last.cpu, now.cpu))
        row["cpu_percent"] = _share(busy, total)
        row.update((f"cpu{i}_percent", share) for i, share in enumerate(cores[:self.cores]))
        wall_s = now.taken - last.taken
        for names, before, after in ((("net_sent_bytes_per_s", "net_recv_bytes_per_s"), last.net, now.net),
                                     (("disk_read_bytes_per_s", "disk_write_bytes_per_s"), last.disk, now.disk)):
            if before is not None and after is not None:
                row.update((name, round(max(0, a - b) / wall_s)) for name, b, a in zip(names, before, after))
        return row

    def summarise(self, rows: Sequence[MonitorSample]) -> dict[str, Any]:
        return summarise_host(rows, cores=self.cores)

    def close(self) -> None:
        self._last = None


def summarise_host(rows: Sequence[MonitorSample], *, cores: int) -> dict[str, Any]:
    """The ``monitors.host`` section from a host's rows. Pure."""
    def peak(column: str):
        return max((v for r in rows if (v := r.values.get(column)) is not None), default=None)

    cpu = [v for r in rows if (v := r.values.get("cpu_percent")) is not None]
    per_core = [peak(f"cpu{i}_percent") for i in range(cores)]
    return {
        "cores": cores,
        "cpu_percent_max": peak("cpu_percent"),
        "cpu_percent_mean": round(sum(cpu) / len(cpu), 1) if cpu else None,
        "cpu_core_percent_max": max((v for v in per_core if v is not None), default=None),
        "mem_used_pct_max": peak("mem_used_pct"),
        "mem_used_mb_max": peak("mem_used_mb"),
        "mem_available_mb_min": min((v for r in rows if (v := r.values.get("mem_available_mb")) is not None),
                                    default=None),
        "load1_max": peak("load1"),
        "net_sent_bytes_per_s_max": peak("net_sent_bytes_per_s"),
        "net_recv_bytes_per_s_max": peak("net_recv_bytes_per_s"),
        "disk_read_bytes_per_s_max": peak("disk_read_bytes_per_s"),
        "disk_write_bytes_per_s_max": peak("disk_write_bytes_per_s"),
    }


def _read() -> _Counters:
    cpu = []
    for t in psutil.cpu_times(percpu=True):
        total = sum(t) - getattr(t, "guest", 0.0) - getattr(t, "guest_nice", 0.0)  # counted in user/nice already
        cpu.append((total - t.idle - getattr(t, "iowait", 0.0), total))
    net = psutil.net_io_counters()
    disk = psutil.disk_io_counters()
    return _Counters(time.monotonic(), cpu, None if net is None else (net.bytes_sent, net.bytes_recv),
                     None if disk is None else (disk.read_bytes, disk.write_bytes))


def _share(busy: float, total: float) -> float | None:
    return round(min(100.0, max(0.0, 100.0 * busy / total)), 1) if total > 0 else None
