"""Peak memory per concurrent virtual user in one process: surge beside a bare asyncio client.

A slow target (fast_target.py --delay-ms 2000, in its own process) keeps every user's request in
flight, so the generator holds one connection per user. For each user count (1,000 and 10,000 by
default) it runs, one after the other:

- **bare**: benchmarks/bare_client.py --connections N (N keep-alive connections, each with one
  request waiting on the slow endpoint: what the sockets, transports and parsers alone cost);
- **surge**: surge run hello.py --users N --spawn-rate 2000 --processes 1 (all spawned in ~5 s);

~20 s each, sampling the RSS of the tool's whole process tree every 100 ms. It prints the peak,
and per tool the slope in MB per 1,000 users between the smallest and largest run (what one more
user costs, without the interpreter's fixed cost), then the goal line for surge's slope.

    .venv/bin/python benchmarks/memory.py
    .venv/bin/python benchmarks/memory.py --users 1000,5000,10000 --duration 30s --only surge

Goals: surge's slope <= 4 MB per 1,000 users; <= 150 MB peak RSS at 10,000 users in one worker.
The open-file limit here is ~20,000: 10,000 users need 10,000 sockets in the generator and
10,000 in the target, so they run in separate processes.
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
GOAL_SLOPE_MB = 4.0  # MB per 1,000 users
TOOLS = ("bare", "surge")
MB = 1024 * 1024


@dataclass
class MemoryRun:
    tool: str
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


def sample_until_done(argv: list[str], log, duration_s: float, target_pid: int) -> tuple[int, int, int, str]:
    """Run argv, sampling its tree's RSS every 100 ms: (peak RSS, peak processes, peak target conns, note)."""
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    peak_rss = peak_processes = peak_connections = 0
    note = ""
    try:
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
            note = "killed: did not finish in time"
        elif process.returncode not in (0, 1):
            note = f"exit {process.returncode}"
    finally:
        stop(process)  # by its PID, also when we are interrupted
    return peak_rss, peak_processes, peak_connections, note


def run_surge(surge: str, url: str, users: int, spawn_rate: int, duration_s: float,
              target_pid: int, work: Path) -> MemoryRun:
    out = work / f"surge-{users}"
    argv = [surge, "run", str(HERE / "scenarios" / "hello.py"), "--host", url,
            "--users", str(users), "--spawn-rate", str(spawn_rate),
            "--duration", f"{duration_s:g}s", "--processes", "1", "--out", str(out), "--live", "off"]
    with (work / f"surge-{users}.log").open("w+b") as log:
        peak_rss, peak_processes, peak_connections, note = sample_until_done(argv, log, duration_s, target_pid)
        summary_path = out / "summary.json"
        requests = duration = None
        if summary_path.exists():
            summary = json.loads(summary_path.read_text())
            requests, duration = int(summary["total"]["requests"]), float(summary["duration_s"])
        else:
            log.seek(0)
            note = (note + "; " if note else "") + "no summary.json: " + tail(log.read(), 3)
    return MemoryRun("surge", users, peak_rss, peak_processes, peak_connections, requests, duration, note)


def run_bare(url: str, users: int, duration_s: float, target_pid: int, work: Path) -> MemoryRun:
    argv = [sys.executable, str(HERE / "bare_client.py"), "--url", url + "/",
            "--connections", str(users), "--duration", f"{duration_s:g}s"]
    with (work / f"bare-{users}.log").open("w+b") as log:
        peak_rss, peak_processes, peak_connections, note = sample_until_done(argv, log, duration_s, target_pid)
        log.seek(0)
        lines = log.read().decode(errors="replace").strip().splitlines()
    requests = duration = None
    try:
        out = json.loads(lines[-1])
        requests, duration = int(out["requests"]), float(out["duration_s"])
        if out.get("errors"):
            note = (note + "; " if note else "") + f"{out['errors']} errors, {out['connected']:,} connected"
    except (IndexError, ValueError, KeyError):
        note = (note + "; " if note else "") + "no result line: " + tail("\n".join(lines), 3)
    return MemoryRun("bare", users, peak_rss, peak_processes, peak_connections, requests, duration, note)


def slope_mb(runs: list[MemoryRun]) -> tuple[MemoryRun, MemoryRun, float] | None:
    ok = sorted((r for r in runs if r.peak_rss_bytes), key=lambda r: r.users)
    if len(ok) < 2 or ok[0].users == ok[-1].users:
        return None
    low, high = ok[0], ok[-1]
    return low, high, (high.peak_rss_bytes - low.peak_rss_bytes) / MB / ((high.users - low.users) / 1000)


