"""CPU per sample of the target and host monitors (surge.monitors): what watching costs the coordinator.

The monitors run in the coordinator, beside the merge of the workers' snapshots, once per
interval; a sample must cost far less than the interval. This measures, in this process, the
CPU time (``time.process_time``: user + system of this process) and the wall time of one
``sample()``, as the mean over ``--samples`` calls, for:

- **target** on ``fast_target.py`` holding 0, 100 and 1,000 open keep-alive connections from
  this process (the connection count reads the system's TCP tables once per sample, which hold
  both ends of a loopback connection and every TIME_WAIT: the cost grows with every socket on
  the machine, not only the target's; the script prints how many there were);
- **target tree**: a parent with 4 forked idle children (a pre-fork server's shape: the
  children are found by a scan of every process's parent);
- **host**: CPU per core, memory, load, network and disk counters.

    .venv/bin/python benchmarks/monitor_overhead.py
    .venv/bin/python benchmarks/monitor_overhead.py --samples 500 --connections 0,1000,5000

Everything is on 127.0.0.1; the processes it starts are stopped by their PID. ~10 s.
"""
from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from common import start_fast_target, stop  # noqa: E402
from surge.monitors.host import HostMonitor  # noqa: E402
from surge.monitors.target import TargetMonitor  # noqa: E402

FORKING = """\
import os, sys, threading, time
me = os.getpid()
for _ in range({children}):
    if os.fork() == 0:
        while os.getppid() == me:
            time.sleep(0.1)
        os._exit(0)
print("ready", flush=True)
sys.stdin.read()
"""


def per_sample(sample: Callable[[], object], n: int) -> tuple[float, float]:
    """Mean CPU and wall microseconds of one call, after 3 unmeasured ones."""
    for _ in range(3):
        sample()
        time.sleep(0.01)  # CPU deltas need some time between samples, as in a run
    cpu = wall = 0.0
    for _ in range(n):
        c0, w0 = time.process_time(), time.perf_counter()
        sample()
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        time.sleep(0.002)
    return cpu / n * 1e6, wall / n * 1e6


def measure_target(pid: int, n: int) -> tuple[float, float, dict]:
    monitor = TargetMonitor(pid)
    monitor.start()
    try:
        cpu, wall = per_sample(monitor.sample, n)
        return cpu, wall, dict(monitor.sample())
    finally:
        monitor.close()


def tcp_table_lines() -> int:
    lines = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines += sum(1 for _ in f) - 1
        except OSError:
            pass
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--connections", default="0,100,1000", help="open connections to the target, per case")
    parser.add_argument("--children", type=int, default=4)
    args = parser.parse_args()
    print(f"TCP sockets on this machine (its tables' lines, TIME_WAIT included): {tcp_table_lines():,}")
    print(f"{'what':34} {'CPU µs/sample':>14} {'wall µs/sample':>15}  row")
    target = start_fast_target(None)
    held: list[socket.socket] = []
    try:
        for count in (int(c) for c in args.connections.split(",")):
            while len(held) < count:
                held.append(socket.create_connection(("127.0.0.1", target.port)))
            time.sleep(0.2)
            cpu, wall, row = measure_target(target.process.pid, args.samples)
            print(f"{f'target, {count:,} connections':34} {cpu:14.0f} {wall:15.0f}  "
                  f"connections={row['connections']} fds={row['fds']}")
    finally:
        for sock in held:
            sock.close()
        target.stop()
    parent = subprocess.Popen([sys.executable, "-c", FORKING.format(children=args.children)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        parent.stdout.readline()
        cpu, wall, row = measure_target(parent.pid, args.samples)
        print(f"{f'target tree, {args.children} children':34} {cpu:14.0f} {wall:15.0f}  processes={row['processes']}")
    finally:
        parent.stdin.close()
        stop(parent)
    host = HostMonitor()
    host.start()
    cpu, wall = per_sample(host.sample, args.samples)
    print(f"{f'host, {host.cores} cores':34} {cpu:14.0f} {wall:15.0f}")


if __name__ == "__main__":
    main()
