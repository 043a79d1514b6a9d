"""Peak memory of surge holding many concurrent virtual users in one worker process.

A slow target (fast_target.py --delay-ms 2000, in its own process) keeps every user's request in
flight, so the generator holds one connection per user. surge runs with ``--processes 1`` at
1,000 and then 10,000 users (all spawned in ~5 s), ~20 s each; we sample the RSS of surge's
whole process tree every 100 ms and print the peak, plus the slope in MB per 1,000 users
between the two runs (what one more user costs, without the interpreter's fixed cost).

    .venv/bin/python benchmarks/memory.py
    .venv/bin/python benchmarks/memory.py --users 1000,5000,10000 --duration 30s

Goal: <= 150 MB peak RSS at 10,000 users in one worker. The open-file limit here is ~20,000:
10,000 users need 10,000 sockets in the generator and 10,000 in the target, so they run in
separate processes.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from common import HERE, find_surge, parse_duration_s, start_fast_target, stop, tail, tree, tree_rss_bytes

GOAL_MB_AT_10K = 150
MB = 1024 * 1024


@dataclass
class MemoryRun:
    users: int
    peak_rss_bytes: int
    peak_processes: int
    peak_target_connections: int
    requests: int | None
    duration_s: float | None
    note: str = ""


def target_connections(pid: int) -> int:
    try:
        return sum(1 for c in psutil.Process(pid).net_connections("tcp") if c.status == "ESTABLISHED")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def run_surge(surge: str, url: str, users: int, spawn_rate: int, duration_s: float,
              target_pid: int, work: Path) -> MemoryRun:
    out = work / f"surge-{users}"
    argv = [surge, "run", str(HERE / "scenarios" / "hello.py"), "--host", url,
            "--users", str(users), "--spawn-rate", str(spawn_rate),
            "--duration", f"{duration_s:g}s", "--processes", "1", "--out", str(out), "--live", "off"]
    log = (work / f"surge-{users}.log").open("w+b")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    peak_rss = peak_processes = peak_connections = 0
    deadline = time.monotonic() + duration_s + 60
    sample = 0
    while process.poll() is None and time.monotonic() < deadline:
        peak_rss = max(peak_rss, tree_rss_bytes(process.pid))
        peak_processes = max(peak_processes, len(tree(process.pid)))
        if sample % 10 == 0:  # the connection table is costlier to read: once a second
            peak_connections = max(peak_connections, target_connections(target_pid))
        sample += 1
        time.sleep(0.1)
    if process.poll() is None:
        stop(process)
        note = "killed: did not finish in time"
    else:
        note = "" if process.returncode in (0, 1) else f"exit {process.returncode}"
    summary_path = out / "summary.json"
    requests = duration = None
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        requests, duration = int(summary["total"]["requests"]), float(summary["duration_s"])
    else:
        log.seek(0)
        note = (note + "; " if note else "") + "no summary.json: " + tail(log.read(), 3)
    log.close()
    return MemoryRun(users, peak_rss, peak_processes, peak_connections, requests, duration, note)


def print_report(runs: list[MemoryRun], delay_ms: float) -> None:
    print(f"{'users':>7} {'peak RSS MB':>12} {'processes':>10} {'target conns':>13} "
          f"{'requests':>9} {'req/s':>8} {'steady req/s':>13}  note")
    for r in runs:
        rps = f"{r.requests / r.duration_s:,.0f}" if r.requests and r.duration_s else "—"
        expected = f"{r.users / (delay_ms / 1000):,.0f}"
        print(f"{r.users:>7,} {r.peak_rss_bytes / MB:>12.1f} {r.peak_processes:>10} "
              f"{r.peak_target_connections:>13,} {r.requests if r.requests is not None else '—':>9} "
              f"{rps:>8} {expected:>13}  {r.note}")
    ok = [r for r in runs if r.peak_rss_bytes]
    if len(ok) >= 2:
        low, high = ok[0], ok[-1]
        slope = (high.peak_rss_bytes - low.peak_rss_bytes) / MB / ((high.users - low.users) / 1000)
        print(f"\nslope {low.users:,} -> {high.users:,} users: {slope:.1f} MB per 1,000 users")
    at_10k = next((r for r in runs if r.users == 10_000), None)
    if at_10k and at_10k.peak_rss_bytes:
        verdict = "meets" if at_10k.peak_rss_bytes / MB <= GOAL_MB_AT_10K else "MISSES"
        print(f"10,000 users: {at_10k.peak_rss_bytes / MB:.1f} MB peak RSS, {verdict} the goal "
              f"of <= {GOAL_MB_AT_10K} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1000,10000", help="comma list, ascending")
    parser.add_argument("--spawn-rate", type=int, default=2000)
    parser.add_argument("--duration", default="20s", help="per run (default 20s)")
    parser.add_argument("--delay-ms", type=float, default=2000, help="the target's response delay")
    parser.add_argument("--surge", help="surge executable (default: beside this python, or PATH)")
    args = parser.parse_args()

    surge = find_surge(args.surge)
    if not surge:
        print("no `surge` executable (pass --surge PATH)", file=sys.stderr)
        return 2
    user_counts = sorted(int(u) for u in args.users.split(","))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(user_counts) + 100 > soft:
        print(f"warning: open-file limit {soft} is below {max(user_counts)} users plus margin",
              file=sys.stderr)
    duration_s = parse_duration_s(args.duration)
    target = start_fast_target(core=None, delay_ms=args.delay_ms)
    print(f"target: fast_target --delay-ms {args.delay_ms:g} on {target.url}; surge --processes 1, "
          f"{duration_s:g} s per run\n", flush=True)
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="surge-mem-") as tmp:
            for users in user_counts:
                run = run_surge(surge, target.url, users, args.spawn_rate, duration_s,
                                target.process.pid, Path(tmp))
                print(f"{users:,} users: peak RSS {run.peak_rss_bytes / MB:.1f} MB {run.note}", flush=True)
                runs.append(run)
    finally:
        target.stop()
    print()
    print_report(runs, args.delay_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