def print_report(runs: list[MemoryRun], delay_ms: float) -> None:
    print(f"{'tool':<6} {'users':>7} {'peak RSS MB':>12} {'processes':>10} {'target conns':>13} "
          f"{'requests':>9} {'req/s':>8} {'steady req/s':>13}  note")
    for r in runs:
        rps = f"{r.requests / r.duration_s:,.0f}" if r.requests and r.duration_s else "—"
        expected = f"{r.users / (delay_ms / 1000):,.0f}"
        print(f"{r.tool:<6} {r.users:>7,} {r.peak_rss_bytes / MB:>12.1f} {r.peak_processes:>10} "
              f"{r.peak_target_connections:>13,} {r.requests if r.requests is not None else '—':>9} "
              f"{rps:>8} {expected:>13}  {r.note}")
    print()
    slopes = {}
    for tool in TOOLS:
        found = slope_mb([r for r in runs if r.tool == tool])
        if found:
            low, high, slope = found
            slopes[tool] = slope
            print(f"{tool:<6} slope {low.users:,} -> {high.users:,} users: {slope:.1f} MB per 1,000 users")
    if "surge" in slopes:
        verdict = "meets" if slopes["surge"] <= GOAL_SLOPE_MB else "MISSES"
        vs_bare = f", {slopes['surge'] / slopes['bare']:.1f}x the bare client's" if slopes.get("bare") else ""
        print(f"surge slope {slopes['surge']:.1f} MB per 1,000 users (goal <= {GOAL_SLOPE_MB:g}): "
              f"{verdict}{vs_bare}")
    at_10k = next((r for r in runs if r.tool == "surge" and r.users == 10_000), None)
    if at_10k and at_10k.peak_rss_bytes:
        verdict = "meets" if at_10k.peak_rss_bytes / MB <= GOAL_MB_AT_10K else "MISSES"
        print(f"surge at 10,000 users: {at_10k.peak_rss_bytes / MB:.1f} MB peak RSS (goal <= "
              f"{GOAL_MB_AT_10K} MB): {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1000,10000", help="comma list (default 1000,10000)")
    parser.add_argument("--only", default=",".join(TOOLS), help=f"comma list of {', '.join(TOOLS)}")
    parser.add_argument("--spawn-rate", type=int, default=2000, help="surge's spawn rate (default 2000)")
    parser.add_argument("--duration", default="20s", help="per run (default 20s)")
    parser.add_argument("--delay-ms", type=float, default=2000, help="the target's response delay")
    parser.add_argument("--surge", help="surge executable (default: beside this python, or PATH)")
    args = parser.parse_args()

    tools = [t.strip() for t in args.only.split(",") if t.strip()]
    if set(tools) - set(TOOLS):
        parser.error(f"unknown tools {sorted(set(tools) - set(TOOLS))}; known: {', '.join(TOOLS)}")
    surge = find_surge(args.surge)
    if "surge" in tools and not surge:
        print("no `surge` executable (pass --surge PATH)", file=sys.stderr)
        return 2
    user_counts = sorted(int(u) for u in args.users.split(","))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if max(user_counts) + 100 > soft:
        print(f"warning: open-file limit {soft} is below {max(user_counts)} users plus margin",
              file=sys.stderr)
    duration_s = parse_duration_s(args.duration)
    target = start_fast_target(core=None, delay_ms=args.delay_ms)
    runs = []
    try:
        print(f"target: fast_target --delay-ms {args.delay_ms:g} on {target.url}; {', '.join(tools)} "
              f"in one process each, {duration_s:g} s per run\n", flush=True)
        with tempfile.TemporaryDirectory(prefix="surge-mem-") as tmp:
            for users in user_counts:
                for tool in tools:
                    if tool == "bare":
                        run = run_bare(target.url, users, duration_s, target.process.pid, Path(tmp))
                    else:
                        run = run_surge(surge, target.url, users, args.spawn_rate, duration_s,
                                        target.process.pid, Path(tmp))
                    print(f"{tool} {users:,} users: peak RSS {run.peak_rss_bytes / MB:.1f} MB {run.note}",
                          flush=True)
                    runs.append(run)
                    time.sleep(2.5)  # let the target's last delayed responses and closes drain
    finally:
        target.stop()
    print()
    print_report(runs, args.delay_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
