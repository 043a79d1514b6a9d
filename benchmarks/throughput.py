"""Requests per second from one generator core: surge side by side with wrk and Locust.

The target (nginx with one worker when ``nginx`` is on PATH, else fast_target.py) is pinned to
core 1, each load tool to core 0; keep-alive GET / at 50 connections for 10 s each. For each
tool it prints requests/s, the tool's CPU µs per request (all CPU of the tool's process tree,
start-up included, divided by its requests), and the ratio to surge. When the target used
>= 90% of its core, the figure is a lower bound of what the tool could do ("target-bound");
compare CPU µs per request then.

    .venv/bin/python benchmarks/throughput.py
    .venv/bin/python benchmarks/throughput.py --only surge,wrk --duration 5s
    .venv/bin/python benchmarks/throughput.py --locust-python /tmp/locust-venv/bin/python

A tool that is missing or fails is skipped with the reason. Default total run time ~40 s.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import (
    HERE,
    Target,
    children_cpu_s,
    core_busy_s,
    find_surge,
    parse_duration_s,
    pinned,
    start_target,
    stop,
    tail,
    usable_cores,
)

TOOLS = ("surge", "locust", "wrk")
TARGET_BOUND_PERCENT = 90.0
OTHER_LOAD_PERCENT = 10.0  # busy time on the tool's core that is not the tool's: a noisy machine

LOCUSTFILE = '''\
from locust import FastHttpUser, constant, task


class Hello(FastHttpUser):
    wait_time = constant(0)

    @task
    def index(self):
        self.client.get("/")
'''


class Skip(Exception):
    """The tool cannot run here; the message says why."""


@dataclass
class Result:
    tool: str
    requests: int
    duration_s: float
    cpu_s: float  # the tool's own CPU (process tree), start-up included
    wall_s: float
    target_cpu_percent: float
    tool_core_busy_percent: float = 0.0
    target_core_busy_percent: float = 0.0
    note: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / self.requests * 1e6 if self.requests else float("nan")


@dataclass
class Setup:
    target: Target
    duration_s: float
    connections: int
    core: int | None
    target_core: int | None
    work: Path
    surge: str | None
    locust_python: str | None


@dataclass
class Run:
    done: subprocess.CompletedProcess
    cpu_s: float
    wall_s: float
    target_cpu_percent: float
    tool_core_busy_percent: float
    target_core_busy_percent: float

    def result(self, tool: str, requests: int, duration_s: float, note: str = "") -> Result:
        return Result(tool, requests, duration_s, self.cpu_s, self.wall_s, self.target_cpu_percent,
                      self.tool_core_busy_percent, self.target_core_busy_percent, note)


def run_tool(argv: list[str], setup: Setup) -> Run:
    """Run one pinned tool to completion, measuring its CPU, the target's and the tool core's."""
    cpu_before, target_before = children_cpu_s(), setup.target.cpu_s()
    core_before, target_core_before = core_busy_s(setup.core), core_busy_s(setup.target_core)
    started = time.monotonic()
    process = subprocess.Popen(pinned(setup.core, argv), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        stdout, stderr = process.communicate(timeout=setup.duration_s + 60)
    except subprocess.TimeoutExpired:
        stop(process)
        raise Skip(f"did not finish within {setup.duration_s + 60:.0f} s") from None
    wall_s = time.monotonic() - started
    target_percent = (setup.target.cpu_s() - target_before) / wall_s * 100
    core_percent = (core_busy_s(setup.core) - core_before) / wall_s * 100
    target_core_percent = (core_busy_s(setup.target_core) - target_core_before) / wall_s * 100
    done = subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)
    return Run(done, children_cpu_s() - cpu_before, wall_s, target_percent, core_percent,
               target_core_percent)


def bench_surge(setup: Setup) -> Result:
    if not setup.surge:
        raise Skip("no `surge` executable (pass --surge PATH)")
    out = setup.work / f"surge-{time.monotonic_ns()}"
    argv = [setup.surge, "run", str(HERE / "scenarios" / "hello.py"), "--host", setup.target.url,
            "--users", str(setup.connections), "--spawn-rate", "1000",
            "--duration", f"{setup.duration_s:g}s", "--processes", "1", "--out", str(out),
            "--live", "off"]
    run = run_tool(argv, setup)
    done = run.done
    summary_path = out / "summary.json"
    if not summary_path.exists():
        raise Skip(f"exit {done.returncode}, no summary.json:\n{tail(done.stderr or done.stdout)}")
    summary = json.loads(summary_path.read_text())
    total, generator = summary["total"], summary.get("generator", {})
    note = f"gen cpu max {generator.get('cpu_percent_max', '?')}%"
    if total.get("failures"):
        note += f", {total['failures']} failures"
    if generator.get("saturated"):
        note += ", saturated"
    return run.result("surge", int(total["requests"]), float(summary["duration_s"]), note)


def bench_locust(setup: Setup) -> Result:
    if not setup.locust_python:
        raise Skip("locust is not importable (pass --locust-python PATH)")
    locustfile = setup.work / "locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    prefix = setup.work / f"locust-{time.monotonic_ns()}"
    argv = [setup.locust_python, "-m", "locust", "-f", str(locustfile), "--headless",
            "-u", str(setup.connections), "-r", str(setup.connections),
            "-t", f"{max(1, round(setup.duration_s))}s", "--host", setup.target.url,
            "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"]
    run = run_tool(argv, setup)
    done = run.done
    stats_path = Path(f"{prefix}_stats.csv")
    if not stats_path.exists():
        raise Skip(f"exit {done.returncode}, no stats.csv:\n{tail(done.stderr)}")
    with stats_path.open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    requests, rps = int(row["Request Count"]), float(row["Requests/s"])
    note = f"{row['Failure Count']} failures" if int(row["Failure Count"]) else ""
    duration_s = requests / rps if rps else setup.duration_s
    return run.result("locust", requests, duration_s, note)


def bench_wrk(setup: Setup) -> Result:
    if not shutil.which("wrk"):
        raise Skip("wrk is not on PATH (apt-get install wrk)")
    argv = ["wrk", "-t1", f"-c{setup.connections}", f"-d{max(1, round(setup.duration_s))}s",
            setup.target.url + "/"]
    run = run_tool(argv, setup)
    done = run.done
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", done.stdout.decode())
    if done.returncode or not requests:
        raise Skip(f"exit {done.returncode}:\n{tail(done.stderr or done.stdout)}")
    scale = {"s": 1, "ms": 0.001, "m": 60}.get(requests.group(3), 1)
    errors = re.search(r"Socket errors: .*|Non-2xx or 3xx responses: \d+", done.stdout.decode())
    return run.result("wrk", int(requests.group(1)), float(requests.group(2)) * scale,
                      errors.group(0) if errors else "")


BENCHES = {"surge": bench_surge, "locust": bench_locust, "wrk": bench_wrk}


def find_locust_python(explicit: str | None) -> str | None:
    candidates = [explicit] if explicit else ["python3", "python"]
    for candidate in candidates:
        path = shutil.which(candidate) or candidate
        try:
            subprocess.run([path, "-c", "import locust"], check=True, timeout=60,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return path
        except (OSError, subprocess.SubprocessError):
            continue
    return None


def print_table(results: list[Result], target: Target) -> None:
    surge = next((r for r in results if r.tool == "surge"), None)
    header = f"{'tool':<8} {'req/s':>10} {'CPU µs/req':>11} {'tool CPU':>9} {'target CPU':>11} {'vs surge':>9}  note"
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.rps / surge.rps:.2f}x" if surge and surge.rps else "—"
        notes = [r.note] if r.note else []
        if r.target_cpu_percent >= TARGET_BOUND_PERCENT:
            notes.insert(0, f"{target.name}-bound (lower bound)")
        other_percent = r.tool_core_busy_percent - r.cpu_s / r.wall_s * 100
        if other_percent >= OTHER_LOAD_PERCENT:
            notes.append(f"other load on the tool's core: {other_percent:.0f}%")
        other_percent = r.target_core_busy_percent - r.target_cpu_percent
        if other_percent >= OTHER_LOAD_PERCENT:
            notes.append(f"other load on the target's core: {other_percent:.0f}%")
        print(f"{r.tool:<8} {r.rps:>10,.0f} {r.cpu_us_per_request:>11.1f} "
              f"{r.cpu_s / r.wall_s * 100:>8.0f}% {r.target_cpu_percent:>10.0f}% {ratio:>9}  "
              + "; ".join(notes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="10s", help="per tool (default 10s)")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--only", default=",".join(TOOLS), help=f"comma list of {', '.join(TOOLS)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tool; the median is shown")
    parser.add_argument("--target", choices=("auto", "nginx", "fast"), default="auto")
    parser.add_argument("--surge", help="surge executable (default: beside this python, or PATH)")
    parser.add_argument("--locust-python", help="a python that can `import locust`")
    args = parser.parse_args()

    tools = [t.strip() for t in args.only.split(",") if t.strip()]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tools {sorted(unknown)}; known: {', '.join(TOOLS)}")
    cores = usable_cores()
    target_core, tool_core = (1, 0) if {0, 1} <= set(cores) else (None, None)
    if target_core is None:
        print(f"warning: cores {cores} do not include 0 and 1: running unpinned", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="surge-bench-") as tmp:
        target = start_target(args.target, Path(tmp), target_core)
        try:
            setup = Setup(target, parse_duration_s(args.duration), args.connections, tool_core,
                          target_core, Path(tmp), find_surge(args.surge) if "surge" in tools else None,
                          find_locust_python(args.locust_python) if "locust" in tools else None)
            print(f"target: {target.name} on {target.url} (core {target_core}); tools on core "
                  f"{tool_core}; {setup.connections} connections, {setup.duration_s:g} s each\n")
            results = []
            for tool in tools:
                runs = []
                for _ in range(args.repeat):
                    try:
                        runs.append(BENCHES[tool](setup))
                    except Skip as skip:
                        print(f"skipped {tool}: {skip}\n")
                        break
                if runs:
                    results.append(sorted(runs, key=lambda r: r.rps)[len(runs) // 2])
                    print(f"{tool}: {statistics.median(r.rps for r in runs):,.0f} req/s", flush=True)
        finally:
            target.stop()
    print()
    print_table(results, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
