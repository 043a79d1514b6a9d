"""The host monitor on this machine: a busy core, memory taken by another process, loopback bytes."""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from surge.model.events import MonitorSample
from surge.monitors.host import HostMonitor, summarise_host

BURN = "import time\nend = time.perf_counter() + {s}\nwhile time.perf_counter() < end: pass"
HOLD = "import sys, time\nkept = b'\\x01' * {n}\nprint('held', flush=True)\nsys.stdin.read()"


def take(monitor: HostMonitor, during, interval_s: float = 0.25, samples: int = 5) -> list[MonitorSample]:
    """``samples`` rows ``interval_s`` apart while ``during()`` runs in a thread."""
    worker = threading.Thread(target=during)
    monitor.start()
    rows, t0 = [], time.time()
    rows.append(MonitorSample("host", t0, 0.0, monitor.sample()))
    worker.start()
    for k in range(1, samples):
        time.sleep(max(0.0, t0 + k * interval_s - time.time()))
        rows.append(MonitorSample("host", time.time(), time.time() - t0, monitor.sample()))
    worker.join()
    monitor.close()
    return rows


def test_a_busy_core_shows_in_total_and_per_core():
    monitor = HostMonitor()
    assert monitor.columns[0] == "cpu_percent" and f"cpu{psutil.cpu_count() - 1}_percent" in monitor.columns
    rows = take(monitor, lambda: subprocess.run([sys.executable, "-c", BURN.format(s=1.2)], check=True))
    assert rows[0].values.get("cpu_percent") is None and "mem_used_pct" in rows[0].values  # no CPU before a delta
    section = summarise_host(rows, cores=monitor.cores)
    assert section["cpu_percent_max"] >= 80 / monitor.cores  # one core's worth spun for the whole window
    per_core = [r.values[f"cpu{i}_percent"] for r in rows[1:] for i in range(monitor.cores)]
    assert section["cpu_core_percent_max"] == max(per_core) >= section["cpu_percent_max"]  # the busiest core
    assert set(rows[-1].values) <= set(monitor.columns)
    assert 0 < section["load1_max"] and 0 < section["mem_used_pct_max"] < 100


def test_memory_another_process_takes_shows_as_used():
    held = 300_000_000

    def hold():
        proc = subprocess.Popen([sys.executable, "-c", HOLD.format(n=held)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
        proc.stdout.readline()
        time.sleep(0.6)
        proc.stdin.close()
        proc.wait(5)

    rows = take(HostMonitor(), hold, samples=4)
    used = [r.values["mem_used_mb"] for r in rows]
    assert max(used) - used[0] >= 0.5 * held / 1e6
    total_mb = psutil.virtual_memory().total / 1e6
    assert all(r.values["mem_used_mb"] + r.values["mem_available_mb"] == pytest.approx(total_mb, rel=0.01) for r in rows)


def test_loopback_bytes_show_as_network_rates():
    sent = 50_000_000

    def send():
        with socket.create_server(("127.0.0.1", 0)) as server:
            client = socket.create_connection(server.getsockname())
            peer, _ = server.accept()
            reader = threading.Thread(target=lambda: _drain(peer, sent))
            reader.start()
            client.sendall(b"x" * sent)
            reader.join()
            client.close()
            peer.close()

    rows = take(HostMonitor(), send, interval_s=0.5, samples=3)
    section = summarise_host(rows, cores=psutil.cpu_count())
    # the bytes went out and came in within at most the two intervals: one of them saw half
    assert section["net_sent_bytes_per_s_max"] >= sent / 2 / 0.5 * 0.9
    assert section["net_recv_bytes_per_s_max"] >= sent / 2 / 0.5 * 0.9


def _drain(sock: socket.socket, n: int) -> None:
    while n > 0:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return
        n -= len(chunk)


def test_a_summary_of_nothing_is_empty_values():
    section = summarise_host([], cores=2)
    assert section["cores"] == 2 and section["cpu_percent_max"] is None and section["load1_max"] is None
